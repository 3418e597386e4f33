"""Water management: drought and flood risk per province and month, and the farm area exposed.

- ``drought_flood_risk``: per province and month, the rain that fell, the heaviest 7-day rain the
  forecasts announced, the reservoir's storage at the month's end, the risk these give, and the
  farm area exposed to it.
- ``forecast_skill``: per province, how far the 7-day rain forecasts were from the rain measured.

Place-and-time data only; farm plots enter the pool without a pseudonym, as area per province.
"""

from __future__ import annotations

from collections.abc import Mapping

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from projects import Chart, Output, register
from projects.common import correlation, rounded

# The risk rules, on a month's rain and the reservoir's storage (% of capacity) at its end.
DROUGHT_RAIN_MM = 50  # a month this dry ...
DROUGHT_STORAGE_PCT = 30  # ... with the reservoir this low
FLOOD_RAIN_MM = 500  # a month this wet ...
FLOOD_STORAGE_PCT = 60  # ... with the reservoir this full
RAIN_DAY_MM = 1.0


def _month(column: str) -> Column:
    return F.date_format(column, "yyyy-MM").alias("month")


def rain(pool: Mapping[str, DataFrame]) -> DataFrame:
    """Per province and month: rain (mean over the province's stations, summed over days)."""
    daily = pool["rainfall"].groupBy("province_code", "date").agg(F.avg("rain_mm").alias("mm"))
    return daily.groupBy("province_code", _month("date")).agg(
        rounded(F.sum("mm"), "rain_mm", 1),
        F.count(F.when(F.col("mm") >= RAIN_DAY_MM, True)).alias("rain_days"),
    )


def forecast_peaks(pool: Mapping[str, DataFrame]) -> DataFrame:
    """Per province and month of issue: the largest 7-day forecast total."""
    f = pool["rain_forecasts"]
    weekly = f.groupBy("province_code", "issued_on").agg(F.sum("rain_mm_forecast").alias("mm"))
    return weekly.groupBy("province_code", _month("issued_on")).agg(
        rounded(F.max("mm"), "max_forecast_7d_mm", 1)
    )


def storage(pool: Mapping[str, DataFrame]) -> DataFrame:
    """Per province and month: reservoir storage on the month's last reported day, % of capacity."""
    daily = (
        pool["reservoirs"]
        .groupBy("province_code", "date")
        .agg(F.sum("storage_mcm").alias("storage"), F.sum("capacity_mcm").alias("capacity"))
    )
    last = F.max_by(F.struct("storage", "capacity"), "date")
    return (
        daily.groupBy("province_code", _month("date"))
        .agg(last.alias("s"))
        .select(
            "province_code",
            "month",
            rounded(F.try_divide("s.storage", "s.capacity") * 100, "storage_pct_end", 1),
        )
    )


def farm_area(pool: Mapping[str, DataFrame]) -> DataFrame:
    return (
        pool["plots"]
        .groupBy("province_code")
        .agg(
            rounded(F.sum("area_rai"), "farm_area_rai", 1),
            rounded(F.sum(F.when(~F.col("irrigated"), F.col("area_rai"))), "rainfed_area_rai", 1),
        )
    )


def drought_flood_risk(pool: Mapping[str, DataFrame]) -> DataFrame:
    keys = ["province_code", "month"]
    m = (
        rain(pool)
        .join(storage(pool), keys, "full")
        .join(forecast_peaks(pool), keys, "left")
        .join(farm_area(pool), "province_code", "left")
    )
    risk = (
        F.when(
            (F.col("rain_mm") < DROUGHT_RAIN_MM)
            & (F.col("storage_pct_end") <= DROUGHT_STORAGE_PCT),
            "drought",
        )
        .when(
            (F.col("rain_mm") >= FLOOD_RAIN_MM) & (F.col("storage_pct_end") >= FLOOD_STORAGE_PCT),
            "flood",
        )
        .when(F.col("rain_mm").isNull() | F.col("storage_pct_end").isNull(), "unknown")
        .otherwise("normal")
    )
    # Drought hits the rainfed fields; a flood every field.
    exposed = (
        F.when(F.col("risk") == "drought", F.col("rainfed_area_rai"))
        .when(F.col("risk") == "flood", F.col("farm_area_rai"))
        .otherwise(F.lit(0.0))
    )
    return m.withColumn("risk", risk).withColumn(
        "exposed_area_rai", F.coalesce(exposed, F.lit(0.0))
    )


def forecast_skill(pool: Mapping[str, DataFrame]) -> DataFrame:
    observed = pool["rainfall"].groupBy("province_code", "date").agg(F.avg("rain_mm").alias("mm"))
    f = pool["rain_forecasts"].join(
        observed.withColumnRenamed("date", "forecast_date"), ["province_code", "forecast_date"]
    )
    error = F.col("rain_mm_forecast") - F.col("mm")
    return f.groupBy("province_code").agg(
        F.count(F.lit(1)).alias("forecasts"),
        rounded(F.avg(F.abs(error)), "mean_abs_error_mm"),
        rounded(F.avg(error), "bias_mm"),
        correlation("rain_mm_forecast", "mm", "corr_forecast_observed"),
    )


@register("water")
def run(pool: Mapping[str, DataFrame]) -> dict[str, Output]:
    return {
        "drought_flood_risk": Output(
            drought_flood_risk(pool),
            dims=("province_code", "month"),
            title="Drought and flood risk and the farm area exposed, by province and month",
            how_to_read=(
                "Each row is one province and month. rain_mm is the month's rain (rain_days: days "
                f"with {RAIN_DAY_MM} mm or more); storage_pct_end the reservoir's storage at the "
                "month's end as % of capacity; max_forecast_7d_mm the heaviest 7-day rain "
                f"forecast issued in the month. risk is 'drought' for under {DROUGHT_RAIN_MM} mm "
                f"with storage at most {DROUGHT_STORAGE_PCT}%, 'flood' for {FLOOD_RAIN_MM} mm or "
                f"more with storage at least {FLOOD_STORAGE_PCT}%. exposed_area_rai is the "
                "rainfed farm area under drought risk, all farm area under flood risk."
            ),
            chart=Chart(
                "Farm area exposed to drought or flood risk, by month (all provinces)",
                x="month",
                y=("exposed_area_rai",),
                series="risk",
                ylabel="rai",
            ),
        ),
        "forecast_skill": Output(
            forecast_skill(pool),
            dims=("province_code",),
            title="How close the 7-day rain forecasts came to the measured rain, by province",
            how_to_read=(
                "Each row is one province: the number of daily forecasts (7 per issue) matched "
                "with a measurement, their mean absolute error and mean error (bias: above 0 "
                "the forecasts were too wet) in mm, and their correlation with the measurements."
            ),
        ),
    }
