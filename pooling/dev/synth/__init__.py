"""Synthetic agency extracts with a ground truth: ``generate`` (pure) and ``write_extracts`` (I/O).

Faker builds small Thai vocabularies once; Spark samples a population and every extract from them
with hash-based randomness, so the same seed and size give the same records, and the same bytes,
at any scale.
"""

from __future__ import annotations

import json
import logging
import math
import shutil
import time
from collections.abc import Callable, Collection
from dataclasses import asdict, dataclass
from pathlib import Path

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.storagelevel import StorageLevel

from pooling.dev.synth import environment
from pooling.dev.synth.extracts import EXTRACTS, ExtractSpec, Sources, prepare
from pooling.dev.synth.faults import (
    DUPLICATE,
    FAULT,
    ID_RECOVERABLE,
    expected_reason,
    inject_faults,
)
from pooling.dev.synth.low_income import INCOME_CEILING_BAHT
from pooling.dev.synth.plan import FaultRates, SynthPlan
from pooling.dev.synth.population import population

log = logging.getLogger("pooling.synth")  # the name it had before the layout: logs are read by it

__all__ = ["EXTRACTS", "FaultRates", "Synthetic", "SynthPlan", "generate", "write_extracts"]

EXTRA_COLUMN = "remarks"
PERSONS_PER_FILE = 1_000_000


@dataclass(frozen=True)
class Extract:
    spec: ExtractSpec
    rows: DataFrame  # the extract's columns plus person, _fault, _duplicate (never written)
    extra_column: bool

    @property
    def columns(self) -> list[str]:
        return [c for c in self.rows.columns if c not in ("person", FAULT, DUPLICATE)]


@dataclass(frozen=True)
class Synthetic:
    plan: SynthPlan
    people: DataFrame
    grid: DataFrame
    extracts: dict[str, Extract]

    def release(self) -> None:
        self.people.unpersist()
        self.grid.unpersist()


def generate(spark: SparkSession, plan: SynthPlan) -> Synthetic:
    """The population, the environment grid and every extract, lazily, as DataFrames.

    The population and the grid are persisted: every extract and the ground truth sample from
    them, and the cache is also an optimiser barrier that keeps Spark from inlining their long
    expressions into every filter of every extract. Call :meth:`Synthetic.release` when done.
    """
    people = population(spark, plan).persist(StorageLevel.MEMORY_AND_DISK)
    grid = environment.grid(spark, plan).persist(StorageLevel.MEMORY_AND_DISK)
    sources = Sources(spark, plan, people, grid, {})
    prepare(sources)
    extracts = {}
    for spec in EXTRACTS:
        rows = inject_faults(
            spec.make(sources),
            plan.faults,
            seed=plan.seed,
            dataset=spec.name,
            key=spec.key,
            fmt=spec.format,
            id_column="citizen_id" if spec.person_level else None,
            mandatory=spec.mandatory,
            typed=spec.typed,
            coded=spec.coded,
        )
        extra = spec.name in plan.extra_column_datasets
        if extra:  # an agency system that added a column nobody agreed on
            rows = rows.withColumn(EXTRA_COLUMN, F.lit("ตรวจสอบแล้ว"))
        if not spec.person_level:
            rows = rows.withColumn("person", F.lit(None).cast("long"))
        extracts[spec.name] = Extract(spec, rows, extra)
    return Synthetic(plan, people, grid, extracts)


# --------------------------------------------------------------------------- ground truth


def _accepted(rows: DataFrame) -> DataFrame:
    """Rows a correct ingest keeps: not a duplicate copy, no fault that quarantines."""
    bad = F.col(FAULT).isNotNull() & ~F.col(FAULT).isin(*ID_RECOVERABLE)
    return rows.where(~F.col(DUPLICATE) & ~bad)


