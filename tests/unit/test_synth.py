from pyspark.sql import functions as F

from pooling.dev.synth import SynthPlan, fault_counts, generate
from pooling.dev.synth.population import population
from pseudonymize import citizen_id_problem, citizen_id_problem_as_sent


def test_same_seed_same_people_other_seed_other_people(spark):
    """The population every extract samples from (the extracts' bytes: test_synth_extracts)."""
    cols = ["citizen_id", "first_name", "last_name", "birth_date", "district_code", "phone"]
    plans = (
        SynthPlan(persons=500, seed=1),
        SynthPlan(persons=500, seed=1),
        SynthPlan(persons=500, seed=2),
    )
    rows = [population(spark, p).select(*cols).orderBy("citizen_id").collect() for p in plans]
    assert rows[0] == rows[1]
    assert rows[0] != rows[2]


def test_population_ids_are_valid_and_unique(spark):
    people = population(spark, SynthPlan(persons=3000, seed=5))
    got = people.agg(  # one pass: the population is not cached here
        F.count_if(citizen_id_problem("citizen_id").isNotNull()).alias("invalid"),
        F.count_distinct("citizen_id").alias("ids"),
        F.count_if(~F.col("first_name").rlike("^[\u0e00-\u0e7f]+$")).alias("not_thai"),
    ).first()
    assert (got.invalid, got.ids, got.not_thai) == (0, 3000, 0)


def test_fault_counts_match_the_rows(spark):
    s = generate(spark, SynthPlan(persons=5000, seed=9))
    try:
        extract = s.extracts["interior.population_register"]
        counts = fault_counts(extract)
        rows = extract.rows
        assert counts["rows"] == rows.count()
        assert counts["duplicates"] == rows.where("_duplicate").count()
        # The validator, run on the rows as written, finds exactly the unrecoverable faults.
        problem = citizen_id_problem_as_sent("citizen_id")
        found = {
            r.p: r["count"]
            for r in rows.where(~F.col("_duplicate"))
            .select(problem.alias("p"))
            .groupBy("p")
            .count()
            .collect()
            if r.p
        }
        id_reasons = {"empty", "non_digit", "wrong_length", "bad_check_digit"}
        assert found == {k: v for k, v in counts["expected_quarantine"].items() if k in id_reasons}
        assert sum(found.values()) > 0
        assert counts["expected_accepted"] == counts["rows"] - counts["duplicates"] - sum(
            counts["expected_quarantine"].values()
        )
    finally:
        s.release()


def test_rows_a_fault_made_identical_count_as_duplicates(spark):
    """Two provinces' zero-accident days given the same unknown province code are one row twice:
    the manifest must expect one quarantined row and one duplicate, as ingest will find."""
    from pooling.dev.synth import Extract
    from pooling.dev.synth.extracts import EXTRACTS

    spec = next(e for e in EXTRACTS if e.dataset == "road_accidents")
    rows = spark.createDataFrame(
        [
            ("99", "2025-01-01", "0", "unknown_code:province_code", False),  # was 10
            ("99", "2025-01-01", "0", "unknown_code:province_code", False),  # was 11
            ("12", "2025-01-01", "0", None, False),
            ("12", "2025-01-01", "0", None, True),  # an injected duplicate
        ],
        "province_code string, date string, accidents string, _fault string, _duplicate boolean",
    )
    counts = fault_counts(Extract(spec, rows, extra_column=False))
    assert counts["faults"] == {"unknown_code:province_code": 2}  # as injected
    assert (counts["rows"], counts["duplicates"], counts["expected_accepted"]) == (4, 2, 1)
    assert counts["expected_quarantine"] == {"unknown_code:province_code": 1}
