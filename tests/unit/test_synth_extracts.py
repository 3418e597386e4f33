"""The generator's extracts: every dataset present, deterministic to the byte, and the manifest
(the ground truth) equal to what is really in the files."""

import gzip
import hashlib
from pathlib import Path

import pytest
from pyspark.sql import Column
from pyspark.sql import functions as F

from pooling.dev.synth import EXTRACTS, SynthPlan, generate, write_extracts
from pooling.dev.synth.environment import PM25_STANDARD
from pooling.dev.synth.low_income import CASEWORKER_NOTES, PAYMENT_NOTES
from pooling.ingest.read import read_extract
from pseudonymize import citizen_id_problem_as_sent
from pseudonymize.reference import province_codes

PERSONS = 1500

# Every dataset ../shared/DOMAIN.md names for the seven projects, as agency.dataset.
DOMAIN_DATASETS = {
    "finance.welfare_registry",
    "interior.population_register",
    "public_health.service_records",
    "social_development.benefit_recipients",
    "justice.justice_records",
    "agriculture.farmer_registry",
    "agriculture.plots",
    "commerce.crop_prices",
    "education.graduates",
    "labour.social_security",
    "industry.establishments",
    "tourism.tourist_arrivals",
    "transport.passengers",
    "transport.road_accidents",
    "public_health.ncd_screening",
    "social_development.elderly_registry",
    "social_development.disability_registry",
    "science_technology.rainfall",
    "digital_economy.rain_forecasts",
    "agriculture.reservoirs",
    "science_technology.hotspots",
    "natural_resources.pm25",
    "public_health.respiratory_visits",
    "interior.births",  # not in DOMAIN.md: the XML feed with several people per row (#18)
}


# The datasets whose every byte depends on the seed's persons.
PERSON_FILES = (
    "finance.welfare_registry",
    "interior.population_register",
    "interior.births",
    "justice.justice_records",
)


def _write(spark, out: Path, seed: int, datasets=None) -> dict:
    s = generate(spark, SynthPlan(persons=PERSONS, seed=seed))
    try:
        return write_extracts(s, out, datasets=datasets, truths=() if datasets else None)
    finally:
        s.release()


