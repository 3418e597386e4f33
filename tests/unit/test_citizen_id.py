import pytest

from pseudonymize import (
    check_digit,
    citizen_id_problem,
    citizen_id_problem_as_sent,
    normalize_citizen_id,
)

VALID = "1101700207030"  # check digit 0 by the formula


def test_check_digit_formula():
    assert check_digit("110170020703") == 0
    assert (
        check_digit("310120012345")
        == (11 - sum(int(d) * (13 - i) for i, d in enumerate("310120012345")) % 11) % 10
    )


@pytest.mark.parametrize(
    "sent",
    [
        VALID,
        f"  {VALID} ",
        "1-1017-00207-03-0",
        "1 1017 00207 03 0",
        "๑๑๐๑๗๐๐๒๐๗๐๓๐",
        "๑-๑๐๑๗-๐๐๒๐๗-๐๓-๐",
        f"{VALID}.0",
        "1.10170020703E12",
        "1.101700207030E+12",
    ],
)
def test_normalises_the_forms_agencies_send(spark, sent):
    row = (
        spark.createDataFrame([(sent,)], "v string")
        .select(normalize_citizen_id("v").alias("n"))
        .first()
    )
    assert row.n == VALID


@pytest.mark.parametrize(
    "sent, reason",
    [
        (VALID, None),
        (None, "empty"),
        ("", "empty"),
        ("   ", "empty"),
        ("11017002070A0", "non_digit"),
        ("110170020703", "wrong_length"),
        ("11017002070300", "wrong_length"),
        ("1101700207031", "bad_check_digit"),
        ("1.5", "wrong_length"),
        ("12345678901x3", "non_digit"),
    ],
)
def test_reason_codes(spark, sent, reason):
    row = (
        spark.createDataFrame([(sent,)], "v string")
        .select(citizen_id_problem_as_sent("v").alias("p"))
        .first()
    )
    assert row.p == reason


def test_every_check_digit_is_validated(spark):
    # For a fixed body exactly one of the ten last digits is valid, and it is the formula's.
    body = "310120012345"
    df = spark.createDataFrame([(body + str(d),) for d in range(10)], "v string")
    ok = [r.v for r in df.where(citizen_id_problem("v").isNull()).collect()]
    assert ok == [body + str(check_digit(body))]
