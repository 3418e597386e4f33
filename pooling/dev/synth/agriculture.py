"""Agriculture & Cooperatives: the farmer registry (one row per farm household head) and plots."""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from pooling.dev.synth.draws import below, choose, date_in_year, person_draw
from pooling.dev.synth.environment import CROPS
from pooling.dev.synth.plan import SynthPlan
from pooling.dev.synth.population import person_record

# Main crop by region (relative weights over CROPS: rice, rubber, cassava, sugarcane, maize,
# oil palm, fruit).
CROP_WEIGHTS = {
    "northeast": (60, 8, 15, 10, 3, 0, 4),
    "north": (45, 5, 5, 8, 25, 0, 12),
    "central": (55, 2, 8, 15, 8, 1, 11),
    "east": (20, 30, 25, 5, 2, 3, 15),
    "west": (30, 10, 15, 25, 5, 2, 13),
    "south": (8, 60, 0, 0, 0, 25, 7),
}


def _crop(u: F.Column) -> F.Column:
    expr = None
    for region, weights in CROP_WEIGHTS.items():
        pick = choose(u, CROPS, weights)
        expr = (
            F.when(F.col("region") == region, pick)
            if expr is None
            else expr.when(F.col("region") == region, pick)
        )
    return expr.otherwise(F.lit("rice"))


def farmer_registry(people: DataFrame, plan: SynthPlan) -> DataFrame:
    farmers = people.where("farmer").withColumn("u_crop", person_draw(plan.seed, "crop"))
    return farmers.select(
        *person_record("FR", "farmer_id", digits=10),
        "phone",
        "district_code",
        _crop(F.col("u_crop")).alias("main_crop"),
        F.round(2 + 48 * F.pow(person_draw(plan.seed, "farm_area"), 2), 1).alias("farm_area_rai"),
        date_in_year(person_draw(plan.seed, "farmer_since"), 2022).alias("registered_on"),
    )


def plots(farmers: DataFrame, plan: SynthPlan) -> DataFrame:
    """One to three land plots per registered farmer, with the crop grown and irrigation."""
    rows = farmers.withColumn(
        "plot",
        F.explode(
            F.sequence(F.lit(1), (below(person_draw(plan.seed, "plots"), 3) + 1).cast("int"))
        ),
    )
    key = (F.col("person"), F.col("plot"))
    return rows.select(
        "person",
        F.concat(F.col("farmer_id"), F.lit("-P"), F.col("plot").cast("string")).alias("plot_id"),
        "citizen_id",
        "district_code",
        F.when(F.col("plot") == 1, F.col("main_crop"))
        .otherwise(choose(person_draw(plan.seed, "plot_crop", *key), CROPS))
        .alias("crop"),
        F.round(F.col("farm_area_rai") / F.col("plot") / 1.5, 1).alias("area_rai"),
        (person_draw(plan.seed, "irrigated", *key) < 0.3).alias("irrigated"),
    )
