from pooling.dev.bench import bench_pseudonymize, render_pseudonymize


def test_benchmark_runs_and_all_methods_agree(spark):
    # bench_pseudonymize raises if any implementation disagrees with Python's hmac; figures
    # themselves are not asserted (speed belongs to the benchmark, not to tests).
    timings = bench_pseudonymize(spark, 2_000, repeats=1)
    assert {t.method for t in timings} >= {
        "native HMAC (key out of plan)",
        "pandas UDF",
        "Python UDF (pickled)",
        "sha2 (unkeyed, ceiling)",
    }
    assert all(t.rows == 2_000 and t.seconds > 0 for t in timings)
    assert "native / unkeyed sha2" in render_pseudonymize(timings)
