"""The secretariat's review: check a run's outputs, decide, and release only what was approved.

``list`` finds runs waiting for review (a run directory with a ``pending_review`` manifest).
``show`` runs the automatic checks of :mod:`pooling.review.disclosure` on every output and writes a
review page per output (HTML: the table, its checks, what suppression would hide, its chart).
``approve`` releases outputs whose checks pass, or pass once suppression is applied (only when
asked for); ``reject`` releases nothing. Every decision, with reviewer, reasons and check
results, is an audit event; every release another.

A release is staged next to ``released/<project>/`` and renamed into place as a whole, with its
``manifest.json`` inside: ``released/`` never holds a partial or unapproved output.
"""

from __future__ import annotations

import base64
import html
import json
import logging
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
from pyspark.sql import SparkSession

from pooling.core import audit, tables
from pooling.core.config import Conf
from pooling.core.errors import PoolingError, UnknownNameError
from pooling.core.zones import Zones
from pooling.outputs import reports
from pooling.review.disclosure import (
    Check,
    OutputMeta,
    Suppression,
    coarser_outputs,
    run_checks,
    suppress,
)
from projects import Chart

log = logging.getLogger("pooling.review")  # the name it had before the layout: logs are read by it

PENDING, APPROVED, REJECTED = "pending_review", "approved", "rejected"


class ReviewError(PoolingError, ValueError):
    """A review decision that cannot be taken (e.g. approving an output that fails its checks)."""


@dataclass
class OutputReview:
    meta: OutputMeta
    cells: pd.DataFrame
    checks: list[Check]
    suppression: Suppression
    after: list[Check]  # the checks on what suppression would release
    chart: Chart | None
    source: dict

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
    directory: Path
    manifest: dict
    outputs: dict[str, OutputReview] = field(default_factory=dict)
    pages: dict[str, Path] = field(default_factory=dict)

    @property
    def ref(self) -> str:
        return f"{self.project}/{self.run_id}"


def pending(zones: Zones) -> list[dict]:
    """Manifests of every run waiting for review, oldest first."""
    root = Path(zones.outputs(""))
    found = []
    for m in sorted(root.glob("*/*/manifest.json")):
        manifest = json.loads(m.read_text())
        if manifest.get("status") == PENDING:
            found.append(manifest)
    return sorted(found, key=lambda m: m["run_id"])


def _run_dir(zones: Zones, ref: str) -> Path:
    project, _, run_id = ref.partition("/")
    directory = Path(zones.outputs(project, run_id))
    if not run_id or not (directory / "manifest.json").is_file():
        raise UnknownNameError(
            f"no completed run {ref!r}; give PROJECT/RUN_ID as `pooling review list` shows it"
        )
    return directory


def _meta(name: str, out: dict) -> OutputMeta:
    return OutputMeta(
        name, tuple(out["dims"]), out.get("count_column"), tuple(out.get("people_counts") or ())
    )


def _chart(spec: dict | None) -> Chart | None:
    """The chart spec the run recorded (JSON turned the tuples into lists)."""
    if not spec:
        return None
    per = spec.get("per")
    return Chart(
        **{**spec, "y": tuple(spec["y"]), "per": tuple(per) if isinstance(per, list) else per}
    )


def review_run(spark: SparkSession, conf: Conf, zones: Zones, ref: str) -> RunReview:
    """Run every check on every output of the run (nothing is written)."""
    directory = _run_dir(zones, ref)
    manifest = json.loads((directory / "manifest.json").read_text())
    settings = conf.project(manifest["project"]).disclosure
    run = RunReview(manifest["project"], manifest["run_id"], directory, manifest)
    frames = {}
    for name, out in manifest["outputs"].items():
        df = tables.read_version(spark, out["path"], out["version"]).toPandas()
        frames[name] = (_meta(name, out), df)
    for name, out in manifest["outputs"].items():
        meta, df = frames[name]
        support = None
        if out.get("dominance_support"):
            support = spark.read.format("delta").load(out["dominance_support"]).toPandas()
        coarser = coarser_outputs(meta, df, list(frames.values()))
        checks = run_checks(df, meta, settings, support=support, coarser=coarser)
        additive = sorted(set(support["measure"])) if support is not None else []
        sup = suppress(df, meta, checks, additive=additive, coarser=[c.dims for c, _ in coarser])
        after = run_checks(df, meta, settings, support=support, coarser=coarser, hidden=sup.hidden)
        run.outputs[name] = OutputReview(
            meta, df, checks, sup, after, _chart(out.get("chart_spec")), out
        )
    return run


