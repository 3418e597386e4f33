"""The ground truth: what a correct pipeline must find in the extracts.

Per extract, its rows, duplicates and faults and the quarantine they must cause
(:func:`fault_counts`); per checked project output, its cells recomputed from the true
population and the accepted rows (:data:`TRUTHS`), independently of the pipeline's code.
"""

from __future__ import annotations

from collections.abc import Callable

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from pooling.dev.synth import environment
from pooling.dev.synth.extracts import EXTRA_COLUMN, Extract
from pooling.dev.synth.faults import (
    DUPLICATE,
    FAULT,
    ID_RECOVERABLE,
    MASKED,
    NULLED,
    expected_reason,
)
from pooling.dev.synth.low_income import INCOME_CEILING_BAHT


def _quarantined(fault: Column) -> Column:
    """True for a fault that quarantines its row (not a repairable ID, not an ID left empty,
    not a note whose identifier is masked)."""
    return (
        fault.isNotNull()
        & ~fault.isin(*ID_RECOVERABLE)
        & ~fault.startswith(NULLED)
        & ~fault.startswith(MASKED)
    )


def accepted_rows(rows: DataFrame) -> DataFrame:
    """Rows a correct ingest keeps: not a duplicate copy, no fault that quarantines."""
    return rows.where(~F.col(DUPLICATE) & ~_quarantined(F.col(FAULT)))


# The accepted rows' columns each ground truth needs; kept (persisted) while extracts are
# written, so every extract is computed once.
TRUTH_COLUMNS: dict[str, tuple[str, ...]] = {
    "finance.welfare_registry": ("person", "annual_income_baht"),
    "interior.population_register": ("person",),
    "public_health.service_records": ("person", "diagnosis_icd10"),
    "social_development.benefit_recipients": ("person",),
    "justice.justice_records": ("person",),
    "agriculture.farmer_registry": ("person", "district_code", "main_crop"),
    "education.graduates": ("person", "field", "institution_province", "graduation_date"),
    "labour.social_security": ("person", "start_date", "monthly_wage"),
    "public_health.ncd_screening": ("person", "diabetes", "hypertension", "bmi", "hba1c_pct"),
    "social_development.elderly_registry": ("person", "district_code"),
    "social_development.disability_registry": ("person", "district_code"),
    "natural_resources.pm25": ("province_code", "pm25_ugm3"),
    "interior.births": ("person", "mother_person"),
}
Accepted = dict[str, DataFrame]


def _persons(accepted: Accepted, name: str) -> DataFrame:
    return accepted[name].select("person").distinct()


def _age_band(age: str) -> Column:
    # From the true age, independently of the standard's age_band, so the truth checks it.
    low = F.floor(F.col(age) / 5) * 5
    label = F.concat(
        F.lpad(low.cast("string"), 2, "0"), F.lit("-"), F.lpad((low + 4).cast("string"), 2, "0")
    )
    return F.when(F.col(age) >= 85, F.lit("85+")).otherwise(label)


def _flag(base: DataFrame, persons: DataFrame, flag: str) -> DataFrame:
    return base.join(persons.withColumn(flag, F.lit(1)), "person", "left")


def _count(flag: str) -> Column:
    return F.coalesce(F.sum(flag), F.lit(0)).cast("long").alias(flag)


def low_income_overlap_truth(people: DataFrame, ok: Accepted) -> DataFrame:
    """Registry members (with an accepted registry row) by province, sex and age band, and how
    many of them appear (with an accepted row) in each other dataset of the project."""
    base = people.join(_persons(ok, "finance.welfare_registry"), "person").select(
        "person", "province_code", "sex", _age_band("age").alias("age_band")
    )
    others = (
        "interior.population_register",
        "public_health.service_records",
        "social_development.benefit_recipients",
        "justice.justice_records",
    )
    for name in others:
        base = _flag(base, _persons(ok, name), f"in_{name.split('.')[1]}")
    return base.groupBy("province_code", "sex", "age_band").agg(
        F.count("*").alias("registry_members"), *[_count(f"in_{n.split('.')[1]}") for n in others]
    )


def agriculture_truth(people: DataFrame, ok: Accepted) -> DataFrame:
    """Registered farm households by province and main crop, and how many are in the registry."""
    farmers = ok["agriculture.farmer_registry"].select(
        "person", F.substring("district_code", 1, 2).alias("province_code"), "main_crop"
    )
    base = _flag(
        farmers.dropDuplicates(["person"]),
        _persons(ok, "finance.welfare_registry"),
        "in_welfare_registry",
    )
    return base.groupBy("province_code", "main_crop").agg(
        F.count("*").alias("farm_households"), _count("in_welfare_registry")
    )


