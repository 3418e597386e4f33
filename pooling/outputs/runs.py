"""Running a project: its pool in, aggregate outputs out, waiting for the secretariat's review.

A run writes under ``outputs/<project>/<run_id>/``:

- one Delta table per output, with its metadata (cells, count column, pool versions read);
- ``<output>.png``, a chart of each headline output;
- ``report.md``: what was computed, from which pool versions, how to read it;
- ``_dominance/<output>``: for magnitude outputs, the largest contributions per cell (absolute
  values) and how many are negative, for the review's dominance rules (secretariat only, never
  released);
- ``manifest.json`` last, with status ``pending_review``. A run directory without a manifest is
  an interrupted run and is never offered for review.

Every output passes :func:`pooling.outputs.aggregates.check_aggregate` before anything is written.
Nothing is released from here: release is the review's job.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Sequence
from contextlib import ExitStack
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime

import pandas as pd
from pyspark.sql import DataFrame, SparkSession, Window
from pyspark.sql import functions as F

import projects
from pooling.core import audit, parallel, tables
from pooling.core.config import Conf, ProjectSpec
from pooling.core.held import held
from pooling.core.storage import Storage
from pooling.core.zones import Zones
from pooling.outputs import reports
from pooling.outputs.aggregates import check_aggregate
from pooling.outputs.manifest import PENDING, OutputEntry, RunManifest
from pooling.pools.build import pool_tables
from pseudonymize.standard import POOL_PSEUDONYM

log = logging.getLogger("pooling.runs")  # the name it had before the layout: logs are read by it
Drawn = tuple[str | None, pd.DataFrame | None]  # a chart's path and its plotted data

DOMINANCE_DIR = "_dominance"

# Charts are drawn from the written outputs on the driver; an aggregate is far smaller.
MAX_CHART_ROWS = 100_000


@dataclass
class RunReport:
    project: str
    run_id: str
    directory: str
    pool_versions: dict[str, int]
    outputs: dict[str, tables.Written] = field(default_factory=dict)
    dims: dict[str, tuple[str, ...]] = field(default_factory=dict)  # output → its cell columns
    charts: dict[str, str] = field(default_factory=dict)  # output → PNG path
    report: str | None = None
    seconds: float = 0.0

    def summary(self) -> str:
        outs = ", ".join(f"{n} ({w.rows:,} rows)" for n, w in self.outputs.items())
        return (
            f"project {self.project} run {self.run_id}: {outs}; {len(self.charts)} chart(s), "
            f"report {'report.md' if self.report else 'not written'} -> {self.directory} "
            f"[{PENDING}] in {self.seconds:.1f}s"
        )


def largest_contributions(contributions: DataFrame, dims: Sequence[str], n: int) -> DataFrame:
    """Per cell and measure: how many contributors, the (signed) total, the total of absolute
    values, how many contributions are negative, and the ``n`` largest absolute values
    (descending). Enough for the p% and (n, k) rules without keeping every contribution; they
    work on absolute values, so that a large negative contribution (a loss) still dominates."""
    size = F.abs(F.col("value"))
    rank = F.row_number().over(Window.partitionBy(*dims, "measure").orderBy(size.desc()))
    ranked = contributions.withColumn("rank", rank)
    top = F.sort_array(F.collect_list(F.when(F.col("rank") <= n, size)), asc=False)
    return ranked.groupBy(*dims, "measure").agg(
        F.count(F.lit(1)).alias("contributors"),
        F.sum("value").alias("total"),
        F.sum(size).alias("abs_total"),
        F.count(F.when(F.col("value") < 0, True)).alias("negatives"),
        top.alias("largest"),
    )


def run_project(
    spark: SparkSession,
    conf: Conf,
    zones: Zones,
    project: str,
    *,
    actor: str | None = None,
    workers: int = parallel.DEFAULT_WORKERS,
) -> RunReport:
    """Compute the project's outputs from its pool, check every one, then write them, their
    charts, the report and, last, the manifest (see the module docstring); outputs go
    ``workers`` at a time."""
    t0 = time.monotonic()
    spec = conf.project(project)
    fn = projects.get(project)
    pool = pool_tables(spark, zones, spec)
    run_id = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    report = RunReport(
        project, run_id, zones.outputs(project, run_id), {t: v for t, (_, v) in pool.items()}
    )
    person_level = any(POOL_PSEUDONYM in df.columns for df, _ in pool.values())
    computed = fn({t: df for t, (df, _) in pool.items()})
    # Each output is computed once: the check's pass over it stores the rows the write reads,
    # and the write plans a scan of them, not the joins over the pool again.
    with ExitStack() as stack:
        outputs = {n: replace(o, df=stack.enter_context(held(o.df))) for n, o in computed.items()}
        return _checked_and_written(
            spark, zones, spec, report, outputs, person_level, actor, t0, workers
        )


def _checked_and_written(
    spark: SparkSession,
    zones: Zones,
    spec: ProjectSpec,
    report: RunReport,
    outputs: dict[str, projects.Output],
    person_level: bool,
    actor: str | None,
    t0: float,
    workers: int,
) -> RunReport:
    project, run_id = spec.name, report.run_id
    names = list(outputs)
    # Outputs are independent: checked, then written, ``workers`` at a time (a small output's
    # check and write are mostly driver time). Every check ends before any write starts, and
    # the run is complete only with its manifest, written after the last output.
    parallel.each(
        spark,
        names,
        lambda _, n: check_aggregate(project, n, outputs[n], person_level=person_level),
        workers=workers,
    )
    lineage = json.dumps(
        [{"table": zones.pool(project, t), "version": v} for t, v in report.pool_versions.items()]
    )

    def write(_: SparkSession, name: str) -> tuple[tables.Written, tables.Written | None, Drawn]:
        log.info("  %s output %d/%d %s", project, names.index(name) + 1, len(names), name)
        output = outputs[name]
        written = _write_output(spark, zones, spec, run_id, name, output, lineage)
        support = None
        if output.contributions is not None:
            support = _write_dominance_support(spark, zones, spec, run_id, name, output)
        return written, support, _chart(spark, report.directory, name, output, written)

    facts: dict[str, reports.OutputFacts] = {}
    dominance: dict[str, tables.Written] = {}
    done = parallel.each(spark, names, write, workers=workers)
    for name, ((written, support, (chart_path, data)), _) in zip(names, done, strict=True):
        output = outputs[name]
        report.outputs[name] = written
        report.dims[name] = output.dims
        if support is not None:
            dominance[name] = support
        chart_file = None
        if chart_path is not None:
            report.charts[name] = chart_path
            chart_file = chart_path.rsplit("/", 1)[-1]
        facts[name] = reports.OutputFacts(output, written.rows, written.version, chart_file, data)
    author = actor or audit.current_actor()  # who may not review this run
    manifest = _manifest(spec, report, outputs, facts, dominance, author)
    storage = Storage(spark)
    _write_report(storage, spec, zones, report, facts)
    manifest.write(storage, report.directory)  # last: the manifest marks the run complete
    audit.record(
        spark,
        zones.audit,
        action="project_run",
        subject=project,
        actor=author,
        details=manifest.to_dict(),
    )
    report.seconds = time.monotonic() - t0
    log.info(report.summary())
    return report


def _write_output(
    spark: SparkSession,
    zones: Zones,
    spec: ProjectSpec,
    run_id: str,
    name: str,
    output: projects.Output,
    lineage: str,
) -> tables.Written:
    """One output's Delta table, with what a reader (and the review) needs in its properties."""
    return tables.replace_table(
        spark,
        output.df,
        zones.outputs(spec.name, run_id, name),
        {
            "kind": "output",
            "project": spec.name,
            "run_id": run_id,
            "status": PENDING,
            "description": f"{spec.title}: {output.title}",
            "how_to_read": output.how_to_read,
            "dims": ",".join(output.dims),
            "count_column": output.count or "",
            "people_counts": ",".join(output.people_counts),
            "headline": str(output.headline).lower(),
            "lineage": lineage,
        },
    )