def write_pages(run: RunReview, conf: Conf) -> dict[str, Path]:
    """One HTML review page per output under ``<run>/review/``."""
    folder = run.directory / "review"
    folder.mkdir(exist_ok=True)
    spec = conf.project(run.project)
    for name, r in run.outputs.items():
        page = folder / f"{name}.html"
        page.write_text(_page(run, spec.title, name, r), encoding="utf-8")
        run.pages[name] = page
    return run.pages


def _status_word(check: Check) -> str:
    if check.passed:
        return "PASS"
    return "FAIL" if check.severity == "fail" else "CHECK"


def _page(run: RunReview, title: str, name: str, r: OutputReview) -> str:
    e = html.escape
    rows = []
    for c in r.checks:
        listed = "".join(
            f"<li>{e(', '.join(f'{k}={v}' for k, v in cell.items()))}</li>" for cell in c.cells[:25]
        )
        more = f"<li>… and {len(c.cells) - 25} more</li>" if len(c.cells) > 25 else ""
        rows.append(
            f"<tr class='{_status_word(c).lower()}'><td>{e(c.name)}</td>"
            f"<td><b>{_status_word(c)}</b></td><td>{len(c.cells)}</td>"
            f"<td>{e(c.description)}<ul>{listed}{more}</ul></td></tr>"
        )
    hidden = r.suppression.hidden
    table_rows = []
    for i in r.cells.index[:300]:
        tds = []
        for col in r.cells.columns:
            v = r.cells.at[i, col]
            if hidden.at[i, col]:
                tds.append(f"<td class='hidden' title='would be suppressed'>{e(str(v))}</td>")
            else:
                tds.append(f"<td>{e('' if pd.isna(v) else str(v))}</td>")
        table_rows.append("<tr>" + "".join(tds) + "</tr>")
    head = "".join(f"<th>{e(c)}</th>" for c in r.cells.columns)
    chart = ""
    png = run.directory / f"{name}.png"
    if png.is_file():
        data = base64.b64encode(png.read_bytes()).decode()
        chart = f"<h2>Chart</h2><img alt='chart' src='data:image/png;base64,{data}'>"
    verdict = (
        "All automatic checks pass."
        if not r.failing
        else (
            f"Checks failing: {', '.join(r.failing)}. "
            + (
                f"With the suppression below ({len(r.suppression.cells)} cells hidden) they pass."
                if not r.failing_after
                else f"Even with suppression, failing: {', '.join(r.failing_after)}."
            )
        )
    )
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Review: {e(run.project)} {e(name)}</title>
<style>
body {{ font-family: sans-serif; max-width: 70em; margin: 2em auto; color: #222; }}
table {{ border-collapse: collapse; margin: 1em 0; }}
td, th {{ border: 1px solid #ccc; padding: 0.2em 0.5em; vertical-align: top; }}
tr.fail td {{ background: #fde2e1; }} tr.check td {{ background: #fff4d6; }}
tr.pass td {{ background: #e6f4ea; }} td.hidden {{ background: #444; color: #fff; }}
</style></head><body>
<h1>{e(title)}: {e(name)}</h1>
<p><b>Run</b> {e(run.run_id)} · <b>status</b> {e(run.manifest["status"])} ·
<b>rows</b> {len(r.cells):,} · <b>cells</b> one per {e(" × ".join(r.meta.dims))}</p>
<p><b>What it is.</b> {e(r.source.get("title", ""))}</p>
<h2>Verdict of the automatic checks</h2><p>{e(verdict)}</p>
<table><tr><th>check</th><th>result</th><th>cells</th><th>what it means</th></tr>
{"".join(rows)}</table>
<h2>The table</h2>
<p>Dark cells are the ones suppression would hide (primary: failing a check; secondary: so
that a hidden cell cannot be recomputed from a total). First 300 rows.</p>
<table><tr>{head}</tr>{"".join(table_rows)}</table>
{chart}
</body></html>
"""


def _release_frame(spark: SparkSession, r: OutputReview, released: pd.DataFrame):
    schema = tables.read_version(spark, r.source["path"], r.source["version"]).schema
    records = [
        tuple(None if pd.isna(v) else (v.item() if hasattr(v, "item") else v) for v in row)
        for row in released[[f.name for f in schema.fields]].itertuples(index=False)
    ]
    return spark.createDataFrame(records, schema)


def decide(
    spark: SparkSession,
    conf: Conf,
    zones: Zones,
    ref: str,
    *,
    approve: bool,
    reviewer: str,
    reason: str,
    outputs: list[str] | None = None,
    apply_suppression: bool = False,
) -> RunReview:
    """Approve (and release) or reject a run's outputs, with the reviewer's reasons."""
    if not reason.strip():
        raise ReviewError("a decision needs a reason (--reason)")
    run = review_run(spark, conf, zones, ref)
    if run.manifest["status"] != PENDING:
        raise ReviewError(f"run {ref} was already decided: {run.manifest['status']}")
    chosen = outputs or list(run.outputs)
    unknown = [o for o in chosen if o not in run.outputs]
    if unknown:
        raise UnknownNameError(f"run {ref} has no output(s) {unknown}; it has {list(run.outputs)}")
    results = {
        n: {
            "checks": {c.name: {"passed": c.passed, "cells": len(c.cells)} for c in r.checks},
            "suppressed_cells": len(r.suppression.cells) if apply_suppression else 0,
            "checks_as_released": {
                c.name: {"passed": c.passed, "cells": len(c.cells)}
                for c in (r.after if apply_suppression else r.checks)
            },
        }
        for n, r in run.outputs.items()
        if n in chosen
    }
    if approve:
        for n in chosen:
            r = run.outputs[n]
            if r.failing and not apply_suppression:
                raise ReviewError(
                    f"{ref} output {n!r} fails {r.failing}; approve with --suppress to hide "
                    "the failing cells (see `pooling review show`), or reject it"
                )
            if apply_suppression and r.failing_after:
                raise ReviewError(
                    f"{ref} output {n!r} still fails {r.failing_after} when suppressed"
                )
    decision = APPROVED if approve else REJECTED
    audit.record(
        spark,
        zones.audit,
        action="review",
        subject=ref,
        actor=reviewer,
        details={"decision": decision, "reason": reason, "outputs": results},
    )
    if approve:
        _release(spark, run, chosen, reviewer, reason, apply_suppression, results, zones)
    run.manifest["status"] = decision
    run.manifest["review"] = {
        "decision": decision,
        "reviewer": reviewer,
        "reason": reason,
        "outputs": chosen,
    }
    (run.directory / "manifest.json").write_text(json.dumps(run.manifest, indent=2) + "\n")
    return run


def _release(spark, run: RunReview, chosen, reviewer, reason, apply_suppression, results, zones):
    final = Path(zones.released(run.project, run.run_id))
    staging = final.parent / f".staging-{run.run_id}"
    if final.exists():
        raise ReviewError(f"{final} already exists; a run is released once")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    released = {}
    for n in chosen:
        r = run.outputs[n]
        frame = r.suppression.released if apply_suppression else r.cells
        written = tables.replace_table(
            spark,
            _release_frame(spark, r, frame),
            str(staging / n),
            {
                "kind": "released",
                "project": run.project,
                "run_id": run.run_id,
                "reviewer": reviewer,
                "source": json.dumps({"path": r.source["path"], "version": r.source["version"]}),
            },
        )
        frame.to_csv(staging / f"{n}.csv", index=False)
        if r.chart:  # drawn again from the released cells only
            cells = frame.copy()
            for c in cells.columns:
                if c not in r.meta.dims:
                    cells[c] = pd.to_numeric(cells[c], errors="coerce")
            reports.draw(reports.chart_data(cells, r.chart), r.chart, staging / f"{n}.png")
        released[n] = {
            "rows": written.rows,
            "table": n,
            "csv": f"{n}.csv",
            "chart": f"{n}.png" if r.chart else None,
            "source": {"path": r.source["path"], "version": r.source["version"]},
            "suppressed": r.suppression.cells if apply_suppression else [],
            **results[n],
        }
    manifest = {
        "project": run.project,
        "run_id": run.run_id,
        "status": APPROVED,
        "reviewer": reviewer,
        "reason": reason,
        "pool_versions": run.manifest["pool_versions"],
        "outputs": released,
    }
    (staging / "manifest.json").write_text(json.dumps(manifest, indent=2, default=str) + "\n")
    # Delta logs hold relative file paths, so the staged tables stay valid when renamed.
    staging.rename(final)
    audit.record(
        spark,
        zones.audit,
        action="release",
        subject=run.ref,
        actor=reviewer,
        details={"path": str(final), "outputs": {n: v["rows"] for n, v in released.items()}},
    )
    log.info("released %s: %s -> %s", run.ref, ", ".join(released), final)
