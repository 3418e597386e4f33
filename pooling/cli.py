"""``pooling``: the command line of the service.

It builds the SparkSession; the library does not.
"""

from __future__ import annotations

import argparse
import getpass
import logging
import sys
import time
import traceback
from datetime import UTC, datetime
from pathlib import Path

from pooling import redact
from pooling.errors import PoolingError, UsageError

log = logging.getLogger("pooling")


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="pooling", description=__doc__)
    p.add_argument(
        "--conf",
        type=Path,
        default=None,
        help="configuration directory (default: $POOLING_CONF or ./conf)",
    )
    p.add_argument(
        "--profile", default="local", help="profile under conf/profiles (default: local)"
    )
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = p.add_subparsers(dest="command", required=True)

    d = sub.add_parser("demo", help="run the whole main job on synthetic data")
    d.add_argument("--persons", type=int, default=100_000)
    d.add_argument("--seed", type=int, default=2560)

    s = sub.add_parser("synth", help="write synthetic agency extracts and their ground truth")
    s.add_argument("--persons", type=int, required=True)
    s.add_argument("--seed", type=int, required=True)
    s.add_argument("--out", type=Path, required=True)

    i = sub.add_parser("ingest", help="de-identify one agency extract into its Delta table")
    i.add_argument("--agency", required=True)
    i.add_argument("--dataset", required=True)
    i.add_argument("--path", required=True)
    i.add_argument(
        "--full-reload",
        action="store_true",
        help="upsert datasets: replace the table with this (complete) extract",
    )

    po = sub.add_parser("pool", help="build a project's pool from the de-identified tables")
    which = po.add_mutually_exclusive_group(required=True)
    which.add_argument("--project")
    which.add_argument("--all", action="store_true", help="every configured project")

    r = sub.add_parser("run", help="run a project's analytics on its pool")
    which = r.add_mutually_exclusive_group(required=True)
    which.add_argument("--project")
    which.add_argument("--all", action="store_true", help="every configured project")

    rv = sub.add_parser("review", help="the secretariat's output review: check, decide, release")
    rsub = rv.add_subparsers(dest="review_command", required=True)
    rsub.add_parser("list", help="runs waiting for review")
    rs = rsub.add_parser("show", help="run the disclosure checks; write a review page per output")
    rs.add_argument("run", help="PROJECT/RUN_ID, as `review list` shows it")
    for verb, text in (("approve", "approve and release"), ("reject", "reject: release nothing")):
        ra = rsub.add_parser(verb, help=f"{text} a run's outputs")
        ra.add_argument("run", help="PROJECT/RUN_ID")
        ra.add_argument("--reason", required=True, help="why: goes to the audit table")
        ra.add_argument("--reviewer", default=None, help="default: the current user")
        if verb == "approve":
            ra.add_argument(
                "--output", action="append", help="only this output (repeatable); default all"
            )
            ra.add_argument(
                "--suppress",
                action="store_true",
                help="release with primary and secondary suppression applied",
            )

    sv = sub.add_parser("serve", help="the analysts' SQL endpoint (Spark Thrift server, LDAP)")
    sv.add_argument("--port", type=int, default=10000)
    sv.add_argument("--ldap-url", default="ldap://127.0.0.1:3389")
    sv.add_argument("--ldap-base-dn", default="ou=people,dc=pooling,dc=local")
    sv.add_argument("--stop-after", type=float, default=None, help=argparse.SUPPRESS)
    sv.add_argument("--endpoint", action="store_true", help=argparse.SUPPRESS)  # the server itself
    sq = sub.add_parser(
        "sql",
        help="for engineers on the service's machine: one statement as an analyst, under their "
        "grants, audited with your OS user (analysts use `pooling serve`)",
    )
    sq.add_argument("--as", dest="analyst", required=True, help="the analyst's name")
    sq.add_argument("statement")

    sub.add_parser("catalog", help="list every table with its metadata")
    rt = sub.add_parser(
        "retention", help="destroy expired extracts and quarantines, vacuum old table versions"
    )
    rt.add_argument("--dry-run", action="store_true", help="only show what would be destroyed")
    rt.add_argument(
        "--as-of",
        type=_utc_date,
        help="with --dry-run: plan as of this date (YYYY-MM-DD) instead of now",
    )
    li = sub.add_parser("lineage", help="show where a table came from")
    li.add_argument("table", help="catalog name (e.g. pools.low_income.welfare_registry) or path")

    k = sub.add_parser("keys", help="key management")
    ksub = k.add_subparsers(dest="keys_command", required=True)
    kn = ksub.add_parser("new", help="write a fresh random master key file (mode 0600)")
    kn.add_argument("--out", type=Path, required=True)
    ksub.add_parser("id", help="print the key id of the configured master key")

    b = sub.add_parser("bench", help="benchmarks that print figures and ratios")
    bsub = b.add_subparsers(dest="bench_command", required=True)
    bp = bsub.add_parser("pseudonymize", help="native HMAC vs Python/pandas UDFs vs sha2")
    bp.add_argument("--rows", type=int, default=10_000_000)
    bp.add_argument("--repeats", type=int, default=3)
    bl = bsub.add_parser(
        "pipeline",
        help="time and peak memory of synth, ingest, pool and one project's run, per size",
    )
    bl.add_argument("--persons", type=int, nargs="+", required=True, help="one or more sizes")
    bl.add_argument("--seed", type=int, default=2560)
    bl.add_argument("--project", default="low_income")
    bl.add_argument(
        "--root", type=Path, default=None, help="work folder (default: <data root>/_bench)"
    )
    bl.add_argument("--keep", action="store_true", help="keep each size's data afterwards")
    bl.add_argument("--one", action="store_true", help=argparse.SUPPRESS)  # a child: one size
    bs = bsub.add_parser("synth", help="time, rows/s and peak memory of the synthetic extracts")
    bs.add_argument("--persons", type=int, required=True)
    bs.add_argument("--seed", type=int, default=2560)
    bs.add_argument("--out", type=Path, required=True)
    return p


