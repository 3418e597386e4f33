"""``pooling``: the command line of the service.

It builds the SparkSession; the library does not. The grammar is in :mod:`pooling.cli.parser`,
one handler per command in :mod:`pooling.cli.handlers`; here, running one and reporting errors.
"""

from __future__ import annotations

import argparse
import logging
import sys
import traceback

from pooling.cli import context
from pooling.core import redact
from pooling.core.errors import EXPECTED


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


def _run(args: argparse.Namespace) -> int:
    """The command's handler, as its parser set it."""
    return args.handler(args)


def main(argv: list[str] | None = None) -> int:
    from pooling.cli.parser import build_parser

    args = build_parser().parse_args(argv)
    _setup_logging(args.verbose)
    try:
        return _run(args)
    except EXPECTED as e:
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
    while context.started:
        context.started.pop().stop()


def main_for(command: str, argv: list[str]) -> int:
    """Run one command with global options (``--conf``, ``--profile``, ``-v``) allowed first."""
    globals_, rest, i = [], list(argv), 0
    while i < len(rest) and rest[i] in ("--conf", "--profile", "-v", "--verbose"):
        takes_value = rest[i] in ("--conf", "--profile")
        globals_.extend(rest[i : i + 1 + takes_value])
        i += 1 + takes_value
    return main([*globals_, command, *rest[i:]])
