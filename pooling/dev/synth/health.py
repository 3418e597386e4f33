"""Public Health NCD screening and Social Development's elderly and disability registries."""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from pooling.dev.synth.draws import choose, date_in_year, person_draw
from pooling.dev.synth.plan import SynthPlan
from pooling.dev.synth.population import person_record

DISABILITY_TYPES = ("visual", "hearing", "physical", "intellectual", "mental", "autism", "learning")


def disabled(people: DataFrame, plan: SynthPlan) -> F.Column:
    """The same draw as the disability allowance: every allowance recipient is registered."""
    return person_draw(plan.seed, "disability") < 0.02


def ncd_screening(people: DataFrame, plan: SynthPlan) -> DataFrame:
    """Annual screening of adults 35+ (60% screened): BMI, fasting glucose, HbA1c, blood pressure.
    Diabetes rises with age and BMI; glucose and HbA1c follow the diabetes status."""
    screened = people.where(
        (F.col("age") >= 35) & (person_draw(plan.seed, "screened") < 0.6)
    ).withColumns(
        {
            "u_diabetes": person_draw(plan.seed, "diabetes"),
            "u_glucose": person_draw(plan.seed, "glucose"),
        }
    )
    p_dm = F.least(
        F.lit(0.6),
        F.greatest(F.lit(0.01), 0.02 + 0.004 * (F.col("age") - 35) + 0.015 * (F.col("bmi") - 23)),
    )
    p_ht = F.least(F.lit(0.7), 0.05 + 0.008 * (F.col("age") - 35) + 0.01 * (F.col("bmi") - 23))
    diabetic = F.col("u_diabetes") < p_dm
    return screened.select(
        *person_record("NCD", "screen_id"),
        date_in_year(person_draw(plan.seed, "screen_date"), 2025).alias("screen_date"),
        "bmi",
        F.round(
            F.when(diabetic, 130 + 80 * F.col("u_glucose")).otherwise(80 + 25 * F.col("u_glucose")),
            0,
        )
        .cast("int")
        .alias("fpg_mgdl"),
        F.round(
            F.when(diabetic, 6.5 + 3 * F.col("u_glucose")).otherwise(
                4.8 + 1.0 * F.col("u_glucose")
            ),
            1,
        ).alias("hba1c_pct"),
        diabetic.alias("diabetes"),
        (person_draw(plan.seed, "hypertension") < p_ht).alias("hypertension"),
    )


def elderly_registry(people: DataFrame, plan: SynthPlan) -> DataFrame:
    elderly = people.where((F.col("age") >= 60) & (person_draw(plan.seed, "elderly_reg") < 0.95))
    return elderly.select(
        *person_record("OP", "elderly_no"),
        "district_code",
        date_in_year(person_draw(plan.seed, "elderly_since"), 2021).alias("registered_on"),
        (person_draw(plan.seed, "alone") < 0.12).alias("living_alone"),
    )


def disability_registry(people: DataFrame, plan: SynthPlan) -> DataFrame:
    rows = people.where(disabled(people, plan)).withColumn(
        "u_type", person_draw(plan.seed, "disability_type")
    )
    return rows.select(
        *person_record("DP", "disability_no"),
        "district_code",
        choose(F.col("u_type"), DISABILITY_TYPES, (12, 18, 48, 9, 8, 2, 3)).alias(
            "disability_type"
        ),
        date_in_year(person_draw(plan.seed, "disability_since"), 2015).alias("registered_on"),
    )
