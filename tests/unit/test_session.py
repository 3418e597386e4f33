"""The session pooling.core.session builds (the suite's shared one is built by it, for the local
profile): what it costs to run the jobs side by side in one driver."""

from pyspark.sql import functions as F

MB = 2**20


def test_a_broadcast_of_a_small_table_holds_a_few_megabytes_not_a_64_mb_page(spark):
    """Every broadcast hash table is held in the block store until the context cleaner drops it;
    with Spark's default page size on this driver each one, however small, took 64 MB, and jobs
    side by side ran the driver out of heap."""
    memory = spark._jvm.org.apache.spark.SparkEnv.get().memoryManager()
    people = spark.range(20_000).select(F.sha2(F.col("id").cast("string"), 256).alias("p"))
    few = people.limit(50).withColumn("flag", F.lit(True))
    before = memory.storageMemoryUsed()
    joined = people.join(F.broadcast(few), "p")
    assert joined.count() == 50
    plan = joined._jdf.queryExecution().executedPlan().toString()
    assert "BroadcastHashJoin" in plan  # a hash table of string keys (not a long-keyed one)
    # No lower bound: the context cleaner may free an earlier test's blocks meanwhile.
    grown = memory.storageMemoryUsed() - before
    assert grown < 8 * MB, f"{grown / MB:.1f} MB held for a 50-row broadcast"


def test_the_local_driver_runs_the_parallel_collector(spark):
    """A batch driver on two cores runs faster with the parallel collector than with G1 (see
    conf/profiles/local.yaml): the session the local profile builds must have started with it."""
    beans = spark._jvm.java.lang.management.ManagementFactory.getGarbageCollectorMXBeans()
    collectors = {beans.get(i).getName() for i in range(beans.size())}
    assert collectors == {"PS Scavenge", "PS MarkSweep"}, collectors


def test_a_compiled_plan_outlives_a_hundred_others(spark):
    """Spark keeps 100 compiled classes by default, and a long-lived JVM (the SQL endpoint, this
    suite) runs thousands of plans: the local profile keeps 4,000, so a plan run again after
    others that compiled 150 classes is not compiled again (see conf/profiles/local.yaml)."""
    compiles = spark._jvm.org.apache.spark.metrics.source.CodegenMetrics.METRIC_COMPILATION_TIME()

    def run(i: int) -> None:  # a constant of its own: generated code of its own
        assert spark.range(1).selectExpr(f"id * {1_000_003 + i} AS v").collect()[0].v == 0

    run(0)
    start = compiles.getCount()
    for i in range(1, 76):
        run(i)
    before = compiles.getCount()
    assert before - start >= 150  # each of the others compiled two classes, and was counted
    run(0)
    assert compiles.getCount() == before


def test_the_local_profile_caps_whole_stage_methods_at_hotspots_jit_limit(spark):
    """HotSpot interprets any method over 8,000 bytes of bytecode; a whole-stage method that big
    (the synthetic population's projection) ran six times slower than the same plan without
    whole-stage codegen. The session the local profile builds must carry Spark's limit at
    HotSpot's (see conf/profiles/local.yaml), so Spark falls back for such a subtree; Spark's
    default, 65535, would let it run interpreted."""
    assert spark.conf.get("spark.sql.codegen.hugeMethodLimit") == "8000"
