"""One synthetic population that every person-level extract samples from."""

from __future__ import annotations

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from pooling.dev.synth.draws import below, choose, drop_uniforms, with_uniforms
from pooling.dev.synth.plan import SynthPlan
from pooling.dev.synth.vocab import thai_vocabulary
from pseudonymize import check_digit_expr
from pseudonymize.reference import provinces

# Thailand's age structure, share of the population per 5-year band (0-4 ... 85+), roughly 2025.
AGE_BAND_WEIGHTS = (
    4.5,
    5.2,
    5.8,
    6.0,
    6.3,
    6.8,
    7.0,
    7.2,
    7.6,
    7.8,
    7.6,
    7.0,
    6.0,
    4.8,
    3.4,
    2.3,
    1.5,
    1.2,
)

# A bijection of [0, 10^11): person i gets the 11 digits (i * A + B) mod 10^11, so IDs are unique
# without a shuffle. A is odd and not a multiple of 5, hence invertible modulo 10^11.
_A, _B, _M = 3_456_789_121, 17_320_508_075, 10**11

# Relative chance of being in the low-income registry by region (north-east highest).
REGION_POVERTY = {
    "northeast": 2.4,
    "north": 2.0,
    "west": 1.4,
    "south": 1.3,
    "central": 0.8,
    "east": 0.8,
}

# Drawn once per household (members share the house-register address) ...
_HOUSEHOLD_DRAWS = ("province", "district", "house", "unit", "street")
# ... and once per person.
_DRAWS = (
    "age_band",
    "age_in_band",
    "birthday",
    "sex",
    "first_name",
    "last_name",
    "mobile",
    "phone",
    "farmer",
    "bmi",
    "graduate",
)


def _lookup(mapping: dict[str, object]) -> F.Column:
    return F.create_map(*[x for k, v in mapping.items() for x in (F.lit(k), F.lit(v))])


def population(spark: SparkSession, plan: SynthPlan) -> DataFrame:
    """One row per person: ``person`` (an internal index, never written out), ``household``,
    citizen ID, names, sex, birth date, age at the reference date, the house register (house
    code, district, address: shared by the household) and phone, plus
    the latent traits the extracts sample from: ``poverty`` (the chance of being in the
    low-income registry), ``farmer``, ``bmi`` and ``graduate``."""
    # Households of 3 or 4 consecutive persons (3.1 on average, Thailand's is about 3).
    people = spark.range(plan.persons).select(
        F.col("id").alias("person"), F.floor(F.col("id") * 10 / 31).alias("household")
    )
    people = with_uniforms(people, plan.seed, ["household"], *_HOUSEHOLD_DRAWS)
    people = with_uniforms(people, plan.seed, ["person"], *_DRAWS)
    people = _birth_and_house(_places_and_ages(people), plan)
    return drop_uniforms(_names_and_traits(people, plan).drop("band_low", "id12"))


def _u() -> dict[str, F.Column]:
    """The draws, as the columns with_uniforms materialised."""
    return {d: F.col(f"u_{d}") for d in (*_HOUSEHOLD_DRAWS, *_DRAWS)}


def _places_and_ages(people: DataFrame) -> DataFrame:
    """Province (by population), district, region, age band and age, sex; and farmers."""
    provs, u = provinces(), _u()
    people = people.withColumns(
        {
            "province_code": choose(
                u["province"], [p.code for p in provs], [p.population for p in provs]
            ),
            "band_low": choose(u["age_band"], list(range(0, 90, 5)), AGE_BAND_WEIGHTS),
            "sex": F.when(u["sex"] < 0.49, F.lit("M")).otherwise(F.lit("F")),
        }
    )
    n_districts = _lookup({p.code: p.districts for p in provs})[F.col("province_code")]
    span = F.when(F.col("band_low") >= 85, 15).otherwise(5)  # 85+ spans 85-99
    people = people.withColumns(
        {
            "region": _lookup({p.code: p.region for p in provs})[F.col("province_code")],
            "district_code": F.concat(
                F.col("province_code"),
                F.lpad((below(u["district"], n_districts) + 1).cast("string"), 2, "0"),
            ),
            "age": (F.col("band_low") + below(u["age_in_band"], span)).cast("int"),
            "urban_share": _lookup({p.code: p.urban_share for p in provs})[F.col("province_code")],
        }
    )
    # Farmers: adults 20-79, concentrated in rural provinces (about a third of adults where the
    # urban share is low, almost none in Bangkok).
    people = people.withColumn(
        "farmer",
        F.col("age").between(20, 79) & (u["farmer"] < 0.45 * (1 - F.col("urban_share"))),
    )
    return people