def education_labour_truth(people: DataFrame, ok: Accepted) -> DataFrame:
    """Graduates by field and institution province, and how many started insured employment
    within 12 months (365 days) of graduating."""
    grads = ok["education.graduates"]
    jobs = ok["labour.social_security"]
    within = (
        grads.join(jobs, "person")
        .where(F.datediff("start_date", "graduation_date").between(0, 365))
        .select("person")
        .distinct()
    )
    return (
        _flag(grads, within, "employed_12m")
        .groupBy("field", "institution_province")
        .agg(F.count("*").alias("graduates"), _count("employed_12m"))
    )


def _count_both(a: str, b: str, name: str) -> Column:
    return F.coalesce(F.sum(F.col(a) * F.col(b)), F.lit(0)).cast("long").alias(name)


def _vulnerable(ok: Accepted) -> DataFrame:
    """Elderly and disabled registrants: one row per person and group, with the province."""
    groups = []
    for group, name in (
        ("elderly", "social_development.elderly_registry"),
        ("disabled", "social_development.disability_registry"),
    ):
        groups.append(
            ok[name]
            .select("person", F.substring("district_code", 1, 2).alias("province_code"))
            .dropDuplicates(["person"])
            .withColumn("group", F.lit(group))
        )
    return groups[0].unionByName(groups[1])


def low_income_exclusion_truth(people: DataFrame, ok: Accepted) -> DataFrame:
    """Elderly and disabled registrants by province: in the welfare registry, receiving an
    allowance, insured employed, and none of the three (likely excluded)."""
    base = _vulnerable(ok)
    for flag, name in (
        ("in_registry", "finance.welfare_registry"),
        ("with_allowance", "social_development.benefit_recipients"),
        ("insured_employed", "labour.social_security"),
    ):
        base = _flag(base, _persons(ok, name), flag)
    none = F.col("in_registry").isNull() & F.col("with_allowance").isNull()
    return base.groupBy("province_code", "group").agg(
        F.count("*").alias("persons"),
        _count("in_registry"),
        _count("with_allowance"),
        _count("insured_employed"),
        F.sum((none & F.col("insured_employed").isNull()).cast("int"))
        .cast("long")
        .alias("likely_excluded"),
    )


def low_income_inclusion_truth(people: DataFrame, ok: Accepted) -> DataFrame:
    """Registry members by province with a declared income, or an insured wage times 12, above
    the registry's income ceiling."""
    members = (
        ok["finance.welfare_registry"]
        .dropDuplicates(["person"])
        .join(people.select("person", "province_code"), "person")
    )
    wages = (
        ok["labour.social_security"]
        .groupBy("person")
        .agg((F.max("monthly_wage") * 12).alias("annual_wage"))
    )
    base = members.join(wages, "person", "left").select(
        "province_code",
        (F.col("annual_income_baht") > INCOME_CEILING_BAHT).alias("declared"),
        F.coalesce(F.col("annual_wage") > INCOME_CEILING_BAHT, F.lit(False)).alias("insured"),
    )
    return base.groupBy("province_code").agg(
        F.count("*").alias("registry_members"),
        F.sum(F.col("declared").cast("int")).cast("long").alias("declared_above_ceiling"),
        F.sum(F.col("insured").cast("int")).cast("long").alias("insured_wage_above_ceiling"),
        F.sum((F.col("declared") | F.col("insured")).cast("int"))
        .cast("long")
        .alias("any_sign_above_ceiling"),
    )


def public_health_truth(people: DataFrame, ok: Accepted) -> DataFrame:
    """Elderly and disabled registrants by province: how many were screened, how many have
    diabetes and hypertension (from their screening), how many of those had a service visit
    for it (E11, I10), and the mean BMI and HbA1c of the screened."""
    screened = (
        ok["public_health.ncd_screening"]
        .select(
            "person",
            F.lit(1).alias("screened"),
            F.col("diabetes").cast("int").alias("diabetes"),
            F.col("hypertension").cast("int").alias("hypertension"),
            "bmi",
            "hba1c_pct",
        )
        .dropDuplicates(["person"])
    )
    visits = ok["public_health.service_records"]
    base = _vulnerable(ok).join(screened, "person", "left")
    for flag, code in (("e11", "E11"), ("i10", "I10")):
        base = _flag(
            base, visits.where(F.col("diagnosis_icd10") == code).select("person").distinct(), flag
        )
    return base.groupBy("group", "province_code").agg(
        F.count("*").alias("persons"),
        _count("screened"),
        _count("diabetes"),
        _count("hypertension"),
        _count_both("diabetes", "e11", "diabetes_in_care"),
        _count_both("hypertension", "i10", "hypertension_in_care"),
        F.round(F.avg("bmi"), 2).alias("mean_bmi"),
        F.round(F.avg("hba1c_pct"), 2).alias("mean_hba1c_pct"),
    )


