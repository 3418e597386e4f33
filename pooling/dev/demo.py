"""The whole main job on synthetic data.

extracts → de-identified tables → pool → project outputs, checked against the ground truth.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

from pyspark.sql import SparkSession

from pooling.core import parallel, tables
from pooling.core.config import Conf
from pooling.core.zones import Zones
from pooling.dev.synth import SynthPlan, generate, write_extracts
from pooling.ingest import IngestReport, ingest
from pooling.outputs.runs import RunReport, run_project
from pooling.pools.build import PoolReport, build_pool
from pseudonymize import SecretKey

log = logging.getLogger("pooling.demo")  # the name it had before the layout: logs are read by it

T = TypeVar("T")
# The outputs the generator's ground truth checks: (project, output, truth in the manifest).
TRUTH_CHECKS = (
    ("low_income", "welfare_overlap", "low_income_overlap"),
    ("low_income", "likely_exclusion_errors", "low_income_exclusion"),
    ("low_income", "likely_inclusion_errors", "low_income_inclusion"),
    ("agriculture", "farm_households_in_registry", "agriculture_farm_households"),
    ("education_labour", "employment_within_12m", "education_labour_employment"),
    ("public_health", "vulnerable_ncd", "public_health_vulnerable"),
    ("pollution", "days_above_standard", "pollution_days_above_standard"),
)
# Means are rounded to 2 decimals by both sides; summation order may move the last digit.
FLOAT_TOLERANCE = 0.011


@dataclass
class DemoReport:
    persons: int
    seed: int
    landing: str
    manifest: dict[str, object]
    ingests: list[IngestReport] = field(default_factory=list)
    pools: list[PoolReport] = field(default_factory=list)
    runs: dict[str, RunReport] = field(default_factory=dict)
    # The checked outputs' cells ("project.output" → rows): small aggregates.
    checked: dict[str, list[dict]] = field(default_factory=dict)
    mismatches: list[str] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)  # each job's own ("ingest a.b")
    # Each stage's wall time (synth, ingest, pool, run): with jobs side by side, less than the
    # sum of its jobs' seconds.
    stage_seconds: dict[str, float] = field(default_factory=dict)
    workers: int = 1


def _stage(
    report: DemoReport,
    stage: str,
    spark: SparkSession,
    items: Sequence[str],
    job: Callable[[SparkSession, str], T],
    workers: int,
) -> list[T]:
    """One stage's jobs, ``workers`` at a time (:func:`pooling.core.parallel.each`), their
    results in order; each job's seconds in ``report.seconds`` ("ingest finance.welfare_registry"),
    the stage's wall time in ``report.stage_seconds``."""
    t0 = time.monotonic()
    done = parallel.each(spark, items, job, workers=workers)
    report.stage_seconds[stage] = time.monotonic() - t0
    for item, (_, seconds) in zip(items, done, strict=True):
        report.seconds[f"{stage} {item}"] = seconds
    return [result for result, _ in done]


def _same(got: object, want: object) -> bool:
    if isinstance(want, float) and isinstance(got, float):
        return abs(got - want) <= FLOAT_TOLERANCE
    return got == want


def compare_cells(
    what: str, output: list[dict], truth: list[dict], dims: Sequence[str]
) -> list[str]:
    """Cells where a project output differs from the generator's ground truth (every column
    of the truth is compared; the output may have more)."""
    got = {tuple(r[d] for d in dims): r for r in output}
    want = {tuple(r[d] for d in dims): r for r in truth}
    problems = []
    for key in sorted(set(got) | set(want), key=str):
        g, w = got.get(key), want.get(key)
        if g is None or w is None:
            problems.append(
                f"{what} {key}: {'missing from output' if g is None else 'not in truth'}"
            )
            continue
        diffs = {k: (g.get(k), w[k]) for k in w if k not in dims and not _same(g.get(k), w[k])}
        if diffs:
            problems.append(f"{what} {key}: {diffs}")
    return problems


