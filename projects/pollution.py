"""Environmental pollution: satellite hotspots, PM2.5 and respiratory visits.

- ``haze_and_health``: per province and season, days measured and above the national PM2.5
  standard, mean and highest PM2.5, hotspots, respiratory visits, and how closely PM2.5 follows
  the hotspots and the visits follow PM2.5 from day to day.
- ``days_above_standard``: per province over the year, days measured and days above the standard.

Respiratory visits come already aggregated per province and day: no person is in this pool.
"""

from __future__ import annotations

from collections.abc import Mapping

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from projects import Chart, Output, register
from projects.common import correlation, count_if, rounded

# The national 24-hour PM2.5 standard (Pollution Control Department, since 1 June 2023), µg/m³.
PM25_STANDARD = 37.5
# The haze season is when the north and north-east burn fields and forest.
SEASONS = (("haze", (1, 2, 3, 4)), ("rainy", (5, 6, 7, 8, 9, 10)), ("cool", (11, 12)))


def season(date: str) -> Column:
    month = F.month(date)
    expr = None
    for name, months in SEASONS:
        expr = (
            F.when(month.isin(*months), name)
            if expr is None
            else expr.when(month.isin(*months), name)
        )
    return expr.alias("season")


def daily(pool: Mapping[str, DataFrame]) -> DataFrame:
    """One row per province and day: PM2.5 (mean over stations), hotspots, respiratory visits."""
    keys = ["province_code", "date"]
    pm = pool["pm25"].groupBy(*keys).agg(F.avg("pm25_ugm3").alias("pm25"))
    fires = pool["hotspots"].groupBy(*keys).agg(F.count(F.lit(1)).alias("hotspots"))
    visits = pool["respiratory_visits"].groupBy(*keys).agg(F.sum("visits").alias("visits"))
    return (
        pm.join(visits, keys, "full")
        .join(fires, keys, "left")  # a day without a hotspot row had none
        .withColumn("hotspots", F.coalesce("hotspots", F.lit(0)))
    )


def _air() -> list[Column]:
    return [
        F.count("pm25").alias("days_measured"),
        count_if(F.col("pm25") > PM25_STANDARD, "days_above"),
    ]


def haze_and_health(pool: Mapping[str, DataFrame]) -> DataFrame:
    return (
        daily(pool)
        .groupBy("province_code", season("date"))
        .agg(
            *_air(),
            rounded(F.avg("pm25"), "mean_pm25_ugm3", 1),
            rounded(F.max("pm25"), "max_pm25_ugm3", 1),
            F.sum("hotspots").alias("hotspots"),
            F.sum("visits").alias("respiratory_visits"),
            correlation("hotspots", "pm25", "corr_hotspots_pm25"),
            correlation("pm25", "visits", "corr_pm25_visits"),
        )
    )


def days_above_standard(pool: Mapping[str, DataFrame]) -> DataFrame:
    return daily(pool).groupBy("province_code").agg(*_air())


@register("pollution")
def run(pool: Mapping[str, DataFrame]) -> dict[str, Output]:
    return {
        "haze_and_health": Output(
            haze_and_health(pool),
            dims=("province_code", "season"),
            title="Hotspots, PM2.5 and respiratory visits, by province and season",
            how_to_read=(
                "Each row is one province and season (haze: January-April; rainy: May-October; "
                "cool: November-December). days_above counts days whose mean PM2.5 was above "
                f"the national standard of {PM25_STANDARD} µg/m³. The correlations are over the "
                "season's days: hotspots against PM2.5, PM2.5 against respiratory visits (1: "
                "they rise and fall together; 0: no linear relation)."
            ),
            chart=Chart(
                f"Days with PM2.5 above the standard ({PM25_STANDARD} µg/m³), by season",
                x="season",
                y=("days_above",),
                per="days_measured",
                scale=100,
                ylabel="% of days measured",
            ),
        ),
        "days_above_standard": Output(
            days_above_standard(pool),
            dims=("province_code",),
            title="Days with PM2.5 above the national standard in the year, by province",
            how_to_read=(
                "Each row is one province: days with a PM2.5 measurement, and of them days "
                f"whose mean was above {PM25_STANDARD} µg/m³."
            ),
            chart=Chart(
                "Days with PM2.5 above the standard, by province",
                x="province_code",
                y=("days_above",),
                ylabel="days",
            ),
        ),
    }
