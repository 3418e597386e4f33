"""The relations the generator promises (README, 'Synthetic data') are really in its output."""

import pytest
from pyspark.sql import functions as F

from pooling.dev.synth import SynthPlan, generate


@pytest.fixture(scope="module")
def synthetic(spark_session):
    s = generate(spark_session, SynthPlan(persons=20_000, seed=3))
    yield s
    s.release()


def _share(df, condition) -> float:
    row = df.agg(F.avg(condition.cast("double")).alias("x")).first()
    return row.x


def _members(synthetic):
    return (
        synthetic.extracts["finance.welfare_registry"]
        .rows.select("person")
        .distinct()
        .withColumn("member", F.lit(True))
    )


def test_registry_share_is_higher_in_the_north_east_and_among_the_elderly(synthetic):
    adults = synthetic.people.where("age >= 18").join(_members(synthetic), "person", "left")
    member = F.coalesce(F.col("member"), F.lit(False))
    north_east = _share(adults.where("region = 'northeast'"), member)
    central = _share(adults.where("region = 'central'"), member)
    elderly = _share(adults.where("age >= 60"), member)
    working_age = _share(adults.where("age < 60"), member)
    assert north_east > 2 * central
    assert elderly > 1.3 * working_age


def test_visit_coverage_matches_the_documented_rates(synthetic):
    visited = (
        synthetic.extracts["public_health.service_records"]
        .rows.select("person")
        .distinct()
        .withColumn("visited", F.lit(True))
    )
    people = synthetic.people.join(visited, "person", "left")
    flag = F.coalesce(F.col("visited"), F.lit(False))
    assert 0.45 < _share(people.where("age < 60"), flag) < 0.55
    assert 0.75 < _share(people.where("age >= 60"), flag) < 0.85


def test_diabetes_rises_with_age_and_bmi(synthetic):
    # bmi from the population: the extract's column may hold injected wrong-type values
    ncd = (
        synthetic.extracts["public_health.ncd_screening"]
        .rows.select("person", "diabetes")
        .join(synthetic.people.select("person", "age", "bmi"), "person")
    )
    dm = F.col("diabetes")
    assert _share(ncd.where("age >= 65"), dm) > 1.5 * _share(ncd.where("age < 45"), dm)
    assert _share(ncd.where("bmi >= 28"), dm) > 1.3 * _share(ncd.where("bmi < 23"), dm)


def test_farmers_live_in_rural_provinces(synthetic):
    farmers = synthetic.people.select("person", "province_code", "farmer").where("age >= 20")
    bangkok = _share(farmers.where("province_code = '10'"), F.col("farmer"))
    rural = _share(farmers.where("province_code in ('33', '32', '44', '45')"), F.col("farmer"))
    assert rural > 0.25 and bangkok < 0.02


def test_pm25_rises_with_hotspots_in_the_dry_season(synthetic):
    g = synthetic.grid
    with_fire = g.where("hotspots > 0").agg(F.avg("pm25")).first()[0]
    without = g.where("hotspots = 0").agg(F.avg("pm25")).first()[0]
    north_dry = g.where("region = 'north' and month(date) between 1 and 4").agg(F.avg("pm25"))
    north_wet = g.where("region = 'north' and month(date) between 6 and 9").agg(F.avg("pm25"))
    assert with_fire > without + 5
    assert north_dry.first()[0] > 1.5 * north_wet.first()[0]


def test_households_share_their_house_register(synthetic):
    per_household = synthetic.people.groupBy("household").agg(
        F.count("*").alias("members"),
        F.countDistinct("district_code", "address", "house_id").alias("registers"),
    )
    sizes = {r.members for r in per_household.select("members").distinct().collect()}
    assert sizes <= {3, 4, 1, 2} and {3, 4} <= sizes
    assert per_household.where("registers != 1").count() == 0
    assert synthetic.people.select("house_id").distinct().count() == per_household.count()