def _utc_date(text: str) -> datetime:
    try:
        return datetime.strptime(text, "%Y-%m-%d").replace(tzinfo=UTC)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from None


def _setup_logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
        stream=sys.stderr,
    )
    logging.getLogger("py4j").setLevel(logging.WARNING)
    for handler in logging.getLogger().handlers:
        redact.install(handler)


class _Context:
    def __init__(self, args: argparse.Namespace) -> None:
        from pooling.config import Conf, default_conf_dir
        from pooling.zones import Zones

        self.conf = Conf(args.conf or default_conf_dir())
        self.base_dir = self.conf.root.resolve().parent
        self.profile = self.conf.profile(args.profile)
        self.zones = Zones.for_profile(self.profile, self.base_dir)

    def master_key(self):
        from pooling.session import resolve_path
        from pseudonymize import load_master_key

        keys = self.profile.keys
        file = resolve_path(keys.file, self.base_dir) if keys.file else None
        return load_master_key(file, keys.env)

    def spark(self, extra_conf: dict[str, str] | None = None):
        from pooling.session import build_session

        spark = build_session(self.profile, base_dir=self.base_dir, extra_conf=extra_conf)
        _started.append(spark)
        return spark


_started: list = []  # sessions this process's commands started (and must stop)


def _run(args: argparse.Namespace) -> int:
    if args.command == "keys" and args.keys_command == "new":
        from pseudonymize import new_key_file

        key = new_key_file(args.out)
        print(f"wrote a new master key to {args.out} (mode 0600), key id {key.key_id}")
        return 0

    ctx = _Context(args)
    if args.command == "keys":
        print(ctx.master_key().key_id)
        return 0

    t0 = time.monotonic()
    if args.command == "synth":
        from pooling.synth import SynthPlan, generate, write_extracts

        spark = ctx.spark()
        synthetic = generate(
            spark,
            SynthPlan(args.persons, args.seed, reference_date=ctx.conf.standard.reference_date),
        )
        try:
            write_extracts(synthetic, args.out)
        finally:
            synthetic.release()
        print(f"wrote extracts and manifest.json under {args.out} in {time.monotonic() - t0:.0f} s")
        return 0

    if args.command == "bench" and args.bench_command == "pipeline":
        return _bench_pipeline(ctx, args)
    if args.command == "bench" and args.bench_command == "synth":
        from pooling.bench import bench_synth

        print(bench_synth(ctx.spark(), args.persons, args.seed, str(args.out)))
        return 0
    if args.command == "bench":
        from pooling.bench import bench_pseudonymize, render_pseudonymize

        spark = ctx.spark()
        print(
            f"pseudonymize benchmark: {args.rows:,} rows, Spark {spark.version}, "
            f"master {spark.sparkContext.master}, {spark.sparkContext.defaultParallelism} cores"
        )
        print(render_pseudonymize(bench_pseudonymize(spark, args.rows, repeats=args.repeats)))
        return 0

    if args.command == "review":
        return _review(ctx, args)
    if args.command in ("serve", "sql"):
        return _access(ctx, args)

    if args.command in ("catalog", "lineage"):
        from pooling.catalog import lineage, list_tables, render_catalog

        spark = ctx.spark()
        if args.command == "catalog":
            print(render_catalog(list_tables(spark, ctx.zones)))
        else:
            print("\n".join(lineage(spark, ctx.zones, args.table)))
        return 0

    if args.command == "retention":
        from pooling.retention import plan_and_apply

        if args.as_of and not args.dry_run:
            raise UsageError("--as-of only plans: use it with --dry-run")
        report = plan_and_apply(
            ctx.spark(), ctx.conf, ctx.zones, dry_run=args.dry_run, now=args.as_of
        )
        print(report.render())
        return 0

    key = ctx.master_key()  # fail on a missing or weak key before starting Spark
    spark = ctx.spark()
    if args.command == "demo":
        from pooling.demo import render, run_demo

        report = run_demo(spark, ctx.conf, ctx.zones, key, persons=args.persons, seed=args.seed)
        print(render(report, ctx.zones, time.monotonic() - t0))
        return 1 if report.mismatches else 0
    if args.command == "ingest":
        from pooling.ingest import ingest

        report = ingest(
            spark,
            ctx.conf,
            ctx.zones,
            key,
            agency=args.agency,
            dataset=args.dataset,
            path=args.path,
            full_reload=args.full_reload,
        )
        print(report.summary())
        return 0
    if args.command == "pool":
        from pooling.pools import build_pool

        for project in sorted(ctx.conf.projects) if args.all else [args.project]:
            print(build_pool(spark, ctx.conf, ctx.zones, key, project).summary())
        return 0
    if args.command == "run":
        from pooling.runs import run_project

        for project in sorted(ctx.conf.projects) if args.all else [args.project]:
            print(run_project(spark, ctx.conf, ctx.zones, project).summary())
        return 0
    raise AssertionError(f"unhandled command {args.command}")


