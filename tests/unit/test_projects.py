"""Each project's computations on a handful of hand-made pool rows."""

import statistics
from datetime import date

from chispa import assert_df_equality

from projects import MODULES, get
from projects.agriculture import price_swings
from projects.education_labour import employment_within_12m
from projects.low_income import likely_exclusion_errors, likely_inclusion_errors
from projects.pollution import days_above_standard, haze_and_health
from projects.public_health import vulnerable_ncd
from projects.tourism_transport import accidents_and_visitors
from projects.water import drought_flood_risk

PP = "pool_pseudonym string"


def _rows(df, *cols):
    return sorted(tuple(r[c] for c in cols) for r in df.collect())


def test_every_project_module_is_registered():
    for name in MODULES:
        assert callable(get(name))


def test_exclusion_errors_are_vulnerable_people_outside_the_registry_without_support(spark):
    elderly = spark.createDataFrame(
        [("e1", "10"), ("e2", "10"), ("e3", "10"), ("e4", "10"), ("e4", "10")],
        f"{PP}, province_code string",
    )
    disabled = spark.createDataFrame([("e4", "10"), ("d1", "20")], f"{PP}, province_code string")
    pool = {
        "elderly_registry": elderly,
        "disability_registry": disabled,
        "welfare_registry": spark.createDataFrame([("e1",)], PP),
        "benefit_recipients": spark.createDataFrame([("e2",), ("e2",)], PP),  # two allowances
        "social_security": spark.createDataFrame([("e3",)], PP),
    }
    got = likely_exclusion_errors(pool)
    # e1 registry, e2 allowance, e3 insured; e4 (in both registries) and d1 have nothing.
    assert _rows(
        got,
        "province_code",
        "group",
        "persons",
        "in_registry",
        "with_allowance",
        "insured_employed",
        "likely_excluded",
    ) == [
        ("10", "disabled", 1, 0, 0, 0, 1),
        ("10", "elderly", 4, 1, 1, 1, 1),
        ("20", "disabled", 1, 0, 0, 0, 1),
    ]


def test_inclusion_errors_use_the_declared_income_and_the_highest_insured_wage(spark):
    registry = spark.createDataFrame(
        [("a", "10", 100_000), ("b", "10", 100_001), ("c", "10", 20_000), ("d", "10", 20_000)],
        f"{PP}, province_code string, annual_income_baht int",
    )
    jobs = spark.createDataFrame(
        [("c", 8_000), ("c", 9_000), ("d", 8_000), ("x", 40_000)], f"{PP}, monthly_wage int"
    )
    got = likely_inclusion_errors({"welfare_registry": registry, "social_security": jobs})
    # a: exactly the ceiling (not above); b: declared above; c: 9,000 x 12 = 108,000 above;
    # d: 96,000 below; x is not a member.
    assert _rows(
        got,
        "registry_members",
        "declared_above_ceiling",
        "insured_wage_above_ceiling",
        "any_sign_above_ceiling",
    ) == [(4, 1, 1, 2)]


def test_employment_counts_a_job_starting_within_365_days_of_graduating(spark):
    grads = spark.createDataFrame(
        [
            (p, date(2024, 3, 1), "it", "10")
            for p in ("on_day_0", "day_365", "day_366", "before", "none")
        ],
        f"{PP}, graduation_date date, field string, institution_province string",
    )
    jobs = spark.createDataFrame(
        [
            ("on_day_0", date(2024, 3, 1)),
            ("day_365", date(2025, 3, 1)),
            ("day_366", date(2025, 3, 2)),
            ("before", date(2024, 2, 29)),
            ("day_365", date(2020, 1, 1)),  # an older job does not matter
        ],
        f"{PP}, start_date date",
    )
    got = employment_within_12m({"graduates": grads, "social_security": jobs})
    assert _rows(got, "field", "graduates", "employed_12m") == [("it", 5, 2)]


def test_public_health_uses_the_latest_screening_and_counts_care_for_each_condition(spark):
    screening = spark.createDataFrame(
        [
            ("a", date(2025, 1, 1), 30.0, 8.0, False, True),
            ("a", date(2025, 6, 1), 32.0, 9.0, True, True),  # latest: diabetic
            ("b", date(2025, 2, 1), 22.0, 5.0, False, True),
        ],
        f"{PP}, screen_date date, bmi double, hba1c_pct double, diabetes boolean, "
        "hypertension boolean",
    )
    visits = spark.createDataFrame(
        [("a", "E11"), ("b", "J06"), ("c", "I10")], f"{PP}, diagnosis_icd10 string"
    )
    pool = {
        "ncd_screening": screening,
        "service_records": visits,
        "elderly_registry": spark.createDataFrame(
            [("a", "10", True), ("b", "10", False), ("c", "10", None)],
            f"{PP}, province_code string, living_alone boolean",
        ),
        "disability_registry": spark.createDataFrame(
            [], f"{PP}, province_code string, disability_type string"
        ),
    }
    got = vulnerable_ncd(pool)
    assert _rows(
        got,
        "group",
        "persons",
        "screened",
        "diabetes",
        "hypertension",
        "diabetes_in_care",
        "hypertension_in_care",
        "mean_bmi",
        "mean_hba1c_pct",
    ) == [("elderly", 3, 2, 1, 2, 1, 0, 27.0, 7.0)]


