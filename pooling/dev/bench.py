"""Benchmarks: figures and ratios printed, never asserted in tests.

``pooling bench pseudonymize --rows N`` times the same HMAC-SHA256 computed four ways over N
13-digit IDs held in memory: the native expression (key out of the plan), a plain pickled Python
UDF, Arrow-based Python / pandas UDFs, and unkeyed ``sha2`` as Spark's own ceiling.
``pooling bench pipeline`` runs synth, every ingest, pool build and project run (or one
project's) per size, each size in a fresh child process (:func:`pipeline_children`) so that its
memory and timings are its own, with bare copies as baselines timed in the same process.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import secrets
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import pandas as pd  # module level: pandas_udf resolves the type hints by name
from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from pooling.core import parallel
from pooling.core.errors import UsageError
from pooling.core.storage import Storage
from pooling.core.zones import Zones
from pseudonymize import hmac_sha256, padded_keys
from pseudonymize.standard import age_label

log = logging.getLogger("pooling.bench")  # the name it had before the layout: logs are read by it


SHA2 = "sha2 (unkeyed, ceiling)"


@dataclass(frozen=True)
class Timing:
    method: str
    rows: int
    seconds: float

    @property
    def rows_per_s(self) -> float:
        return self.rows / self.seconds


def _ids(spark: SparkSession, rows: int) -> DataFrame:
    # 13-digit strings spread over the ID space; cached so every method reads the same memory.
    ids = spark.range(rows).select(
        F.lpad(
            F.pmod(F.col("id") * 7_919_031 + 1_100_000_000_000, F.lit(10**13)).cast("string"),
            13,
            "0",
        ).alias("citizen_id")
    )
    return ids.cache()


def _python_udf(key: bytes, arrow: bool) -> Callable[[Column], Column]:
    def mac(s: str | None) -> str | None:
        return None if s is None else hmac.new(key, s.encode(), hashlib.sha256).hexdigest()

    return F.udf(mac, "string", useArrow=arrow)


def _pandas_udf(key: bytes) -> Callable[[Column], Column]:
    @F.pandas_udf("string")  # type: ignore[call-overload]
    def mac(batches: Iterator[pd.Series]) -> Iterator[pd.Series]:
        keyed = hmac.new(key, digestmod=hashlib.sha256)  # keyed once per task, copied per value

        def one(s: str) -> str:
            h = keyed.copy()
            h.update(s.encode())
            return h.hexdigest()

        for col in batches:
            yield col.map(one, na_action="ignore")

    return mac


def _literal_native(df: DataFrame, column: str, key: bytes, out: str) -> DataFrame:
    """The same expression with the padded keys as literals: faster, but the key is in the plan.
    Measured only to show what keeping the key out of the plan costs; never used for data."""
    ipad, opad = padded_keys(key)
    inner = F.unhex(F.sha2(F.concat(F.lit(ipad), F.col(column).cast("binary")), 256))
    return df.withColumn(out, F.sha2(F.concat(F.lit(opad), inner), 256))


def bench_pseudonymize(spark: SparkSession, rows: int, *, repeats: int = 3) -> list[Timing]:
    """Best of ``repeats`` timed runs per method, after a warm-up on up to 2M rows (the JIT
    needs a few seconds of work before the generated code runs at full speed)."""
    key = secrets.token_bytes(32)  # a throwaway key: the benchmark never sees the master key
    ids = _ids(spark, rows)
    ids.count()  # materialise the cache outside the timings
    methods: dict[str, Callable[[DataFrame], DataFrame]] = {
        SHA2: lambda d: d.withColumn("h", F.sha2("citizen_id", 256)),
        "native HMAC (key out of plan)": lambda d: hmac_sha256(d, "citizen_id", key, "h"),
        "native HMAC (literal keys, unsafe)": lambda d: _literal_native(d, "citizen_id", key, "h"),
        "Python UDF (pickled)": lambda d: d.withColumn("h", _python_udf(key, False)("citizen_id")),
        "Python UDF (Arrow)": lambda d: d.withColumn("h", _python_udf(key, True)("citizen_id")),
        "pandas UDF": lambda d: d.withColumn("h", _pandas_udf(key)("citizen_id")),
    }
    # All methods must agree before any is timed.
    sample = ids.limit(1000)
    results = {}
    for name, fn in methods.items():
        if name.startswith("sha2"):
            continue
        results[name] = [r.h for r in fn(sample).orderBy("citizen_id").collect()]
    first = next(iter(results.values()))
    disagree = [n for n, v in results.items() if v != first]
    if disagree:
        raise RuntimeError(f"HMAC implementations disagree: {disagree}")
    expected = hmac.new(
        key, sample.orderBy("citizen_id").first().citizen_id.encode(), hashlib.sha256
    ).hexdigest()
    if first[0] != expected:
        raise RuntimeError("HMAC differs from Python's hmac module")

    timings = []
    for name, fn in methods.items():
        fn(ids.limit(min(rows, 2_000_000))).write.format("noop").mode("overwrite").save()
        best = float("inf")
        for _ in range(repeats):
            t0 = time.perf_counter()
            fn(ids).write.format("noop").mode("overwrite").save()
            best = min(best, time.perf_counter() - t0)
        timings.append(Timing(name, rows, best))
        log.info("bench %-36s %12s rows/s", name, f"{rows / best:,.0f}")
    ids.unpersist()
    return timings


def render_pseudonymize(timings: list[Timing]) -> str:
    by = {t.method: t for t in timings}
    native = by["native HMAC (key out of plan)"].rows_per_s
    best_pandas = max(by["pandas UDF"].rows_per_s, by["Python UDF (Arrow)"].rows_per_s)
    lines = [f"{'method':<38}{'seconds':>9}{'rows/s':>14}"]
    lines += [f"{t.method:<38}{t.seconds:>9.2f}{t.rows_per_s:>14,.0f}" for t in timings]
    lines += [
        "",
        f"native / Python UDF (pickled)      {native / by['Python UDF (pickled)'].rows_per_s:6.2f}x"
        "   (target >= 5)",
        f"native / best Arrow or pandas UDF  {native / best_pandas:6.2f}x   (target >= 2)",
        f"native / unkeyed sha2              {native / by[SHA2].rows_per_s:6.2f}x"
        "   (target >= 0.35)",
        f"native rows/s                      {native:,.0f}   (target >= 3,000,000 at 10M rows)",
        f"key out of plan / literal keys     "
        f"{native / by['native HMAC (literal keys, unsafe)'].rows_per_s:6.2f}x",
    ]
    return "\n".join(lines)


class PeakMemory:
    """Peak memory of this process and its children (the JVM), sampled from /proc.

    Each process counts its proportional set size (PSS: a page shared by n processes counts 1/n
    in each), not its resident size: the JVM forks short-lived helpers (Hadoop's local file
    system runs ``chmod`` and ``stat``), and a fork shares the JVM's pages until it execs. Summed
    by resident size, a sample that caught one counted the 4-6 GiB JVM twice (11.7 GiB
    reported for a 100,000-person run whose JVM never passed 6.2 GiB); so did a fork that exited
    mid-sample (:meth:`_pss`).
    """

    def __init__(self, interval: float = 0.5) -> None:
        import os
        import threading

        self.peak = 0
        self._stop = threading.Event()
        self._root = os.getpid()
        self._thread = threading.Thread(target=self._run, args=(interval,), daemon=True)

    # Without smaps_rollup (kernels before 4.14) each process counts its resident size.
    _HAS_PSS = Path("/proc/self/smaps_rollup").exists()

    @classmethod
    def _pss(cls, pid: int, rss: int) -> int:
        """The process's PSS; 0 for one that is gone. A fork of the JVM lives for milliseconds:
        one that exits between the listing and this read must not count, and above all not by
        the resident size it shared with the JVM (a sample that did reported 9.9 GiB for a
        100,000-person run whose processes never passed 6.4 GiB together)."""
        if not cls._HAS_PSS:
            return rss
        try:
            for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    return int(line.split()[1]) * 1024
        except (OSError, ValueError):
            pass
        return 0

    def _tree_memory(self) -> int:
        children: dict[int, list[int]] = {}
        rss: dict[int, int] = {}
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            pid = int(stat.parent.name)
            children.setdefault(int(fields[1]), []).append(pid)
            rss[pid] = int(fields[21]) * 4096
        total, todo = 0, [self._root]
        while todo:
            pid = todo.pop()
            if pid in rss:
                total += self._pss(pid, rss[pid])
            todo.extend(children.get(pid, []))
        return total

    def _run(self, interval: float) -> None:
        while not self._stop.wait(interval):
            self.peak = max(self.peak, self._tree_memory())

    def __enter__(self) -> PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def bench_synth(spark: SparkSession, persons: int, seed: int, out: str) -> str:
    """Generate and write every extract for ``persons``; print time, rows/s and peak memory."""
    from pooling.dev.synth import SynthPlan, generate, write_extracts

    with PeakMemory() as mem:
        t0 = time.perf_counter()
        synthetic = generate(spark, SynthPlan(persons=persons, seed=seed))
        try:
            manifest = write_extracts(synthetic, str(out))
        finally:
            synthetic.release()
        seconds = time.perf_counter() - t0
    rows = sum(d["rows"] for d in manifest["datasets"].values())
    size = sum(f.size for f in Storage(spark).files(str(out)))
    return (
        f"synth {persons:,} persons: {len(manifest['datasets'])} extracts, {rows:,} rows, "
        f"{size / 2**20:,.0f} MiB in {seconds:,.0f} s = {rows / seconds:,.0f} rows/s; "
        f"peak memory (driver JVM + Python) {mem.peak / 2**30:.1f} GiB"
    )


# --------------------------------------------------------------------------- the pipeline at scale

PIPELINE_STAGES = ("synth", "ingest", "pool", "run")
# The stages with a bare baseline timed in the same process: each extract read in its format and
# written once as a plain Delta table; each pool source read and written once as a plain Delta
# table (a pool build re-keys each table on its own and joins none, so a copy is its floor).
BASELINED = ("ingest", "pool")


@dataclass(frozen=True)
class PipelineFigures:
    persons: int
    seconds: dict[str, float]  # stage → seconds (PIPELINE_STAGES)
    rows: int  # extract rows ingested
    peak_bytes: int  # resident memory of the driver JVM, Python and its workers
    truth_ok: bool
    mismatches: int
    store: str = "local"
    baseline: dict[str, float] = field(default_factory=dict)  # stage → seconds (BASELINED)
    stage_rows: dict[str, int] = field(default_factory=dict)  # stage → rows it read
    # extract format → {"extracts", "rows", "ingest_s", "copy_s"}: ingest against its copy
    formats: dict[str, dict[str, float]] = field(default_factory=dict)
    projects: list[str] = field(default_factory=list)
    workers: int = 1  # jobs side by side within a stage, baselines alike
    warmup: int = 0  # persons of the untimed run before (0: none)

    @property
    def total(self) -> float:
        return sum(self.seconds.values())

    def ratio(self, stage: str) -> float | None:
        base = self.baseline.get(stage)
        return self.seconds[stage] / base if base else None


def bench_pipeline(
    spark: SparkSession,
    conf,
    zones,
    persons: int,
    seed: int,
    projects: Sequence[str] | None = None,
    workers: int = 1,
) -> PipelineFigures:
    """Synthesise ``persons``, ingest every extract ``projects`` pool (default: all seven),
    build their pools and run them, timed per stage, under a throwaway key; then the baselines in
    the same process, ``workers`` at a time as the stages were. The outputs are checked against
    the generator's ground truth (a fast wrong answer is no benchmark)."""
    from pooling.dev.demo import run_demo
    from pseudonymize import SecretKey

    key = SecretKey(secrets.token_bytes(32), "master")  # never the master key
    with PeakMemory() as mem:
        report = run_demo(
            spark, conf, zones, key, persons=persons, seed=seed, projects=projects, workers=workers
        )
        baseline, formats = _baselines(spark, conf, zones, report)
    stages = {s: report.stage_seconds.get(s, 0.0) for s in PIPELINE_STAGES}  # wall time
    rows = sum(r.input_rows for r in report.ingests)
    pooled = sum(w.rows for p in report.pools for w in p.tables.values())
    return PipelineFigures(
        persons=persons,
        seconds=stages,
        rows=rows,
        peak_bytes=mem.peak,
        truth_ok=not report.mismatches and bool(report.checked),
        mismatches=len(report.mismatches),
        baseline=baseline,
        stage_rows={"synth": rows, "ingest": rows, "pool": pooled, "run": pooled},
        formats=formats,
        projects=sorted(report.runs),
        workers=workers,
    )


