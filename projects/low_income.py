"""Low-income assistance: who in the state-welfare registry also appears in other agencies' data.

Output ``welfare_overlap``: for registry members by province, sex and age band (taken from the
registry itself), how many also appear in the population register, in public health services,
among social-benefit recipients and in justice records.
"""

from __future__ import annotations

from collections.abc import Mapping

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from projects import register
from pseudonymize.standard import POOL_PSEUDONYM

BASE = "welfare_registry"
OTHERS = ("population_register", "service_records", "benefit_recipients", "justice_records")
GROUP = ("province_code", "sex", "age_band")


def welfare_overlap(pool: Mapping[str, DataFrame]) -> DataFrame:
    # One row per registry member (a member delivered twice still counts once).
    members = pool[BASE].select(POOL_PSEUDONYM, *GROUP).dropDuplicates([POOL_PSEUDONYM])
    aggs = [F.count(F.lit(1)).alias("registry_members")]
    for name in OTHERS:
        present = pool[name].select(POOL_PSEUDONYM).distinct().withColumn(f"in_{name}", F.lit(1))
        members = members.join(present, POOL_PSEUDONYM, "left")
        aggs.append(F.coalesce(F.sum(f"in_{name}"), F.lit(0)).cast("long").alias(f"in_{name}"))
    return members.groupBy(*GROUP).agg(*aggs).orderBy(*GROUP)


@register("low_income")
def run(pool: Mapping[str, DataFrame]) -> dict[str, DataFrame]:
    return {"welfare_overlap": welfare_overlap(pool)}
