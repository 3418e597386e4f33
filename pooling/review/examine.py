"""The review's reading side: the runs waiting for review, and every check on a run's outputs.

Nothing here writes: :func:`review_run` reads a run's manifest and outputs and runs the checks of
:mod:`pooling.review.disclosure` (and the suppression they would call for) on each.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from pooling.core import tables
from pooling.core.config import Conf
from pooling.core.errors import UnknownNameError
from pooling.core.storage import Storage
from pooling.core.zones import Zones
from pooling.outputs.manifest import MANIFEST, PENDING, OutputEntry, RunManifest
from pooling.review.disclosure import (
    Check,
    OutputMeta,
    Suppression,
    coarser_outputs,
    protection_check,
    round_counts,
    run_checks,
    suppress,
)
from projects import Chart
from pseudonymize.stray import stray_kinds


@dataclass
class OutputReview:
    meta: OutputMeta
    cells: pd.DataFrame
    checks: list[Check]
    suppression: Suppression
    after: list[Check]  # the checks on what suppression would release
    chart: Chart | None
    source: OutputEntry
    rounding_base: int | None = None  # shown counts of people rounded on release

    def as_released(self, suppressed: bool) -> pd.DataFrame:
        """The cells a release would publish: suppressed or as is, then rounded if so set."""
        frame = self.suppression.released if suppressed else self.cells
        if self.rounding_base:
            frame = round_counts(frame, self.meta, self.rounding_base)
        return frame

    @property
    def failing(self) -> list[str]:
        return [c.name for c in self.checks if c.severity == "fail" and not c.passed]

    @property
    def failing_after(self) -> list[str]:
        return [c.name for c in self.after if c.severity == "fail" and not c.passed]


@dataclass
class RunReview:
    project: str
    run_id: str
    directory: str  # the run's folder, on whichever store the outputs zone is
    manifest: RunManifest
    outputs: dict[str, OutputReview] = field(default_factory=dict)
    pages: dict[str, str] = field(default_factory=dict)

    @property
    def ref(self) -> str:
        return f"{self.project}/{self.run_id}"


def pending(storage: Storage, zones: Zones) -> list[RunManifest]:
    """Manifests of every run waiting for review, oldest first."""
    found = []
    for project in storage.list(zones.outputs("")):
        for run in storage.list(project.uri) if project.is_dir else []:
            manifest = f"{run.uri}/{MANIFEST}"
            if run.is_dir and storage.exists(manifest):
                m = RunManifest.read(storage, manifest)
                if m.status == PENDING:
                    found.append(m)
    return sorted(found, key=lambda m: m.run_id)


def run_dir(storage: Storage, zones: Zones, ref: str) -> str:
    project, _, run_id = ref.partition("/")
    directory = zones.outputs(project, run_id)
    if not run_id or not storage.exists(f"{directory}/{MANIFEST}"):
        raise UnknownNameError(
            f"no completed run {ref!r}; give PROJECT/RUN_ID as `pooling review list` shows it"
        )
    return directory


def _meta(name: str, out: OutputEntry) -> OutputMeta:
    return OutputMeta(name, out.dims, out.count_column, out.people_counts)


def _chart(spec: dict | None) -> Chart | None:
    """The chart spec the run recorded (JSON turned the tuples into lists)."""
    if not spec:
        return None
    per = spec.get("per")
    return Chart(
        **{**spec, "y": tuple(spec["y"]), "per": tuple(per) if isinstance(per, list) else per}
    )


def stray_identifier_check(df: DataFrame) -> Check:
    """The ingest's stray-identifier scan (:mod:`pseudonymize.stray`) on every text column of an
    output, in Spark: a label or a note that carries a citizen ID, phone, e-mail or name fails,
    and no suppression of counts can mend it (the project must not write it). The check names
    the column, the number of rows and the kinds, never a value."""
    check = Check(
        "stray_identifiers",
        "No text in an output may hold a citizen ID, phone number, e-mail address or a "
        "person's name.",
        "fail",
    )
    text = [f.name for f in df.schema.fields if f.dataType.simpleString() == "string"]
    if not text:
        return check
    # One scan per column, then one aggregation: the kinds found and the rows holding any.
    found = df.select(*[stray_kinds(c).alias(f"s{i}") for i, c in enumerate(text)])
    row = found.agg(
        *[F.array_sort(F.flatten(F.collect_set(f"s{i}"))).alias(f"k{i}") for i in range(len(text))],
        *[F.count_if(F.size(f"s{i}") > 0).alias(f"n{i}") for i in range(len(text))],
    ).first()
    for i, c in enumerate(text):
        if row[f"n{i}"]:
            found = ", ".join(row[f"k{i}"])
            check.cells.append({"column": c, "detail": f"{row[f'n{i}']} row(s): {found}"})
    return check


def review_run(spark: SparkSession, conf: Conf, zones: Zones, ref: str) -> RunReview:
    """Run every check on every output of the run (nothing is written)."""
    storage = Storage(spark)
    directory = run_dir(storage, zones, ref)
    manifest = RunManifest.read(storage, f"{directory}/{MANIFEST}")
    settings = conf.project(manifest.project).disclosure
    run = RunReview(manifest.project, manifest.run_id, directory, manifest)
    frames, scans = {}, {}
    for name, out in manifest.outputs.items():
        table = tables.read_version(spark, out.path, out.version)
        scans[name] = stray_identifier_check(table)
        frames[name] = (_meta(name, out), table.toPandas())
    for name, out in manifest.outputs.items():
        meta, df = frames[name]
        support = None
        if out.dominance_support:
            support = spark.read.format("delta").load(out.dominance_support).toPandas()
        coarser = coarser_outputs(meta, df, list(frames.values()))
        checks = [
            *run_checks(df, meta, settings, support=support, coarser=coarser),
            scans[name],
        ]
        additive = sorted(set(support["measure"])) if support is not None else []
        sup = suppress(
            df,
            meta,
            checks,
            additive=additive,
            coarser=[c.dims for c, _ in coarser],
            settings=settings,
        )
        after = run_checks(df, meta, settings, support=support, coarser=coarser, hidden=sup.hidden)
        after += [protection_check(sup, settings), scans[name]]
        run.outputs[name] = OutputReview(
            meta, df, checks, sup, after, _chart(out.chart_spec), out, settings.rounding_base
        )
    return run
