import json
import os
from pathlib import Path

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


def test_every_baselined_stage_and_format_is_shown_as_a_ratio_and_in_one_json_line():
    f = PipelineFigures(
        1000,
        {"synth": 4.0, "ingest": 9.0, "pool": 3.0, "run": 2.0},
        10_000,
        2**30,
        True,
        0,
        baseline={"ingest": 6.0, "pool": 1.5},
        stage_rows={"synth": 10_000, "ingest": 10_000, "pool": 8_000, "run": 8_000},
        formats={
            "csv": {"extracts": 2, "rows": 6_000, "ingest_s": 6.0, "copy_s": 4.0},
            "parquet": {"extracts": 1, "rows": 4_000, "ingest_s": 3.0, "copy_s": 2.0},
        },
        projects=["agriculture", "low_income"],
    )
    text = render_pipeline([f], None)
    (ingest,) = [ln.split() for ln in text.splitlines() if ln.startswith("  ingest")]
    assert ingest == ["ingest", "9.0", "10,000", "1,111", "6.0", "1.50"]
    (pool,) = [ln.split() for ln in text.splitlines() if ln.startswith("  pool")]
    assert pool[-1] == "2.00"
    (csv,) = [ln.split() for ln in text.splitlines() if ln.startswith("  csv")]
    assert csv == ["csv", "2", "6,000", "6.0", "4.0", "1.50"]
    (line,) = [ln for ln in text.splitlines() if ln.startswith("{")]
    figures = json.loads(line)
    assert figures["ratios"] == {"ingest": 1.5, "pool": 2.0}
    assert figures["format_ratios"] == {"csv": 1.5, "parquet": 1.5}
    assert figures["total_s"] == 18.0 and figures["persons"] == 1000


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


def test_peak_memory_counts_pages_a_fork_shares_with_its_parent_once():
    import subprocess
    import sys
    import time

    from pooling.dev.bench import PeakMemory

    # 300 MiB written, then a fork that shares them (as the JVM's short-lived helpers do).
    code = (
        "import os, sys, time\n"
        "b = bytearray(300 * 2**20)\n"
        "pid = os.fork()\n"
        "print('ready', flush=True) if pid else None\n"
        "time.sleep(20)\n"
    )
    parent = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert parent.stdout.readline().strip() == "ready"
        time.sleep(0.5)
        memory = PeakMemory()
        memory._root = parent.pid  # noqa: SLF001  the tree measured: the parent and its fork
        counted = memory._tree_memory()  # noqa: SLF001
        resident = sum(
            int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[21]) * 4096
            for pid in (parent.pid, *_children(parent.pid))
        )
    finally:
        parent.kill()
        parent.wait()
    assert resident > 600 * 2**20  # both processes map the 300 MiB
    assert 300 * 2**20 < counted < 420 * 2**20  # counted once


def test_peak_memory_counts_nothing_for_a_process_gone_mid_sample():
    """A fork that exits between the listing of /proc and the read of its memory counts 0, not
    the resident size it had when listed (which, for a fork of the JVM, is the whole JVM)."""
    import subprocess
    import sys

    from pooling.dev.bench import PeakMemory

    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    assert not Path(f"/proc/{gone.pid}").exists()
    assert PeakMemory._pss(gone.pid, rss=5 * 2**30) == 0  # noqa: SLF001
    alive = PeakMemory._pss(os.getpid(), rss=0)  # noqa: SLF001  control: this process counts
    assert alive > 10 * 2**20


def _children(pid: int) -> list[int]:
    return [
        int(p.parent.name)
        for p in Path("/proc").glob("[0-9]*/stat")
        if p.exists() and p.read_text().rsplit(")", 1)[1].split()[1] == str(pid)
    ]