def _write_dominance_support(
    spark: SparkSession,
    zones: Zones,
    spec: ProjectSpec,
    run_id: str,
    name: str,
    output: projects.Output,
) -> tables.Written:
    """A magnitude output's largest contributions per cell, for the review's dominance rules."""
    support = largest_contributions(
        output.contributions, output.dims, max(2, spec.disclosure.dominance_n)
    )
    return tables.replace_table(
        spark,
        support,
        zones.outputs(spec.name, run_id, DOMINANCE_DIR, name),
        {
            "kind": "dominance_support",
            "project": spec.name,
            "run_id": run_id,
            "description": (
                f"The largest contributions per cell of {name}, for the dominance "
                "rules. Secretariat only; never released."
            ),
        },
    )


def _chart(
    spark: SparkSession,
    directory: str,
    name: str,
    output: projects.Output,
    written: tables.Written,
) -> Drawn:
    """A headline output's chart, drawn from its cells as written: (path, plotted data).

    The cells come from ``output.df``, the stored rows the write read (:func:`held`), not from
    the table read back: that is the same rows, and the read back cost 0.7 s a chart, all of it
    Delta working out the state of a table version nothing had read yet."""
    if not output.chart:
        return None, None
    if written.rows > MAX_CHART_ROWS:
        log.warning("%s: %d rows is too many to chart; no chart drawn", name, written.rows)
        return None, None
    data = reports.chart_data(output.df.toPandas(), output.chart)
    path = f"{directory}/{name}.png"
    Storage(spark).write_bytes(path, reports.draw(data, output.chart))
    return path, data


def _manifest(
    spec: ProjectSpec,
    report: RunReport,
    outputs: dict[str, projects.Output],
    facts: dict[str, reports.OutputFacts],
    dominance: dict[str, tables.Written],
    author: str,
) -> RunManifest:
    """The run's manifest: what the review reads, and the audit event's details."""
    return RunManifest(
        project=spec.name,
        run_id=report.run_id,
        status=PENDING,
        created=report.run_id,
        pool_versions=report.pool_versions,
        outputs={
            n: OutputEntry(
                path=w.path,
                version=w.version,
                rows=w.rows,
                title=outputs[n].title,
                dims=outputs[n].dims,
                count_column=outputs[n].count,
                people_counts=outputs[n].people_counts,
                dominance_support=dominance[n].path if n in dominance else None,
                headline=outputs[n].headline,
                chart=facts[n].chart_file,
                chart_spec=asdict(outputs[n].chart) if outputs[n].chart else None,
            )
            for n, w in report.outputs.items()
        },
        report="report.md",
        disclosure=spec.disclosure,
        author=author,
    )


def _write_report(
    storage: Storage,
    spec: ProjectSpec,
    zones: Zones,
    report: RunReport,
    facts: dict[str, reports.OutputFacts],
) -> None:
    """``report.md``: the question, the pool versions read and every output explained."""
    text = reports.report_markdown(
        title=spec.title,
        question=spec.question,
        run_id=report.run_id,
        pool_versions=report.pool_versions,
        pool_path=zones.pool(spec.name, ""),
        outputs=facts,
        min_cell_count=spec.disclosure.min_cell_count,
    )
    report.report = f"{report.directory}/report.md"
    storage.write_text(report.report, text)
