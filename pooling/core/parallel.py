"""Independent jobs side by side in one Spark application.

A small ingest, pool build or project run spends most of its time in the driver: planning,
Delta's commit protocol, the audit append. Run one after another, the executors wait through all
of it. Run side by side, one job's planning and commits overlap another's tasks. Spark's scheduler
shares the cores between the jobs of concurrent threads; each thread here gets a session of its
own (``newSession``: its own SQL settings and temporary views, the same context and cache), so a
setting one job makes for its commit (Delta's ``userMetadata``) never reaches another's.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:  # the CLI's parser reads DEFAULT_WORKERS without loading PySpark
    from pyspark.sql import SparkSession

log = logging.getLogger("pooling.parallel")
# Jobs of one stage side by side: on 2 cores two keep both busy through each other's planning and
# commits (24 ingests of 20,000 persons: 72 s one at a time, 54 s two, 56 s three).
DEFAULT_WORKERS = 2
T = TypeVar("T")
R = TypeVar("R")


def each(
    spark: SparkSession,
    items: Sequence[T],
    job: Callable[[SparkSession, T], R],
    *,
    workers: int,
) -> list[tuple[R, float]]:
    """``job(session, item)`` for every item, at most ``workers`` at a time: its result and its
    seconds, in the order of ``items``. With one worker the jobs run in ``spark`` itself, one
    after another, and the first failure stops the rest. Side by side, every job started runs to
    its end, then the first failure (in item order) is raised, so no job is left half-done behind
    another's error."""

    def timed(session: SparkSession, item: T) -> tuple[R, float]:
        t0 = time.monotonic()
        result = job(session, item)
        return result, time.monotonic() - t0

    if workers <= 1 or len(items) <= 1:
        return [timed(spark, item) for item in items]
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="pooling-job") as pool:
        futures = [pool.submit(lambda i=item: timed(spark.newSession(), i)) for item in items]
        errors = [f.exception() for f in futures]
    failed = [e for e in errors if e is not None]
    if failed:
        if len(failed) > 1:  # each error's message is the job's own; the first is raised
            log.error(
                "%d other job(s) failed too: %s",
                len(failed) - 1,
                [type(e).__name__ for e in failed[1:]],
            )
        raise failed[0]
    return [f.result() for f in futures]
