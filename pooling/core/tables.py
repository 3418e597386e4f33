"""Delta table I/O: every write is one atomic commit that also carries the table's metadata.

``CREATE OR REPLACE TABLE ... TBLPROPERTIES (...) AS SELECT`` writes data and properties in a single
Delta transaction, so a reader sees the old table or the new one, never a half-written one, and
never data without its description, key id or lineage.
"""

from __future__ import annotations

import json
import logging
import random
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TypeVar

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from pooling.core.errors import InternalError, TableNotFoundError, WriteConflictError
from pooling.core.storage import Storage
from pseudonymize.sql import sql_name, sql_string

log = logging.getLogger("pooling.tables")
T = TypeVar("T")
PREFIX = "pooling."
CONSTRAINT_PREFIX = "delta.constraints."
_USER_METADATA = "spark.databricks.delta.commitInfo.userMetadata"
_VACUUM_CHECK = "spark.databricks.delta.retentionDurationCheck.enabled"
_DELETED_FILE_RETENTION = "delta.deletedFileRetentionDuration"


def _ident(path: str) -> str:
    return "delta." + sql_name(path)


def with_comments(df: DataFrame, comments: Mapping[str, str]) -> DataFrame:
    """Attach column comments (stored in the Delta schema, shown by DESCRIBE)."""
    return df.select(
        *[
            F.col(c).alias(c, metadata={"comment": comments[c]}) if c in comments else F.col(c)
            for c in df.columns
        ]
    )


@dataclass(frozen=True)
class Written:
    path: str
    version: int
    rows: int


def replace_table(
    spark: SparkSession,
    df: DataFrame,
    path: str,
    properties: Mapping[str, str],
    comments: Mapping[str, str] | None = None,
    *,
    constraints: Mapping[str, str] | None = None,
    cluster_by: Sequence[str] = (),
    commit_info: Mapping[str, str] | None = None,
) -> Written:
    """Atomically create or replace the Delta table at ``path`` with ``df`` and its metadata.

    Property keys are namespaced under ``pooling.``. ``constraints`` (name → SQL condition) become
    Delta CHECK constraints in the same commit, so the new data is checked against them before it
    becomes visible, and every later write is too. ``cluster_by`` sets liquid clustering columns.
    ``commit_info`` is stored in the commit itself (``userMetadata`` in the table history).
    Returns the new version and its row count (from the commit's own metrics, so no second pass
    over the data).
    """
    view = f"_pooling_write_{uuid.uuid4().hex}"
    with_comments(df, comments or {}).createOrReplaceTempView(view)
    all_props = {PREFIX + k: str(v) for k, v in properties.items()}
    all_props.update({CONSTRAINT_PREFIX + k: v for k, v in (constraints or {}).items()})
    props = ", ".join(f"{sql_string(k)} = {sql_string(v)}" for k, v in sorted(all_props.items()))
    cluster = f"CLUSTER BY ({', '.join(f'`{c}`' for c in cluster_by)}) " if cluster_by else ""
    body = (
        f"TABLE {_ident(path)} USING DELTA {cluster}TBLPROPERTIES ({props}) "
        f"AS SELECT * FROM `{view}`"
    )
    try:
        with commit_metadata(spark, commit_info):
            # A plain CREATE where there is no table yet: Delta's REPLACE path costs about a
            # quarter of a second more a write (0.84 s against 0.59 s for 1,000 rows). A table
            # created in between makes it a replace, as before; a commit conflict stays one.
            if exists(spark, path):
                spark.sql(f"CREATE OR REPLACE {body}")
            else:
                try:
                    spark.sql(f"CREATE {body}")
                except Exception as e:
                    if is_conflict(e) or not exists(spark, path):
                        raise
                    spark.sql(f"CREATE OR REPLACE {body}")
    finally:
        spark.catalog.dropTempView(view)
    return last_commit(spark, path)


@contextmanager
def commit_metadata(spark: SparkSession, info: Mapping[str, str] | None) -> Iterator[None]:
    """Attach ``info`` (as JSON) to the Delta commits made inside the block.

    It lands in the same commit as the data, so a check such as "was this extract already merged?"
    can never see data without its batch id, or the reverse.
    """
    if not info:
        yield
        return
    spark.conf.set(_USER_METADATA, json.dumps(dict(info), sort_keys=True))
    try:
        yield
    finally:
        spark.conf.unset(_USER_METADATA)


def commit_infos(spark: SparkSession, path: str) -> list[dict[str, str]]:
    """The ``commit_info`` of every commit still in the table's history, newest first."""
    rows = spark.sql(f"DESCRIBE HISTORY {_ident(path)}").select("userMetadata").collect()
    out = []
    for r in rows:
        try:
            out.append(json.loads(r["userMetadata"]) if r["userMetadata"] else {})
        except ValueError:
            out.append({})
    return out


@dataclass(frozen=True)
class Merged:
    path: str
    version: int
    inserted: int
    updated: int