def _birth_and_house(people: DataFrame, plan: SynthPlan) -> DataFrame:
    """Birth date, the citizen ID's first 12 digits and the house code of the house register."""
    u = _u()
    people = people.withColumn(
        "birth_date",
        F.date_sub(
            F.add_months(F.lit(plan.reference_date), -12 * F.col("age")),
            below(u["birthday"], 365).cast("int"),
        ),
    )
    # Citizen IDs: first digit 1 for people registered at birth (born 1984 or later), else 3.
    body = F.lpad(F.pmod(F.col("person") * _A + _B, F.lit(_M)).cast("string"), 11, "0")
    people = people.withColumns(
        {
            "id12": F.concat(F.when(F.year("birth_date") >= 1984, "1").otherwise("3"), body),
            # The 11-digit house code of the house register: district + a running number.
            "house_id": F.concat(
                F.col("district_code"),
                F.lpad(F.pmod(F.col("household"), F.lit(10**7)).cast("string"), 7, "0"),
            ),
        }
    )
    return people


def _names_and_traits(people: DataFrame, plan: SynthPlan) -> DataFrame:
    """The citizen ID, names, address and phone; the latent traits the extracts sample from."""
    vocab, u = thai_vocabulary(plan.seed), _u()
    # Chance of being registered as low-income: ~9% at the national rate, higher in the
    # north-east and north and among the elderly; children are never registered themselves.
    region_factor = _lookup(REGION_POVERTY)[F.col("region")]
    people = people.withColumns(
        {
            "citizen_id": F.concat(F.col("id12"), check_digit_expr("id12").cast("string")),
            "first_name": F.when(
                F.col("sex") == "M", choose(u["first_name"], vocab.first_names_male)
            ).otherwise(choose(u["first_name"], vocab.first_names_female)),
            "last_name": choose(u["last_name"], vocab.last_names),
            "address": F.concat_ws(
                " ",
                F.concat(
                    (below(u["house"], 300) + 1).cast("string"),
                    F.lit("/"),
                    (below(u["unit"], 99) + 1).cast("string"),
                ),
                choose(u["street"], vocab.streets),
            ),
            "phone": F.concat(
                F.lit("0"),
                choose(u["mobile"], ["6", "8", "9"]),
                F.lpad(below(u["phone"], 100_000_000).cast("string"), 8, "0"),
            ),
            "poverty": F.when(F.col("age") < 18, 0.0).otherwise(
                0.08
                * region_factor
                * F.when(F.col("age") >= 60, 1.5).otherwise(1.0)
                * F.when(F.col("farmer"), 1.6).otherwise(1.0)
            ),
            # Body-mass index: rises into middle age, a long right tail.
            "bmi": F.round(
                18.5 + F.least(F.col("age"), F.lit(55)) * 0.08 + 12 * F.pow(u["bmi"], 2), 1
            ),
            # Graduated in 2024 (people aged 21-29 at the reference date).
            "graduate": F.col("age").between(21, 29) & (u["graduate"] < 0.35),
        }
    )
    return people


def person_record(prefix: str, record: str, *, digits: int | None = None) -> list[F.Column]:
    """The leading columns of a person-level extract: the internal ``person`` index, the
    agency's record number ``<prefix><person>`` (``person`` zero-padded to ``digits``, if
    given), the citizen ID and the names."""
    number = F.col("person").cast("string")
    return [
        F.col("person"),
        F.concat(F.lit(prefix), F.lpad(number, digits, "0") if digits else number).alias(record),
        F.col("citizen_id"),
        F.col("first_name"),
        F.col("last_name"),
    ]
