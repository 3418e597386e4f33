"""The append-only audit register: every ingest, pool build, project run, query, review and release.

The table has ``delta.appendOnly = true``: Delta itself rejects an UPDATE or DELETE. Rows carry
counts, table paths and versions, key ids; never a raw identifier or key material.
"""

from __future__ import annotations

import getpass
import json
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Literal, get_args

from pyspark.sql import SparkSession
from pyspark.sql.types import StringType, StructField, StructType, TimestampType

from pooling.core.errors import AuditError
from pooling.core.tables import ensure_append_only, local_writer_lock

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
    return getpass.getuser()


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
    if action not in ACTIONS:
        raise AuditError(f"unknown audit action {action!r}; allowed: {ACTIONS}")
    event_id = uuid.uuid4().hex
    row = (
        event_id,
        datetime.now(UTC).replace(tzinfo=None),
        actor or current_actor(),
        action,
        subject,
        json.dumps(details, sort_keys=True, default=str, ensure_ascii=False),
    )
    event = spark.createDataFrame([row], SCHEMA)
    with local_writer_lock(audit_path):  # every job and the SQL endpoint append here
        ensure_append_only(spark, audit_path, _DDL, DESCRIPTION)
        event.write.format("delta").mode("append").save(audit_path)
    return event_id
