"""The command line's grammar: one sub-parser per command, each with its handler.

Every leaf parser sets ``handler`` (``set_defaults``) to its function in
:mod:`pooling.cli.handlers`; :func:`pooling.cli.main` calls it.
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from pathlib import Path

from pooling.cli import handlers
from pooling.core.parallel import DEFAULT_WORKERS

# The description `pooling --help` shows.
DESCRIPTION = """``pooling``: the command line of the service.

It builds the SparkSession; the library does not.
"""


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="pooling", description=DESCRIPTION)
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
    commands = (
        _demo,
        _synth,
        _contract,
        _ingest,
        _pool,
        _risk,
        _run,
        _review,
        _console,
        _access,
        _ops,
        _keys,
    )
    commands += (_bench,)
    for add in commands:
        add(sub)
    return p


def _demo(sub: argparse._SubParsersAction) -> None:
    d = sub.add_parser("demo", help="run the whole main job on synthetic data")
    d.add_argument("--persons", type=int, default=100_000)
    d.add_argument("--seed", type=int, default=2560)
    _workers(d)
    d.set_defaults(handler=handlers.demo)


def _workers(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--workers",
        type=_positive,
        default=DEFAULT_WORKERS,
        help="ingests, pool builds and project runs side by side within each stage "
        f"(default {DEFAULT_WORKERS}; 1 runs them one after another)",
    )


def _positive(value: str) -> int:
    n = int(value)
    if n < 1:
        raise argparse.ArgumentTypeError(f"{value}: must be 1 or more")
    return n


def _synth(sub: argparse._SubParsersAction) -> None:
    s = sub.add_parser("synth", help="write synthetic agency extracts and their ground truth")
    s.add_argument("--persons", type=int, required=True)
    s.add_argument("--seed", type=int, required=True)
    s.add_argument("--out", type=Path, required=True)
    s.set_defaults(handler=handlers.synth)


def _contract(sub: argparse._SubParsersAction) -> None:
    c = sub.add_parser("contract", help="agency contracts")
    csub = c.add_subparsers(dest="contract_command", required=True)
    d = csub.add_parser(
        "draft",
        help="a draft contract for a new extract, from its content, for a data steward to confirm",
    )
    d.add_argument("--path", required=True, help="the extract (a folder or file)")
    d.add_argument("--agency", help="default: the path's second-to-last folder")
    d.add_argument("--dataset", help="default: the path's last folder")
    d.add_argument("--out", help="write the draft here (never over a file); default: print it")
    d.set_defaults(handler=handlers.contract_draft)


def _ingest(sub: argparse._SubParsersAction) -> None:
    i = sub.add_parser("ingest", help="de-identify one agency extract into its Delta table")
    i.add_argument("--agency", required=True)
    i.add_argument("--dataset", required=True)
    i.add_argument("--path", required=True)
    i.add_argument(
        "--full-reload",
        action="store_true",
        help="upsert datasets: replace the table with this (complete) extract",
    )
    i.set_defaults(handler=handlers.ingest)


def _pool(sub: argparse._SubParsersAction) -> None:
    po = sub.add_parser("pool", help="build a project's pool from the de-identified tables")
    _project_or_all(po)
    po.set_defaults(handler=handlers.pool)


def _risk(sub: argparse._SubParsersAction) -> None:
    rk = sub.add_parser(
        "risk",
        help="measure a pool's re-identification risk (k, l, prosecutor and journalist risk) "
        "into the secretariat's risk zone",
    )
    _project_or_all(rk)
    rk.set_defaults(handler=handlers.risk)


def _run(sub: argparse._SubParsersAction) -> None:
    r = sub.add_parser("run", help="run a project's analytics on its pool")
    _project_or_all(r)
    r.set_defaults(handler=handlers.run)


def _project_or_all(parser: argparse.ArgumentParser) -> None:
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--project")
    which.add_argument("--all", action="store_true", help="every configured project")


def _review(sub: argparse._SubParsersAction) -> None:
    rv = sub.add_parser("review", help="the secretariat's output review: check, decide, release")
    rsub = rv.add_subparsers(dest="review_command", required=True)
    rsub.add_parser("list", help="runs waiting for review").set_defaults(
        handler=handlers.review_list
    )
    rs = rsub.add_parser("show", help="run the disclosure checks; write a review page per output")
    rs.add_argument("run", help="PROJECT/RUN_ID, as `review list` shows it")
    rs.set_defaults(handler=handlers.review_show)
    steps = (
        ("approve", "approve a run's outputs: released once a second reviewer approves the same"),
        ("reject", "reject a run's outputs: rejected once a second reviewer rejects too"),
        ("return", "send a run back to its author with a comment, at once"),
    )
    for verb, text in steps:
        # The reviewer is the OS account running this: a name on conf/review.yaml's reviewers.
        ra = rsub.add_parser(verb, help=text)
        ra.add_argument("run", help="PROJECT/RUN_ID")
        ra.add_argument("--reason", required=True, help="why: goes to the audit table")
        if verb == "approve":
            ra.add_argument(
                "--output", action="append", help="only this output (repeatable); default all"
            )
            ra.add_argument(
                "--suppress",
                action="store_true",
                help="release with primary and secondary suppression applied",
            )
        ra.set_defaults(handler=handlers.review_decide)


def _console(sub: argparse._SubParsersAction) -> None:
    co = sub.add_parser(
        "console", help="the secretariat's review console (a web page; LDAP sign-in)"
    )
    co.add_argument("--host", default="127.0.0.1", help="another address needs TLS")
    co.add_argument("--port", type=int, default=8700)
    co.add_argument("--ldap-url", default="ldap://127.0.0.1:3389")
    co.add_argument("--ldap-base-dn", default="ou=people,dc=pooling,dc=local")
    co.add_argument("--tls-cert", default=None, help="PEM certificate (with --tls-key): HTTPS")
    co.add_argument("--tls-key", default=None, help="PEM private key of --tls-cert")
    co.add_argument("--stop-after", type=float, default=None, help=argparse.SUPPRESS)
    co.set_defaults(handler=handlers.console)


def _access(sub: argparse._SubParsersAction) -> None:
    sv = sub.add_parser("serve", help="the analysts' SQL endpoint (Spark Thrift server, LDAP)")
    sv.add_argument("--port", type=int, default=10000)
    sv.add_argument("--ldap-url", default="ldap://127.0.0.1:3389")
    sv.add_argument("--ldap-base-dn", default="ou=people,dc=pooling,dc=local")
    sv.add_argument("--stop-after", type=float, default=None, help=argparse.SUPPRESS)
    sv.add_argument("--endpoint", action="store_true", help=argparse.SUPPRESS)  # the server itself
    sv.set_defaults(handler=handlers.serve)
    sq = sub.add_parser(
        "sql",
        help="for engineers on the service's machine: statements as an analyst, under their "
        "grants, audited with your OS user (analysts use `pooling serve`)",
    )
    sq.add_argument("--as", dest="analyst", required=True, help="the analyst's name")
    sq.add_argument(
        "statement",
        nargs="+",
        help="one or more statements, run in order in one driver; a refused one is reported "
        "and the rest still run (exit status 2 if any was refused)",
    )
    sq.set_defaults(handler=handlers.sql)


def _ops(sub: argparse._SubParsersAction) -> None:
    sub.add_parser("catalog", help="list every table with its metadata").set_defaults(
        handler=handlers.catalog
    )
    rt = sub.add_parser(
        "retention", help="destroy expired extracts and quarantines, vacuum old table versions"
    )
    rt.add_argument("--dry-run", action="store_true", help="only show what would be destroyed")
    rt.add_argument(
        "--as-of",
        type=_utc_date,
        help="with --dry-run: plan as of this date (YYYY-MM-DD) instead of now",
    )
    rt.set_defaults(handler=handlers.retention)
    li = sub.add_parser("lineage", help="show where a table came from")
    li.add_argument("table", help="catalog name (e.g. pools.low_income.welfare_registry) or path")
    li.set_defaults(handler=handlers.lineage)


def _keys(sub: argparse._SubParsersAction) -> None:
    k = sub.add_parser("keys", help="key management")
    ksub = k.add_subparsers(dest="keys_command", required=True)
    kn = ksub.add_parser("new", help="write a fresh random master key file (mode 0600)")
    kn.add_argument("--out", type=Path, required=True)
    kn.set_defaults(handler=handlers.keys_new)
    ksub.add_parser("id", help="print the key id of the configured master key").set_defaults(
        handler=handlers.keys_id
    )


def _bench(sub: argparse._SubParsersAction) -> None:
    b = sub.add_parser("bench", help="benchmarks that print figures and ratios")
    bsub = b.add_subparsers(dest="bench_command", required=True)
    bp = bsub.add_parser("pseudonymize", help="native HMAC vs Python/pandas UDFs vs sha2")
    bp.add_argument("--rows", type=int, default=10_000_000)
    bp.add_argument("--repeats", type=int, default=3)
    bp.set_defaults(handler=handlers.bench_pseudonymize)
    bl = bsub.add_parser(
        "pipeline",
        help="time and peak memory of synth, ingest, pools and runs per size, against bare copies",
    )
    bl.add_argument("--persons", type=int, nargs="+", required=True, help="one or more sizes")
    bl.add_argument("--seed", type=int, default=2560)
    bl.add_argument(
        "--project", default=None, help="only this project and what it pools (default: all)"
    )
    bl.add_argument("--root", default=None, help="local work folder (default: <data root>/_bench)")
    bl.add_argument(
        "--stores",
        nargs="+",
        choices=("local", "hdfs", "s3"),
        default=["local"],
        help="where to run: the local folder, and/or a real HDFS and S3 store (SeaweedFS) "
        "started on 127.0.0.1 for the run; they take turns at each size",
    )
    bl.add_argument("--keep", action="store_true", help="keep each size's data afterwards")
    bl.add_argument(
        "--warmup",
        type=int,
        default=2000,
        help="persons of an untimed run first in each size's process, so that neither the "
        "pipeline nor its copies meet a cold JVM (default 2000; 0: none)",
    )
    _workers(bl)
    bl.add_argument("--one", action="store_true", help=argparse.SUPPRESS)  # a child: one size
    bl.set_defaults(handler=handlers.bench_pipeline)
    br = bsub.add_parser("risk", help="seconds to measure the risk of a synthetic pool")
    br.add_argument("--persons", type=int, required=True)
    br.add_argument("--seed", type=int, default=2560)
    br.set_defaults(handler=handlers.bench_risk)
    bs = bsub.add_parser("synth", help="time, rows/s and peak memory of the synthetic extracts")
    bs.add_argument("--persons", type=int, required=True)
    bs.add_argument("--seed", type=int, default=2560)
    bs.add_argument("--out", type=Path, required=True)
    bs.set_defaults(handler=handlers.bench_synth)


def _utc_date(text: str) -> datetime:
    try:
        return datetime.strptime(text, "%Y-%m-%d").replace(tzinfo=UTC)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from None