def _baselines(spark: SparkSession, conf, zones, report) -> tuple[dict, dict]:
    """The bare copies, timed as the stages were (``report.workers`` at a time): every extract
    the run ingested, and every pool's sources. A stage's baseline is its wall time; a format's,
    the sum of its copies' own seconds, as its ingests' are summed."""
    from pooling.ingest.read import read_extract

    work = zones.roots["landing"].rstrip("/").rsplit("/", 1)[0] + "/_baseline"

    def copy(session: SparkSession, r) -> None:
        contract = conf.agency(r.agency).dataset(r.dataset)
        read_extract(session, r.source, contract).write.format("delta").save(
            f"{work}/copy/{r.agency}.{r.dataset}"
        )

    def copy_pool(session: SparkSession, p) -> None:
        for table, source in p.sources.items():
            session.read.format("delta").option("versionAsOf", source["version"]).load(
                source["table"]
            ).write.format("delta").save(f"{work}/pool/{p.project}/{table}")

    t0 = time.perf_counter()
    copies = parallel.each(spark, report.ingests, copy, workers=report.workers)
    copy_total = time.perf_counter() - t0
    formats: dict[str, dict[str, float]] = {}
    for r, (_, seconds) in zip(report.ingests, copies, strict=True):
        contract = conf.agency(r.agency).dataset(r.dataset)
        f = formats.setdefault(
            contract.format, {"extracts": 0, "rows": 0, "ingest_s": 0.0, "copy_s": 0.0}
        )
        f["extracts"] += 1
        f["rows"] += r.input_rows
        f["ingest_s"] += report.seconds[f"ingest {r.agency}.{r.dataset}"]
        f["copy_s"] += seconds
    t0 = time.perf_counter()
    parallel.each(spark, report.pools, copy_pool, workers=report.workers)
    pool_total = time.perf_counter() - t0
    Storage(spark).delete(work, recursive=True)
    return {"ingest": copy_total, "pool": pool_total}, formats