# The accepted rows' columns each ground truth needs; kept (persisted) while extracts are
# written, so every extract is computed once.
TRUTH_COLUMNS: dict[str, tuple[str, ...]] = {
    "finance.welfare_registry": ("person", "annual_income_baht"),
    "interior.population_register": ("person",),
    "public_health.service_records": ("person", "diagnosis_icd10"),
    "social_development.benefit_recipients": ("person",),
    "justice.justice_records": ("person",),
    "agriculture.farmer_registry": ("person", "district_code", "main_crop"),
    "education.graduates": ("person", "field", "institution_province", "graduation_date"),
    "labour.social_security": ("person", "start_date", "monthly_wage"),
    "public_health.ncd_screening": ("person", "diabetes", "hypertension", "bmi", "hba1c_pct"),
    "social_development.elderly_registry": ("person", "district_code"),
    "social_development.disability_registry": ("person", "district_code"),
    "natural_resources.pm25": ("province_code", "pm25_ugm3"),
}
Accepted = dict[str, DataFrame]


def _persons(accepted: Accepted, name: str) -> DataFrame:
    return accepted[name].select("person").distinct()


def _age_band(age: str) -> Column:
    # From the true age, independently of the standard's age_band, so the truth checks it.
    low = F.floor(F.col(age) / 5) * 5
    label = F.concat(
        F.lpad(low.cast("string"), 2, "0"), F.lit("-"), F.lpad((low + 4).cast("string"), 2, "0")
    )
    return F.when(F.col(age) >= 85, F.lit("85+")).otherwise(label)


def _flag(base: DataFrame, persons: DataFrame, flag: str) -> DataFrame:
    return base.join(persons.withColumn(flag, F.lit(1)), "person", "left")


def _count(flag: str) -> Column:
    return F.coalesce(F.sum(flag), F.lit(0)).cast("long").alias(flag)


def low_income_overlap_truth(people: DataFrame, ok: Accepted) -> DataFrame:
    """Registry members (with an accepted registry row) by province, sex and age band, and how
    many of them appear (with an accepted row) in each other dataset of the project."""
    base = people.join(_persons(ok, "finance.welfare_registry"), "person").select(
        "person", "province_code", "sex", _age_band("age").alias("age_band")
    )
    others = (
        "interior.population_register",
        "public_health.service_records",
        "social_development.benefit_recipients",
        "justice.justice_records",
    )
    for name in others:
        base = _flag(base, _persons(ok, name), f"in_{name.split('.')[1]}")
    return base.groupBy("province_code", "sex", "age_band").agg(
        F.count("*").alias("registry_members"), *[_count(f"in_{n.split('.')[1]}") for n in others]
    )


def agriculture_truth(people: DataFrame, ok: Accepted) -> DataFrame:
    """Registered farm households by province and main crop, and how many are in the registry."""
    farmers = ok["agriculture.farmer_registry"].select(
        "person", F.substring("district_code", 1, 2).alias("province_code"), "main_crop"
    )
    base = _flag(
        farmers.dropDuplicates(["person"]),
        _persons(ok, "finance.welfare_registry"),
        "in_welfare_registry",
    )
    return base.groupBy("province_code", "main_crop").agg(
        F.count("*").alias("farm_households"), _count("in_welfare_registry")
    )


def education_labour_truth(people: DataFrame, ok: Accepted) -> DataFrame:
    """Graduates by field and institution province, and how many started insured employment
    within 12 months (365 days) of graduating."""
    grads = ok["education.graduates"]
    jobs = ok["labour.social_security"]
    within = (
        grads.join(jobs, "person")
        .where(F.datediff("start_date", "graduation_date").between(0, 365))
        .select("person")
        .distinct()
    )
    return (
        _flag(grads, within, "employed_12m")
        .groupBy("field", "institution_province")
        .agg(F.count("*").alias("graduates"), _count("employed_12m"))
    )


def _count_both(a: str, b: str, name: str) -> Column:
    return F.coalesce(F.sum(F.col(a) * F.col(b)), F.lit(0)).cast("long").alias(name)


