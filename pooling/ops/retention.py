"""Data lifecycle: destroy what has outlived its retention, and say exactly what that was.

Three rules, all from ``conf/``:

1. A raw landing extract is destroyed ``retention_days`` (its agency contract) after it was last
   ingested. The clock is the ingest recorded in the audit table; an extract that was never
   ingested is listed but left alone, and nothing outside the landing zone is ever touched.
2. A quarantine (raw rows, linkage zone) is destroyed ``retention_days`` after the extract it
   came from was ingested: the whole table, every version, when its latest extract has expired;
   otherwise the rows of expired extracts (upsert datasets) are deleted.
3. Superseded Delta versions are vacuumed after ``version_retention_hours`` per zone
   (``conf/lifecycle.yaml``); the audit table is append-only and never vacuumed.

``dry_run`` plans and reports without changing anything; a real run also appends one
``retention`` event to the audit table listing what was destroyed.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from pooling.core import audit, tables
from pooling.core.config import Conf
from pooling.core.errors import UnknownNameError
from pooling.core.storage import Storage
from pooling.core.zones import Zones
from pooling.ops.catalog import list_tables

log = logging.getLogger(
    "pooling.retention"
)  # the name it had before the layout: logs are read by it

# Zones whose old versions are vacuumed; the audit zone never is.
VACUUM_ZONES = ("linkage", "deidentified", "pools", "outputs")


@dataclass(frozen=True)
class Item:
    action: str  # destroy_extract | destroy_quarantine | delete_quarantine_rows | vacuum | keep
    target: str
    reason: str
    files: int = 0
    rows: int = 0


@dataclass
class RetentionReport:
    now: datetime
    dry_run: bool
    items: list[Item] = field(default_factory=list)

    def destroyed(self) -> list[Item]:
        return [i for i in self.items if i.action != "keep"]

    def render(self) -> str:
        verb = "would destroy" if self.dry_run else "destroyed"
        head = (
            f"retention as of {self.now:%Y-%m-%d %H:%M} UTC: {verb} {len(self.destroyed())} item(s)"
        )
        lines = [head]
        for i in self.items:
            size = ", ".join(
                x
                for x in (
                    f"{i.files} file(s)" if i.files else "",
                    f"{i.rows} row(s)" if i.rows else "",
                )
                if x
            )
            lines.append(f"  {i.action:<23} {i.target}" + (f" [{size}]" if size else ""))
            lines.append(f"  {'':<23} {i.reason}")
        return "\n".join(lines)


@dataclass(frozen=True)
class _Ingest:
    dataset: str  # agency.dataset
    source: str
    checksum: str
    at: datetime


def _ingests(spark: SparkSession, zones: Zones) -> list[_Ingest]:
    """Every ingest that wrote data, from the audit table (skipped re-ingests are not recorded)."""
    if not tables.exists(spark, zones.audit):
        return []
    rows = (
        tables.read_version(spark, zones.audit)
        .where(F.col("action") == "ingest")
        # As text in the session time zone (UTC): Python would convert to the machine's local time.
        .select("subject", F.date_format("at", "yyyy-MM-dd'T'HH:mm:ss").alias("at"), "details")
        .collect()
    )
    out = []
    for r in rows:
        d = json.loads(r["details"])
        at = datetime.fromisoformat(r["at"]).replace(tzinfo=UTC)
        out.append(_Ingest(r["subject"], d["source"], d["checksum"], at))
    return out


def _inside(storage: Storage, path: str, root: str) -> bool:
    path, root = storage.qualified(path), storage.qualified(root).rstrip("/")
    return path == root or path.startswith(root + "/")


def plan_and_apply(
    spark: SparkSession,
    conf: Conf,
    zones: Zones,
    *,
    dry_run: bool,
    now: datetime | None = None,
    actor: str | None = None,
) -> RetentionReport:
    """The three rules of the module docstring, in order; with ``dry_run`` nothing changes."""
    now = now or datetime.now(UTC)
    report = RetentionReport(now, dry_run)
    ingests = _ingests(spark, zones)
    _landing_extracts(Storage(spark), conf, zones, report, ingests)
    _quarantines(spark, conf, zones, report, ingests)
    _superseded_versions(spark, conf, zones, report)
    if not dry_run and report.destroyed():
        audit.record(
            spark,
            zones.audit,
            action="retention",
            subject="lifecycle",
            actor=actor,
            details={
                "as_of": now.isoformat(timespec="seconds"),
                "destroyed": [
                    {"action": i.action, "target": i.target, "files": i.files, "rows": i.rows}
                    for i in report.destroyed()
                ],
            },
        )
    log.info(report.render().splitlines()[0])
    return report


def _retention(conf: Conf, dataset: str) -> timedelta:
    agency, name = dataset.split(".")
    try:
        return timedelta(days=conf.dataset(agency, name).retention_days)
    except UnknownNameError:  # a dataset dropped from conf/: keep its data until it is back
        return timedelta(days=100 * 366)


def _landing_extracts(
    storage: Storage, conf: Conf, zones: Zones, report: RetentionReport, ingests: list[_Ingest]
) -> None:
    """Rule 1: landing extracts, by their latest ingest."""
    now, dry_run = report.now, report.dry_run
    latest: dict[str, _Ingest] = {}
    for i in ingests:
        key = storage.qualified(i.source)
        if key not in latest or i.at > latest[key].at:
            latest[key] = i
    for _, i in sorted(latest.items()):
        source = i.source  # as the ingest recorded it
        if not storage.exists(source):
            continue
        keep_until = i.at + _retention(conf, i.dataset)
        if not _inside(storage, source, zones.roots["landing"]):
            report.items.append(
                Item("keep", source, f"{i.dataset}: outside the landing zone, never touched here")
            )
        elif now >= keep_until:
            files = len(storage.files(source))
            if not dry_run:
                storage.delete(source, recursive=True)
            report.items.append(
                Item(
                    "destroy_extract",
                    source,
                    f"{i.dataset}: ingested {i.at:%Y-%m-%d}, retention "
                    f"{_retention(conf, i.dataset).days} days ended {keep_until:%Y-%m-%d}",
                    files=files,
                )
            )


def _quarantines(
    spark: SparkSession,
    conf: Conf,
    zones: Zones,
    report: RetentionReport,
    ingests: list[_Ingest],
) -> None:
    """Rule 2: quarantines, by the ingest time of the extracts their rows came from."""
    now, dry_run = report.now, report.dry_run
    ingested_at = {(i.dataset, i.checksum): i.at for i in ingests}
    for agency, name, _ in conf.datasets():
        path = zones.quarantine(agency, name)
        if not tables.exists(spark, path):
            continue
        dataset = f"{agency}.{name}"
        keep = _retention(conf, dataset)
        q = tables.read_version(spark, path)
        batches = {r[0]: r[1] for r in q.groupBy("source_checksum").count().collect()}
        expired = {
            c: n for c, n in batches.items() if now >= ingested_at.get((dataset, c), now) + keep
        }
        props = tables.properties(spark, path)
        last = datetime.fromisoformat(props["ingested_at"]) if "ingested_at" in props else None
        whole = last is not None and now >= last + keep and len(expired) == len(batches)
        if whole:
            storage = Storage(spark)
            files = len(storage.files(path))
            if not dry_run:
                storage.delete(path, recursive=True)
            report.items.append(
                Item(
                    "destroy_quarantine",
                    path,
                    f"{dataset}: last extract ingested {last:%Y-%m-%d}, retention "
                    f"{keep.days} days; every version destroyed",
                    files=files,
                    rows=sum(batches.values()),
                )
            )
        elif expired:
            if not dry_run:
                tables.delete_where(spark, path, F.col("source_checksum").isin(*sorted(expired)))
            report.items.append(
                Item(
                    "delete_quarantine_rows",
                    path,
                    f"{dataset}: rows of {len(expired)} expired extract(s); their files go at "
                    "the next vacuum of the linkage zone",
                    rows=sum(expired.values()),
                )
            )


def _superseded_versions(
    spark: SparkSession, conf: Conf, zones: Zones, report: RetentionReport
) -> None:
    """Rule 3: superseded Delta versions, vacuumed per zone (never the audit table)."""
    hours = conf.lifecycle.version_retention_hours
    storage = Storage(spark)
    for t in list_tables(spark, zones):
        zone = t.name.split(".")[0]
        if zone not in VACUUM_ZONES or zone not in hours or not storage.exists(t.path):
            continue
        files = tables.vacuum(spark, t.path, hours[zone], dry_run=report.dry_run)
        if files:
            report.items.append(
                Item(
                    "vacuum",
                    t.name,
                    f"files only versions superseded over {hours[zone]} h ago still used",
                    files=files,
                )
            )