def pipeline_line(f: PipelineFigures) -> str:
    stages = "".join(f"{f.seconds[s]:>9.0f}" for s in PIPELINE_STAGES)
    ratios = "".join(f"{r:>8.2f}" if (r := f.ratio(s)) else f"{'-':>8}" for s in BASELINED)
    return (
        f"{f.store:<7}{f.persons:>11,}{f.rows:>13,}{stages}{f.total:>10.0f}"
        f"{f.rows / f.total:>11,.0f}{ratios}{f.peak_bytes / 2**30:>10.1f}  "
        + ("matches" if f.truth_ok else f"DIFFERS in {f.mismatches} place(s)")
    )


def stage_lines(f: PipelineFigures) -> list[str]:
    """Per stage: seconds, rows, rows/s and the baseline; per extract format: ingest against
    its bare copy."""
    lines = [
        f"{f.store} {f.persons:,} persons ({', '.join(f.projects)}); {f.workers} job(s) at a "
        f"time; warmed up on {f.warmup:,} persons; peak memory {f.peak_bytes / 2**30:.1f} GiB",
        f"  {'stage':<8}{'seconds':>9}{'rows':>13}{'rows/s':>11}{'baseline s':>12}{'ratio':>7}",
    ]
    for s in PIPELINE_STAGES:
        rows, secs = f.stage_rows.get(s, 0), f.seconds[s]
        base = f.baseline.get(s)
        lines.append(
            f"  {s:<8}{secs:>9.1f}{rows:>13,}{rows / secs if secs else 0:>11,.0f}"
            + (f"{base:>12.1f}{secs / base:>7.2f}" if base else f"{'-':>12}{'-':>7}")
        )
    lines.append(
        f"  {'format':<8}{'extracts':>9}{'rows':>13}{'ingest s':>11}{'copy s':>12}{'ratio':>7}"
    )
    for fmt, g in sorted(f.formats.items()):
        lines.append(
            f"  {fmt:<8}{g['extracts']:>9.0f}{g['rows']:>13,.0f}{g['ingest_s']:>11.1f}"
            f"{g['copy_s']:>12.1f}{g['ingest_s'] / g['copy_s']:>7.2f}"
        )
    return lines


