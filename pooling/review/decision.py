"""The secretariat's decision on a run: approve (and release) or reject, with reasons.

``approve`` releases outputs whose checks pass, or pass once suppression is applied (only when
asked for); ``reject`` releases nothing. Every decision, with reviewer, reasons and check
results, is an audit event; every release another (:mod:`pooling.review.release`).
"""

from __future__ import annotations

from pyspark.sql import SparkSession

from pooling.core import audit
from pooling.core.config import Conf
from pooling.core.errors import ReviewError, UnknownNameError
from pooling.core.storage import Storage
from pooling.core.zones import Zones
from pooling.outputs.manifest import APPROVED, PENDING, REJECTED
from pooling.review.examine import RunReview, review_run
from pooling.review.release import release


def decide(
    spark: SparkSession,
    conf: Conf,
    zones: Zones,
    ref: str,
    *,
    approve: bool,
    reviewer: str,
    reason: str,
    outputs: list[str] | None = None,
    apply_suppression: bool = False,
) -> RunReview:
    """Approve (and release) or reject a run's outputs, with the reviewer's reasons."""
    if not reason.strip():
        raise ReviewError("a decision needs a reason (--reason)")
    run = review_run(spark, conf, zones, ref)
    if run.manifest.status != PENDING:
        raise ReviewError(f"run {ref} was already decided: {run.manifest.status}")
    chosen = outputs or list(run.outputs)
    unknown = [o for o in chosen if o not in run.outputs]
    if unknown:
        raise UnknownNameError(f"run {ref} has no output(s) {unknown}; it has {list(run.outputs)}")
    results = {
        n: {
            "checks": {c.name: {"passed": c.passed, "cells": len(c.cells)} for c in r.checks},
            "suppressed_cells": len(r.suppression.cells) if apply_suppression else 0,
            "checks_as_released": {
                c.name: {"passed": c.passed, "cells": len(c.cells)}
                for c in (r.after if apply_suppression else r.checks)
            },
        }
        for n, r in run.outputs.items()
        if n in chosen
    }
    if approve:
        for n in chosen:
            r = run.outputs[n]
            if r.failing and not apply_suppression:
                raise ReviewError(
                    f"{ref} output {n!r} fails {r.failing}; approve with --suppress to hide "
                    "the failing cells (see `pooling review show`), or reject it"
                )
            if apply_suppression and r.failing_after:
                raise ReviewError(
                    f"{ref} output {n!r} still fails {r.failing_after} when suppressed"
                )
    decision = APPROVED if approve else REJECTED
    audit.record(
        spark,
        zones.audit,
        action="review",
        subject=ref,
        actor=reviewer,
        details={"decision": decision, "reason": reason, "outputs": results},
    )
    if approve:
        release(
            spark,
            zones,
            run,
            outputs=chosen,
            reviewer=reviewer,
            reason=reason,
            suppressed=apply_suppression,
            results=results,
        )
    run.manifest = run.manifest.decided(decision, reviewer=reviewer, reason=reason, outputs=chosen)
    run.manifest.write(Storage(spark), run.directory)
    return run
