"""Release: approved outputs into ``released/``, whole or not at all.

A release is staged next to ``released/<project>/`` and renamed into place as a whole, with its
``manifest.json`` inside: ``released/`` never holds a partial or unapproved output.
"""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import pandas as pd
from pyspark.sql import SparkSession

from pooling.core import audit, tables
from pooling.core.errors import ReviewError
from pooling.core.zones import Zones
from pooling.outputs import reports
from pooling.outputs.manifest import APPROVED
from pooling.review.examine import OutputReview, RunReview

log = logging.getLogger("pooling.review")  # the name it had before the layout: logs are read by it


def release(
    spark: SparkSession,
    zones: Zones,
    run: RunReview,
    *,
    outputs: list[str],
    reviewer: str,
    reason: str,
    suppressed: bool,
    results: dict[str, dict],
) -> Path:
    """Release the approved ``outputs`` of ``run`` (suppressed, if so decided) under
    ``released/<project>/<run_id>/``, with their CSV, chart and manifest, as one rename.

    ``results`` are the decision's check results per output, recorded in the release manifest.
    Returns the released folder.
    """
    final = Path(zones.released(run.project, run.run_id))
    staging = final.parent / f".staging-{run.run_id}"
    if final.exists():
        raise ReviewError(f"{final} already exists; a run is released once")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    released = {}
    for n in outputs:
        r = run.outputs[n]
        frame = r.suppression.released if suppressed else r.cells
        written = tables.replace_table(
            spark,
            _release_frame(spark, r, frame),
            str(staging / n),
            {
                "kind": "released",
                "project": run.project,
                "run_id": run.run_id,
                "reviewer": reviewer,
                "source": json.dumps({"path": r.source.path, "version": r.source.version}),
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
            "source": {"path": r.source.path, "version": r.source.version},
            "suppressed": r.suppression.cells if suppressed else [],
            **results[n],
        }
    manifest = {
        "project": run.project,
        "run_id": run.run_id,
        "status": APPROVED,
        "reviewer": reviewer,
        "reason": reason,
        "pool_versions": run.manifest.pool_versions,
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
    return final


def _release_frame(spark: SparkSession, r: OutputReview, released: pd.DataFrame):
    schema = tables.read_version(spark, r.source.path, r.source.version).schema
    records = [
        tuple(None if pd.isna(v) else (v.item() if hasattr(v, "item") else v) for v in row)
        for row in released[[f.name for f in schema.fields]].itertuples(index=False)
    ]
    return spark.createDataFrame(records, schema)