def _bench_pipeline(ctx: _Context, args: argparse.Namespace) -> int:
    """Each size in a fresh child process, so its peak memory and timings are its own."""
    import json
    import shutil
    import subprocess
    from dataclasses import asdict

    from pooling.bench import PipelineFigures, bench_pipeline, pipeline_line, render_pipeline
    from pooling.zones import Zones

    ctx.conf.project(args.project)  # fail on an unknown project before anything starts
    landing = ctx.zones.roots["landing"]
    if "://" in landing:
        raise UsageError("the pipeline benchmark runs on local disk: give --root DIR")
    root = (args.root or Path(landing).parent / "_bench").resolve()
    if args.one:
        (persons,) = args.persons
        work = root / f"n{persons}"
        shutil.rmtree(work, ignore_errors=True)
        zones = Zones.under(work)
        try:
            figures = bench_pipeline(ctx.spark(), ctx.conf, zones, persons, args.seed, args.project)
        finally:
            if not args.keep:
                shutil.rmtree(work, ignore_errors=True)
        print("BENCH " + json.dumps(asdict(figures)))
        return 0
    options = [*(["--conf", str(args.conf)] if args.conf else []), "--profile", args.profile]
    results = []
    for persons in args.persons:
        log.info("bench pipeline: %s persons in a fresh process", f"{persons:,}")
        child = subprocess.run(
            [sys.executable, "-m", "pooling.cli", *options, "bench", "pipeline", "--one"]
            + ["--persons", str(persons), "--seed", str(args.seed), "--project", args.project]
            + ["--root", str(root)]
            + (["--keep"] if args.keep else []),
            stdout=subprocess.PIPE,
            text=True,
            check=False,
        )
        lines = [ln for ln in child.stdout.splitlines() if ln.startswith("BENCH ")]
        if child.returncode or not lines:
            raise RuntimeError(f"the {persons:,}-person run failed (exit {child.returncode})")
        results.append(PipelineFigures(**json.loads(lines[-1].removeprefix("BENCH "))))
        print(pipeline_line(results[-1]), flush=True)
    print(render_pipeline(results, args.project))
    return 0 if all(f.truth_ok for f in results) else 1


