"""The append-only audit register: every ingest, pool build, project run, query, review and release.

The table has ``delta.appendOnly = true``: Delta itself rejects an UPDATE or DELETE. Rows carry
counts, table paths and versions, key ids; never a raw identifier or key material.
"""

from __future__ import annotations

import json
import os
import pwd
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal, get_args

from pyspark.sql import SparkSession
from pyspark.sql.types import StringType, StructField, StructType, TimestampType

from pooling.core.errors import AuditError
from pooling.core.rows import local_rows
from pooling.core.storage import local_commit_lock
from pooling.core.tables import ensure_append_only, retry_on_conflict

SCHEMA = StructType(
    [
        StructField("event_id", StringType(), False),
        StructField("at", TimestampType(), False),
        StructField("actor", StringType(), False),
        StructField("action", StringType(), False),
        StructField("subject", StringType(), False),
        StructField("details", StringType(), True),  # JSON: counts, versions, key ids
    ]
)
DESCRIPTION = (
    "Append-only register of every ingest, pool build, project run, query, review and release"
)
_DDL = ", ".join(
    f"{f.name} {f.dataType.simpleString().upper()}{'' if f.nullable else ' NOT NULL'}"
    for f in SCHEMA.fields
)
# Every kind of event the register holds.
Action = Literal["ingest", "pool_build", "project_run", "query", "review", "release", "retention"]
ACTIONS: tuple[str, ...] = get_args(Action)


def current_actor() -> str:
    """The OS account this process runs as. From the password database, not from $USER or
    $LOGNAME (which any caller can set): the review's rules (the author may not review, two
    different reviewers) rest on it."""
    return pwd.getpwuid(os.geteuid()).pw_name


def record(
    spark: SparkSession,
    audit_path: str,
    *,
    action: Action,
    subject: str,
    details: Mapping[str, object],
    actor: str | None = None,
) -> str:
    """Append one event and return its id."""
    (event_id,) = record_many(
        spark, audit_path, [Event(action=action, subject=subject, details=details, actor=actor)]
    )
    return event_id


@dataclass(frozen=True)
class Event:
    action: Action
    subject: str
    details: Mapping[str, object]
    actor: str | None = None


def record_many(spark: SparkSession, audit_path: str, events: Sequence[Event]) -> list[str]:
    """Append several events in one commit (the SQL endpoint's spool) and return their ids."""
    for e in events:
        if e.action not in ACTIONS:
            raise AuditError(f"unknown audit action {e.action!r}; allowed: {ACTIONS}")
    now = datetime.now(UTC).replace(tzinfo=None)
    rows = [
        (
            uuid.uuid4().hex,
            now,
            e.actor or current_actor(),
            e.action,
            e.subject,
            json.dumps(e.details, sort_keys=True, default=str, ensure_ascii=False),
        )
        for e in events
    ]
    if not rows:
        return []
    batch = local_rows(spark, rows, SCHEMA)

    def append() -> None:
        with local_commit_lock(audit_path):  # every job and the SQL endpoint append here
            ensure(spark, audit_path)
            batch.write.format("delta").mode("append").save(audit_path)

    retry_on_conflict(append, table=audit_path)
    return [r[0] for r in rows]


def ensure(spark: SparkSession, audit_path: str) -> None:
    """Create the (empty, append-only) audit table if it does not exist yet."""
    ensure_append_only(spark, audit_path, _DDL, DESCRIPTION)