def _vulnerable(ok: Accepted) -> DataFrame:
    """Elderly and disabled registrants: one row per person and group, with the province."""
    groups = []
    for group, name in (
        ("elderly", "social_development.elderly_registry"),
        ("disabled", "social_development.disability_registry"),
    ):
        groups.append(
            ok[name]
            .select("person", F.substring("district_code", 1, 2).alias("province_code"))
            .dropDuplicates(["person"])
            .withColumn("group", F.lit(group))
        )
    return groups[0].unionByName(groups[1])


def low_income_exclusion_truth(people: DataFrame, ok: Accepted) -> DataFrame:
    """Elderly and disabled registrants by province: in the welfare registry, receiving an
    allowance, insured employed, and none of the three (likely excluded)."""
    base = _vulnerable(ok)
    for flag, name in (
        ("in_registry", "finance.welfare_registry"),
        ("with_allowance", "social_development.benefit_recipients"),
        ("insured_employed", "labour.social_security"),
    ):
        base = _flag(base, _persons(ok, name), flag)
    none = F.col("in_registry").isNull() & F.col("with_allowance").isNull()
    return base.groupBy("province_code", "group").agg(
        F.count("*").alias("persons"),
        _count("in_registry"),
        _count("with_allowance"),
        _count("insured_employed"),
        F.sum((none & F.col("insured_employed").isNull()).cast("int"))
        .cast("long")
        .alias("likely_excluded"),
    )


def low_income_inclusion_truth(people: DataFrame, ok: Accepted) -> DataFrame:
    """Registry members by province with a declared income, or an insured wage times 12, above
    the registry's income ceiling."""
    members = (
        ok["finance.welfare_registry"]
        .dropDuplicates(["person"])
        .join(people.select("person", "province_code"), "person")
    )
    wages = (
        ok["labour.social_security"]
        .groupBy("person")
        .agg((F.max("monthly_wage") * 12).alias("annual_wage"))
    )
    base = members.join(wages, "person", "left").select(
        "province_code",
        (F.col("annual_income_baht") > INCOME_CEILING_BAHT).alias("declared"),
        F.coalesce(F.col("annual_wage") > INCOME_CEILING_BAHT, F.lit(False)).alias("insured"),
    )
    return base.groupBy("province_code").agg(
        F.count("*").alias("registry_members"),
        F.sum(F.col("declared").cast("int")).cast("long").alias("declared_above_ceiling"),
        F.sum(F.col("insured").cast("int")).cast("long").alias("insured_wage_above_ceiling"),
        F.sum((F.col("declared") | F.col("insured")).cast("int"))
        .cast("long")
        .alias("any_sign_above_ceiling"),
    )


def public_health_truth(people: DataFrame, ok: Accepted) -> DataFrame:
    """Elderly and disabled registrants by province: how many were screened, how many have
    diabetes and hypertension (from their screening), how many of those had a service visit
    for it (E11, I10), and the mean BMI and HbA1c of the screened."""
    screened = (
        ok["public_health.ncd_screening"]
        .select(
            "person",
            F.lit(1).alias("screened"),
            F.col("diabetes").cast("int").alias("diabetes"),
            F.col("hypertension").cast("int").alias("hypertension"),
            "bmi",
            "hba1c_pct",
        )
        .dropDuplicates(["person"])
    )
    visits = ok["public_health.service_records"]
    base = _vulnerable(ok).join(screened, "person", "left")
    for flag, code in (("e11", "E11"), ("i10", "I10")):
        base = _flag(
            base, visits.where(F.col("diagnosis_icd10") == code).select("person").distinct(), flag
        )
    return base.groupBy("group", "province_code").agg(
        F.count("*").alias("persons"),
        _count("screened"),
        _count("diabetes"),
        _count("hypertension"),
        _count_both("diabetes", "e11", "diabetes_in_care"),
        _count_both("hypertension", "i10", "hypertension_in_care"),
        F.round(F.avg("bmi"), 2).alias("mean_bmi"),
        F.round(F.avg("hba1c_pct"), 2).alias("mean_hba1c_pct"),
    )


