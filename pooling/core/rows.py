"""A few rows made on the driver, as a DataFrame Spark can read without a Python worker.

``createDataFrame`` of a Python list pickles the rows into an RDD that Python workers unpickle at
every read: each audit event's append and each scalar subquery over such a frame ran a Spark job
with Python tasks (a one-row audit append 0.50 s, 0.30 s from Arrow; an HMAC's key lookup
0.39 s a query, 0.14 s). From an Arrow table the rows become a ``LocalRelation``, read in the
JVM, in the driver. An Arrow table also reads a naive timestamp in the session's time zone (UTC
under every profile), where the pickled path took the machine's own.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import pyarrow as pa
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql.pandas.types import to_arrow_schema
from pyspark.sql.types import StructType


def local_rows(
    spark: SparkSession, rows: Iterable[Sequence[object]], schema: StructType
) -> DataFrame:
    """``rows`` (tuples in ``schema``'s order) as a DataFrame of ``schema``."""
    names = schema.fieldNames()
    table = pa.Table.from_pylist(
        [dict(zip(names, r, strict=True)) for r in rows], schema=to_arrow_schema(schema)
    )
    return spark.createDataFrame(table, schema)
