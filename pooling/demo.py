"""The whole main job on synthetic data.

extracts → de-identified tables → pool → project outputs, checked against the ground truth.
"""

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
    pools: list[PoolReport] = field(default_factory=list)
    run: RunReport | None = None
    overlap: list[dict] = field(default_factory=list)  # the project's output, a small aggregate
    mismatches: list[str] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)


def _timed(report: DemoReport, stage: str, fn: Callable[[], object]) -> object:
    t0 = time.monotonic()
    result = fn()
    report.seconds[stage] = time.monotonic() - t0
    return result


def compare_overlap(output: list[dict], truth: list[dict]) -> list[str]:
    """Cells where the project's welfare overlap differs from the generator's ground truth."""
    got = {(r["province_code"], r["sex"], r["age_band"]): r for r in output}
    want = {(r["province_code"], r["sex"], r["age_band"]): r for r in truth}
    problems = []
    for key in sorted(set(got) | set(want)):
        g, w = got.get(key), want.get(key)
        if g is None or w is None:
            problems.append(f"{key}: {'missing from output' if g is None else 'not in truth'}")
            continue
        diffs = {
            k: (g[k], w[k])
            for k in w
            if k not in ("province_code", "sex", "age_band") and g.get(k) != w[k]
        }
        if diffs:
            problems.append(f"{key}: {diffs}")
    return problems


def compare_counts(report: DemoReport) -> list[str]:
    """Ingest figures that differ from the faults the generator injected."""
    problems = []
    for r in report.ingests:
        want = report.manifest["datasets"][f"{r.agency}.{r.dataset}"]
        expected_q = want["expected_quarantine"]
        got = (r.input_rows, r.duplicates, r.accepted, r.quarantined)
        if got != (want["rows"], want["duplicates"], want["expected_accepted"], expected_q):
            problems.append(
                f"{r.agency}.{r.dataset}: got {got}, manifest says "
                f"{(want['rows'], want['duplicates'], want['expected_accepted'], expected_q)}"
            )
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

    # Every dataset any project's pool takes (with all seven projects: every extract).
    wanted = sorted(
        {f"{s.agency}.{s.dataset}" for spec in conf.projects.values() for s in spec.pool.values()}
    )
    log.info("2/4 ingesting %d extracts", len(wanted))
    for i, name in enumerate(wanted, 1):
        log.info("  ingest %d/%d %s", i, len(wanted), name)
        agency, dataset = name.split(".")
        path = f"{landing}/{manifest['datasets'][name]['path']}"
        report.ingests.append(
            _timed(
                report,
                f"ingest {name}",
                lambda a=agency, d=dataset, p=path: ingest(
                    spark, conf, zones, master_key, agency=a, dataset=d, path=p, actor=actor
                ),
            )
        )
    for i, project in enumerate(sorted(conf.projects), 1):
        log.info("3/4 building pool %d/%d %s", i, len(conf.projects), project)
        report.pools.append(
            _timed(
                report,
                f"pool {project}",
                lambda p=project: build_pool(spark, conf, zones, master_key, p, actor=actor),
            )
        )
    log.info("4/4 running project %s", PROJECT)
    report.run = _timed(
        report, "project", lambda: run_project(spark, conf, zones, PROJECT, actor=actor)
    )
    output = spark.read.format("delta").load(report.run.outputs["welfare_overlap"].path)
    report.overlap = [r.asDict() for r in output.collect()]  # ~2,800 cells at most
    report.mismatches = compare_counts(report) + compare_overlap(
        report.overlap, manifest["truth"]["low_income_overlap"]
    )
    return report


def _headline(cells: list[dict]) -> list[str]:
    members = sum(c["registry_members"] for c in cells)
    if not members:
        return []
    shares = ", ".join(
        f"{sum(c[k] for c in cells) / members:.1%} {k.removeprefix('in_').replace('_', ' ')}"
        for k in cells[0]
        if k.startswith("in_")
    )
    return [f"Headline {members:,} registry members; of them {shares}"]


def render(report: DemoReport, zones: Zones, elapsed: float) -> str:
    lines = [
        "",
        f"Demo finished in {elapsed:.0f} s: {report.persons:,} synthetic persons, "
        f"seed {report.seed}.",
        "",
        f"Landing  {report.landing}  (synthetic extracts + manifest.json, the ground truth)",
        "Ingested (de-identified Delta tables; bad rows to the linkage-zone quarantine):",
    ]
    for r in report.ingests:
        lines.append(f"  - {r.summary()}")
    if report.pools:
        lines.append(f"Pooled   under {zones.pool('', '').rstrip('/')}:")
        for p in report.pools:
            lines.append(f"  - {p.summary()}")
    if report.run:
        lines.append(f"Computed {report.run.summary()}")
    truth = (
        "and every ingest count match the generator's ground truth"
        if not report.mismatches
        else (
            f"DIFFERS from the ground truth in {len(report.mismatches)} cell(s): "
            + "; ".join(report.mismatches[:5])
        )
    )
    lines.append(f"Check    welfare overlap {truth}")
    lines.extend(_headline(report.overlap))
    lines.append(f"Audit    every step is recorded in {zones.audit}")
    lines.append("Next     the secretariat reviews the outputs before anything is released.")
    return "\n".join(lines)