def json_line(f: PipelineFigures) -> str:
    """One size's figures as one line of JSON, for scripts (ratios to the baselines included)."""
    return json.dumps(
        {
            **asdict(f),
            "total_s": f.total,
            "ratios": {s: f.ratio(s) for s in BASELINED},
            "format_ratios": {k: g["ingest_s"] / g["copy_s"] for k, g in f.formats.items()},
        },
        sort_keys=True,
    )


def render_pipeline(figures: list[PipelineFigures], project: str | None) -> str:
    """One line per store and size; then each size's time against the smallest's (per store),
    next to the ideal, and each store's time against the first store's, stage by stage; then
    each size's stages and formats against their baselines, and its JSON line."""
    head = "".join(f"{s:>9}" for s in PIPELINE_STAGES)
    ratio_head = "".join(f"{s[:5] + '/b':>8}" for s in BASELINED)
    lines = [
        f"pipeline benchmark: synth, ingest, pools and runs of {project or 'every project'}",
        f"{'store':<7}{'persons':>11}{'rows in':>13}{head}{'total s':>10}{'rows/s':>11}"
        f"{ratio_head}{'peak GiB':>10}  truth",
        *map(pipeline_line, figures),
    ]
    stores = list(dict.fromkeys(f.store for f in figures))
    by = {(f.store, f.persons): f for f in figures}
    sizes = sorted({f.persons for f in figures})
    scaling = []
    for store in stores:
        base = by.get((store, sizes[0]))
        for persons in sizes[1:]:
            f = by.get((store, persons))
            if base and f:
                scale = persons / base.persons
                scaling.append(
                    f"{store:<7}t({persons / 1e6:g}M)/t({base.persons / 1e6:g}M) = "
                    f"{f.total / base.total:5.2f}   (data x{scale:g}; near-linear means "
                    f"<= {scale + 1:g})"
                )
    versus = []
    for store in stores[1:]:
        for persons in sizes:
            f, ref = by.get((store, persons)), by.get((stores[0], persons))
            if f and ref:
                ratios = "".join(
                    f"{f.seconds[s] / ref.seconds[s] if ref.seconds[s] else 0:>9.2f}"
                    for s in PIPELINE_STAGES
                )
                versus.append(
                    f"{store + '/' + stores[0]:<13}{persons:>11,}{ratios}"
                    f"{f.total / ref.total:>10.2f}"
                )
    if scaling:
        lines += ["", *scaling]
    if versus:
        lines += ["", f"{'ratio':<13}{'persons':>11}{head}{'total':>10}", *versus]
    for f in figures:
        lines += ["", *stage_lines(f)]
    lines += ["", *(json_line(f) for f in figures)]
    return "\n".join(lines)


