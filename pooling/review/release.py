"""Release: approved outputs into ``released/``, whole or not at all.

Where the store renames atomically (local disk, HDFS), a release is staged next to
``released/<project>/`` and renamed into place as a whole. On an object store (S3) a rename is a
copy that a reader could see halfway, so the release is written in place. Either way its
``manifest.json``, written last, is the commit marker that readers require: a run folder without
it is not released, and the next release of the run clears it.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime

import pandas as pd
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from pooling.core import audit, failpoints, tables
from pooling.core.errors import ReviewError
from pooling.core.storage import Storage
from pooling.core.zones import Zones
from pooling.outputs import reports
from pooling.outputs.manifest import APPROVED, MANIFEST
from pooling.review.examine import OutputReview, RunReview

log = logging.getLogger("pooling.review")  # the name it had before the layout: logs are read by it


def release(
    spark: SparkSession,
    zones: Zones,
    run: RunReview,
    *,
    outputs: list[str],
    reviewers: list[str],
    reason: str,
    suppressed: bool,
    results: dict[str, dict],
) -> str:
    """Release the approved ``outputs`` of ``run`` (suppressed, if so decided) under
    ``released/<project>/<run_id>/``, with their CSV, chart and manifest, as one rename.

    ``reviewers`` are the two who approved it; ``results`` the check results per output, recorded
    in the release manifest.
    Returns the released folder.
    """
    storage = Storage(spark)
    final = zones.released(run.project, run.run_id)
    atomic = storage.renames_atomically(final)
    # Where a rename is a copy (S3), the release is written in place: the manifest, written
    # last, is what makes it released.
    staging = f"{zones.released(run.project, '').rstrip('/')}/.staging-{run.run_id}"
    staging = staging if atomic else final
    if is_released(storage, final):
        return _finish(spark, zones, run, final, outputs, suppressed, reviewers)
    # What an interrupted release left: its staging, or (S3) a folder without its manifest.
    storage.delete(staging, recursive=True)
    storage.delete(final, recursive=True)
    storage.mkdirs(staging)
    released = {}
    for n in outputs:
        r = run.outputs[n]
        frame = r.as_released(suppressed)
        written = tables.replace_table(
            spark,
            _release_frame(spark, r, frame),
            f"{staging}/{n}",
            {
                "kind": "released",
                "project": run.project,
                "run_id": run.run_id,
                "reviewers": ",".join(reviewers),
                "source": json.dumps({"path": r.source.path, "version": r.source.version}),
            },
        )
        storage.write_text(f"{staging}/{n}.csv", frame.to_csv(index=False))
        if r.chart:  # drawn again from the released cells only
            png = reports.draw_cells(frame, r.meta.dims, r.chart)
            storage.write_bytes(f"{staging}/{n}.png", png)
        released[n] = {
            "rows": written.rows,
            "table": n,
            "csv": f"{n}.csv",
            "chart": f"{n}.png" if r.chart else None,
            "source": {"path": r.source.path, "version": r.source.version},
            "suppressed": r.suppression.public_cells() if suppressed else [],
            **results[n],
        }
        failpoints.reached("release.output_staged")
    manifest = {
        "project": run.project,
        "run_id": run.run_id,
        "status": APPROVED,
        "reviewers": reviewers,
        "released_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "reason": reason,
        "pool_versions": run.manifest.pool_versions,
        "outputs": released,
    }
    # The commit marker, last: one PUT on S3; on the other stores inside the staged folder,
    # renamed into place with it in one step (Delta logs hold relative file paths, so the staged
    # tables stay valid when renamed).
    storage.write_text(f"{staging}/{MANIFEST}", json.dumps(manifest, indent=2, default=str) + "\n")
    if atomic:
        storage.rename(staging, final)
    failpoints.reached("release.moved")
    _record(spark, zones, run, final, reviewers, {n: v["rows"] for n, v in released.items()})
    log.info("released %s: %s -> %s", run.ref, ", ".join(released), final)
    return final


def _finish(
    spark: SparkSession,
    zones: Zones,
    run: RunReview,
    final: str,
    outputs: list[str],
    suppressed: bool,
    reviewers: list[str],
) -> str:
    """The run is released already: by an approval that died before it could record the
    release or mark the run decided. The same release is finished (its audit event, once);
    any other is refused, since a run is released once."""
    held = json.loads(Storage(spark).read_text(f"{final}/{MANIFEST}"))["outputs"]
    cells = {n: run.outputs[n].suppression.public_cells() if suppressed else [] for n in outputs}
    wanted = json.loads(json.dumps(cells, default=str))  # as the manifest holds them
    if {n: o["suppressed"] for n, o in held.items()} != wanted:
        raise ReviewError(
            f"{final} is released already, with outputs {sorted(held)} "
            f"({sum(len(o['suppressed']) for o in held.values())} cells suppressed); "
            "a run is released once"
        )
    log.info("%s: released by an earlier approval that did not finish; finishing it", run.ref)
    _record(spark, zones, run, final, reviewers, {n: o["rows"] for n, o in held.items()})
    return final


def _record(
    spark: SparkSession,
    zones: Zones,
    run: RunReview,
    final: str,
    reviewers: list[str],
    rows: dict[str, int],
) -> None:
    """The release's audit event, unless an earlier attempt of the same release recorded it."""
    if tables.exists(spark, zones.audit) and (
        tables.read_version(spark, zones.audit)
        .where((F.col("action") == "release") & (F.col("subject") == run.ref))
        .limit(1)
        .count()
    ):
        return
    audit.record(
        spark,
        zones.audit,
        action="release",
        subject=run.ref,
        actor=reviewers[-1],  # the approval that released it
        details={"path": final, "outputs": rows, "reviewers": reviewers},
    )


def is_released(storage: Storage, folder: str) -> bool:
    """Whether ``released/<project>/<run>`` is a whole release (its manifest, written last)."""
    return storage.exists(f"{folder.rstrip('/')}/{MANIFEST}")


def _release_frame(spark: SparkSession, r: OutputReview, released: pd.DataFrame):
    schema = tables.read_version(spark, r.source.path, r.source.version).schema
    records = [
        tuple(None if pd.isna(v) else (v.item() if hasattr(v, "item") else v) for v in row)
        for row in released[[f.name for f in schema.fields]].itertuples(index=False)
    ]
    return spark.createDataFrame(records, schema)
