"""Agriculture: farm households, the state-welfare registry and farm-gate crop prices.

- ``farm_households_in_registry``: registered farm households by province and main crop, and how
  many of their heads are in the state-welfare registry.
- ``price_exposure``: for farm households in the registry, by province and crop, the plots and
  area they grow it on, and how far that crop's monthly farm-gate price swung in the province
  over the year: the income risk the poorest farmers carry.
"""

from __future__ import annotations

from collections.abc import Mapping

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from projects import Chart, Output, register
from projects.common import PP, count_if, flag, persons, rounded


def farm_households_in_registry(pool: Mapping[str, DataFrame]) -> DataFrame:
    farmers = flag(
        persons(pool["farmer_registry"], "province_code", "main_crop"),
        pool["welfare_registry"],
        "in_welfare_registry",
    )
    return farmers.groupBy("province_code", "main_crop").agg(
        F.count(F.lit(1)).alias("farm_households"),
        count_if("in_welfare_registry", "in_welfare_registry"),
    )


def price_swings(prices: DataFrame) -> DataFrame:
    """Per province and crop: the lowest, highest and mean monthly price, and the swing
    (highest minus lowest, as a % of the mean)."""
    p = "price_baht_per_kg"
    return (
        prices.groupBy("province_code", "crop")
        .agg(F.min(p).alias("lo"), F.max(p).alias("hi"), F.avg(p).alias("mean"))
        .select(
            "province_code",
            "crop",
            rounded(F.col("lo"), "price_low_baht_per_kg"),
            rounded(F.col("hi"), "price_high_baht_per_kg"),
            rounded(
                F.try_divide(F.col("hi") - F.col("lo"), F.col("mean")) * 100, "price_swing_pct", 1
            ),
        )
    )


def registry_plots(pool: Mapping[str, DataFrame]) -> DataFrame:
    """The plots of farm households whose head is in the welfare registry."""
    in_registry = (
        pool["farmer_registry"]
        .select(PP)
        .join(pool["welfare_registry"].select(PP), PP, "left_semi")
    )
    return pool["plots"].join(in_registry.distinct(), PP, "left_semi")


def area_contributions(pool: Mapping[str, DataFrame]) -> DataFrame:
    """Each household's area in a cell of ``price_exposure``: the dominance rules' input."""
    per_household = (
        registry_plots(pool)
        .groupBy("province_code", "crop", PP)
        .agg(
            F.sum("area_rai").alias("area_rai"),
            F.sum(F.when(~F.col("irrigated"), F.col("area_rai"))).alias("rainfed_area_rai"),
        )
    )
    measures = F.array(
        *[
            F.struct(F.lit(m).alias("measure"), F.col(m).cast("double").alias("value"))
            for m in ("area_rai", "rainfed_area_rai")
        ]
    )
    return (
        per_household.select("province_code", "crop", F.explode(measures).alias("c"))
        .select("province_code", "crop", "c.*")
        .where(F.col("value").isNotNull())
    )


def price_exposure(pool: Mapping[str, DataFrame]) -> DataFrame:
    plots = registry_plots(pool)
    grown = plots.groupBy("province_code", "crop").agg(
        F.countDistinct(PP).alias("registry_farm_households"),
        F.count(F.lit(1)).alias("plots"),
        rounded(F.sum("area_rai"), "area_rai", 1),
        rounded(F.sum(F.when(~F.col("irrigated"), F.col("area_rai"))), "rainfed_area_rai", 1),
    )
    return grown.join(price_swings(pool["crop_prices"]), ["province_code", "crop"], "left")


@register("agriculture")
def run(pool: Mapping[str, DataFrame]) -> dict[str, Output]:
    return {
        "farm_households_in_registry": Output(
            farm_households_in_registry(pool),
            dims=("province_code", "main_crop"),
            count="farm_households",
            counts=("in_welfare_registry",),
            title="Registered farm households in the state-welfare registry, by province and crop",
            how_to_read=(
                "Each row is one province and main crop of the farmer registry. farm_households "
                "counts the households; in_welfare_registry how many of their heads are in the "
                "state-welfare (low-income) registry."
            ),
            chart=Chart(
                "Share of farm households in the welfare registry, by main crop",
                x="main_crop",
                y=("in_welfare_registry",),
                per="farm_households",
                scale=100,
                ylabel="% of farm households",
            ),
        ),
        "price_exposure": Output(
            price_exposure(pool),
            dims=("province_code", "crop"),
            count="registry_farm_households",
            counts=("plots",),
            contributions=area_contributions(pool),
            title="Registry farmers' plots and the price swing of the crop grown on them",
            how_to_read=(
                "Each row is one province and crop, over the plots of farm households in the "
                "welfare registry: how many households, plots and rai (rainfed: not irrigated), "
                "and the crop's monthly farm-gate price in that province over the year: lowest, "
                "highest and the swing (highest minus lowest, % of the mean). A large area with a "
                "large swing is a large exposure. No price means Commerce sent none."
            ),
            chart=Chart(
                "Area registry farmers plant, by crop",
                x="crop",
                y=("area_rai", "rainfed_area_rai"),
                ylabel="rai",
            ),
        ),
    }
