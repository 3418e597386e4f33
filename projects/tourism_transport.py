"""Tourism and transport: arrivals, passengers and road accidents per province and month.

- ``accidents_and_visitors``: per province and month, visitors, passengers, accidents, deaths and
  injuries, and accidents per 100,000 visitors.
- ``seasonality``: per month, national totals and each month's index against the monthly mean
  (1.0 = an average month), for visitors and for accidents.
- ``province_profile``: per province, the year's totals, the accident rate, the busiest accident
  month and how closely accidents follow visitors over the months (Pearson correlation).

Place-and-time data only: no person is in this project's pool.
"""

from __future__ import annotations

from collections.abc import Mapping

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from projects import Chart, Output, register
from projects.common import correlation, rounded

PER_VISITORS = 100_000


def monthly(pool: Mapping[str, DataFrame]) -> DataFrame:
    """One row per province and month with every dataset's total (null: the agency sent none)."""
    visitors = (
        pool["tourist_arrivals"]
        .groupBy("province_code", "month")
        .agg(
            F.sum("thai_visitors").alias("thai_visitors"),
            F.sum("foreign_visitors").alias("foreign_visitors"),
        )
    )
    passengers = (
        pool["passengers"]
        .groupBy("province_code", "month")
        .agg(
            F.sum("passengers").alias("passengers"),
            F.sum(F.when(F.col("mode") == "road", F.col("passengers"))).alias("road_passengers"),
        )
    )
    accidents = (
        pool["road_accidents"]
        .withColumn("month", F.date_format("date", "yyyy-MM"))
        .groupBy("province_code", "month")
        .agg(
            F.sum("accidents").alias("accidents"),
            F.sum("deaths").alias("deaths"),
            F.sum("injuries").alias("injuries"),
        )
    )
    keys = ["province_code", "month"]
    return (
        visitors.join(passengers, keys, "full")
        .join(accidents, keys, "full")
        .withColumn("visitors", F.col("thai_visitors") + F.col("foreign_visitors"))
    )


def _rate(accidents: Column | str, visitors: Column | str) -> Column:
    return rounded(F.try_divide(accidents, visitors) * PER_VISITORS, "accidents_per_100k_visitors")


def accidents_and_visitors(pool: Mapping[str, DataFrame]) -> DataFrame:
    m = monthly(pool)
    return m.select(
        "province_code",
        "month",
        "visitors",
        "thai_visitors",
        "foreign_visitors",
        "passengers",
        "road_passengers",
        "accidents",
        "deaths",
        "injuries",
        _rate("accidents", "visitors"),
    )


def seasonality(pool: Mapping[str, DataFrame]) -> DataFrame:
    national = (
        monthly(pool)
        .groupBy("month")
        .agg(*[F.sum(c).alias(c) for c in ("visitors", "passengers", "accidents", "deaths")])
    )
    # The year's average month: one row, joined to each of the twelve.
    average = national.agg(
        F.avg("visitors").alias("avg_visitors"), F.avg("accidents").alias("avg_accidents")
    )
    return national.crossJoin(average).select(
        "month",
        "visitors",
        "passengers",
        "accidents",
        "deaths",
        rounded(F.try_divide("visitors", "avg_visitors"), "visitor_index"),
        rounded(F.try_divide("accidents", "avg_accidents"), "accident_index"),
        _rate("accidents", "visitors"),
    )


def province_profile(pool: Mapping[str, DataFrame]) -> DataFrame:
    m = monthly(pool)
    return m.groupBy("province_code").agg(
        F.count("month").alias("months"),
        F.sum("visitors").alias("visitors"),
        F.sum("accidents").alias("accidents"),
        F.sum("deaths").alias("deaths"),
        _rate(F.sum("accidents"), F.sum("visitors")),
        F.max_by("month", "accidents").alias("peak_accident_month"),
        correlation("visitors", "accidents", "corr_visitors_accidents"),
    )


@register("tourism_transport")
def run(pool: Mapping[str, DataFrame]) -> dict[str, Output]:
    return {
        "accidents_and_visitors": Output(
            accidents_and_visitors(pool),
            dims=("province_code", "month"),
            title="Road accidents against visitors and passengers, by province and month",
            how_to_read=(
                "Each row is one province and month. visitors is Thai plus foreign arrivals; "
                "passengers all modes (road_passengers: road only); accidents, deaths and injuries "
                "are the month's totals. accidents_per_100k_visitors relates the two; it is high "
                "where few visitors come, so read it with the visitor numbers. An empty value "
                "means the agency sent no figure for that month."
            ),
            chart=Chart(
                "Road accidents per 100,000 visitors, by month (all provinces)",
                x="month",
                y=("accidents",),
                per="visitors",
                scale=PER_VISITORS,
                ylabel="accidents per 100,000 visitors",
                kind="line",
            ),
        ),
        "seasonality": Output(
            seasonality(pool),
            dims=("month",),
            title="Seasonality of visitors and road accidents (national, by month)",
            how_to_read=(
                "Each row is one month, summed over all provinces. visitor_index and "
                "accident_index compare the month with the year's average month (1.0): "
                "above 1 is a busier month than average."
            ),
            chart=Chart(
                "Seasonal index of visitors and road accidents (1.0 = an average month)",
                x="month",
                y=("visitor_index", "accident_index"),
                ylabel="index",
                kind="line",
            ),
        ),
        "province_profile": Output(
            province_profile(pool),
            dims=("province_code",),
            title="The year per province: accident rate, peak month, link to tourism",
            how_to_read=(
                "Each row is one province over the year. corr_visitors_accidents is the Pearson "
                "correlation of monthly visitors and monthly accidents (1: they rise and fall "
                "together; 0: no linear relation); peak_accident_month the month with the most "
                "accidents."
            ),
        ),
    }