def pollution_truth(people: DataFrame, ok: Accepted) -> DataFrame:
    """Days with PM2.5 above the national 24-hour standard, by province (accepted rows)."""
    pm = ok["natural_resources.pm25"]
    return pm.groupBy("province_code").agg(
        F.count("*").alias("days_measured"),
        F.sum((F.col("pm25_ugm3") > environment.PM25_STANDARD).cast("int")).alias("days_above"),
    )


TRUTHS: dict[str, Callable[[DataFrame, Accepted], DataFrame]] = {
    "low_income_overlap": low_income_overlap_truth,
    "low_income_exclusion": low_income_exclusion_truth,
    "low_income_inclusion": low_income_inclusion_truth,
    "agriculture_farm_households": agriculture_truth,
    "education_labour_employment": education_labour_truth,
    "public_health_vulnerable": public_health_truth,
    "pollution_days_above_standard": pollution_truth,
}


def fault_counts(extract: Extract, rows: DataFrame | None = None) -> dict[str, object]:
    """Rows, duplicates and faults of one extract, and the quarantine a pipeline must produce.

    A duplicate is an exact copy of another row. Usually that is an injected duplicate, but a
    fault can also make two rows identical (e.g. two provinces' zero-accident days, both given
    the same unknown province code); such a row is a copy too, and quarantined once.
    """
    rows = extract.rows if rows is None else rows
    injected = {
        r[FAULT]: r["n"]
        for r in rows.where(~F.col(DUPLICATE)).groupBy(FAULT).agg(F.count("*").alias("n")).collect()
    }
    distinct = rows.groupBy(*extract.columns).agg(
        F.count("*").alias("copies"), F.max(FAULT).alias(FAULT)
    )
    by_fault = {
        r[FAULT]: (r["rows"], r["distinct"])
        for r in distinct.groupBy(FAULT)
        .agg(F.sum("copies").alias("rows"), F.count("*").alias("distinct"))
        .collect()
    }
    rows = sum(n for n, _ in by_fault.values())
    duplicates = sum(n - d for n, d in by_fault.values())
    faults = {f: n for f, n in injected.items() if f}
    quarantine: dict[str, int] = {}
    for f, (_, d) in by_fault.items():
        reason = expected_reason(f) if f else None
        if reason:
            quarantine[reason] = quarantine.get(reason, 0) + d
    return {
        "rows": rows,
        "duplicates": duplicates,
        "faults": dict(sorted(faults.items())),
        "expected_quarantine": dict(sorted(quarantine.items())),
        "expected_accepted": rows - duplicates - sum(quarantine.values()),
        "extra_columns": [EXTRA_COLUMN] if extract.extra_column else [],
    }


# --------------------------------------------------------------------------- writing


def _files(plan: SynthPlan, extract: Extract) -> int:
    if not extract.spec.person_level:
        return 1
    return max(1, math.ceil(plan.persons / PERSONS_PER_FILE))


def _write(extract: Extract, rows: DataFrame, path: Path, n_files: int) -> None:
    """Write deterministically: hash-partitioned by the record key, each file sorted by all its
    columns, files renamed part-00000.<ext> ..., Spark's bookkeeping files removed."""
    spec = extract.spec
    cols = extract.columns
    df = rows.select(*cols).repartition(n_files, *spec.key).sortWithinPartitions(*cols)
    writer = df.write.mode("overwrite")
    if spec.format == "csv":
        writer.option("header", True).option("encoding", "UTF-8").csv(str(path))
    elif spec.format == "json":
        writer.json(str(path))
    else:
        writer.parquet(str(path))
    ext = {"csv": ".csv", "json": ".json", "parquet": ".parquet"}[spec.format]
    for f in sorted(path.iterdir()):
        if f.name.startswith("part-"):
            target = path / f"{f.name[:10]}{ext}"
            f.rename(target)
            if spec.format == "csv" and (spec.bom or spec.crlf):
                _rewrite_text(target, bom=spec.bom, crlf=spec.crlf)
        else:
            f.unlink()  # _SUCCESS and .crc files


