"""Named points between two commits where the crash tests kill the whole job.

A job's durable steps are separate commits (a table, then the quarantine, then the audit event;
one pool table after another; a release's files, then its rename). What a crash between two of
them leaves must be safe to read and finished by a rerun. The tests prove that by setting
``POOLING_FAILPOINT`` to a point's name: when the job reaches it, the job SIGKILLs its own
process group (Python, the JVM and its Python workers), as an OOM killer or a lost node would, with
no ``finally`` and no shutdown hook run. Unset, as in every real run, a point costs one lookup.

The process must lead its own group (the tests start it with ``start_new_session``); otherwise
the point only ends this process, never the caller's shell.
"""

from __future__ import annotations

import logging
import os
import signal

ENV = "POOLING_FAILPOINT"
POINTS = frozenset(
    {
        "ingest.table_written",  # the de-identified table committed; no quarantine, no event
        "pool.table_built",  # one table rebuilt (another may be mid-write); no marker yet
        "release.output_staged",  # the first output of a release staged; no manifest
        "release.moved",  # the release in place; no audit event, the run still pending
    }
)

log = logging.getLogger("pooling.failpoints")


def reached(point: str) -> None:
    """Die here, at once and whole, when the tests asked for this point."""
    if point not in POINTS:
        raise ValueError(f"unknown failpoint {point!r}")
    if os.environ.get(ENV) != point:
        return
    log.warning("failpoint %s: killing process group %d", point, os.getpgrp())
    if os.getpgrp() == os.getpid():
        os.killpg(os.getpgrp(), signal.SIGKILL)
    os.kill(os.getpid(), signal.SIGKILL)