def compare_counts(report: DemoReport) -> list[str]:
    """Ingest figures that differ from the faults the generator injected."""
    problems = []
    for r in report.ingests:
        want = report.manifest["datasets"][f"{r.agency}.{r.dataset}"]
        expected_q = want["expected_quarantine"]
        got = (r.input_rows, r.duplicates, r.accepted, r.quarantined, r.nulled, r.masked)
        expected = (
            want["rows"],
            want["duplicates"],
            want["expected_accepted"],
            expected_q,
            want.get("expected_nulled", {}),
            want.get("expected_masked", {}),
        )
        if got != expected:
            problems.append(f"{r.agency}.{r.dataset}: got {got}, manifest says {expected}")
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
    projects: Sequence[str] | None = None,
    workers: int = parallel.DEFAULT_WORKERS,
) -> DemoReport:
    """Synthesise, ingest, pool and run ``projects`` (default: all), then check the ground truth.

    With a subset, only the extracts and truths those projects need are generated. The ingests,
    the pool builds and the project runs each go ``workers`` at a time (they are independent of
    one another within a stage).
    """
    selected = sorted(projects or conf.projects)
    for p in selected:
        conf.project(p)  # an unknown name fails here, listing the configured ones
    # Every dataset a selected project's pool takes (with all seven projects: every extract).
    wanted = sorted(
        {f"{s.agency}.{s.dataset}" for p in selected for s in conf.projects[p].pool.values()}
    )
    checks = [c for c in TRUTH_CHECKS if c[0] in selected]
    # With a subset, only what those projects need; by default every extract and truth.
    subset = None if projects is None else (wanted, [t for *_, t in checks])
    report = _synthesise(spark, conf, zones, persons, seed, subset, workers)
    report.workers = workers
    landing, manifest = report.landing, report.manifest

    log.info("2/4 ingesting %d extracts, %d at a time", len(wanted), workers)

    def ingest_one(session: SparkSession, name: str) -> IngestReport:
        agency, dataset = name.split(".")
        log.info("  ingest %s", name)
        path = f"{landing}/{manifest['datasets'][name]['path']}"
        return ingest(
            session, conf, zones, master_key, agency=agency, dataset=dataset, path=path, actor=actor
        )

    report.ingests += _stage(report, "ingest", spark, wanted, ingest_one, workers)
    log.info("3/4 building %d pools", len(selected))
    report.pools += _stage(
        report,
        "pool",
        spark,
        selected,
        lambda s, p: build_pool(s, conf, zones, master_key, p, actor=actor),
        workers,
    )
    log.info("4/4 running %d projects", len(selected))
    ran = _stage(
        report,
        "run",
        spark,
        selected,
        lambda s, p: run_project(s, conf, zones, p, actor=actor),
        workers,
    )
    report.runs.update(zip(selected, ran, strict=True))
    report.mismatches = compare_counts(report)
    _check_outputs(spark, report, checks)
    return report


def _synthesise(
    spark: SparkSession,
    conf: Conf,
    zones: Zones,
    persons: int,
    seed: int,
    subset: tuple[list[str], list[str]] | None,
    workers: int,
) -> DemoReport:
    """Stage 1: the extracts and their ground truth in the landing zone (``subset``: only these
    datasets and truths), ``workers`` at a time like the other stages."""
    landing = zones.landing(f"synthetic-s{seed}-n{persons}")
    plan = SynthPlan(persons=persons, seed=seed, reference_date=conf.standard.reference_date)
    log.info("1/4 synthesising %s persons (seed %s) into %s", f"{persons:,}", seed, landing)
    t0 = time.monotonic()
    synthetic = generate(spark, plan)
    try:
        datasets, truths = subset or (None, None)
        manifest = write_extracts(
            synthetic, landing, datasets=datasets, truths=truths, workers=workers
        )
    finally:
        synthetic.release()
    report = DemoReport(persons, seed, landing, manifest)
    report.seconds["synth"] = report.stage_seconds["synth"] = time.monotonic() - t0
    return report


def _check_outputs(spark: SparkSession, report: DemoReport, checks: Sequence[tuple]) -> None:
    """Every checked output's cells against the generator's ground truth."""
    for project, output, truth in checks:
        run = report.runs.get(project)
        if run is None:  # a conf/ without this project
            continue
        written = run.outputs[output]
        cells = [
            r.asDict() for r in tables.read_version(spark, written.path, written.version).collect()
        ]
        report.checked[f"{project}.{output}"] = cells
        report.mismatches += compare_cells(
            f"{project}.{output}", cells, report.manifest["truth"][truth], run.dims[output]
        )


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


def timing(report: DemoReport) -> str:
    """Wall seconds per stage: synth, then the ingests, pools and project runs (how many, and
    how many at a time)."""
    stages = report.stage_seconds
    parts = [f"synth {stages['synth']:.0f} s"] if "synth" in stages else []
    for stage, label in (("ingest", "ingests"), ("pool", "pools"), ("run", "project runs")):
        jobs = sum(1 for k in report.seconds if k.startswith(stage + " "))
        if stage in stages:
            parts.append(f"{jobs} {label} {stages[stage]:.0f} s")
    return ", ".join(parts) + f" ({report.workers} at a time)"


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
    if report.runs:
        lines.append("Computed (aggregates, charts and a report per run; pending review):")
        for run in report.runs.values():
            lines.append(f"  - {run.summary()}")
    checked = ", ".join(report.checked)
    truth = (
        f"Every ingest count and {len(report.checked)} outputs ({checked}) match the "
        "generator's ground truth"
        if not report.mismatches
        else (
            f"DIFFERS from the ground truth in {len(report.mismatches)} place(s): "
            + "; ".join(report.mismatches[:5])
        )
    )
    lines.append(f"Check    {truth}")
    lines.append(f"Timing   {timing(report)}")
    lines.extend(_headline(report.checked.get("low_income.welfare_overlap", [])))
    lines.append(f"Audit    every step is recorded in {zones.audit}")
    lines.append(
        "Next     two of the secretariat's checkers review the outputs before anything is "
        "released: `pooling console` (a web page) or `pooling review list`."
    )
    return "\n".join(lines)