def upsert(
    spark: SparkSession,
    df: DataFrame,
    path: str,
    key: str,
    commit_info: Mapping[str, str] | None = None,
) -> Merged:
    """MERGE ``df`` into the table at ``path`` on ``key``: new keys are inserted, keys whose row
    changed are updated, identical rows are left alone. One commit, checked against the table's
    constraints. ``df`` must hold at most one row per key."""
    from delta.tables import DeltaTable

    target = DeltaTable.forPath(spark, path)
    others = [c for c in df.columns if c != key]
    changed = " OR ".join(f"NOT (t.`{c}` <=> s.`{c}`)" for c in others) or "false"
    with commit_metadata(spark, commit_info):
        (
            target.alias("t")
            .merge(df.alias("s"), f"t.`{key}` = s.`{key}`")
            .whenMatchedUpdateAll(condition=changed)
            .whenNotMatchedInsertAll()
            .execute()
        )
    h = spark.sql(f"DESCRIBE HISTORY {_ident(path)} LIMIT 1").first()
    m = h["operationMetrics"] or {}
    return Merged(
        path,
        int(h["version"]),
        int(m.get("numTargetRowsInserted", 0)),
        int(m.get("numTargetRowsUpdated", 0)),
    )


def commit_with(spark: SparkSession, path: str, info: Mapping[str, str]) -> Merged:
    """The newest commit still in the history that carries ``info``, as a merge's figures (a
    table's first write counts all its rows as inserted)."""
    history = spark.sql(f"DESCRIBE HISTORY {_ident(path)}").collect()
    for h in history:
        try:
            carried = json.loads(h["userMetadata"]) if h["userMetadata"] else {}
        except ValueError:
            continue
        if carried != dict(info):
            continue
        m = h["operationMetrics"] or {}
        if h["operation"] == "MERGE":
            inserted = int(m.get("numTargetRowsInserted", 0))
            updated = int(m.get("numTargetRowsUpdated", 0))
        else:
            inserted, updated = int(m.get("numOutputRows", 0)), 0
        return Merged(path, int(h["version"]), inserted, updated)
    raise InternalError(f"{path}: no commit in its history carries {dict(info)}")


def set_properties(spark: SparkSession, path: str, properties: Mapping[str, str]) -> None:
    """Update ``pooling.*`` properties (a metadata-only commit)."""
    props = ", ".join(
        f"{sql_string(PREFIX + k)} = {sql_string(str(v))}" for k, v in sorted(properties.items())
    )
    spark.sql(f"ALTER TABLE {_ident(path)} SET TBLPROPERTIES ({props})")


def _snapshot(spark: SparkSession, path: str):
    """The table's latest snapshot, from Delta's log in the JVM: no Spark job, where a
    ``DESCRIBE`` runs one per call (measured: 13 ms against 320 ms a table, which is most of
    the catalog's time on a remote store)."""
    jvm = spark._jvm  # noqa: SLF001
    snapshot = jvm.org.apache.spark.sql.delta.DeltaLog.forTableWithSnapshot(
        spark._jsparkSession,  # noqa: SLF001
        path,
    )._2()
    if snapshot.version() < 0:
        raise TableNotFoundError(f"{path} is not a Delta table")
    return snapshot


def current_version(spark: SparkSession, path: str) -> int:
    return int(_snapshot(spark, path).version())


def _delta_properties(spark: SparkSession, path: str) -> dict[str, str]:
    """All of the table's properties, from its metadata (``SHOW TBLPROPERTIES`` redacts some)."""
    configuration = _snapshot(spark, path).metadata().configuration()
    converters = spark._jvm.scala.jdk.javaapi.CollectionConverters  # noqa: SLF001
    return dict(converters.asJava(configuration))


def constraints(spark: SparkSession, path: str) -> dict[str, str]:
    """The table's CHECK constraints, name → condition."""
    props = _delta_properties(spark, path)
    n = len(CONSTRAINT_PREFIX)
    return {k[n:]: v for k, v in props.items() if k.startswith(CONSTRAINT_PREFIX)}


def last_commit(spark: SparkSession, path: str) -> Written:
    """The table's latest version and the rows its commit wrote.

    Read from the commit's own file in ``_delta_log`` (its ``commitInfo`` action, part of the
    Delta protocol), where ``DESCRIBE HISTORY`` runs a Spark job: 90 ms against a few, after
    every one of the ~90 writes of a demo.
    """
    version = current_version(spark, path)
    commit = Storage(spark).read_text(f"{path.rstrip('/')}/_delta_log/{version:020d}.json")
    metrics: dict[str, str] = {}
    for line in commit.splitlines():
        action = json.loads(line) if line.strip() else {}
        if "commitInfo" in action:
            metrics = action["commitInfo"].get("operationMetrics") or {}
    return Written(path, version, int(metrics.get("numOutputRows", 0)))


def exists(spark: SparkSession, path: str) -> bool:
    from delta.tables import DeltaTable

    return DeltaTable.isDeltaTable(spark, path)


def properties(spark: SparkSession, path: str) -> dict[str, str]:
    """The ``pooling.*`` properties of a table, without the prefix.

    Read from the table's metadata, not ``SHOW TBLPROPERTIES``, which redacts any value matching
    ``spark.redaction.regex`` (the data class ``secret`` among them).
    """
    props = _delta_properties(spark, path)
    return {k[len(PREFIX) :]: v for k, v in props.items() if k.startswith(PREFIX)}