# --------------------------------------------------------------------------- one child per size

BENCH = "BENCH "  # a child's figures, on its stdout: BENCH <json>
STORES = ("local", "hdfs", "s3")


def pipeline_root(zones: Zones, root: str | None) -> str:
    """The benchmark's local work folder: ``root``, or ``_bench`` beside the landing zone."""
    landing = zones.roots["landing"]
    if root is None and "://" in landing:
        raise UsageError("the data root is not on local disk: give the benchmark --root DIR")
    if root and "://" in root and not root.startswith("file:"):
        raise UsageError(f"--root {root}: a local folder; for HDFS and S3 use --stores")
    folder = Path(root.removeprefix("file:")) if root else Path(landing).parent / "_bench"
    return str(folder.resolve())


def pipeline_one(
    spark: Callable[[], SparkSession],
    conf,
    root: str,
    persons: int,
    seed: int,
    project: str | None,
    *,
    keep: bool,
    workers: int = 1,
    warmup: int = 0,
) -> PipelineFigures:
    """One size, in this process (a child's work), in a fresh folder under ``root`` (a local
    folder or a store's URI).

    ``warmup`` persons first run the same pipeline untimed: a fresh JVM loads and compiles each
    reader, writer and plan the first time it meets it (an XML extract's first ingest 16 s, its
    next 5 s), and the copies, timed after the pipeline, would meet them warm. Both sides warm
    is the fair comparison."""
    work = f"{root.rstrip('/')}/n{persons}"
    session = spark()
    storage = Storage(session)
    storage.delete(work, recursive=True)
    projects = [project] if project else None
    if warmup:
        warm = f"{root.rstrip('/')}/warmup-n{persons}"
        t0 = time.perf_counter()
        try:
            bench_pipeline(
                session, conf, Zones.under(warm), warmup, seed, projects, workers=workers
            )
        finally:
            storage.delete(warm, recursive=True)
        log.info(
            "bench pipeline: warmed up on %s persons in %.0f s",
            f"{warmup:,}",
            time.perf_counter() - t0,
        )
    try:
        figures = bench_pipeline(
            session, conf, Zones.under(work), persons, seed, projects, workers=workers
        )
        return replace(figures, warmup=warmup)
    finally:
        if not keep:
            storage.delete(work, recursive=True)


