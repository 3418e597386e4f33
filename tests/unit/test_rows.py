"""Rows made on the driver (audit events, risk figures, the HMAC's key) become a LocalRelation:
read in the driver, with no Spark job and no Python worker at each read, and with the values as
given, a naive timestamp read in the session's time zone."""

from datetime import datetime

from pyspark.sql.types import (
    BinaryType,
    DoubleType,
    LongType,
    StringType,
    StructField,
    StructType,
    TimestampType,
)

from pooling.core.rows import local_rows

SCHEMA = StructType(
    [
        StructField("name", StringType(), False),
        StructField("at", TimestampType(), False),
        StructField("n", LongType(), True),
        StructField("share", DoubleType(), False),
        StructField("raw", BinaryType(), True),
    ]
)
ROWS = [
    ("สมชาย", datetime(2026, 12, 7, 3, 4, 5, 600000), 7, 0.25, b"\x00\xff"),
    ("b", datetime(2026, 1, 1), None, 1.0, None),
]


def _leaves(plan) -> list[str]:
    found = []
    todo = [plan]
    while todo:
        node = todo.pop()
        children = node.children()
        if children.isEmpty():
            found.append(node.getClass().getSimpleName())
        todo.extend(children.apply(i) for i in range(children.size()))
    return found


def test_local_rows_are_a_local_relation_with_the_values_given(spark):
    df = local_rows(spark, ROWS, SCHEMA)
    assert df.schema == SCHEMA
    assert _leaves(df._jdf.queryExecution().analyzed()) == ["LocalRelation"]
    assert spark.conf.get("spark.sql.session.timeZone") == "UTC"
    want = [(*r[:4], None if r[4] is None else bytearray(r[4])) for r in ROWS]
    assert [tuple(r) for r in df.collect()] == want


def test_a_pickled_list_would_be_caught(spark):
    """Guards the test above: the frame Spark makes of a Python list is another leaf."""
    df = spark.createDataFrame(ROWS, SCHEMA)
    assert _leaves(df._jdf.queryExecution().analyzed()) != ["LocalRelation"]


def test_no_rows_is_an_empty_frame_of_the_schema(spark):
    df = local_rows(spark, [], SCHEMA)
    assert df.schema == SCHEMA and df.count() == 0