def _digests(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def runs(spark_session, tmp_path_factory):
    root = tmp_path_factory.mktemp("synth")
    manifests = {name: _write(spark_session, root / name, 7) for name in "ab"}
    # Another seed: only the person-level extracts, the ones that must differ.
    manifests["c"] = _write(spark_session, root / "c", 8, PERSON_FILES)
    return root, manifests


def test_every_dataset_of_the_seven_projects_is_written(runs):
    root, manifests = runs
    assert set(manifests["a"]["datasets"]) == DOMAIN_DATASETS == {s.name for s in EXTRACTS}
    for name, meta in manifests["a"]["datasets"].items():
        files = list((root / "a" / meta["path"]).glob("part-*"))
        assert files and meta["rows"] > 0, name


def test_same_seed_same_bytes_other_seed_other_bytes(runs):
    root, _ = runs
    a, b, c = (_digests(root / n) for n in "abc")
    assert a == b
    person_files = [k for k in a if k.startswith(("finance", "interior", "justice"))]
    assert person_files and {k for k in c if k != "manifest.json"} == set(person_files)
    assert all(a[k] != c[k] for k in person_files)


def _read(spark, conf, path: Path, spec):
    """The extract's columns as text, read as its contract says (format, encoding, ...)."""
    return read_extract(spark, str(path), conf.dataset(spec.agency, spec.dataset))


def _fault_conditions(spec) -> dict[str, Column]:
    """Every fault the manifest counts, as a condition on a distinct row: ``bad_check_digit:c``,
    ``nulled:c``, ``missing:c``, ``bad_type:c``, ``unknown_code:c`` and ``notes:c`` (a planted
    note: none of the clean notes)."""
    conds: dict[str, Column] = {}
    for column, invalid in spec.roles:  # another person's ID: a bad check digit planted
        bad = citizen_id_problem_as_sent(column) == "bad_check_digit"
        conds[f"bad_check_digit:{column}" if invalid == "quarantine" else f"nulled:{column}"] = bad
    for c in spec.mandatory:
        conds[f"missing:{c}"] = F.col(c).isNull() | (F.trim(c) == "")
    for c in spec.typed if spec.format not in ("parquet",) else ():
        kind = "date" if c.endswith("date") else "double"
        conds[f"bad_type:{c}"] = F.col(c).isNotNull() & F.col(c).try_cast(kind).isNull()
    for c in spec.coded:
        ok = F.substring(c, 1, 2).isin(*province_codes())
        conds[f"unknown_code:{c}"] = F.col(c).isNotNull() & ~ok
    for c, _ in spec.notes:
        clean = F.col(c).isin(*CASEWORKER_NOTES, *PAYMENT_NOTES)
        conds[f"notes:{c}"] = F.col(c).isNotNull() & ~clean
    return conds


def test_manifest_counts_equal_the_files(spark, conf, runs):
    root, manifests = runs
    manifest = manifests["a"]
    for spec in EXTRACTS:
        meta = manifest["datasets"][spec.name]
        path = root / "a" / meta["path"]
        strings = _read(spark, conf, path, spec)
        assert ("remarks" in strings.columns) == bool(meta["extra_columns"]), spec.name
        unique = strings.distinct()
        # Every count of a dataset in one pass over its distinct rows (one job, not twenty).
        conds = _fault_conditions(spec)
        counts = unique.agg(
            F.count(F.lit(1)).alias("distinct_rows"),
            *[F.count(F.when(c, 1)).alias(f"c{i}") for i, c in enumerate(conds.values())],
        ).first()
        n = {name: counts[f"c{i}"] for i, name in enumerate(conds)}
        assert strings.count() == meta["rows"], spec.name
        assert meta["rows"] - counts["distinct_rows"] == meta["duplicates"], spec.name

        found: dict[str, int] = {}
        if spec.person_level:
            reason = citizen_id_problem_as_sent(spec.id_column)
            for r in unique.groupBy(reason.alias("r")).count().collect():
                if r.r:
                    found[r.r] = r["count"]
        nulled = {
            f"{k.removeprefix('nulled:')}:bad_check_digit": v
            for k, v in n.items()
            if k.startswith("nulled:") and v
        }
        want = {k: v for k, v in meta["expected_nulled"].items() if not k.endswith(":empty")}
        assert nulled == want, spec.name
        found.update({k: v for k, v in n.items() if not k.startswith(("nulled:", "notes:"))})
        if spec.encoding != "utf-8":  # lines pasted in from a UTF-8 system: not the code page
            stray = set()
            for f in path.glob("part-*"):
                for line in f.read_bytes().splitlines()[1:]:
                    try:
                        line.decode(spec.encoding)
                    except UnicodeDecodeError:
                        stray.add(line)
            found["bad_encoding"] = len(stray)
        masked: dict[str, int] = {}
        for c, action in spec.notes:
            hits = n[f"notes:{c}"]
            if action == "quarantine":
                found[f"pii:{c}"] = hits
            elif hits:
                masked[c] = hits
        assert masked == meta["expected_masked"], spec.name
        found = {k: v for k, v in found.items() if v}
        assert found == meta["expected_quarantine"], spec.name


def test_text_formats_as_agencies_deliver_them(runs):
    root, manifests = runs
    for spec in EXTRACTS:
        if spec.format != "csv":
            continue
        data = next((root / "a" / spec.agency / spec.dataset).glob("part-*")).read_bytes()
        if spec.compression == "gzip":
            data = gzip.decompress(data)
        assert data.startswith(b"\xef\xbb\xbf") == spec.bom, spec.name
        assert (b"\r\n" in data) == spec.crlf, spec.name


def test_thai_text_round_trips(spark, conf, runs):
    root, _ = runs
    path = root / "a" / "social_development" / "elderly_registry"  # TIS-620
    spec = next(s for s in EXTRACTS if s.dataset == "elderly_registry")
    assert spec.encoding == "tis-620"
    names = _read(spark, conf, path, spec).select("first_name", "last_name").collect()
    thai = [n for r in names for n in r if n]
    assert len(thai) > 100
    assert all(all("\u0e00" <= ch <= "\u0e7f" for ch in n) for n in thai)


def test_pm25_truth_equals_the_file(spark, conf, runs):
    root, manifests = runs
    truth = {
        r["province_code"]: r["days_above"]
        for r in manifests["a"]["truth"]["pollution_days_above_standard"]
    }
    spec = next(s for s in EXTRACTS if s.dataset == "pm25")
    pm = _read(spark, conf, root / "a" / "natural_resources" / "pm25", spec).distinct()
    ok = pm.where(
        F.col("province_code").isin(*province_codes())
        & F.col("pm25_ugm3").try_cast("double").isNotNull()
    )
    got = {
        r.province_code: r.n
        for r in ok.groupBy("province_code")
        .agg(F.sum((F.col("pm25_ugm3").cast("double") > PM25_STANDARD).cast("int")).alias("n"))
        .collect()
    }
    assert got == truth
    assert sum(truth.values()) > 0


def test_drafted_contracts_find_every_identifier_and_agree_with_the_real_ones(
    spark, conf, runs, zones, master_key, tmp_path
):
    """`pooling contract draft` on every synthetic extract, the real contracts hidden from it:
    every citizen-ID column found, every direct identifier classed as one (the mistake a draft
    may not make), at least 90 % of all columns in the real contract's class, the delivery
    detected; each draft passes the strict model, and drafts of the new formats ingest."""
    import copy

    from pooling.core.config import FieldClass
    from pooling.ingest import ingest
    from pooling.ingest.draft import draft_contract

    root, _ = runs
    identifiers = (FieldClass.citizen_id, FieldClass.direct_identifier)
    total, agree, missed, drafts = 0, [], [], {}
    for spec in EXTRACTS:
        real = conf.dataset(spec.agency, spec.dataset)
        draft = draft_contract(spark, str(root / "a" / spec.agency / spec.dataset))
        drafted = draft.contract().dataset(spec.dataset)  # passes the strict models as it is
        drafts[spec.name] = draft
        delivery = (drafted.format, drafted.encoding, drafted.compression, drafted.sheet)
        assert delivery == (real.format, real.encoding, real.compression, real.sheet), spec.name
        got = {c.path or c.name: c for c in drafted.columns}
        for c in real.columns:
            key = c.path or c.name
            guess = got[key].field_class if key in got else None
            total += 1
            if guess is c.field_class:
                agree.append(c.name)
            id_missed = c.field_class is FieldClass.citizen_id and guess is not c.field_class
            if id_missed or c.field_class in identifiers and guess not in identifiers:
                missed.append((spec.name, c.name, guess))
    assert missed == []
    assert len(agree) / total >= 0.9, (len(agree), total)
    births = drafts["interior.births"].contract().dataset("births")
    assert {c.name: c.role for c in births.person_ids} == {
        "child_citizen_id": None,
        "mother_citizen_id": "mother",
        "father_citizen_id": "father",
    }
    assert "% of" in drafts["interior.population_register"].yaml()  # each guess says why

    # Through the command line: written where --out says, never over a file.
    from pooling import cli

    out = str(tmp_path / "drafted.yaml")
    path = str(root / "a" / "interior" / "births")
    assert cli.main(["contract", "draft", "--path", path, "--out", out]) == 0
    assert Path(out).read_text(encoding="utf-8") == drafts["interior.births"].yaml()
    assert cli.main(["contract", "draft", "--path", path, "--out", out]) == 2  # exists

    for name in ("interior.births", "social_development.disability_registry"):
        agency, dataset = name.split(".")
        drafted = copy.copy(conf)
        drafted.agencies = {**conf.agencies, agency: drafts[name].contract()}
        path = str(root / "a" / agency / dataset)
        r = ingest(spark, drafted, zones, master_key, agency=agency, dataset=dataset, path=path)
        assert r.balanced() and r.accepted > 0, name
