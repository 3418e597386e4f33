"""The whole main job on tiny synthetic data, checked against the generator's ground truth."""

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from deltalake import DeltaTable

from pooling.demo import run_demo

PERSONS = 4000


@pytest.fixture(scope="module")
def demo(spark_session, conf, tmp_path_factory):
    from pooling.config import Profile
    from pooling.zones import Zones
    from pseudonymize import SecretKey

    root = tmp_path_factory.mktemp("pipeline")
    profile = Profile.model_validate(
        {
            "name": "test",
            "description": "system test",
            "spark": {"master": "local[2]", "driver_memory": "1g", "shuffle_partitions": 2},
            "storage": {"root": str(root / "data")},
        }
    )
    zones = Zones.for_profile(profile, root)
    key = SecretKey(bytes(range(50, 90)), "master")
    report = run_demo(spark_session, conf, zones, key, persons=PERSONS, seed=11)
    return report, zones, root / "data"


def test_welfare_overlap_equals_ground_truth(demo):
    report, _, _ = demo
    assert report.mismatches == []
    truth = report.manifest["truth"]["low_income_overlap"]
    assert sum(r["registry_members"] for r in truth) > 200  # a non-trivial check
    assert sum(r["in_benefit_recipients"] for r in truth) > 0


def test_ingest_counts_equal_the_manifest(demo):
    report, _, _ = demo
    for r in report.ingests:
        want = report.manifest["datasets"][f"{r.agency}.{r.dataset}"]
        assert r.input_rows == want["rows"]
        assert r.duplicates == want["duplicates"]
        assert r.accepted == want["expected_accepted"]
        assert r.quarantined == want["expected_quarantine"]
        assert r.dropped_columns == want["extra_columns"]
        assert r.balanced()


def test_every_table_is_real_delta_readable_by_delta_rs(demo):
    report, zones, _ = demo
    paths = (
        [r.table for r in report.ingests]
        + [w.path for w in report.pool.tables.values()]
        + [w.path for w in report.run.outputs.values()]
        + [zones.audit]
    )
    for path in paths:
        assert (Path(path) / "_delta_log").is_dir()
        table = DeltaTable(path).to_pyarrow_table()
        assert table.num_rows > 0, path


def test_outputs_wait_for_review(demo):
    report, _, _ = demo
    manifest = json.loads((Path(report.run.directory) / "manifest.json").read_text())
    assert manifest["status"] == "pending_review"
    assert set(manifest["outputs"]) == {"welfare_overlap"}


def _raw_values(landing: Path) -> set[str]:
    """Every citizen ID (as sent and canonical), name, phone and address in the extracts."""
    import pyarrow.csv as pcsv
    import pyarrow.json as pjson

    values: set[str] = set()
    for f in landing.rglob("part-*"):
        if f.suffix == ".csv":
            t = pcsv.read_csv(
                f,
                convert_options=pcsv.ConvertOptions(
                    column_types={c: "string" for c in ("citizen_id", "phone")}
                ),
            )
        elif f.suffix == ".json":
            t = pjson.read_json(f)
        else:
            t = pq.read_table(f)
        for col in ("citizen_id", "first_name", "last_name", "phone", "address", "house_id"):
            if col in t.column_names:
                values.update(str(v) for v in t.column(col).to_pylist() if v)
    values.update(v.replace("-", "").strip() for v in list(values) if v[:1].isdigit())
    return {v for v in values if len(v) >= 4}


def test_no_raw_identifier_outside_landing_and_linkage(demo):
    _, _, data = demo
    raw = _raw_values(data / "landing")
    assert len(raw) > PERSONS  # IDs, names, phones and addresses were collected
    checked_files = 0
    for zone in ("deidentified", "pools", "outputs", "released", "audit"):
        for f in (data / zone).rglob("*"):
            if not f.is_file():
                continue
            checked_files += 1
            if f.suffix == ".parquet":
                t = pq.read_table(f)
                cells = {str(v) for c in t.columns for v in c.to_pylist() if v is not None}
                leaked = cells & raw
            else:
                text = f.read_bytes().decode("utf-8", errors="replace")
                leaked = {v for v in raw if v in text}
            assert not leaked, f"{f} holds raw identifiers, e.g. {sorted(leaked)[:1]!r:.8}..."
    assert checked_files > 20


def test_every_extract_ingests_with_every_fault_accounted_for(demo, spark_session, conf):
    """All 23 extracts through their contracts: quarantine reasons, duplicates and dropped
    columns equal what the generator injected."""
    from pooling.ingest import ingest
    from pseudonymize import SecretKey

    report, zones, _ = demo
    key = SecretKey(bytes(range(50, 90)), "master")
    done = {f"{r.agency}.{r.dataset}" for r in report.ingests}
    for name, want in report.manifest["datasets"].items():
        if name in done:
            continue
        agency, dataset = name.split(".")
        r = ingest(
            spark_session,
            conf,
            zones,
            key,
            agency=agency,
            dataset=dataset,
            path=f"{report.landing}/{want['path']}",
        )
        got = (r.input_rows, r.duplicates, r.accepted, r.quarantined, r.dropped_columns)
        assert got == (
            want["rows"],
            want["duplicates"],
            want["expected_accepted"],
            want["expected_quarantine"],
            want["extra_columns"],
        ), name


def test_catalog_lists_every_table_with_its_metadata(demo, spark_session):
    from pooling.catalog import list_tables, render_catalog

    report, zones, _ = demo
    infos = {t.name: t for t in list_tables(spark_session, zones)}
    pool = infos["pools.low_income.welfare_registry"]
    assert pool.properties["key_id"] == report.pool.key_id
    assert pool.properties["data_class"] == "personal"
    deid = infos["deidentified.finance.welfare_registry"]
    assert deid.properties["standard_version"] == "1.0.0"
    assert "linkage.quarantine.finance.welfare_registry" in infos
    assert "audit.events" in infos
    text = render_catalog(list(infos.values()))
    assert "pools.low_income.justice_records" in text


def test_lineage_runs_from_output_back_to_the_extract(demo, spark_session):
    from pooling.catalog import lineage

    report, zones, _ = demo
    output = f"outputs.low_income.{report.run.run_id}.welfare_overlap"
    lines = lineage(spark_session, zones, output)
    text = "\n".join(lines)
    assert lines[0].startswith(output)
    assert "  pools.low_income.service_records @ v0" in text
    assert "    deidentified.public_health.service_records @ v0" in text
    checksum = next(r.checksum for r in report.ingests if r.dataset == "service_records")
    assert f"sha256 {checksum[:16]}" in text
