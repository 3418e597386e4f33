"""The whole main job on synthetic data: extracts → de-identified tables → pool → project outputs."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from pyspark.sql import SparkSession

from pooling.config import Conf
from pooling.ingest import IngestReport, ingest
from pooling.pools import PoolReport, build_pool
from pooling.runs import RunReport, run_project
from pooling.synth import SynthPlan, generate, write_extracts
from pooling.zones import Zones
from pseudonymize import SecretKey

log = logging.getLogger(__name__)

PROJECT = "low_income"


@dataclass
class DemoReport:
    persons: int
    seed: int
    landing: str
    manifest: dict[str, object]
    ingests: list[IngestReport] = field(default_factory=list)
    pool: PoolReport | None = None
    run: RunReport | None = None
    mismatches: list[str] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)


def _timed(report: DemoReport, stage: str, fn: Callable[[], object]) -> object:
    t0 = time.monotonic()
    result = fn()
    report.seconds[stage] = time.monotonic() - t0
    return result


def compare_overlap(spark: SparkSession, run: RunReport, truth: list[dict]) -> list[str]:
    """Cells where the project's welfare overlap differs from the generator's ground truth."""
    got = {
        (r["province_code"], r["sex"], r["age_band"]): r.asDict()
        for r in spark.read.format("delta").load(run.outputs["welfare_overlap"].path).collect()
    }
    want = {(r["province_code"], r["sex"], r["age_band"]): r for r in truth}
    problems = []
    for key in sorted(set(got) | set(want)):
        g, w = got.get(key), want.get(key)
        if g is None or w is None:
            problems.append(f"{key}: {'missing from output' if g is None else 'not in truth'}")
            continue
        diffs = {k: (g[k], w[k]) for k in w if k not in ("province_code", "sex", "age_band")
                 and g.get(k) != w[k]}
        if diffs:
            problems.append(f"{key}: {diffs}")
    return problems


def run_demo(
    spark: SparkSession,
    conf: Conf,
    zones: Zones,
    master_key: SecretKey,
    *,
    persons: int,
    seed: int,
    actor: str | None = None,
) -> DemoReport:
    batch = f"synthetic-s{seed}-n{persons}"
    landing = zones.landing(batch)
    plan = SynthPlan(persons=persons, seed=seed, reference_date=conf.standard.reference_date)
    log.info("1/4 synthesising %s persons (seed %s) into %s", f"{persons:,}", seed, landing)
    synthetic = generate(spark, plan)
    try:
        manifest = write_extracts(synthetic, Path(landing))
    finally:
        synthetic.release()
    report = DemoReport(persons, seed, landing, manifest)

    log.info("2/4 ingesting %d extracts", len(manifest["datasets"]))
    for name, meta in manifest["datasets"].items():
        agency, dataset = name.split(".")
        report.ingests.append(_timed(report, f"ingest {name}", lambda a=agency, d=dataset, m=meta: ingest(
            spark, conf, zones, master_key, agency=a, dataset=d, path=f"{landing}/{m['path']}",
            actor=actor)))
    log.info("3/4 building pool %s", PROJECT)
    report.pool = _timed(report, "pool", lambda: build_pool(spark, conf, zones, master_key, PROJECT,
                                                            actor=actor))
    log.info("4/4 running project %s", PROJECT)
    report.run = _timed(report, "project", lambda: run_project(spark, conf, zones, PROJECT,
                                                               actor=actor))
    report.mismatches = compare_overlap(spark, report.run, manifest["low_income_overlap"])
    return report


def render(report: DemoReport, zones: Zones, elapsed: float) -> str:
    lines = [
        "",
        f"Demo finished in {elapsed:.0f} s: {report.persons:,} synthetic persons, seed {report.seed}.",
        "",
        f"Landing  {report.landing}  (synthetic extracts + manifest.json, the ground truth)",
        "Ingested (de-identified Delta tables; bad rows to the linkage-zone quarantine):",
    ]
    for r in report.ingests:
        lines.append(f"  - {r.summary()}")
    if report.pool:
        lines.append(f"Pooled   {report.pool.summary()}")
        lines.append(f"         under {zones.pool(report.pool.project, '')}")
    if report.run:
        lines.append(f"Computed {report.run.summary()}")
    truth = "matches the generator's ground truth in every cell" if not report.mismatches else (
        f"DIFFERS from the ground truth in {len(report.mismatches)} cell(s): "
        + "; ".join(report.mismatches[:5]))
    lines.append(f"Check    welfare overlap {truth}")
    lines.append(f"Audit    every step is recorded in {zones.audit}")
    lines.append("Next     the secretariat reviews the outputs before anything is released.")
    return "\n".join(lines)
