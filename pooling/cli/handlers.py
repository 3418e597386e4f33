"""One handler per command: ``handler(args) -> exit code``, set on its parser in
:mod:`pooling.cli.parser`.

A handler loads ``conf/`` (:class:`Context`), fails on a missing or weak key before starting
Spark, calls the library and prints what it returns. Stage modules are imported inside the
handlers, so that ``--help`` and ``keys new`` load no more than they need.
"""

from __future__ import annotations

import argparse
import getpass
import sys
import time

from pooling.cli.context import Context, started
from pooling.core import redact
from pooling.core.errors import AccessDenied, UsageError


def demo(args: argparse.Namespace) -> int:
    ctx = Context(args)
    t0 = time.monotonic()
    key = ctx.master_key()  # fail on a missing or weak key before starting Spark
    spark = ctx.spark()
    from pooling.dev.demo import render, run_demo

    report = run_demo(
        spark,
        ctx.conf,
        ctx.zones,
        key,
        persons=args.persons,
        seed=args.seed,
        workers=args.workers,
    )
    print(render(report, ctx.zones, time.monotonic() - t0))
    return 1 if report.mismatches else 0


def synth(args: argparse.Namespace) -> int:
    ctx = Context(args)
    t0 = time.monotonic()
    from pooling.dev.synth import SynthPlan, generate, write_extracts

    spark = ctx.spark()
    synthetic = generate(
        spark,
        SynthPlan(args.persons, args.seed, reference_date=ctx.conf.standard.reference_date),
    )
    try:
        write_extracts(synthetic, str(args.out))
    finally:
        synthetic.release()
    print(f"wrote extracts and manifest.json under {args.out} in {time.monotonic() - t0:.0f} s")
    return 0


def ingest(args: argparse.Namespace) -> int:
    ctx = Context(args)
    key = ctx.master_key()
    spark = ctx.spark()
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


def contract_draft(args: argparse.Namespace) -> int:
    """``contract draft``: read a sample of the extract, print or write the draft."""
    from pathlib import Path

    from pooling.ingest.draft import draft_contract

    ctx = Context(args)
    if args.out and Path(args.out).exists():
        raise UsageError(f"{args.out} exists; a draft never overwrites a contract")
    spark = ctx.spark({"spark.ui.enabled": "false"})
    draft = draft_contract(
        spark,
        args.path,
        agency=args.agency,
        dataset=args.dataset,
        reference_year=ctx.conf.standard.reference_date.year,
    )
    draft.contract()  # passes the strict models as it is, or this fails here
    text = draft.yaml()
    if args.out:
        Path(args.out).write_text(text, encoding="utf-8")
        print(f"wrote a draft contract for {draft.agency}.{draft.dataset} to {args.out}")
    else:
        print(text, end="")
    return 0


def pool(args: argparse.Namespace) -> int:
    ctx = Context(args)
    key = ctx.master_key()
    spark = ctx.spark()
    from pooling.pools import build_pool

    for project in sorted(ctx.conf.projects) if args.all else [args.project]:
        print(build_pool(spark, ctx.conf, ctx.zones, key, project).summary())
    return 0


def risk(args: argparse.Namespace) -> int:
    ctx = Context(args)
    spark = ctx.spark()  # reads only the pools' last builds: no key needed
    from pooling.pools.risk import measure_pool

    for project in sorted(ctx.conf.projects) if args.all else [args.project]:
        print(measure_pool(spark, ctx.conf, ctx.zones, project).summary())
    return 0


def run(args: argparse.Namespace) -> int:
    ctx = Context(args)
    ctx.master_key()  # a run reads only its pool, but a missing key still fails before Spark
    spark = ctx.spark()
    from pooling.outputs import run_project

    for project in sorted(ctx.conf.projects) if args.all else [args.project]:
        print(run_project(spark, ctx.conf, ctx.zones, project).summary())
    return 0


