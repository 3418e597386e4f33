"""A reviewer's step on a run: approve a release, reject, or return the run to its author.

Under the two-checker rule (:mod:`pooling.review.signoff`) a step is recorded in the run's
manifest and as an audit event; the second of two agreeing approvals releases
(:mod:`pooling.review.release`). An approval is of outputs whose checks pass, or pass once
suppression is applied (only when asked for). The console and the CLI both come here.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

from pyspark.sql import SparkSession

from pooling.core import audit
from pooling.core.config import Conf
from pooling.core.errors import ReviewError, UnknownNameError
from pooling.core.storage import Storage, local_commit_lock
from pooling.core.zones import Zones
from pooling.outputs.manifest import APPROVED, MANIFEST, Review, RunManifest
from pooling.review import signoff
from pooling.review.examine import RunReview, review_run, run_dir
from pooling.review.release import is_released, release

Verdict = Literal["approve", "reject", "return"]


def decide(
    spark: SparkSession,
    conf: Conf,
    zones: Zones,
    ref: str,
    *,
    verdict: Verdict,
    reviewer: str,
    reason: str,
    outputs: list[str] | None = None,
    apply_suppression: bool = False,
    reviewed: RunReview | None = None,
) -> RunReview:
    """One reviewer's step on the run ``ref``; returns the run with its manifest as written.
    ``reviewed``: the run's review as the caller has it (the console), used if the run's
    manifest has not changed since (its checks depend only on the outputs, which never do)."""
    if not reason.strip():
        raise ReviewError("a decision needs a reason (--reason)")
    # One step at a time per run, across processes (the console and the CLI): two reviewers
    # deciding at once must not both read "one approval so far". A no-op on remote stores.
    storage = Storage(spark)
    directory = run_dir(storage, zones, ref)  # an unknown run is refused before any lock
    with local_commit_lock(directory):
        manifest = RunManifest.read(storage, f"{directory}/{MANIFEST}")
        signoff.check_reviewer(manifest, reviewer, conf.review)  # before the checks' seconds
        run = reviewed
        if run is None or run.ref != ref or run.manifest != manifest:
            run = review_run(spark, conf, zones, ref)
        return _step(spark, zones, run, verdict, reviewer, reason, outputs, apply_suppression)


def _step(
    spark: SparkSession,
    zones: Zones,
    run: RunReview,
    verdict: Verdict,
    reviewer: str,
    reason: str,
    outputs: list[str] | None,
    apply_suppression: bool,
) -> RunReview:
    ref = run.ref
    chosen = sorted(outputs or run.outputs)
    unknown = [o for o in chosen if o not in run.outputs]
    if unknown:
        raise UnknownNameError(f"run {ref} has no output(s) {unknown}; it has {list(run.outputs)}")
    suppressed = apply_suppression and verdict == "approve"
    results = {
        n: {
            "checks": {c.name: {"passed": c.passed, "cells": len(c.cells)} for c in r.checks},
            "suppressed_cells": len(r.suppression.cells) if suppressed else 0,
            "rounding_base": r.rounding_base,
            "checks_as_released": {
                c.name: {"passed": c.passed, "cells": len(c.cells)}
                for c in (r.after if suppressed else r.checks)
            },
        }
        for n, r in run.outputs.items()
        if n in chosen
    }
    if verdict == "approve":
        for n in chosen:
            r = run.outputs[n]
            if r.failing and not suppressed:
                raise ReviewError(
                    f"{ref} output {n!r} fails {r.failing}; approve with --suppress to hide "
                    "the failing cells (see `pooling review show`), or reject it"
                )
            if suppressed and r.failing_after:
                raise ReviewError(
                    f"{ref} output {n!r} still fails {r.failing_after} when suppressed"
                )
    facts = {
        n: {
            "source": [run.outputs[n].source.path, run.outputs[n].source.version],
            "cells": run.outputs[n].suppression.cells if suppressed else [],
            "rounding_base": run.outputs[n].rounding_base,
        }
        for n in chosen
    }
    step = Review(
        reviewer=reviewer,
        verdict=verdict,
        reason=reason,
        at=datetime.now(UTC).isoformat(timespec="seconds"),
        outputs=chosen if verdict == "approve" else [],
        suppressed=suppressed,
        release_digest=(
            signoff.release_digest(chosen, suppressed, facts) if verdict == "approve" else None
        ),
    )
    manifest = run.manifest.reviewed(step)
    result = signoff.outcome(manifest.reviews)
    final = zones.released(run.project, run.run_id)
    if result.status != APPROVED and is_released(Storage(spark), final):
        # An approval that released it died before it could mark the run: only the same
        # release (which finishes it, see release._finish) may follow.
        raise ReviewError(
            f"{final} is released already, with outputs {sorted(run.outputs)}; a run is "
            "released once, and only an approval of that same release finishes it"
        )
    audit.record(
        spark,
        zones.audit,
        action="review",
        subject=ref,
        actor=reviewer,
        details={
            "verdict": verdict,
            "step": len(manifest.reviews),
            "decision": result.status,
            "summary": result.summary,
            "reason": reason,
            "outputs": results if verdict == "approve" else {},
            "release_digest": step.release_digest,
        },
    )
    approved = manifest.reviews[-signoff.REQUIRED] if result.status == APPROVED else None
    if approved is not None:  # the earlier approval: the same release, by the digest
        release(
            spark,
            zones,
            run,
            outputs=approved.outputs,
            reviewers=list(result.reviewers),
            reason="; ".join(f"{s.reviewer}: {s.reason}" for s in manifest.reviews),
            suppressed=approved.suppressed,
            results=results,
        )
    if result.status != manifest.status:
        manifest = manifest.decided(
            result.status,
            reviewer=", ".join(result.reviewers),
            reason=result.summary,
            outputs=approved.outputs if approved is not None else [],
        )
    manifest.write(Storage(spark), run.directory)
    run.manifest = manifest
    return run
