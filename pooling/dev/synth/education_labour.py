"""Education (graduates), Labour (social-security employment), Industry (establishments)."""

from __future__ import annotations

from datetime import date

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from pooling.dev.synth.draws import below, choose, person_draw, uniform
from pooling.dev.synth.plan import SynthPlan
from pooling.dev.synth.population import person_record
from pseudonymize.reference import provinces

FIELDS = (
    "engineering",
    "health",
    "it",
    "business",
    "education",
    "social_science",
    "arts",
    "agriculture",
)
FIELD_WEIGHTS = (14, 10, 9, 22, 12, 15, 10, 8)
# Chance of formal (social-security) employment within 12 months, by field, before the
# province's urban factor: the demand side the project compares against.
EMPLOYMENT = {
    "engineering": 0.8,
    "health": 0.85,
    "it": 0.8,
    "business": 0.7,
    "education": 0.6,
    "social_science": 0.55,
    "arts": 0.5,
    "agriculture": 0.45,
}
LEVELS = ("vocational", "bachelor", "master")
ISIC = ("A", "C", "F", "G", "H", "I", "J", "K", "M", "P", "Q")  # economic sections


def graduates(people: DataFrame, plan: SynthPlan) -> DataFrame:
    grads = people.where("graduate").withColumns(
        {
            "u_field": person_draw(plan.seed, "field"),
            "u_level": person_draw(plan.seed, "level"),
        }
    )
    day = below(person_draw(plan.seed, "graduation_day"), 120).cast("int")
    return grads.select(
        *person_record("ST", "student_id"),
        F.date_add(F.lit(date(2024, 3, 1)), day).alias("graduation_date"),
        choose(F.col("u_level"), LEVELS, (30, 62, 8)).alias("level"),
        choose(F.col("u_field"), FIELDS, FIELD_WEIGHTS).alias("field"),
        F.col("province_code").alias("institution_province"),
    )


def social_security(people: DataFrame, graduates_df: DataFrame, plan: SynthPlan) -> DataFrame:
    """Insured employees (section 33). Graduates start a job within 12 months with the chance of
    their field times the province's urban factor; others aged 18-60 are insured at 40%."""
    grads = graduates_df.select("person", "graduation_date", "field")
    p_field = F.create_map(*[x for k, v in EMPLOYMENT.items() for x in (F.lit(k), F.lit(v))])[
        F.col("field")
    ]
    joined = people.join(grads, "person", "left")
    urban = 0.7 + 0.5 * F.col("urban_share")  # more formal jobs where towns are
    p_job = (
        F.when(F.col("field").isNotNull(), p_field * urban)
        .when(F.col("age").between(18, 60), 0.4)
        .otherwise(0.0)
    )
    u_start = person_draw(plan.seed, "job_start")
    start = F.when(
        F.col("field").isNotNull(), F.date_add("graduation_date", below(u_start, 330).cast("int"))
    ).otherwise(F.date_add(F.lit(date(2010, 1, 1)), below(u_start, 5000).cast("int")))
    employed = joined.where(person_draw(plan.seed, "employed") < p_job)
    return employed.select(
        *person_record("SSO", "insured_id"),
        F.concat(
            F.lit("E"),
            F.col("province_code"),
            F.lpad(below(person_draw(plan.seed, "employer"), 500).cast("string"), 4, "0"),
        ).alias("employer_id"),
        F.col("province_code").alias("establishment_province"),
        start.alias("start_date"),
        (9000 + below(person_draw(plan.seed, "wage"), 40_000)).cast("int").alias("monthly_wage"),
    )


def establishments(spark: SparkSession, plan: SynthPlan) -> DataFrame:
    """Department of Industrial Works: registered establishments (no person in them)."""
    rows = [(p.code, max(1, p.population // 20_000)) for p in provinces()]
    df = spark.createDataFrame(rows, "province_code string, n int").withColumn(
        "i", F.explode(F.sequence(F.lit(1), F.col("n")))
    )
    key = (F.col("province_code"), F.col("i"))
    return df.select(
        F.concat(
            F.lit("E"), F.col("province_code"), F.lpad(F.col("i").cast("string"), 4, "0")
        ).alias("establishment_id"),
        "province_code",
        choose(uniform(plan.seed, "isic", *key), ISIC).alias("isic_section"),
        (5 + below(uniform(plan.seed, "employees", *key), 500)).cast("int").alias("employees"),
        F.date_add(
            F.lit(date(1990, 1, 1)), below(uniform(plan.seed, "est_since", *key), 12000).cast("int")
        ).alias("registered_on"),
    )
