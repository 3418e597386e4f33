from chispa import assert_df_equality

from projects.low_income import welfare_overlap

PP = "pool_pseudonym string"


def test_welfare_overlap_counts_each_member_once_per_dataset(spark):
    registry = spark.createDataFrame(
        [
            ("p1", "10", "F", "60-64"),
            ("p2", "10", "F", "60-64"),
            ("p3", "40", "M", "30-34"),
            ("p3", "40", "M", "30-34"),
        ],  # p3 delivered twice: still one member
        f"{PP}, province_code string, sex string, age_band string",
    )
    population = spark.createDataFrame([("p1",), ("p2",), ("p3",), ("p9",)], PP)
    services = spark.createDataFrame([("p1",), ("p1",), ("p1",), ("p3",)], PP)  # many visits
    benefits = spark.createDataFrame([("p2",)], PP)
    justice = spark.createDataFrame([], PP)
    got = welfare_overlap(
        {
            "welfare_registry": registry,
            "population_register": population,
            "service_records": services,
            "benefit_recipients": benefits,
            "justice_records": justice,
        }
    )
    expected = spark.createDataFrame(
        [("10", "F", "60-64", 2, 2, 1, 1, 0), ("40", "M", "30-34", 1, 1, 1, 0, 0)],
        "province_code string, sex string, age_band string, registry_members long, "
        "in_population_register long, in_service_records long, in_benefit_recipients long, "
        "in_justice_records long",
    )
    assert_df_equality(got, expected, ignore_nullable=True, ignore_row_order=True)
