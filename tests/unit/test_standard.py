from datetime import date

import pytest
from chispa import assert_df_equality
from pyspark.sql import functions as F

from pseudonymize import hmac_sha256
from pseudonymize.errors import ContractError


def test_deidentify_drops_generalises_pseudonymises_and_keeps(spark, conf, master_key):
    contract = conf.dataset("finance", "welfare_registry")
    df = spark.createDataFrame(
        [
            (
                "WR1",
                "1101700207030",
                "สมชาย",
                "ใจดี",
                "0812345678",
                "12/3 ถนนสุขุมวิท",
                "1001",
                date(1960, 1, 2),
                "M",
                date(2017, 5, 1),
                50000,
                3,
                "เยี่ยมบ้านแล้ว",
            )
        ],
        "registry_no string, citizen_id string, first_name string, last_name string, "
        "phone string, address string, district_code string, birth_date date, sex string, "
        "registered_on date, annual_income_baht int, household_size int, caseworker_note string",
    )
    out = df.transform(conf.standard.deidentify(contract.columns, master_key))
    expected = (
        hmac_sha256(df.select("citizen_id"), "citizen_id", master_key.material, "lp").first().lp
    )
    assert out.columns == [
        "linkage_pseudonym",
        "province_code",
        "age_band",
        "sex",
        "registered_on",
        "annual_income_baht",
        "household_size",
        "caseworker_note",
    ]
    row = out.first()
    assert row.linkage_pseudonym == expected
    assert (row.province_code, row.age_band, row.sex) == ("10", "65-69", "M")


def test_a_column_without_a_field_class_is_an_error(spark, conf, master_key):
    contract = conf.dataset("justice", "justice_records")
    df = spark.createDataFrame(
        [("1", "1101700207030", "a", "b", "prisoner", None, "x")],
        "case_no string, citizen_id string, first_name string, "
        "last_name string, record_type string, start_date date, "
        "nickname string",
    )
    with pytest.raises(ContractError, match=r"columns without a field class: \['nickname'\]"):
        df.transform(conf.standard.deidentify(contract.columns, master_key))


@pytest.mark.parametrize(
    "birth, band",
    [
        (date(2026, 1, 1), "00-04"),
        (date(2021, 1, 2), "00-04"),
        (date(2021, 1, 1), "05-09"),
        (date(1966, 1, 2), "55-59"),
        (date(1966, 1, 1), "60-64"),
        (date(1941, 1, 1), "85+"),
        (date(1900, 6, 1), "85+"),
        (date(2027, 1, 1), None),
    ],
)
def test_age_band_at_the_reference_date(spark, conf, birth, band):
    rule = conf.standard.generalisation("age_band_5y")
    assert conf.standard.reference_date == date(2026, 1, 1)
    got = spark.createDataFrame([(birth,)], "b date").select(
        rule.apply(F.col("b"), conf.standard.reference_date).alias("band")
    )
    assert_df_equality(got, spark.createDataFrame([(band,)], "band string"), ignore_nullable=True)


@pytest.mark.parametrize(
    "postcode, province",
    [
        ("50200", "50"),  # Chiang Mai
        ("11000", "12"),  # Nonthaburi: postcode prefix 11, province code 12
        ("10330", "10"),  # Bangkok
        ("10270", "11"),  # Samut Prakan shares prefix 10
        (" 40000 ", "40"),
        ("1027", None),
        ("ABCDE", None),
        (None, None),
    ],
)
def test_postcode_to_province(spark, conf, postcode, province):
    rule = conf.standard.generalisation("postcode_province")
    got = (
        spark.createDataFrame([(postcode,)], "p string")
        .select(rule.apply(F.col("p"), conf.standard.reference_date).alias("province"))
        .first()
    )
    assert got.province == province