def test_days_above_the_pm25_standard_and_a_season_without_fires(spark):
    pm = spark.createDataFrame(
        [("10", date(2025, 1, d), v) for d, v in ((1, 37.5), (2, 37.6), (3, 80.0))]
        + [("10", date(2025, 7, 1), 10.0), ("10", date(2025, 7, 2), 12.0)],
        "province_code string, date date, pm25_ugm3 double",
    )
    fires = spark.createDataFrame([("10", date(2025, 1, 3))] * 4, "province_code string, date date")
    visits = spark.createDataFrame([], "province_code string, date date, visits int")
    pool = {"pm25": pm, "hotspots": fires, "respiratory_visits": visits}
    assert _rows(days_above_standard(pool), "days_measured", "days_above") == [(5, 2)]
    seasons = haze_and_health(pool)  # no hotspot in July: correlation null, not an error
    assert _rows(seasons, "season", "hotspots", "corr_hotspots_pm25") == [
        ("haze", 4, round(statistics.correlation([0, 0, 4], [37.5, 37.6, 80.0]), 2)),
        ("rainy", 0, None),
    ]


def test_accident_rate_is_null_not_an_error_without_visitors(spark):
    pool = {
        "tourist_arrivals": spark.createDataFrame(
            [("10", "2025-01", 150_000, 50_000), ("20", "2025-01", 0, 0)],
            "province_code string, month string, thai_visitors long, foreign_visitors long",
        ),
        "passengers": spark.createDataFrame(
            [("10", "2025-01", "road", 900)],
            "province_code string, month string, mode string, passengers long",
        ),
        "road_accidents": spark.createDataFrame(
            [
                ("10", date(2025, 1, 1), 3, 1, 4),
                ("10", date(2025, 1, 2), 1, 0, 1),
                ("20", date(2025, 1, 1), 2, 0, 2),
            ],
            "province_code string, date date, accidents int, deaths int, injuries int",
        ),
    }
    got = accidents_and_visitors(pool)
    assert _rows(got, "province_code", "visitors", "accidents", "accidents_per_100k_visitors") == [
        ("10", 200_000, 4, 2.0),
        ("20", 0, 2, None),
    ]


def test_water_risk_follows_rain_and_reservoir_storage(spark):
    rain = spark.createDataFrame(
        [
            ("10", date(2025, 1, 1), 10.0),
            ("10", date(2025, 8, 1), 600.0),
            ("10", date(2025, 9, 1), 100.0),
        ],
        "province_code string, date date, rain_mm double",
    )
    reservoirs = spark.createDataFrame(
        [
            ("10", date(2025, 1, 31), 100.0, 20.0),
            ("10", date(2025, 8, 1), 100.0, 10.0),
            ("10", date(2025, 8, 31), 100.0, 70.0),  # the month's last report counts
            ("10", date(2025, 9, 30), 100.0, 70.0),
        ],
        "province_code string, date date, capacity_mcm double, storage_mcm double",
    )
    plots = spark.createDataFrame(
        [("10", 10.0, True), ("10", 30.0, False)],
        "province_code string, area_rai double, irrigated boolean",
    )
    forecasts = spark.createDataFrame(
        [], "province_code string, issued_on date, forecast_date date, rain_mm_forecast double"
    )
    pool = {"rainfall": rain, "reservoirs": reservoirs, "plots": plots, "rain_forecasts": forecasts}
    got = drought_flood_risk(pool)
    assert _rows(got, "month", "storage_pct_end", "risk", "exposed_area_rai") == [
        ("2025-01", 20.0, "drought", 30.0),  # rainfed area only
        ("2025-08", 70.0, "flood", 40.0),  # every field
        ("2025-09", 70.0, "normal", 0.0),
    ]


def test_price_swing_is_the_range_over_the_mean(spark):
    prices = spark.createDataFrame(
        [
            ("10", "2025-01", "rice", 9.0),
            ("10", "2025-02", "rice", 11.0),
            ("10", "2025-03", "rice", 10.0),
        ],
        "province_code string, month string, crop string, price_baht_per_kg double",
    )
    expected = spark.createDataFrame(
        [("10", "rice", 9.0, 11.0, 20.0)],
        "province_code string, crop string, price_low_baht_per_kg double, "
        "price_high_baht_per_kg double, price_swing_pct double",
    )
    assert_df_equality(price_swings(prices), expected, ignore_nullable=True)
