"""Small building blocks the project modules share: one row per person, flags, counts."""

from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from pseudonymize.standard import POOL_PSEUDONYM as PP

__all__ = ["PP", "correlation", "count_if", "flag", "persons", "rounded"]


def persons(df: DataFrame, *columns: str) -> DataFrame:
    """One row per pool pseudonym: a person delivered twice still counts once."""
    return df.select(PP, *columns).dropDuplicates([PP])


def flag(base: DataFrame, others: DataFrame, name: str) -> DataFrame:
    """``base`` with a boolean column ``name``: does the person appear in ``others``?"""
    present = others.select(PP).distinct().withColumn(name, F.lit(True))
    return base.join(present, PP, "left").withColumn(name, F.coalesce(F.col(name), F.lit(False)))


def count_if(condition: Column | str, name: str) -> Column:
    """How many rows of the group satisfy ``condition`` (0, not null, when none do)."""
    cond = F.col(condition) if isinstance(condition, str) else condition
    return F.count(F.when(cond, True)).alias(name)


def rounded(column: Column, name: str, digits: int = 2) -> Column:
    return F.round(column, digits).alias(name)


def correlation(x: str, y: str, name: str) -> Column:
    """Pearson correlation, null (not an error) when either side does not vary in the group.

    ``F.corr`` divides by zero under ANSI mode for a constant column, e.g. a province without
    a single hotspot in the rainy season.
    """
    spread = F.stddev_pop(x) * F.stddev_pop(y)
    return F.round(F.try_divide(F.covar_pop(x, y), spread), 2).alias(name)
