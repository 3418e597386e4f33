"""The console's reading and deciding, on the same functions as the CLI (`pooling review`).

A run's review (its outputs read and every check run) takes seconds of Spark; it is kept until the
run's manifest changes, so the queue and the pages stay quick. One step at a time: Spark is shared
by the server's threads, and :func:`pooling.review.decide` locks the run across processes too.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from datetime import UTC, datetime

from pyspark.sql import SparkSession

from pooling import review
from pooling.core.config import Conf
from pooling.core.storage import Storage
from pooling.core.zones import Zones
from pooling.outputs import reports
from pooling.outputs.manifest import MANIFEST, RunManifest
from pooling.review.examine import RunReview
from pooling.review.release import is_released


@dataclass(frozen=True)
class QueueEntry:
    ref: str
    project: str
    title: str
    author: str
    age: str  # "3 h", "2 d": since the run
    worst: str  # "fail", "check" (a warning for the reviewer) or "pass"
    failing: tuple[str, ...]
    stands: str  # where the two-checker rule stands


def age(run_id: str, now: datetime | None = None) -> str:
    """How long ago a run (its id is its UTC start, ``%Y%m%dT%H%M%S%fZ``) was made."""
    started = datetime.strptime(run_id, "%Y%m%dT%H%M%S%fZ").replace(tzinfo=UTC)
    seconds = ((now or datetime.now(UTC)) - started).total_seconds()
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{int(seconds // size)} {unit}"
    return "just now"


def worst(r: RunReview) -> tuple[str, tuple[str, ...]]:
    failing = tuple(sorted({c for o in r.outputs.values() for c in o.failing}))
    warned = any(
        c.severity == "warn" and not c.passed for o in r.outputs.values() for c in o.checks
    )
    return ("fail" if failing else "check" if warned else "pass"), failing


class Desk:
    def __init__(self, spark: SparkSession, conf: Conf, zones: Zones) -> None:
        self.spark, self.conf, self.zones = spark, conf, zones
        self.storage = Storage(spark)
        self.lock = threading.RLock()
        self._reviews: dict[str, tuple[str, RunReview]] = {}

    def _manifest_text(self, ref: str) -> str:
        project, _, run_id = ref.partition("/")
        return self.storage.read_text(f"{self.zones.outputs(project, run_id)}/{MANIFEST}")

    def run(self, ref: str) -> RunReview:
        """The run's review, read again only when its manifest changed."""
        with self.lock:
            text = self._manifest_text(ref)
            held = self._reviews.get(ref)
            if held is None or held[0] != text:
                held = (text, review.review_run(self.spark, self.conf, self.zones, ref))
                self._reviews[ref] = held
            return held[1]

    def queue(self) -> list[QueueEntry]:
        with self.lock:
            entries = []
            for m in review.pending(self.storage, self.zones):
                ref = f"{m.project}/{m.run_id}"
                level, failing = worst(self.run(ref))
                entries.append(
                    QueueEntry(
                        ref,
                        m.project,
                        self.conf.project(m.project).title,
                        m.author or "unknown",
                        age(m.run_id),
                        level,
                        failing,
                        review.signoff_summary(m),
                    )
                )
            return entries

    def decide(self, ref: str, **step) -> RunReview:
        with self.lock:
            run = review.decide(
                self.spark, self.conf, self.zones, ref, reviewed=self.run(ref), **step
            )
            self._reviews[ref] = (self._manifest_text(ref), run)  # same outputs, new manifest
            return run

    def chart(self, ref: str, output: str, *, suppressed: bool) -> bytes | None:
        """The output's chart drawn from its cells, as computed or as suppression would release."""
        r = self.run(ref).outputs[output]
        if r.chart is None:
            return None
        frame = r.as_released(True) if suppressed else r.cells
        return reports.draw_cells(frame, r.meta.dims, r.chart)

    def released(self) -> list[dict]:
        """Every release: project, run, who approved, when, its outputs."""
        found = []
        root = self.zones.released("")
        for project in self.storage.list(root) if self.storage.exists(root) else []:
            for run in self.storage.list(project.uri) if project.is_dir else []:
                if run.is_dir and is_released(self.storage, run.uri):
                    found.append(self.release(f"{project.name}/{run.name}"))
        return sorted(found, key=lambda m: m["run_id"], reverse=True)

    def release(self, ref: str) -> dict:
        project, _, run_id = ref.partition("/")
        folder = self.zones.released(project, run_id)
        held = json.loads(self.storage.read_text(f"{folder}/{MANIFEST}"))
        return {**held, "folder": folder, "ref": ref}

    def released_file(self, ref: str, name: str) -> bytes:
        """A released CSV or chart, by the name its release manifest gives it."""
        held = self.release(ref)
        names = {o[k] for o in held["outputs"].values() for k in ("csv", "chart") if o.get(k)}
        if name not in names:
            raise KeyError(name)
        return self.storage.read_bytes(f"{held['folder']}/{name}")

    def manifest(self, ref: str) -> RunManifest:
        return RunManifest.model_validate(json.loads(self._manifest_text(ref)))
