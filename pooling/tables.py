"""Delta table I/O: every write is one atomic commit that also carries the table's metadata.

``CREATE OR REPLACE TABLE ... TBLPROPERTIES (...) AS SELECT`` writes data and properties in a single
Delta transaction, so a reader sees the old table or the new one, never a half-written one, and
never data without its description, key id or lineage.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

PREFIX = "pooling."


def _sql_string(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _ident(path: str) -> str:
    return "delta.`" + path.replace("`", "``") + "`"


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
) -> Written:
    """Atomically create or replace the Delta table at ``path`` with ``df`` and its metadata.

    Property keys are namespaced under ``pooling.``. Returns the new version and its row count
    (from the commit's own metrics, so no second pass over the data).
    """
    view = f"_pooling_write_{uuid.uuid4().hex}"
    with_comments(df, comments or {}).createOrReplaceTempView(view)
    props = ", ".join(
        f"{_sql_string(PREFIX + k)} = {_sql_string(str(v))}" for k, v in sorted(properties.items())
    )
    try:
        spark.sql(
            f"CREATE OR REPLACE TABLE {_ident(path)} USING DELTA "
            f"TBLPROPERTIES ({props}) AS SELECT * FROM `{view}`"
        )
    finally:
        spark.catalog.dropTempView(view)
    return last_commit(spark, path)


def last_commit(spark: SparkSession, path: str) -> Written:
    h = spark.sql(f"DESCRIBE HISTORY {_ident(path)} LIMIT 1").first()
    metrics = h["operationMetrics"] or {}
    return Written(path, int(h["version"]), int(metrics.get("numOutputRows", 0)))


def exists(spark: SparkSession, path: str) -> bool:
    from delta.tables import DeltaTable

    return DeltaTable.isDeltaTable(spark, path)


def properties(spark: SparkSession, path: str) -> dict[str, str]:
    """The ``pooling.*`` properties of a table, without the prefix.

    Read from the table's metadata, not ``SHOW TBLPROPERTIES``, which redacts any value matching
    ``spark.redaction.regex`` (the data class ``secret`` among them).
    """
    from delta.tables import DeltaTable

    props = DeltaTable.forPath(spark, path).detail().first()["properties"] or {}
    return {k[len(PREFIX) :]: v for k, v in props.items() if k.startswith(PREFIX)}


def read_version(spark: SparkSession, path: str, version: int | None = None) -> DataFrame:
    reader = spark.read.format("delta")
    if version is not None:
        reader = reader.option("versionAsOf", version)
    return reader.load(path)


def ensure_append_only(spark: SparkSession, path: str, schema_ddl: str, description: str) -> None:
    """Create an empty append-only table (Delta refuses UPDATE and DELETE on it) if missing."""
    spark.sql(
        f"CREATE TABLE IF NOT EXISTS {_ident(path)} ({schema_ddl}) USING DELTA "
        f"TBLPROPERTIES ('delta.appendOnly' = 'true', "
        f"{_sql_string(PREFIX + 'description')} = {_sql_string(description)})"
    )
