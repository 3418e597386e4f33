"""Education and labour market: graduates, insured employment and local establishments.

- ``employment_within_12m``: graduates by field and the province of their institution, and how
  many started insured employment (social security) within 12 months of graduating.
- ``field_demand``: per province, each field's share of the graduates against the share of the
  local establishments' employees in the industries that hire that field: fields whose graduates
  far outnumber (or fall short of) local demand are out of step with it.
"""

from __future__ import annotations

from collections.abc import Mapping

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from projects import Chart, Output, register
from projects.common import PP, count_if, rounded

WITHIN_DAYS = 365
# The economic sections (ISIC rev. 4) that mainly hire each field's graduates.
FIELD_SECTIONS = {
    "agriculture": ("A",),
    "engineering": ("C", "F"),
    "it": ("J",),
    "business": ("G", "K"),
    "health": ("Q",),
    "education": ("P",),
    "social_science": ("M",),
    "arts": ("I",),  # accommodation, food and the creative services around them
}
# A field is out of step when its share of graduates is this many times the demand share, or
# less than its inverse.
OUT_OF_STEP = 1.5
_SECTIONS_TEXT = ", ".join(f"{f}: {'/'.join(s)}" for f, s in FIELD_SECTIONS.items())


def employment_within_12m(pool: Mapping[str, DataFrame]) -> DataFrame:
    grads = pool["graduates"].select(PP, "graduation_date", "field", "institution_province")
    jobs = pool["social_security"].select(PP, "start_date")
    started = (
        grads.join(jobs, PP)
        .where(F.datediff("start_date", "graduation_date").between(0, WITHIN_DAYS))
        .select(PP, "graduation_date")
        .distinct()
        .withColumn("employed_12m", F.lit(True))
    )
    return (
        grads.join(started, [PP, "graduation_date"], "left")
        .groupBy("field", "institution_province")
        .agg(F.count(F.lit(1)).alias("graduates"), count_if("employed_12m", "employed_12m"))
    )


def local_demand(establishments: DataFrame) -> DataFrame:
    """Per province and field: the share of establishments' employees in the field's sections."""
    sections = _sections(establishments)
    total = establishments.groupBy("province_code").agg(F.sum("employees").alias("all_employees"))
    by_field = (
        establishments.join(F.broadcast(sections), "isic_section")
        .groupBy("province_code", "field")
        .agg(F.sum("employees").alias("employees"))
    )
    return by_field.join(total, "province_code").select(
        F.col("province_code").alias("institution_province"),
        "field",
        "employees",
        F.try_divide("employees", "all_employees").alias("demand_share"),
    )


def employee_contributions(pool: Mapping[str, DataFrame]) -> DataFrame:
    """Each establishment's employees in a cell's ``local_employees``: the dominance input."""
    e = pool["establishments"]
    return e.join(F.broadcast(_sections(e)), "isic_section").select(
        F.col("province_code").alias("institution_province"),
        "field",
        F.lit("local_employees").alias("measure"),
        F.col("employees").cast("double").alias("value"),
    )


def _sections(df: DataFrame) -> DataFrame:
    return df.sparkSession.createDataFrame(
        [(f, s) for f, ss in FIELD_SECTIONS.items() for s in ss],
        "field string, isic_section string",
    )


def field_demand(pool: Mapping[str, DataFrame]) -> DataFrame:
    supply = employment_within_12m(pool)
    province = Window.partitionBy("institution_province")
    supply = supply.withColumn(
        "graduate_share", F.try_divide(F.col("graduates"), F.sum("graduates").over(province))
    )
    ratio = F.try_divide("graduate_share", "demand_share")
    return supply.join(
        local_demand(pool["establishments"]), ["institution_province", "field"], "left"
    ).select(
        "institution_province",
        "field",
        "graduates",
        "employed_12m",
        F.coalesce(F.col("employees"), F.lit(0)).alias("local_employees"),
        rounded(F.col("graduate_share") * 100, "graduate_share_pct", 1),
        rounded(F.coalesce(F.col("demand_share"), F.lit(0.0)) * 100, "demand_share_pct", 1),
        F.when(F.col("demand_share").isNull() | (ratio > OUT_OF_STEP), "more graduates than demand")
        .when(ratio < 1 / OUT_OF_STEP, "fewer graduates than demand")
        .otherwise("in step")
        .alias("assessment"),
    )


@register("education_labour")
def run(pool: Mapping[str, DataFrame]) -> dict[str, Output]:
    return {
        "employment_within_12m": Output(
            employment_within_12m(pool),
            dims=("field", "institution_province"),
            count="graduates",
            counts=("employed_12m",),
            title="Graduates in insured employment within 12 months, by field and province",
            how_to_read=(
                "Each row is one field of study and the province of the institution. graduates "
                "counts the graduations; employed_12m how many were followed by a social-security "
                f"registered job starting within {WITHIN_DAYS} days. Informal work and "
                "self-employment are not in the social-security data, so this is a lower bound."
            ),
            chart=Chart(
                "Graduates employed within 12 months, by field",
                x="field",
                y=("employed_12m",),
                per="graduates",
                scale=100,
                ylabel="% of graduates",
            ),
        ),
        "field_demand": Output(
            field_demand(pool),
            dims=("institution_province", "field"),
            count="graduates",
            counts=("employed_12m",),
            contributions=employee_contributions(pool),
            title="Fields of study against local industry demand, by province",
            how_to_read=(
                "Each row is one province and field. graduate_share_pct is the field's share of "
                "the province's graduates; demand_share_pct the share of the province's "
                "establishment employees working in the sections that hire the field "
                f"({_SECTIONS_TEXT}). "
                f"assessment says 'more graduates than demand' when the first is over "
                f"{OUT_OF_STEP} times the second, 'fewer graduates than demand' when under "
                f"1/{OUT_OF_STEP} of it."
            ),
        ),
    }