def review_list(args: argparse.Namespace) -> int:
    ctx = Context(args)
    from pooling import review
    from pooling.core.storage import Storage

    runs = review.pending(Storage(ctx.spark()), ctx.zones)
    for m in runs:
        outs = ", ".join(f"{n} ({o.rows:,} rows)" for n, o in m.outputs.items())
        print(f"{m.project}/{m.run_id}  by {m.author or '?'}  {outs}")
        print(f"  {review.signoff_summary(m)}")
    print(f"{len(runs)} run(s) waiting for review")
    return 0


def review_show(args: argparse.Namespace) -> int:
    ctx = Context(args)
    from pooling import review

    spark = ctx.spark()
    run = review.review_run(spark, ctx.conf, ctx.zones, args.run)
    from pooling.core.storage import Storage

    pages = review.write_pages(Storage(spark), run, ctx.conf)
    for name, r in run.outputs.items():
        checks = ", ".join(
            f"{c.name} {'ok' if c.passed else f'{len(c.cells)} cell(s)'}" for c in r.checks
        )
        print(f"{name}: {checks}; suppression would hide {len(r.suppression.cells)} cell(s)")
        print(f"  page {pages[name]}")
    return 0


def review_decide(args: argparse.Namespace) -> int:
    """``review approve``, ``review reject`` and ``review return``, as the OS account running it."""
    ctx = Context(args)
    from pooling import review
    from pooling.core.audit import current_actor

    spark = ctx.spark()
    run = review.decide(
        spark,
        ctx.conf,
        ctx.zones,
        args.run,
        verdict=args.review_command,
        reviewer=current_actor(),
        reason=args.reason,
        outputs=getattr(args, "output", None),
        apply_suppression=getattr(args, "suppress", False),
    )
    m = run.manifest
    print(f"{run.ref}: {m.review.reason if m.review else review.signoff_summary(m)}")
    return 0


def console(args: argparse.Namespace) -> int:
    """``console``: serve the review console until stopped (Ctrl-C, SIGTERM)."""
    import signal
    import threading

    from pooling.console import server
    from pooling.console.app import create_app
    from pooling.console.desk import Desk
    from pooling.console.signin import Directory

    ctx = Context(args)
    tls = bool(args.tls_cert)
    directory = Directory(args.ldap_url, args.ldap_base_dn)
    # Checked before Spark starts: a refused address costs nothing.
    server.make_server(None, args.host, args.port, cert=args.tls_cert, key=args.tls_key)
    desk = Desk(ctx.spark({"spark.ui.enabled": "false"}), ctx.conf, ctx.zones)
    app = create_app(desk, directory, tls=tls)
    httpd = server.make_server(app, args.host, args.port, cert=args.tls_cert, key=args.tls_key)
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    server.start(httpd)
    scheme = "https" if tls else "http"
    print(f"review console on {scheme}://{args.host}:{httpd.bind_addr[1]}/ (Ctrl-C stops it)")
    try:
        done.wait(args.stop_after)
    except KeyboardInterrupt:
        pass
    finally:
        httpd.stop()
    return 0


def sql(args: argparse.Namespace) -> int:
    """``sql --as``: for engineers on the service's machine, in a driver of its own."""
    from pooling import access

    ctx = Context(args)
    settings = access.load_settings(ctx.conf)
    print(
        "pooling sql: for engineers on the service's machine; audited as "
        f"{args.analyst} run by OS user {getpass.getuser()}",
        file=sys.stderr,
    )
    spark, spool = access.sql_session(ctx.profile, ctx.conf, ctx.zones, ctx.base_dir, settings)
    started.append(spark)
    statements, refused = args.statement, 0
    for i, statement in enumerate(statements, 1):
        if len(statements) > 1:
            print(f"-- statement {i}/{len(statements)}")
        try:
            result = access.run_sql(
                spark, ctx.conf, ctx.zones, settings, spool, args.analyst, statement
            )
        except AccessDenied as e:  # reported, and the next statement still runs
            refused += 1
            where = f"statement {i}: " if len(statements) > 1 else ""
            print(f"pooling: error: {where}{redact.redact(str(e))}", file=sys.stderr)
            continue
        print(result.to_string(index=False))
    return 2 if refused else 0


