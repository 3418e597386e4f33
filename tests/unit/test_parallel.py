"""Jobs side by side (pooling.core.parallel) and a frame held with its plan cut short
(pooling.core.held): what ingest and the demo rely on, on the suite's real session."""

import threading

import pytest
from pyspark.sql import functions as F

from pooling.core import parallel
from pooling.core.held import held

SETTING = "spark.databricks.delta.commitInfo.userMetadata"  # what an ingest sets for its commit


def test_jobs_side_by_side_keep_order_and_their_own_settings(spark):
    seen: dict[int, str | None] = {}
    threads: set[str] = set()
    both_running = threading.Barrier(2, timeout=60)

    def job(session, n):
        threads.add(threading.current_thread().name)
        session.conf.set(SETTING, f"batch {n}")
        if n <= 2:  # the first two wait for each other: they really ran at the same time
            both_running.wait()
        total = session.range(n * 1000).agg(F.sum("id")).first()[0]
        seen[n] = session.conf.get(SETTING)
        session.conf.unset(SETTING)
        return total

    results = parallel.each(spark, [1, 2, 3, 4], job, workers=2)
    assert [r for r, _ in results] == [sum(range(n * 1000)) for n in (1, 2, 3, 4)]
    assert all(seconds > 0 for _, seconds in results)
    # Each job saw only its own setting, and the caller's session none of them.
    assert seen == {n: f"batch {n}" for n in (1, 2, 3, 4)}
    assert spark.conf.get(SETTING, None) is None
    assert len(threads) == 2


def test_one_worker_runs_in_the_callers_session_in_turn(spark):
    sessions = []
    results = parallel.each(spark, ["a", "b"], lambda s, x: sessions.append(s) or x, workers=1)
    assert [r for r, _ in results] == ["a", "b"]
    assert all(s is spark for s in sessions)


def test_a_failing_job_is_raised_after_the_others_finished(spark):
    finished = []

    def job(session, n):
        if n == 1:
            raise ValueError("job 1 failed")
        finished.append(session.range(100).count() + n)

    with pytest.raises(ValueError, match="job 1 failed"):
        parallel.each(spark, [0, 1, 2, 3], job, workers=2)
    assert sorted(finished) == [100, 102, 103]


def _stored_rdds(spark) -> set[int]:
    return {i.id() for i in spark.sparkContext._jsc.sc().getRDDStorageInfo()}  # noqa: SLF001


def test_a_held_frame_is_computed_once_with_a_short_plan_and_released(spark):
    calls = spark.sparkContext.accumulator(0)

    @F.udf("long")
    def counted(x):
        calls.add(1)
        return x * 2

    # A plan carrying a large literal, as the stray-identifier scan's name corpus does.
    corpus = "|".join(f"name{i}" for i in range(20_000))
    df = spark.range(500).select(
        counted("id").alias("doubled"), F.lit(corpus).contains("name77").alias("hit")
    )
    before = _stored_rdds(spark)
    with held(df) as kept:
        assert kept.count() == 500
        assert kept.agg(F.sum("doubled")).first()[0] == 2 * sum(range(500))
        assert kept.where("doubled % 4 = 0").count() == 250
        # The plan is a scan of the stored rows: the literal is gone from it.
        assert corpus not in kept._jdf.queryExecution().analyzed().toString()  # noqa: SLF001
        assert len(_stored_rdds(spark) - before) == 1
    assert calls.value == 500  # three actions, one computation
    assert _stored_rdds(spark) - before == set()  # the stored rows were dropped
