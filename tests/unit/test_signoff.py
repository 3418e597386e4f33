"""The two-checker rule on its own (no Spark): who may review, and where two steps leave a run."""

import json

import pytest

from pooling.core.config import ReviewSettings
from pooling.core.errors import ReviewError
from pooling.outputs.manifest import APPROVED, PENDING, REJECTED, RETURNED, Review, RunManifest
from pooling.review import signoff
from tests.unit.test_manifest import REMOTE_RUN

SETTINGS = ReviewSettings(reviewers=["ann", "bob", "cat"])


def _manifest(**changes) -> RunManifest:
    return RunManifest.model_validate(json.loads(REMOTE_RUN)).model_copy(update=changes)


def _step(who: str, verdict: str, digest: str | None = "d1") -> Review:
    return Review(
        reviewer=who,
        verdict=verdict,
        reason=f"{who} says {verdict}",
        at="2026-12-02T00:00:00+00:00",
        outputs=["plain"] if verdict == "approve" else [],
        release_digest=digest if verdict == "approve" else None,
    )


def test_only_listed_reviewers_other_than_the_author_review_once():
    m = _manifest(author="cat")
    signoff.check_reviewer(m, "ann", SETTINGS)  # positive control: a listed reviewer may
    with pytest.raises(ReviewError, match="'zed' is not a reviewer"):
        signoff.check_reviewer(m, "zed", SETTINGS)
    with pytest.raises(ReviewError, match="cat ran .* and may not review it"):
        signoff.check_reviewer(m, "cat", SETTINGS)
    once = m.reviewed(_step("ann", "approve"))
    with pytest.raises(ReviewError, match="ann has already reviewed .* another reviewer"):
        signoff.check_reviewer(once, "ann", SETTINGS)
    signoff.check_reviewer(once, "bob", SETTINGS)
    with pytest.raises(ReviewError, match="already decided: approved"):
        signoff.check_reviewer(_manifest(status=APPROVED), "bob", SETTINGS)


def test_one_approval_decides_nothing_two_of_the_same_release_approve():
    assert signoff.outcome([_step("ann", "approve")]).status == PENDING
    assert signoff.outcome([_step("ann", "reject")]).status == PENDING
    both = signoff.outcome([_step("ann", "approve"), _step("bob", "approve")])
    assert both.status == APPROVED and both.reviewers == ("ann", "bob")
    assert signoff.outcome([_step("ann", "reject"), _step("bob", "reject")]).status == REJECTED


def test_disagreement_or_different_releases_go_back_with_both_comments():
    split = signoff.outcome([_step("ann", "approve"), _step("bob", "reject")])
    assert split.status == RETURNED
    assert "ann says approve" in split.summary and "bob says reject" in split.summary
    other = signoff.outcome([_step("ann", "approve", "d1"), _step("bob", "approve", "d2")])
    assert other.status == RETURNED and "different releases" in other.summary
    back = signoff.outcome([_step("ann", "return")])
    assert back.status == RETURNED and "ann says return" in back.summary


def test_the_release_digest_changes_with_outputs_suppression_and_cells():
    facts = {"plain": {"source": ["/p", 0], "cells": [{"sex": "F", "column": "n"}]}}
    d = signoff.release_digest(["plain"], True, facts)
    assert d == signoff.release_digest(["plain"], True, json.loads(json.dumps(facts)))
    assert d != signoff.release_digest(["plain"], False, facts)
    assert d != signoff.release_digest(["plain", "other"], True, facts)
    moved = {"plain": {"source": ["/p", 1], "cells": facts["plain"]["cells"]}}
    assert d != signoff.release_digest(["plain"], True, moved)
