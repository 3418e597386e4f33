"""The whole main job on synthetic data.

extracts → de-identified tables → pool → project outputs, checked against the ground truth.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from pyspark.sql import SparkSession

from pooling.core import tables
from pooling.core.config import Conf
from pooling.core.zones import Zones
from pooling.dev.synth import SynthPlan, generate, write_extracts
from pooling.ingest import IngestReport, ingest
from pooling.outputs.runs import RunReport, run_project
from pooling.pools.build import PoolReport, build_pool
from pseudonymize import SecretKey

log = logging.getLogger("pooling.demo")  # the name it had before the layout: logs are read by it

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
    seconds: dict[str, float] = field(default_factory=dict)


def _timed(report: DemoReport, stage: str, fn: Callable[[], object]) -> object:
    t0 = time.monotonic()
    result = fn()
    report.seconds[stage] = time.monotonic() - t0
    return result


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
) -> DemoReport:
    """Synthesise, ingest, pool and run ``projects`` (default: all), then check the ground truth.

    With a subset, only the extracts and truths those projects need are generated.
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
    report = _synthesise(spark, conf, zones, persons, seed, subset)
    landing, manifest = report.landing, report.manifest

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
    for i, project in enumerate(selected, 1):
        log.info("3/4 building pool %d/%d %s", i, len(selected), project)
        report.pools.append(
            _timed(
                report,
                f"pool {project}",
                lambda p=project: build_pool(spark, conf, zones, master_key, p, actor=actor),
            )
        )
    for i, project in enumerate(selected, 1):
        log.info("4/4 running project %d/%d %s", i, len(selected), project)
        report.runs[project] = _timed(
            report,
            f"run {project}",
            lambda p=project: run_project(spark, conf, zones, p, actor=actor),
        )
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
) -> DemoReport:
    """Stage 1: the extracts and their ground truth in the landing zone (``subset``: only these
    datasets and truths)."""
    landing = zones.landing(f"synthetic-s{seed}-n{persons}")
    plan = SynthPlan(persons=persons, seed=seed, reference_date=conf.standard.reference_date)
    log.info("1/4 synthesising %s persons (seed %s) into %s", f"{persons:,}", seed, landing)
    t0 = time.monotonic()
    synthetic = generate(spark, plan)
    try:
        manifest = (
            write_extracts(synthetic, landing)
            if subset is None
            else write_extracts(synthetic, landing, datasets=subset[0], truths=subset[1])
        )
    finally:
        synthetic.release()
    report = DemoReport(persons, seed, landing, manifest)
    report.seconds["synth"] = time.monotonic() - t0
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


def timing(seconds: dict[str, float]) -> str:
    """Seconds per stage: synth, then the sum (and count) of ingests, pools and project runs."""
    parts = [f"synth {seconds['synth']:.0f} s"] if "synth" in seconds else []
    for stage, label in (("ingest ", "ingests"), ("pool ", "pools"), ("run ", "project runs")):
        times = [t for k, t in seconds.items() if k.startswith(stage)]
        if times:
            parts.append(f"{len(times)} {label} {sum(times):.0f} s")
    return ", ".join(parts)


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
    lines.append(f"Timing   {timing(report.seconds)}")
    lines.extend(_headline(report.checked.get("low_income.welfare_overlap", [])))
    lines.append(f"Audit    every step is recorded in {zones.audit}")
    lines.append(
        "Next     two of the secretariat's checkers review the outputs before anything is "
        "released: `pooling console` (a web page) or `pooling review list`."
    )
    return "\n".join(lines)