def _rewrite_text(path: Path, *, bom: bool, crlf: bool) -> None:
    """Add a UTF-8 byte-order mark and/or Windows line ends, as some agencies' exports have."""
    tmp = path.with_suffix(".tmp")
    with path.open("rb") as src, tmp.open("wb") as dst:
        if bom:
            dst.write(b"\xef\xbb\xbf")
        for line in src:
            dst.write(line[:-1] + b"\r\n" if crlf and line.endswith(b"\n") else line)
    tmp.replace(path)


def write_extracts(
    synthetic: Synthetic,
    out_dir: Path,
    progress: Callable[[str], None] = log.info,
    *,
    datasets: Collection[str] | None = None,
    truths: Collection[str] | None = None,
) -> dict[str, object]:
    """Write the extracts under ``out_dir/<agency>/<dataset>/`` and ``out_dir/manifest.json``
    (the ground truth). Returns the manifest.

    ``datasets`` ("agency.dataset") and ``truths`` (names in :data:`TRUTHS`) narrow it to what one
    project needs (the pipeline benchmark); by default everything is written. A truth needs the
    extracts it is computed from.
    """
    unknown = sorted(set(datasets or ()) - set(synthetic.extracts)) + sorted(
        set(truths or ()) - set(TRUTHS)
    )
    if unknown:
        raise ValueError(f"unknown extract or truth name(s) {unknown}")
    out_dir = Path(out_dir)
    if out_dir.exists():
        shutil.rmtree(out_dir)
    manifest: dict[str, object] = {"plan": asdict(synthetic.plan), "datasets": {}, "truth": {}}
    accepted: Accepted = {}
    for name, extract in synthetic.extracts.items():
        if datasets is not None and name not in datasets:
            continue
        t0 = time.monotonic()
        spec = extract.spec
        # Computed once: written, counted, and its accepted rows kept for the ground truth.
        rows = extract.rows.persist(StorageLevel.MEMORY_AND_DISK)
        _write(extract, rows, out_dir / spec.agency / spec.dataset, _files(synthetic.plan, extract))
        counts = fault_counts(extract, rows)
        if name in TRUTH_COLUMNS:
            accepted[name] = (
                _accepted(rows).select(*TRUTH_COLUMNS[name]).persist(StorageLevel.MEMORY_AND_DISK)
            )
            accepted[name].count()
        rows.unpersist()
        manifest["datasets"][name] = {  # type: ignore[index]
            "format": spec.format,
            "path": f"{spec.agency}/{spec.dataset}",
            "person_level": spec.person_level,
            "bom": spec.bom,
            "crlf": spec.crlf,
            **counts,
        }
        progress(
            f"synth {name}: {counts['rows']:,} rows ({spec.format}) in {time.monotonic() - t0:.1f}s"
        )
    t0 = time.monotonic()
    for truth_name, fn in TRUTHS.items():
        if truths is not None and truth_name not in truths:
            continue
        df = fn(synthetic.people, accepted)
        manifest["truth"][truth_name] = [  # type: ignore[index]
            r.asDict() for r in df.orderBy(*df.columns[:3]).collect()
        ]
    for df in accepted.values():
        df.unpersist()
    progress(f"synth ground truth in {time.monotonic() - t0:.1f}s")
    text = json.dumps(manifest, indent=1, ensure_ascii=False, default=str, sort_keys=True)
    (out_dir / "manifest.json").write_text(text + "\n", encoding="utf-8")
    return manifest
