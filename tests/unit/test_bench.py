from pooling.dev.bench import (
    PipelineFigures,
    bench_pseudonymize,
    render_pipeline,
    render_pseudonymize,
)


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


def _figures(store: str, persons: int, seconds: float) -> PipelineFigures:
    stages = {"synth": seconds, "ingest": 2 * seconds, "pool": seconds, "run": seconds}
    return PipelineFigures(persons, stages, persons * 10, 2**30, True, 0, store)


def test_the_pipeline_table_compares_sizes_per_store_and_stores_per_size():
    figures = [
        _figures("local", 1000, 1.0),
        _figures("hdfs", 1000, 1.5),
        _figures("local", 2000, 1.8),
        _figures("hdfs", 2000, 3.0),
    ]
    text = render_pipeline(figures, "low_income")
    assert "local  t(0.002M)/t(0.001M) =  1.80" in text
    assert "hdfs   t(0.002M)/t(0.001M) =  2.00" in text
    (line,) = [ln for ln in text.splitlines() if ln.startswith("hdfs/local") and "2,000" in ln]
    assert line.split()[2:] == ["1.67", "1.67", "1.67", "1.67", "1.67"]
