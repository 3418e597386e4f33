"""A DataFrame computed once and read several times, with its plan cut short.

Ingest reads its validated rows three times (the count, the table, the quarantine), a project
run each output twice (the aggregates gate, the write). A ``persist`` keeps the rows but not the
plan: every later read is analysed, optimised and matched against the cache from the whole plan
again, and the stray-identifier scan puts the name corpus in it as one literal (a plan of about
450 KB of text). For a small extract that planning was most of the ingest: a quarantine write of
a few rows from the cached frame took 0.3 to 1.2 s, 0.03 s from a local checkpoint, whose plan is
one scan of the stored blocks.

Local checkpointing keeps the blocks in the executors' block stores, not on reliable storage: a
lost executor fails the job, which is then run again (ingests and runs are idempotent or
repeatable). They go to local disk only: at 1 M rows (the population register) storing them took
4.1 s on disk against 6.2 s serialised in memory and 11 s for a ``persist`` (its compressed
column batches), and a read back comes from the page cache. The blocks are released on leaving
the block, not left to the context cleaner.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from pyspark.sql import DataFrame
from pyspark.storagelevel import StorageLevel


@contextmanager
def held(df: DataFrame) -> Iterator[DataFrame]:
    """``df`` stored on its first action (on the executors' local disks), and its plan a scan of
    the stored rows; the stored rows are dropped when the block ends."""
    kept = df.localCheckpoint(eager=False, storageLevel=StorageLevel.DISK_ONLY)
    try:
        yield kept
    finally:
        release(kept)


def release(kept: DataFrame) -> None:
    """Drop the stored rows of a frame :func:`held` made (its plan's leaf is their RDD)."""
    plan = kept._jdf.logicalPlan()
    if plan.getClass().getSimpleName() == "LogicalRDD":
        plan.rdd().unpersist(False)