def _access(ctx: _Context, args: argparse.Namespace) -> int:
    from pooling import access

    settings = access.load_settings(ctx.conf)
    if args.command == "sql":
        print(
            "pooling sql: for engineers on the service's machine; audited as "
            f"{args.analyst} run by OS user {getpass.getuser()}",
            file=sys.stderr,
        )
        spark, spool = access.sql_session(ctx.profile, ctx.conf, ctx.zones, ctx.base_dir, settings)
        _started.append(spark)
        result = access.run_sql(
            spark, ctx.conf, ctx.zones, settings, spool, args.analyst, args.statement
        )
        print(result.to_string(index=False))
        return 0
    ldap = access.LdapSettings(args.ldap_url, args.ldap_base_dn)
    if args.endpoint:  # the Thrift server, started by the supervisor below as the service user
        access.preflight(ctx.profile, ctx.zones, ctx.base_dir)
        runtime = access.Runtime.for_zones(ctx.zones)
        spark = access.access_session(
            ctx.profile,
            ctx.conf,
            ctx.zones,
            ctx.base_dir,
            settings,
            spool=runtime.spool,
            grants_file=runtime.grants,
            home=runtime.home,
            ldap=ldap,
            port=args.port,
        )
        _started.append(spark)
        access.serve_endpoint(spark, ctx.conf, stop_after=args.stop_after)
        return 0
    runtime, user = access.prepare(ctx.conf, ctx.zones, ctx.profile)
    argv = [
        *("--conf", str(ctx.conf.root.resolve()), "--profile", args.profile, "serve"),
        *("--endpoint", "--port", str(args.port)),
        *("--ldap-url", args.ldap_url, "--ldap-base-dn", args.ldap_base_dn),
        *(["--stop-after", str(args.stop_after)] if args.stop_after else []),
    ]
    endpoint = access.start_endpoint(argv, ctx.profile, runtime, user)
    try:  # the supervisor's own small driver: it writes the audit table, the endpoint may not
        spark = ctx.spark({"spark.driver.memory": "1g", "spark.ui.enabled": "false"})
    except BaseException:
        endpoint.terminate()
        raise
    return access.supervise(spark, ctx.conf.root, ctx.zones, runtime, endpoint, settings)


def _review(ctx: _Context, args: argparse.Namespace) -> int:
    from pooling import review
    from pooling.audit import current_actor

    if args.review_command == "list":
        runs = review.pending(ctx.zones)
        for m in runs:
            outs = ", ".join(f"{n} ({o['rows']:,} rows)" for n, o in m["outputs"].items())
            print(f"{m['project']}/{m['run_id']}  {outs}")
        print(f"{len(runs)} run(s) waiting for review")
        return 0
    spark = ctx.spark()
    if args.review_command == "show":
        run = review.review_run(spark, ctx.conf, ctx.zones, args.run)
        pages = review.write_pages(run, ctx.conf)
        for name, r in run.outputs.items():
            checks = ", ".join(
                f"{c.name} {'ok' if c.passed else f'{len(c.cells)} cell(s)'}" for c in r.checks
            )
            print(f"{name}: {checks}; suppression would hide {len(r.suppression.cells)} cell(s)")
            print(f"  page {pages[name]}")
        return 0
    run = review.decide(
        spark,
        ctx.conf,
        ctx.zones,
        args.run,
        approve=args.review_command == "approve",
        reviewer=args.reviewer or current_actor(),
        reason=args.reason,
        outputs=getattr(args, "output", None),
        apply_suppression=getattr(args, "suppress", False),
    )
    print(f"{run.ref}: {run.manifest['status']} by {run.manifest['review']['reviewer']}")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    _setup_logging(args.verbose)
    try:
        return _run(args)
    except PoolingError as e:
        print(f"pooling: error: {redact.redact(str(e))}", file=sys.stderr)
        return 2
    except Exception as e:  # Spark's messages can quote row values: print them redacted only
        if args.verbose:
            trace = "".join(traceback.format_exception(e))
            print(redact.redact(trace), file=sys.stderr)
        lines = [ln.strip() for ln in str(e).splitlines() if ln.strip() and not ln.startswith("\t")]
        print(
            f"pooling: failed: {type(e).__name__}: {redact.redact(' '.join(lines[:3]))[:600]}"
            + ("" if args.verbose else " (run with -v for the redacted traceback)"),
            file=sys.stderr,
        )
        return 1
    finally:
        _stop_spark()


def _stop_spark() -> None:
    """Stop the session this command started (never one it was not given), so Python workers
    exit cleanly."""
    while _started:
        _started.pop().stop()


def main_for(command: str, argv: list[str]) -> int:
    """Run one command with global options (``--conf``, ``--profile``, ``-v``) allowed first."""
    globals_, rest, i = [], list(argv), 0
    while i < len(rest) and rest[i] in ("--conf", "--profile", "-v", "--verbose"):
        takes_value = rest[i] in ("--conf", "--profile")
        globals_.extend(rest[i : i + 1 + takes_value])
        i += 1 + takes_value
    return main([*globals_, command, *rest[i:]])


if __name__ == "__main__":
    sys.exit(main())
