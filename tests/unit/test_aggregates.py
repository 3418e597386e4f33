"""The gate in front of every project output: aggregates only, never a person or a pseudonym."""

import pytest
from pyspark.sql import functions as F

from pooling.core.errors import AggregateError
from pooling.outputs.aggregates import check_aggregate
from projects import Output

HEX = "a3" * 32  # shaped like a pool pseudonym


def _out(df, dims=("province_code",), count="persons"):
    return Output(df, dims=dims, title="t", how_to_read="h", count=count)


def test_an_aggregate_passes_and_reports_its_shape(spark):
    df = spark.createDataFrame([("10", 12), ("20", 1)], "province_code string, persons long")
    stats = check_aggregate("p", "o", _out(df), person_level=True)
    assert (stats.rows, stats.cells, stats.largest_cell) == (2, 2, 12)


def test_a_pseudonym_column_is_refused_by_name(spark):
    df = spark.createDataFrame(
        [(HEX, "10", 3)], "pool_pseudonym string, province_code string, persons long"
    )
    with pytest.raises(AggregateError, match=r"identifying column\(s\) \['pool_pseudonym'\]"):
        check_aggregate("p", "o", _out(df), person_level=True)


def test_pseudonym_values_under_another_name_are_refused_without_quoting_them(spark):
    df = spark.createDataFrame([("10", HEX, 3)], "province_code string, who string, persons long")
    with pytest.raises(
        AggregateError, match=r"shaped like pseudonyms in column\(s\) \['who'\]"
    ) as e:
        check_aggregate("p", "o", _out(df), person_level=True)
    assert HEX not in str(e.value)


def test_a_row_per_person_is_refused(spark):
    """A forgotten groupBy: every row counts one person, however many columns it has."""
    people = spark.createDataFrame(
        [("10", 51_000), ("10", 87_500), ("20", 12_000)], "province_code string, income int"
    ).withColumn("persons", F.lit(1))
    with pytest.raises(AggregateError, match="list of people, not an aggregate"):
        check_aggregate("p", "o", _out(people, dims=("province_code", "income")), person_level=True)


def test_more_than_one_row_per_cell_is_refused(spark):
    df = spark.createDataFrame([("10", 5), ("10", 7)], "province_code string, persons long")
    with pytest.raises(AggregateError, match=r"2 rows but 1 distinct \['province_code'\]"):
        check_aggregate("p", "o", _out(df), person_level=True)


def test_an_output_of_people_must_name_its_count_column(spark):
    df = spark.createDataFrame([("10", 5)], "province_code string, persons long")
    with pytest.raises(AggregateError, match="names no count column"):
        check_aggregate("p", "o", _out(df, count=None), person_level=True)
    # Place-and-time outputs have no people to count.
    assert check_aggregate("p", "o", _out(df, count=None), person_level=False).rows == 1


def test_declared_columns_must_exist(spark):
    df = spark.createDataFrame([("10", 5)], "province_code string, persons long")
    with pytest.raises(AggregateError, match=r"\['month'\]"):
        check_aggregate("p", "o", _out(df, dims=("province_code", "month")), person_level=True)