def serve(args: argparse.Namespace) -> int:
    """``serve``: the supervisor, which starts the endpoint (``--endpoint``) as the service user."""
    from pooling import access

    ctx = Context(args)
    settings = access.load_settings(ctx.conf)
    ldap = access.LdapSettings(args.ldap_url, args.ldap_base_dn)
    if args.endpoint:  # the Thrift server, started by the supervisor below as the service user
        access.preflight(ctx.profile, ctx.zones, ctx.base_dir)
        runtime = access.Runtime.for_zones(ctx.zones, settings)
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
        started.append(spark)
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


def catalog(args: argparse.Namespace) -> int:
    ctx = Context(args)
    from pooling.ops.catalog import list_tables, render_catalog

    print(render_catalog(list_tables(ctx.spark(), ctx.zones)))
    return 0


def lineage(args: argparse.Namespace) -> int:
    ctx = Context(args)
    from pooling.ops.lineage import lineage

    print("\n".join(lineage(ctx.spark(), ctx.zones, args.table)))
    return 0


def retention(args: argparse.Namespace) -> int:
    ctx = Context(args)
    from pooling.ops.retention import plan_and_apply

    if args.as_of and not args.dry_run:
        raise UsageError("--as-of only plans: use it with --dry-run")
    report = plan_and_apply(ctx.spark(), ctx.conf, ctx.zones, dry_run=args.dry_run, now=args.as_of)
    print(report.render())
    return 0


def keys_new(args: argparse.Namespace) -> int:
    """Needs no ``conf/``: the key file is where ``--out`` says."""
    from pseudonymize import new_key_file

    key = new_key_file(args.out)
    print(f"wrote a new master key to {args.out} (mode 0600), key id {key.key_id}")
    return 0


def keys_id(args: argparse.Namespace) -> int:
    print(Context(args).master_key().key_id)
    return 0


def bench_pseudonymize(args: argparse.Namespace) -> int:
    ctx = Context(args)
    from pooling.dev.bench import bench_pseudonymize, render_pseudonymize

    spark = ctx.spark()
    print(
        f"pseudonymize benchmark: {args.rows:,} rows, Spark {spark.version}, "
        f"master {spark.sparkContext.master}, {spark.sparkContext.defaultParallelism} cores"
    )
    print(render_pseudonymize(bench_pseudonymize(spark, args.rows, repeats=args.repeats)))
    return 0


def bench_synth(args: argparse.Namespace) -> int:
    ctx = Context(args)
    from pooling.dev.bench import bench_synth

    print(bench_synth(ctx.spark(), args.persons, args.seed, str(args.out)))
    return 0


def bench_risk(args: argparse.Namespace) -> int:
    ctx = Context(args)
    from pooling.dev.bench import bench_risk

    print(bench_risk(ctx.spark(), ctx.conf, args.persons, args.seed))
    return 0


def bench_pipeline(args: argparse.Namespace) -> int:
    """Each size in a fresh child process (``--one``), so its peak memory and timings are its
    own; the orchestration is :mod:`pooling.dev.bench`'s."""
    ctx = Context(args)
    from pooling.dev import bench

    if args.project:
        ctx.conf.project(args.project)  # fail on an unknown project before anything starts
    if args.one:
        (persons,) = args.persons
        root = str(args.root) if args.root else bench.pipeline_root(ctx.zones, None)
        figures = bench.pipeline_one(
            ctx.spark,
            ctx.conf,
            root,
            persons,
            args.seed,
            args.project,
            keep=args.keep,
            workers=args.workers,
            warmup=args.warmup,
        )
        print(bench.child_line(figures))
        return 0
    root = bench.pipeline_root(ctx.zones, args.root)
    options = [*(["--conf", str(args.conf)] if args.conf else []), "--profile", args.profile]
    results = []
    with bench.stores(args.stores, root) as targets:
        for figures in bench.pipeline_children(
            options,
            targets,
            args.persons,
            args.seed,
            args.project,
            keep=args.keep,
            workers=args.workers,
            warmup=args.warmup,
        ):
            results.append(figures)
            print(bench.pipeline_line(figures), flush=True)
    print(bench.render_pipeline(results, args.project))
    return 0 if all(f.truth_ok for f in results) else 1
