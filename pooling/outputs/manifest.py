"""A run's ``manifest.json``: written last by a project run, read by the review and the CLI.

One typed model instead of a dict read back by key, and the run statuses defined once. The
review adds each reviewer's step (``reviews``) and, once two have agreed or a run is sent back,
the decision (``review``) to the same file. The JSON is the one runs always wrote: same keys, same
order, ``indent=2`` (``review`` only once decided, ``reviews`` only once someone reviewed).
"""

from __future__ import annotations

import json
from enum import StrEnum
from typing import Any, Literal

from pooling.core.config import DisclosureSettings
from pooling.core.storage import Storage
from pseudonymize.model import Strict

MANIFEST = "manifest.json"


class RunStatus(StrEnum):
    PENDING = "pending_review"
    APPROVED = "approved"
    REJECTED = "rejected"
    RETURNED = "returned"  # sent back to its author, with the reviewers' comments


PENDING, APPROVED, REJECTED = RunStatus.PENDING, RunStatus.APPROVED, RunStatus.REJECTED
RETURNED = RunStatus.RETURNED


class _ByKey(Strict):
    """Read by key as well (``manifest["run_id"]``), as the dict it was: scripts that read the
    manifest that way keep working."""

    def __getitem__(self, key: str) -> Any:
        if key not in type(self).model_fields:
            raise KeyError(key)
        return getattr(self, key)


class OutputEntry(_ByKey):
    """One output of the run: where its table is and what the review needs to check it."""

    path: str
    version: int
    rows: int
    title: str
    dims: tuple[str, ...]
    count_column: str | None
    people_counts: tuple[str, ...]
    dominance_support: str | None  # the largest contributions per cell (magnitude outputs)
    headline: bool
    chart: str | None  # the PNG's file name in the run folder
    chart_spec: dict[str, Any] | None  # projects.Chart as JSON


class Decision(_ByKey):
    """The secretariat's decision on the run (``reviewer``: every reviewer who took part)."""

    decision: RunStatus
    reviewer: str
    reason: str
    outputs: list[str]


class Review(_ByKey):
    """One reviewer's step: approve a release, reject, or return the run to its author."""

    reviewer: str
    verdict: Literal["approve", "reject", "return"]
    reason: str
    at: str  # ISO 8601, UTC
    # What an approval would release: which outputs, suppressed or not, and a digest of the
    # suppressed cells, so that two approvals are of the same release, cell for cell.
    outputs: list[str] = []
    suppressed: bool = False
    release_digest: str | None = None


class RunManifest(_ByKey):
    project: str
    run_id: str
    status: RunStatus
    created: str
    pool_versions: dict[str, int]
    outputs: dict[str, OutputEntry]
    report: str | None  # report.md, for a run on local disk
    disclosure: DisclosureSettings
    author: str | None = None  # who ran the project: they may not review this run
    reviews: list[Review] = []
    review: Decision | None = None

    def to_dict(self) -> dict[str, Any]:
        """As written to disk and to the audit event (``review`` only once decided)."""
        unset = {"review"} if self.review is None else set()
        unset |= {"reviews"} if not self.reviews else set()
        unset |= {"author"} if self.author is None else set()
        return self.model_dump(exclude=unset)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2) + "\n"

    def write(self, storage: Storage, directory: str) -> str:
        uri = f"{directory.rstrip('/')}/{MANIFEST}"
        storage.write_text(uri, self.to_json())
        return uri

    @classmethod
    def read(cls, storage: Storage, uri: str) -> RunManifest:
        return cls.model_validate(json.loads(storage.read_text(uri)))

    def decided(
        self, decision: RunStatus, *, reviewer: str, reason: str, outputs: list[str]
    ) -> RunManifest:
        review = Decision(decision=decision, reviewer=reviewer, reason=reason, outputs=outputs)
        return self.model_copy(update={"status": decision, "review": review})

    def reviewed(self, step: Review) -> RunManifest:
        """With one more reviewer's step (the run still waits for the next)."""
        return self.model_copy(update={"reviews": [*self.reviews, step]})