def pollution_truth(people: DataFrame, ok: Accepted) -> DataFrame:
    """Days with PM2.5 above the national 24-hour standard, by province (accepted rows)."""
    pm = ok["natural_resources.pm25"]
    return pm.groupBy("province_code").agg(
        F.count("*").alias("days_measured"),
        F.sum((F.col("pm25_ugm3") > environment.PM25_STANDARD).cast("int")).alias("days_above"),
    )


def births_mothers_truth(people: DataFrame, ok: Accepted) -> DataFrame:
    """Accepted births, and how many of their mothers have an accepted population-register row:
    what a pool links when every role is pseudonymised under the same key."""
    births = ok["interior.births"].select("person", F.col("mother_person").alias("mother"))
    registered = _persons(ok, "interior.population_register").withColumnRenamed("person", "mother")
    linked = births.join(registered.withColumn("in_register", F.lit(1)), "mother", "left")
    return linked.agg(
        F.count("*").alias("births"), _count("in_register").alias("mothers_in_register")
    )


TRUTHS: dict[str, Callable[[DataFrame, Accepted], DataFrame]] = {
    "low_income_overlap": low_income_overlap_truth,
    "low_income_exclusion": low_income_exclusion_truth,
    "low_income_inclusion": low_income_inclusion_truth,
    "agriculture_farm_households": agriculture_truth,
    "education_labour_employment": education_labour_truth,
    "public_health_vulnerable": public_health_truth,
    "pollution_days_above_standard": pollution_truth,
    "births_mothers_linked": births_mothers_truth,
}


def fault_counts(extract: Extract, rows: DataFrame | None = None) -> dict[str, object]:
    """Rows, duplicates and faults of one extract, and the quarantine a pipeline must produce.

    A duplicate is an exact copy of another row. Usually that is an injected duplicate, but a
    fault can also make two rows identical (e.g. two provinces' zero-accident days, both given
    the same unknown province code); such a row is a copy too, and quarantined once.
    """
    rows = extract.rows if rows is None else rows
    injected = {
        r[FAULT]: r["n"]
        for r in rows.where(~F.col(DUPLICATE)).groupBy(FAULT).agg(F.count("*").alias("n")).collect()
    }
    distinct = rows.groupBy(*extract.columns).agg(
        F.count("*").alias("copies"), F.max(FAULT).alias(FAULT)
    )
    by_fault = {
        r[FAULT]: (r["rows"], r["distinct"])
        for r in distinct.groupBy(FAULT)
        .agg(F.sum("copies").alias("rows"), F.count("*").alias("distinct"))
        .collect()
    }
    rows = sum(n for n, _ in by_fault.values())
    duplicates = sum(n - d for n, d in by_fault.values())
    faults = {f: n for f, n in injected.items() if f}
    quarantine: dict[str, int] = {}
    nulled: dict[str, int] = {}
    masked: dict[str, int] = {}
    for f, (_, d) in by_fault.items():
        reason = expected_reason(f) if f else None
        if reason:
            quarantine[reason] = quarantine.get(reason, 0) + d
        elif f and f.startswith(NULLED):  # "nulled:father_citizen_id:bad_check_digit"
            nulled[f.removeprefix(NULLED)] = d
        elif f and f.startswith(MASKED):  # accepted, with the identifier in its note masked
            masked[f.removeprefix(MASKED)] = d
    for column, invalid in extract.spec.roles:
        if invalid == "null":  # no such person named (no father declared): left empty too
            kept = distinct.where(F.col(column).isNull() & ~_quarantined(F.col(FAULT)))
            empty = kept.count()
            if empty:
                nulled[f"{column}:empty"] = empty
    return {
        "rows": rows,
        "duplicates": duplicates,
        "faults": dict(sorted(faults.items())),
        "expected_quarantine": dict(sorted(quarantine.items())),
        "expected_accepted": rows - duplicates - sum(quarantine.values()),
        # Accepted rows with another person's ID left empty, by "<column>:<reason>".
        "expected_nulled": dict(sorted(nulled.items())),
        # Accepted rows whose free-text note held an identifier, masked, by column.
        "expected_masked": dict(sorted(masked.items())),
        "extra_columns": [EXTRA_COLUMN] if extract.extra_column else [],
    }
