"""The two-checker rule: nothing is released until two different reviewers approve the same release.

As in OpenSAFELY's Airlock, every run is checked by two output checkers independently, and the
person who ran the project may not check it. Here:

- a reviewer is a name on ``conf/review.yaml``'s ``reviewers`` list (the directory alone says who
  someone is, not that they may release), not the run's author, and reviews a run once;
- ``return`` sends the run back to its author at once, with the comment (it releases nothing);
- two approvals of the same release (same outputs, suppressed or not, the same suppressed cells
  of the same output versions: one digest) release it; two rejections reject the run; any other
  pair is a disagreement, and the run goes back to its author with both comments.

Pure: :func:`check_reviewer` and :func:`outcome` decide from the manifest and the steps;
:func:`pooling.review.decision.decide` does the reading, the audit and the release.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from pooling.core.config import ReviewSettings
from pooling.core.errors import ReviewError
from pooling.outputs.manifest import (
    APPROVED,
    PENDING,
    REJECTED,
    RETURNED,
    Review,
    RunManifest,
    RunStatus,
)

REQUIRED = 2  # independent reviewers per release


def check_reviewer(manifest: RunManifest, reviewer: str, settings: ReviewSettings) -> None:
    """Refuse a reviewer who may not take the next step on this run, saying why."""
    ref = f"{manifest.project}/{manifest.run_id}"
    if reviewer not in settings.reviewers:
        raise ReviewError(
            f"{reviewer!r} is not a reviewer: only the {len(settings.reviewers)} name(s) in "
            "conf/review.yaml (reviewers:) may review outputs"
        )
    if manifest.status != PENDING:
        raise ReviewError(f"run {ref} was already decided: {manifest.status}")
    if manifest.author is not None and reviewer == manifest.author:
        raise ReviewError(f"{reviewer} ran {ref} and may not review it: two other reviewers must")
    done = [r for r in manifest.reviews if r.reviewer == reviewer]
    if done:
        raise ReviewError(
            f"{reviewer} has already reviewed {ref} ({done[0].verdict}); the second review "
            "must come from another reviewer"
        )


def release_digest(outputs: Sequence[str], suppressed: bool, facts: Mapping[str, object]) -> str:
    """One digest of what an approval releases: the outputs, whether suppressed, and per output
    its table version and (when suppressed) every hidden cell. Two approvals agree iff equal."""
    body = {"outputs": sorted(outputs), "suppressed": suppressed, "facts": facts}
    text = json.dumps(body, sort_keys=True, default=str, ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True)
class Outcome:
    status: RunStatus  # PENDING: waits for the next reviewer
    summary: str  # plain words, for the CLI, the console and the run's decision
    reviewers: tuple[str, ...]


def outcome(steps: Sequence[Review]) -> Outcome:
    """Where the run stands after these steps (oldest first)."""
    who = tuple(s.reviewer for s in steps)
    last = steps[-1]
    if last.verdict == "return":
        return Outcome(RETURNED, f"returned to its author by {last.reviewer}: {last.reason}", who)
    if len(steps) < REQUIRED:
        return Outcome(
            PENDING,
            f"{last.verdict} by {last.reviewer}; {len(steps)} of {REQUIRED} reviews, "
            "nothing happens until a second reviewer decides",
            who,
        )
    first, second = steps[-REQUIRED], last
    comments = "; ".join(f"{s.reviewer} ({s.verdict}): {s.reason}" for s in (first, second))
    if first.verdict == second.verdict == "approve":
        if first.release_digest == second.release_digest:
            return Outcome(APPROVED, f"approved by {first.reviewer} and {second.reviewer}", who)
        return Outcome(
            RETURNED,
            "the two approvals are of different releases (outputs or suppression differ); "
            f"returned to its author with both comments: {comments}",
            who,
        )
    if first.verdict == second.verdict == "reject":
        return Outcome(REJECTED, f"rejected by {first.reviewer} and {second.reviewer}", who)
    return Outcome(
        RETURNED,
        f"the reviewers disagree; returned to its author with both comments: {comments}",
        who,
    )


def summary(manifest: RunManifest) -> str:
    """Where a run stands, in plain words (the queue, `pooling review list`)."""
    if manifest.review is not None:
        return manifest.review.reason
    if not manifest.reviews:
        return f"no review yet; needs {REQUIRED} reviewers"
    return outcome(manifest.reviews).summary
