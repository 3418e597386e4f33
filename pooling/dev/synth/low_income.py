"""The extracts of the low-income project's five agencies, sampled from one population.

Each function returns the extract's columns plus ``person`` (the population index, used only to
compute the ground truth and dropped before anything is written).
"""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from pooling.dev.synth.draws import below, choose, date_in_year, person_draw
from pooling.dev.synth.plan import SynthPlan
from pooling.dev.synth.population import person_record

ICD10 = ("E11", "I10", "J06", "K29", "M54", "N39", "Z00", "A09", "J45", "E78")
HOSPITAL_TYPES = ("HC", "CH", "GH", "RH")  # health centre, community, general, regional hospital
INCOME_CEILING_BAHT = 100_000  # the registry's eligibility ceiling (annual income)
# Free text as caseworkers and payment clerks type it, kept as an attribute. None of these names
# a person or holds a number an identifier could be read from; the faults plant identifiers
# into a share of them (faults.plant_identifier).
CASEWORKER_NOTES = (
    "เยี่ยมบ้านแล้ว สภาพบ้านทรุดโทรม",
    "ผู้สูงอายุอยู่ลำพัง ต้องการผู้ดูแล",
    "รายได้ไม่แน่นอน ทำงานรับจ้างรายวัน",
    "ตรวจสอบเอกสารครบถ้วน",
    "ขอรับการช่วยเหลือค่าเดินทางไปโรงพยาบาล",
    "ครอบครัวมีผู้พิการ 1 คน",
    "ย้ายที่อยู่ตามทะเบียนบ้านแล้ว",
    "รอผลการตรวจสอบรายได้",
)
PAYMENT_NOTES = (
    "โอนเข้าบัญชีแล้ว",
    "รับเงินสดที่สำนักงาน",
    "เปลี่ยนบัญชีรับเงิน",
    "จ่ายย้อนหลัง 2 เดือน",
    "ระงับการจ่ายชั่วคราว รอเอกสาร",
)


def welfare_registry(people: DataFrame, plan: SynthPlan) -> DataFrame:
    """Finance: the state-welfare (low-income) registry, one row per registered person."""
    members = people.where(person_draw(plan.seed, "in_registry") < F.col("poverty")).withColumn(
        "u_income", person_draw(plan.seed, "income")
    )
    # A few members declare incomes above the eligibility ceiling: the inclusion errors the
    # project looks for.
    income = F.when(
        person_draw(plan.seed, "income_high") < 0.04,
        INCOME_CEILING_BAHT + below(F.col("u_income"), 150_000),
    ).otherwise(below(F.col("u_income"), INCOME_CEILING_BAHT))
    return members.select(
        *person_record("WR", "registry_no", digits=10),
        "phone",
        "address",
        "district_code",
        "birth_date",
        "sex",
        date_in_year(person_draw(plan.seed, "registered_on"), 2017).alias("registered_on"),
        income.cast("int").alias("annual_income_baht"),
        (below(person_draw(plan.seed, "household_size"), 6) + 1)
        .cast("int")
        .alias("household_size"),
        choose(person_draw(plan.seed, "caseworker_note"), CASEWORKER_NOTES).alias(
            "caseworker_note"
        ),
    )


def population_register(people: DataFrame, plan: SynthPlan) -> DataFrame:
    """Interior: the population register. A few people are missing (records out of date)."""
    return people.where(person_draw(plan.seed, "in_register") < 0.995).select(
        "person",
        "citizen_id",
        "first_name",
        "last_name",
        "sex",
        "birth_date",
        "district_code",
        "house_id",
        "address",
    )


def service_records(people: DataFrame, plan: SynthPlan) -> DataFrame:
    """Public Health: one row per service visit in 2025; the elderly visit more often."""
    p_any = F.when(F.col("age") >= 60, 0.8).otherwise(0.5)
    visits = F.when(
        person_draw(plan.seed, "visits_any") < p_any,
        below(person_draw(plan.seed, "visits_n"), 4) + 1,
    ).otherwise(0)
    # Only people with visits: sequence(1, 0) would count down and invent a visit.
    rows = (
        people.withColumn("visits", visits.cast("int"))
        .where(F.col("visits") >= 1)
        .withColumn("visit", F.explode(F.sequence(F.lit(1), F.col("visits"))))
    )
    key = (F.col("person"), F.col("visit"))
    return rows.select(
        "person",
        F.concat(
            F.lit("V"), F.col("person").cast("string"), F.lit("-"), F.col("visit").cast("string")
        ).alias("visit_id"),
        "citizen_id",
        "first_name",
        "last_name",
        date_in_year(person_draw(plan.seed, "service_date", *key), 2025).alias("service_date"),
        F.concat(
            choose(person_draw(plan.seed, "hospital_type", *key), HOSPITAL_TYPES),
            F.col("district_code"),
        ).alias("hospital_code"),
        choose(person_draw(plan.seed, "icd10", *key), ICD10).alias("diagnosis_icd10"),
        (below(person_draw(plan.seed, "cost", *key), 5000) + 100).cast("double").alias("cost_baht"),
    )


def benefit_recipients(people: DataFrame, plan: SynthPlan) -> DataFrame:
    """Social Development: allowances paid (old age, disability, child support)."""
    elderly = people.where(
        (F.col("age") >= 60) & (person_draw(plan.seed, "elderly_allowance") < 0.9)
    ).withColumn("benefit", F.lit("elderly_allowance"))
    disabled = people.where(person_draw(plan.seed, "disability") < 0.02).withColumn(
        "benefit", F.lit("disability_allowance")
    )
    children = people.where(
        (F.col("age") < 6) & (person_draw(plan.seed, "child_support") < 0.3)
    ).withColumn("benefit", F.lit("child_support"))
    monthly = F.create_map(
        F.lit("elderly_allowance"),
        F.lit(700),
        F.lit("disability_allowance"),
        F.lit(1000),
        F.lit("child_support"),
        F.lit(600),
    )
    return (
        elderly.unionByName(disabled)
        .unionByName(children)
        .select(
            "person",
            F.concat(
                F.lit("SD"), F.col("benefit").substr(1, 2), F.col("person").cast("string")
            ).alias("recipient_no"),
            "citizen_id",
            "first_name",
            "last_name",
            "benefit",
            monthly[F.col("benefit")].alias("monthly_baht"),
            date_in_year(
                person_draw(plan.seed, "since", F.col("person"), F.col("benefit")), 2020
            ).alias("since"),
            choose(
                person_draw(plan.seed, "payment_note", F.col("person"), F.col("benefit")),
                PAYMENT_NOTES,
            ).alias("payment_note"),
        )
    )


def justice_records(people: DataFrame, plan: SynthPlan) -> DataFrame:
    """Justice: prisoners, probation and bankruptcy; more young men, more among the poor."""
    young_men = (F.col("sex") == "M") & F.col("age").between(18, 40)
    p = F.when(F.col("age") < 18, 0.0).otherwise(
        0.004 * F.when(young_men, 3.0).otherwise(1.0) * (1 + 5 * F.col("poverty"))
    )
    return (
        people.where(person_draw(plan.seed, "justice") < p)
        .withColumn("u_type", person_draw(plan.seed, "record_type"))
        .select(
            "person",
            F.concat(F.lit("J"), F.col("person").cast("string")).alias("case_no"),
            "citizen_id",
            "first_name",
            "last_name",
            choose(F.col("u_type"), ["prisoner", "probation", "bankrupt"], [3, 5, 2]).alias(
                "record_type"
            ),
            date_in_year(person_draw(plan.seed, "case_start"), 2023).alias("start_date"),
        )
    )
