"""Low-income assistance: the state-welfare registry against five other agencies' data.

- ``welfare_overlap``: registry members by province, sex and age band (from the registry itself),
  and how many of them also appear in the population register, in public health services, among
  social-benefit recipients and in justice records.
- ``likely_exclusion_errors``: elderly and disabled people (from Social Development's registries)
  who are not in the registry and have no sign of income support: no allowance, no insured job.
- ``likely_inclusion_errors``: registry members with signs of an income above the registry's
  ceiling: a declared income above it, or insured employment whose wage is above it.
"""

from __future__ import annotations

from collections.abc import Mapping

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from projects import Chart, Output, register
from projects.common import PP, count_if, flag, persons

BASE = "welfare_registry"
OTHERS = ("population_register", "service_records", "benefit_recipients", "justice_records")
GROUP = ("province_code", "sex", "age_band")
# The state-welfare registration's eligibility ceiling: an annual income of at most 100,000 baht.
INCOME_CEILING_BAHT = 100_000


def welfare_overlap(pool: Mapping[str, DataFrame]) -> DataFrame:
    members = persons(pool[BASE], *GROUP)
    for name in OTHERS:
        members = flag(members, pool[name], f"in_{name}")
    return members.groupBy(*GROUP).agg(
        F.count(F.lit(1)).alias("registry_members"),
        *[count_if(f"in_{name}", f"in_{name}") for name in OTHERS],
    )


def vulnerable(pool: Mapping[str, DataFrame]) -> DataFrame:
    """Elderly and disabled registrants, one row per person and group (a person can be both)."""
    return (
        persons(pool["elderly_registry"], "province_code")
        .withColumn("group", F.lit("elderly"))
        .unionByName(
            persons(pool["disability_registry"], "province_code").withColumn(
                "group", F.lit("disabled")
            )
        )
    )


def likely_exclusion_errors(pool: Mapping[str, DataFrame]) -> DataFrame:
    people = flag(vulnerable(pool), pool[BASE], "in_registry")
    people = flag(people, pool["benefit_recipients"], "with_allowance")
    people = flag(people, pool["social_security"], "insured_employed")
    excluded = ~F.col("in_registry") & ~F.col("with_allowance") & ~F.col("insured_employed")
    return people.groupBy("province_code", "group").agg(
        F.count(F.lit(1)).alias("persons"),
        count_if("in_registry", "in_registry"),
        count_if("with_allowance", "with_allowance"),
        count_if("insured_employed", "insured_employed"),
        count_if(excluded, "likely_excluded"),
    )


def likely_inclusion_errors(pool: Mapping[str, DataFrame]) -> DataFrame:
    members = persons(pool[BASE], "province_code", "annual_income_baht")
    # The highest insured wage a member has, as a yearly figure.
    wages = (
        pool["social_security"]
        .groupBy(PP)
        .agg((F.max("monthly_wage") * 12).alias("insured_annual_wage"))
    )
    members = members.join(wages, PP, "left")
    declared = F.col("annual_income_baht") > INCOME_CEILING_BAHT
    insured = F.col("insured_annual_wage") > INCOME_CEILING_BAHT
    return members.groupBy("province_code").agg(
        F.count(F.lit(1)).alias("registry_members"),
        count_if(declared, "declared_above_ceiling"),
        count_if(insured, "insured_wage_above_ceiling"),
        count_if(declared | insured, "any_sign_above_ceiling"),
    )


@register("low_income")
def run(pool: Mapping[str, DataFrame]) -> dict[str, Output]:
    return {
        "welfare_overlap": Output(
            welfare_overlap(pool),
            dims=GROUP,
            count="registry_members",
            counts=tuple(f"in_{n}" for n in OTHERS),
            title="Registry members found in other agencies' data, by province, sex and age band",
            how_to_read=(
                "Each row is one province, sex and age band of the welfare registry. "
                "registry_members counts the members; each in_<dataset> column counts how many of "
                "them appear at least once in that dataset. Divide by registry_members for a share."
            ),
            chart=Chart(
                "Share of welfare-registry members found in each dataset, by age band",
                x="age_band",
                y=tuple(f"in_{n}" for n in OTHERS),
                per="registry_members",
                scale=100,
                ylabel="% of registry members",
            ),
        ),
        "likely_exclusion_errors": Output(
            likely_exclusion_errors(pool),
            dims=("province_code", "group"),
            count="persons",
            counts=("in_registry", "with_allowance", "insured_employed", "likely_excluded"),
            title="Elderly and disabled people outside the registry with no income support",
            how_to_read=(
                "Each row is one province and group (elderly: the elderly registry; disabled: the "
                "disability registry; a person in both counts in both). likely_excluded counts "
                "those who are not in the welfare registry, receive no allowance and have no "
                "insured employment: people the registry may have missed."
            ),
            chart=Chart(
                "Elderly and disabled people: in the registry, and likely excluded",
                x="group",
                y=("in_registry", "with_allowance", "likely_excluded"),
                per="persons",
                scale=100,
                ylabel="% of the group",
            ),
        ),
        "likely_inclusion_errors": Output(
            likely_inclusion_errors(pool),
            dims=("province_code",),
            count="registry_members",
            counts=(
                "declared_above_ceiling",
                "insured_wage_above_ceiling",
                "any_sign_above_ceiling",
            ),
            title="Registry members with signs of an income above the registry's ceiling",
            how_to_read=(
                f"Each row is one province. declared_above_ceiling counts members whose declared "
                f"annual income is above {INCOME_CEILING_BAHT:,} baht; insured_wage_above_ceiling "
                "those whose insured wage (social security, times 12) is above it; "
                "any_sign_above_ceiling either. A sign, not proof: incomes change over time."
            ),
            chart=Chart(
                "Registry members with signs of an income above the ceiling",
                x="province_code",
                y=("declared_above_ceiling", "insured_wage_above_ceiling"),
                per="registry_members",
                scale=100,
                ylabel="% of registry members",
            ),
        ),
    }
