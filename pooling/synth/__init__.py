"""Synthetic agency extracts with a ground truth: ``generate`` (pure) and ``write_extracts`` (I/O).

Faker builds small Thai vocabularies once; Spark samples a population and every extract from them
with hash-based randomness, so the same seed gives the same records at any scale.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.storagelevel import StorageLevel

from pooling.synth.faults import DUPLICATE, FAULT, UNRECOVERABLE, inject_faults
from pooling.synth.low_income import EXTRACTS
from pooling.synth.plan import FaultRates, SynthPlan
from pooling.synth.population import population

log = logging.getLogger(__name__)

__all__ = ["FaultRates", "Synthetic", "SynthPlan", "generate", "write_extracts"]


@dataclass(frozen=True)
class Extract:
    agency: str
    dataset: str
    format: str
    rows: DataFrame  # the extract's columns plus person, _fault, _duplicate (never written)

    @property
    def columns(self) -> list[str]:
        return [c for c in self.rows.columns if c not in ("person", FAULT, DUPLICATE)]


@dataclass(frozen=True)
class Synthetic:
    plan: SynthPlan
    people: DataFrame
    extracts: dict[tuple[str, str], Extract]

    def release(self) -> None:
        self.people.unpersist()


def generate(spark: SparkSession, plan: SynthPlan) -> Synthetic:
    """The population and every extract, lazily, as DataFrames.

    The population is persisted: every extract and the ground truth sample from it, and the
    cache is also an optimiser barrier that keeps Spark from inlining the population's long
    expressions into every filter of every extract. Call :meth:`Synthetic.release` when done.
    """
    people = population(spark, plan).persist(StorageLevel.MEMORY_AND_DISK)
    extracts = {}
    for (agency, dataset), (make, fmt, key) in EXTRACTS.items():
        rows = inject_faults(
            make(people, plan),
            plan.faults,
            seed=plan.seed,
            dataset=dataset,
            record_key=key,
            fmt=fmt,
        )
        extracts[(agency, dataset)] = Extract(agency, dataset, fmt, rows)
    return Synthetic(plan, people, extracts)


def _linkable_persons(rows: DataFrame) -> DataFrame:
    ok = F.col(FAULT).isNull() | ~F.col(FAULT).isin(list(UNRECOVERABLE))
    return rows.where(ok).select("person").distinct()


def _age_band(age: str) -> F.Column:
    low = F.floor(F.col(age) / 5) * 5
    label = F.concat(
        F.lpad(low.cast("string"), 2, "0"), F.lit("-"), F.lpad((low + 4).cast("string"), 2, "0")
    )
    return F.when(F.col(age) >= 85, F.lit("85+")).otherwise(label)


def low_income_overlap_truth(synthetic: Synthetic) -> DataFrame:
    """What a correct pipeline must report: registry members (with a linkable registry row) by
    province, sex and age band, and how many of them appear (linkably) in each other dataset."""
    ex = synthetic.extracts
    base = synthetic.people.join(
        _linkable_persons(ex[("finance", "welfare_registry")].rows), "person"
    ).select("person", "province_code", "sex", _age_band("age").alias("age_band"))
    aggs = [F.count("*").alias("registry_members")]
    for (_, dataset), extract in ex.items():
        if dataset == "welfare_registry":
            continue
        flag = f"in_{dataset}"
        base = base.join(
            _linkable_persons(extract.rows).withColumn(flag, F.lit(1)), "person", "left"
        )
        aggs.append(F.coalesce(F.sum(flag), F.lit(0)).cast("long").alias(flag))
    return base.groupBy("province_code", "sex", "age_band").agg(*aggs)


def fault_counts(extract: Extract) -> dict[str, object]:
    """Rows, duplicates and faults of one extract, and the quarantine a pipeline must produce."""
    counts = {
        (r[FAULT], r[DUPLICATE]): r["n"]
        for r in extract.rows.groupBy(FAULT, DUPLICATE).agg(F.count("*").alias("n")).collect()
    }
    rows = sum(counts.values())
    duplicates = sum(n for (_, dup), n in counts.items() if dup)
    faults = {f: n for (f, dup), n in counts.items() if f and not dup}
    quarantine = {reason: faults.get(f, 0) for f, reason in UNRECOVERABLE.items()}
    return {
        "rows": rows,
        "duplicates": duplicates,
        "faults": dict(sorted(faults.items())),
        "expected_quarantine": quarantine,
        "expected_accepted": rows - duplicates - sum(quarantine.values()),
    }


def _write(extract: Extract, path: Path) -> None:
    df = extract.rows.select(*extract.columns)
    writer = df.write.mode("overwrite")
    if extract.format == "csv":
        writer.option("header", True).option("encoding", "UTF-8").csv(str(path))
    elif extract.format == "json":
        writer.json(str(path))
    else:
        writer.parquet(str(path))


def write_extracts(
    synthetic: Synthetic, out_dir: Path, progress: Callable[[str], None] = log.info
) -> dict[str, object]:
    """Write every extract under ``out_dir/<agency>/<dataset>/`` and ``out_dir/manifest.json``
    (the ground truth). Returns the manifest."""
    out_dir = Path(out_dir)
    manifest: dict[str, object] = {"plan": asdict(synthetic.plan), "datasets": {}}
    for (agency, dataset), extract in synthetic.extracts.items():
        t0 = time.monotonic()
        _write(extract, out_dir / agency / dataset)
        counts = fault_counts(extract)
        manifest["datasets"][f"{agency}.{dataset}"] = {  # type: ignore[index]
            "format": extract.format,
            "path": f"{agency}/{dataset}",
            **counts,
        }
        progress(
            f"synth {agency}.{dataset}: {counts['rows']:,} rows ({extract.format}) "
            f"in {time.monotonic() - t0:.1f}s"
        )
    truth = low_income_overlap_truth(synthetic)
    manifest["low_income_overlap"] = [
        r.asDict() for r in truth.orderBy("province_code", "sex", "age_band").collect()
    ]
    text = json.dumps(manifest, indent=1, ensure_ascii=False, default=str)
    (out_dir / "manifest.json").write_text(text + "\n", encoding="utf-8")
    return manifest