def child_line(figures: PipelineFigures) -> str:
    return BENCH + json.dumps(asdict(figures))


@dataclass(frozen=True)
class Store:
    """Where one store's runs go, and what a child's session needs to reach it."""

    name: str
    root: str
    env: dict[str, str]


@contextmanager
def stores(names: Sequence[str], local_root: str) -> Iterator[list[Store]]:
    """The stores to benchmark on: the local folder, and a real HDFS and S3 store started on
    127.0.0.1 for the run (:mod:`pooling.dev.stores`) and stopped after."""
    from pooling.dev import stores as dev

    with ExitStack() as stack:
        out = []
        for name in names:
            base = Path(local_root) / f"_{name}"
            if name == "local":
                out.append(Store(name, f"{local_root}/local", {}))
            elif name == "hdfs":
                uri = stack.enter_context(dev.mini_hdfs(base))
                out.append(Store(name, f"{uri}/pooling", _submit_conf(dev.HDFS_CLIENT)))
            elif name == "s3":
                s3 = stack.enter_context(dev.seaweed_s3(base, ["pooling-bench"]))
                settings = {k: v for k, v in s3.hadoop_conf().items() if k not in S3_CREDENTIALS}
                env = _submit_conf(settings)
                # The credentials by S3A's environment provider, not on a command line.
                env |= {"AWS_ACCESS_KEY_ID": s3.access_key, "AWS_SECRET_ACCESS_KEY": s3.secret_key}
                out.append(Store(name, "s3a://pooling-bench/pooling", env))
            else:
                raise UsageError(f"unknown store {name!r}; choose from {STORES}")
        yield out


S3_CREDENTIALS = ("fs.s3a.access.key", "fs.s3a.secret.key")


def _submit_conf(hadoop: dict[str, str]) -> dict[str, str]:
    confs = " ".join(f"--conf spark.hadoop.{k}={v}" for k, v in hadoop.items())
    return {"PYSPARK_SUBMIT_ARGS": f"{confs} pyspark-shell"}


def pipeline_children(
    options: list[str],
    targets: Sequence[Store],
    sizes: Iterable[int],
    seed: int,
    project: str | None,
    *,
    keep: bool,
    workers: int = 1,
    warmup: int = 0,
) -> Iterator[PipelineFigures]:
    """Each size's figures on each store, from a fresh ``pooling bench pipeline --one`` child
    process run with the global ``options`` (``--conf``, ``--profile``), as each finishes. The
    stores take turns at each size, so a drift of the machine touches all of them alike."""
    for persons in sizes:
        for store in targets:
            log.info(
                "bench pipeline: %s persons on %s, in a fresh process", f"{persons:,}", store.name
            )
            # The child's data root is the store's, so its session has the store's connector.
            env = {**os.environ, "POOLING_DATA_ROOT": store.root, **store.env}
            child = subprocess.run(
                [sys.executable, "-m", "pooling.cli", *options, "bench", "pipeline", "--one"]
                + ["--persons", str(persons), "--seed", str(seed)]
                + (["--project", project] if project else [])
                + ["--root", store.root]
                + (["--keep"] if keep else [])
                + ["--workers", str(workers), "--warmup", str(warmup)],
                stdout=subprocess.PIPE,
                text=True,
                check=False,
                env=env,
            )
            lines = [ln for ln in child.stdout.splitlines() if ln.startswith(BENCH)]
            if child.returncode or not lines:
                raise RuntimeError(
                    f"the {persons:,}-person run on {store.name} failed (exit {child.returncode})"
                )
            figures = json.loads(lines[-1].removeprefix(BENCH))
            yield PipelineFigures(**{**figures, "store": store.name})


