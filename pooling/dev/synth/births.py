"""Interior: birth registrations, as the registration offices' XML web service delivers them.

A birth names three people: the child (the subject), the mother and, where one is declared, the
father. They are drawn from one household of the population, so the mother's and father's IDs
are their own population-register IDs: a pipeline that pseudonymises every role under the same
key links a mother to her own records.
"""

from __future__ import annotations

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from pooling.dev.synth.draws import below, person_draw
from pooling.dev.synth.plan import SynthPlan

# Where each column of a birth sits in its <birth> element (the contract's column paths).
XML_PATHS = {
    "birth_no": "@no",
    "child_citizen_id": "child/citizen_id",
    "child_name": "child/name",
    "sex": "child/sex",
    "birth_date": "child/birth_date",
    "birth_weight_g": "child/weight_g",
    "district_code": "place/@district",
    "mother_citizen_id": "mother/citizen_id",
    "mother_name": "mother/name",
    "father_citizen_id": "father/citizen_id",
    "father_name": "father/name",
}


def _first(people: DataFrame, where, role: str) -> DataFrame:
    """Per household, its first person (lowest index) matching ``where``: the ``role``."""
    first = Window.partitionBy("household").orderBy("person")
    return (
        people.where(where)
        .withColumn("_n", F.row_number().over(first))
        .where(F.col("_n") == 1)
        .select(
            "household",
            F.col("person").alias(f"{role}_person"),
            F.col("citizen_id").alias(f"{role}_citizen_id"),
            F.concat_ws(" ", "first_name", "last_name").alias(f"{role}_name"),
        )
    )


def births(people: DataFrame, plan: SynthPlan) -> DataFrame:
    """The births of the last five years: one per child under five whose household has a woman
    of 15 to 49, the mother; the father is the household's first man of 18 to 64, if it has
    one (else no father is named). ``mother_person`` is kept (like ``person``) for the ground
    truth only."""
    mothers = _first(people, (F.col("sex") == "F") & F.col("age").between(15, 49), "mother")
    fathers = _first(people, (F.col("sex") == "M") & F.col("age").between(18, 64), "father")
    children = people.where(F.col("age") < 5)
    weight = 2500 + below(person_draw(plan.seed, "birth_weight"), 1500)
    return (
        children.join(mothers, "household")
        .join(fathers, "household", "left")
        .select(
            "person",
            "mother_person",
            F.concat(F.lit("B"), F.lpad(F.col("person").cast("string"), 10, "0")).alias("birth_no"),
            F.col("citizen_id").alias("child_citizen_id"),
            F.col("first_name").alias("child_name"),
            "sex",
            "birth_date",
            weight.cast("int").alias("birth_weight_g"),
            "district_code",
            "mother_citizen_id",
            "mother_name",
            "father_citizen_id",
            "father_name",
        )
    )
