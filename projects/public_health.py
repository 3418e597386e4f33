"""Public health of vulnerable groups: NCD screening and care among elderly and disabled people.

- ``vulnerable_ncd``: elderly and disabled registrants by province: how many were screened for
  non-communicable diseases, how many have diabetes and hypertension, how many of those were
  seen for it in health services (care coverage), and their mean BMI and HbA1c.
- ``vulnerable_ncd_by_subgroup``: the same counts nationally by subgroup: elderly living alone
  or not, and disabled people by type of disability.
"""

from __future__ import annotations

from collections.abc import Mapping

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from projects import Chart, Output, register
from projects.common import PP, count_if, flag, persons, rounded

# ICD-10 codes of a service visit that count as care for each condition.
CARE_CODES = {"diabetes": ("E11",), "hypertension": ("I10",)}


def latest_screening(screening: DataFrame) -> DataFrame:
    """Each person's most recent screening (one row per person)."""
    cols = ("bmi", "hba1c_pct", "diabetes", "hypertension")
    latest = F.max_by(F.struct(*cols), "screen_date")
    return screening.groupBy(PP).agg(latest.alias("s")).select(PP, "s.*")


def vulnerable(pool: Mapping[str, DataFrame]) -> DataFrame:
    """One row per person and group, with the subgroup of the group's own registry."""
    elderly = persons(pool["elderly_registry"], "province_code", "living_alone").select(
        PP,
        "province_code",
        F.lit("elderly").alias("group"),
        F.when(F.col("living_alone"), "living alone")
        .when(~F.col("living_alone"), "not living alone")
        .otherwise("unknown")
        .alias("subgroup"),
    )
    disabled = persons(pool["disability_registry"], "province_code", "disability_type").select(
        PP,
        "province_code",
        F.lit("disabled").alias("group"),
        F.coalesce(F.col("disability_type"), F.lit("unknown")).alias("subgroup"),
    )
    return elderly.unionByName(disabled)


def with_screening_and_care(pool: Mapping[str, DataFrame]) -> DataFrame:
    people = vulnerable(pool).join(
        latest_screening(pool["ncd_screening"]).withColumn("screened", F.lit(True)), PP, "left"
    )
    visits = pool["service_records"]
    for condition, codes in CARE_CODES.items():
        people = flag(
            people, visits.where(F.col("diagnosis_icd10").isin(*codes)), f"{condition}_seen"
        )
    return people


def _measures() -> list[Column]:
    return [
        F.count(F.lit(1)).alias("persons"),
        count_if(F.col("screened").isNotNull(), "screened"),
        count_if("diabetes", "diabetes"),
        count_if("hypertension", "hypertension"),
        count_if(F.col("diabetes") & F.col("diabetes_seen"), "diabetes_in_care"),
        count_if(F.col("hypertension") & F.col("hypertension_seen"), "hypertension_in_care"),
        rounded(F.avg("bmi"), "mean_bmi"),
        rounded(F.avg("hba1c_pct"), "mean_hba1c_pct"),
    ]


def vulnerable_ncd(pool: Mapping[str, DataFrame]) -> DataFrame:
    return with_screening_and_care(pool).groupBy("group", "province_code").agg(*_measures())


def vulnerable_ncd_by_subgroup(pool: Mapping[str, DataFrame]) -> DataFrame:
    return with_screening_and_care(pool).groupBy("group", "subgroup").agg(*_measures())


PH_COUNTS = ("screened", "diabetes", "hypertension", "diabetes_in_care", "hypertension_in_care")
HOW = (
    "persons counts the registrants (a person in both registries counts in both groups); "
    "screened those with an NCD screening; diabetes and hypertension those the latest screening "
    "found with it; *_in_care those of them seen in health services for it "
    f"({', '.join(f'{k}: ICD-10 ' + '/'.join(v) for k, v in CARE_CODES.items())}). "
    "Prevalence is diabetes / screened; care coverage diabetes_in_care / diabetes. mean_bmi and "
    "mean_hba1c_pct are over the screened."
)


@register("public_health")
def run(pool: Mapping[str, DataFrame]) -> dict[str, Output]:
    return {
        "vulnerable_ncd": Output(
            vulnerable_ncd(pool),
            dims=("group", "province_code"),
            count="persons",
            counts=PH_COUNTS,
            title="Diabetes and hypertension among elderly and disabled people, by province",
            how_to_read="Each row is one group (elderly, disabled) and province. " + HOW,
            chart=Chart(
                "Prevalence among the screened, and care coverage, by group",
                x="group",
                y=("diabetes", "hypertension", "diabetes_in_care", "hypertension_in_care"),
                per=("screened", "screened", "diabetes", "hypertension"),
                scale=100,
                ylabel="%",
            ),
        ),
        "vulnerable_ncd_by_subgroup": Output(
            vulnerable_ncd_by_subgroup(pool),
            dims=("group", "subgroup"),
            count="persons",
            counts=PH_COUNTS,
            title="Diabetes and hypertension by subgroup (living alone; type of disability)",
            how_to_read=(
                "Each row is one subgroup, over all provinces: elderly people living alone or not, "
                "disabled people by the type of disability in their registration. " + HOW
            ),
        ),
    }