# --------------------------------------------------------------------------- risk measurement


def synthetic_pool(spark: SparkSession, persons: int, seed: int) -> dict[str, DataFrame]:
    """A pool of ``persons`` members in seven person-level tables shaped as the low-income pool,
    as the standard publishes them: a registry (70% of them, some with a second row), the
    population register (all), service visits (~1.5 a person, with a diagnosis), and four
    smaller tables. Values from seeded hashes of the id."""

    def pick(col: str, salt: int, n: int) -> Column:
        return F.pmod(F.xxhash64(F.col(col), F.lit(seed), F.lit(salt)), F.lit(n))

    people = spark.range(persons).select(
        F.sha2(F.concat(F.lit(f"{seed}:"), F.col("id").cast("string")), 256).alias(
            "pool_pseudonym"
        ),
        "id",
        F.lpad((10 + pick("id", 1, 77)).cast("string"), 2, "0").alias("province_code"),
        age_label(pick("id", 2, 95), 5, 85).alias("age_band"),  # the standard's own bands
        F.when(pick("id", 3, 2) == 0, "M").otherwise("F").alias("sex"),
    )
    qis = ["pool_pseudonym", "province_code", "age_band", "sex"]
    registry = people.where(pick("id", 4, 10) < 7)
    moved = registry.where(pick("id", 5, 20) == 0).withColumn(
        "province_code", F.lpad((10 + pick("id", 6, 77)).cast("string"), 2, "0")
    )
    visits = spark.range(persons * 3 // 2).select(
        F.sha2(F.concat(F.lit(f"{seed}:"), pick("id", 7, persons).cast("string")), 256).alias(
            "pool_pseudonym"
        ),
        F.concat(F.lit("E"), F.lpad(pick("id", 8, 20).cast("string"), 2, "0")).alias(
            "diagnosis_icd10"
        ),
    )
    member = ["pool_pseudonym", "province_code"]
    return {
        "registry": registry.select(*qis).unionByName(moved.select(*qis)),
        "population_register": people.select(*qis),
        "service_records": visits,
        # The rest of the low-income pool's shape (its largest): registries holding a province
        # only, births a year of birth, benefits no quasi-identifier at all.
        "elderly_registry": people.where(pick("id", 9, 100) < 15).select(*member),
        "disability_registry": people.where(pick("id", 10, 100) < 2).select(*member),
        "births": people.where(pick("id", 11, 100) < 5).select(
            *member, (2021 + pick("id", 12, 5)).cast("int").alias("birth_year")
        ),
        "benefit_recipients": people.where(pick("id", 13, 100) < 20).select(
            "pool_pseudonym", F.lit("elderly_allowance").alias("benefit")
        ),
    }


def bench_risk(spark: SparkSession, conf, persons: int, seed: int) -> str:
    """Seconds to measure a synthetic pool of ``persons`` (tables generated and cached first)."""
    from pooling.core.config import RiskSettings
    from pooling.pools.risk import POOL, measure

    settings = RiskSettings(k=5, sensitive=["diagnosis_icd10"], population="population_register")
    # A fresh JVM spends ~10 s compiling the plans' code on first use: warm up on a small pool,
    # so that the timing is the measurement's own (the first one is printed too).
    t0 = time.perf_counter()
    measure(synthetic_pool(spark, min(persons, 1_000), seed + 1), conf.standard, settings)
    warm_up = time.perf_counter() - t0
    frames = {t: df.cache() for t, df in synthetic_pool(spark, persons, seed).items()}
    rows = sum(df.count() for df in frames.values())
    t0 = time.perf_counter()
    figures = measure(frames, conf.standard, settings)
    seconds = time.perf_counter() - t0
    for df in frames.values():
        df.unpersist()
    pool = next(f for f in figures if f.scope == POOL)
    return (
        f"risk benchmark: {persons:,} persons, {len(frames)} tables, {rows:,} rows: measured "
        f"{len(figures)} scopes in {seconds:,.1f} s ({rows / seconds:,.0f} rows/s; the first, "
        f"cold measurement of a 1,000-person pool took {warm_up:,.1f} s)\n"
        f"  {pool.summary()}"
    )