def read_version(spark: SparkSession, path: str, version: int | None = None) -> DataFrame:
    reader = spark.read.format("delta")
    if version is not None:
        reader = reader.option("versionAsOf", version)
    return reader.load(path)


APPEND_ONLY_CHECKPOINT_INTERVAL = 100


def ensure_append_only(spark: SparkSession, path: str, schema_ddl: str, description: str) -> None:
    """Create an empty append-only table (Delta refuses UPDATE and DELETE on it) if missing.

    Through the builder API, not path SQL: the analysts' access driver, which audits their
    queries, runs with path-based SQL switched off.
    """
    from delta.tables import DeltaTable
    from pyspark.sql.types import _parse_datatype_string

    if exists(spark, path):
        return
    try:
        (
            DeltaTable.createIfNotExists(spark)
            .location(path)
            .addColumns(_parse_datatype_string(schema_ddl))
            .property("delta.appendOnly", "true")
            # An event a commit: Delta's checkpoint every 10th (its default) cost 2.5-9 s each
            # and doubled an append's mean (1.35 s against 0.67 s measured, one-row events).
            # Reading up to 100 small commit files to rebuild a snapshot costs less.
            .property("delta.checkpointInterval", str(APPEND_ONLY_CHECKPOINT_INTERVAL))
            .property(PREFIX + "description", description)
            .execute()
        )
    except Exception as e:
        # Two writers creating it at once (two audit events of a fresh store): the loser finds
        # the winner's log half-written, "not empty and not a Delta table". It exists a moment
        # later, which is all this wanted.
        if not (is_conflict(e) or "DELTA_CREATE_TABLE_WITH_NON_EMPTY_LOCATION" in str(e)):
            raise
        for _ in range(40):
            time.sleep(0.25)
            if exists(spark, path):
                return
        raise


def delete_where(spark: SparkSession, path: str, condition: Column) -> None:
    from delta.tables import DeltaTable

    DeltaTable.forPath(spark, path).delete(condition)


def vacuum(spark: SparkSession, path: str, retain_hours: int, *, dry_run: bool) -> int:
    """VACUUM the table: remove files that no version newer than ``retain_hours`` needs.

    Returns how many files were (or, with ``dry_run``, would be) removed. The retention comes from
    ``conf/lifecycle.yaml``; Delta's own guard against short retention (7 days) is lifted for
    this call only, since the policy, not the default, decides.
    """
    # Delta honours RETAIN only for 0 hours; otherwise the table property decides. Set it to the
    # policy first (a metadata-only commit, only when the policy and the table disagree).
    wanted = f"interval {int(retain_hours)} hours"
    if _delta_properties(spark, path).get(_DELETED_FILE_RETENTION) != wanted:
        spark.sql(
            f"ALTER TABLE {_ident(path)} SET TBLPROPERTIES "
            f"('{_DELETED_FILE_RETENTION}' = '{wanted}')"
        )
    check = spark.conf.get(_VACUUM_CHECK, "true")
    spark.conf.set(_VACUUM_CHECK, "false")
    try:
        listed = spark.sql(f"VACUUM {_ident(path)} RETAIN {int(retain_hours)} HOURS DRY RUN")
        files = listed.count()
        if files and not dry_run:
            spark.sql(f"VACUUM {_ident(path)} RETAIN {int(retain_hours)} HOURS")
        return files
    finally:
        spark.conf.set(_VACUUM_CHECK, check)


# Delta's answers to a commit that lost a race with another writer (delta.exceptions and the
# JVM's). A blind append never conflicts logically: it is retried against the new version.
_CONFLICTS = {
    "ConcurrentAppendException",
    "ConcurrentDeleteReadException",
    "ConcurrentDeleteDeleteException",
    "ConcurrentTransactionException",
    "ConcurrentWriteException",
    "MetadataChangedException",
    "ProtocolChangedException",
}


def is_conflict(error: BaseException) -> bool:
    names = {type(error).__name__}
    java = getattr(error, "java_exception", None)
    if java is not None:
        names.add(str(java.getClass().getSimpleName()))
    return bool(names & _CONFLICTS)


def retry_on_conflict(commit: Callable[[], T], *, table: str, attempts: int = 5) -> T:
    """Run ``commit``, again (up to ``attempts`` times, with a growing random wait) when Delta's
    optimistic concurrency says another writer committed first; then fail naming the table."""
    for attempt in range(1, attempts + 1):
        try:
            return commit()
        except Exception as e:
            if not is_conflict(e):
                raise
            if attempt == attempts:
                raise WriteConflictError(
                    f"{table}: {attempts} commits in a row lost to other writers "
                    f"({type(e).__name__}); try again when the other job has finished"
                ) from e
            log.info("%s: commit lost to another writer; retry %d", table, attempt)
            time.sleep(random.uniform(0.1, 0.4) * attempt)
    raise AssertionError("unreachable")
