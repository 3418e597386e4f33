"""Property-based tests (hypothesis): citizen-ID normalisation and the contract checks.

Each example is a whole batch evaluated in one Spark job, so a few dozen examples cover
thousands of values without a job per value.
"""

from __future__ import annotations

import re
from functools import reduce

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from pooling.core.config import ColumnType
from pooling.core.errors import ContractError
from pooling.core.rows import local_rows
from pooling.ingest.validate import REASON, TYPED, check_columns, flag_duplicate_keys, validate
from pseudonymize import check_digit, citizen_id_problem, normalize_citizen_id
from pseudonymize.citizen_id import THAI_DIGITS
from pseudonymize.reference import province_codes

SPARK = settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
# The checks are row by row, so ten of Hypothesis's lists go to Spark as one DataFrame: the same
# 30 lists in three Spark jobs instead of thirty (each job costs the suite about 0.6 s).
BATCH = 10
BATCHED = settings(SPARK, max_examples=SPARK.max_examples // BATCH)
SEPARATORS = ["-", " ", ".", "/", "\u2010", "\u2011", "\u2012", "\u2013", "\u2014", "\u2015", "\t"]
GROUPS = (1, 4, 5, 2, 1)  # how the ID is printed on the card: 1-2345-67890-12-3


def _normalised(spark, values: list[str | None]) -> list:
    """Per value: its normal form ``n``, its problem ``p`` and the normal form of ``n``."""
    df = spark.createDataFrame([(i, v) for i, v in enumerate(values)], "i int, v string")
    normal = df.withColumn("n", normalize_citizen_id("v"))
    rows = normal.select(
        "i", "n", citizen_id_problem("n").alias("p"), normalize_citizen_id("n").alias("nn")
    )
    return rows.orderBy("i").collect()


def _normalise(spark, values: list[str | None]) -> list[tuple[str | None, str | None]]:
    return [(r.n, r.p) for r in _normalised(spark, values)]


@st.composite
def valid_ids(draw) -> str:
    body = str(draw(st.integers(1, 8))) + draw(st.text("0123456789", min_size=11, max_size=11))
    return body + str(check_digit(body))


@st.composite
def sent_forms(draw, cid: str) -> str:
    """One way an agency's system may send ``cid``."""
    form = draw(st.sampled_from(["grouped", "spreadsheet", "scientific"]))
    if form == "grouped":
        parts, at = [], 0
        for g in GROUPS:
            parts.append(cid[at : at + g])
            at += g
        seps = draw(st.lists(st.sampled_from(["", *SEPARATORS]), min_size=4, max_size=4))
        text = parts[0] + "".join(s + p for s, p in zip(seps, parts[1:], strict=True))
    elif form == "spreadsheet":  # 1101700207030.0, .00 ...
        text = cid + "." + "0" * draw(st.integers(1, 3))
    else:  # 1.10170020703E12: a spreadsheet drops the mantissa's trailing zeros
        mantissa = cid[1:].rstrip("0") or "0"
        mantissa += "0" * draw(st.integers(0, 2))
        text = f"{cid[0]}.{mantissa}{draw(st.sampled_from(['E', 'e']))}"
        text += draw(st.sampled_from(["12", "+12"]))
    # Thai digits for any of the digits, and stray spaces around it all.
    thai = draw(st.lists(st.booleans(), min_size=len(text), max_size=len(text)))
    text = "".join(
        THAI_DIGITS[int(c)] if c.isdigit() and t else c for c, t in zip(text, thai, strict=True)
    )
    pad = st.sampled_from(["", " ", "  "])
    return draw(pad) + text + draw(pad)


@BATCHED
@given(data=st.data())
def test_every_form_of_a_valid_id_normalises_to_it(spark_session, data):
    lists = [data.draw(st.lists(valid_ids(), min_size=1, max_size=40)) for _ in range(BATCH)]
    ids = [cid for drawn in lists for cid in drawn]
    sent = [data.draw(sent_forms(cid)) for cid in ids]
    assert _normalise(spark_session, sent) == [(cid, None) for cid in ids]


@st.composite
def broken_ids(draw) -> tuple[str, str]:
    """A valid ID damaged one way, with the reason the check must give."""
    cid = draw(valid_ids())
    how = draw(st.sampled_from(["check_digit", "shorter", "longer", "letter"]))
    if how == "check_digit":
        wrong = (int(cid[-1]) + draw(st.integers(1, 9))) % 10
        return cid[:-1] + str(wrong), "bad_check_digit"
    if how == "shorter":
        return cid[: draw(st.integers(1, 12))], "wrong_length"
    if how == "longer":
        return cid + draw(st.text("0123456789", min_size=1, max_size=3)), "wrong_length"
    at = draw(st.integers(0, 12))
    letter = draw(st.sampled_from("AxZกข"))
    return cid[:at] + letter + cid[at + 1 :], "non_digit"


@BATCHED
@given(
    batch=st.lists(st.lists(broken_ids(), min_size=1, max_size=40), min_size=BATCH, max_size=BATCH)
)
def test_a_damaged_id_is_refused_with_its_reason(spark_session, batch):
    cases = [case for drawn in batch for case in drawn]
    got = _normalise(spark_session, [sent for sent, _ in cases])
    assert [p for _, p in got] == [reason for _, reason in cases]


@st.composite
def number_like(draw) -> str:
    """What a spreadsheet may make of any number: plain with a fraction of zeros (maybe with
    leading zeros), or scientific with up to 16 decimals."""
    digits = st.text("0123456789", min_size=1, max_size=16)  # an ID's 12 decimals, and more
    if draw(st.booleans()):
        return draw(digits) + "." + "0" * draw(st.integers(1, 2))
    return f"{draw(st.integers(0, 9))}.{draw(digits)}E{draw(st.sampled_from(['12', '+12', '11']))}"


@BATCHED
@given(
    batch=st.lists(
        st.lists(
            st.one_of(st.none(), st.text(max_size=30), number_like()), min_size=1, max_size=80
        ),
        min_size=BATCH,
        max_size=BATCH,
    )
)
def test_whatever_is_accepted_is_a_valid_id_made_of_the_digits_sent(spark_session, batch):
    """Soundness over arbitrary text: an accepted value is 13 digits with the right check digit;
    normalising never makes up digits (a spreadsheet form may only drop trailing zeros and add
    its exponent's), whether or not the result is accepted; normalising twice changes nothing."""
    values = [v for drawn in batch for v in drawn]
    rows = _normalised(spark_session, values)
    assert [r.nn for r in rows] == [r.n for r in rows]
    for v, r in zip(values, rows, strict=True):
        if r.p is None:
            assert re.fullmatch(r"[0-9]{13}", r.n) and int(r.n[12]) == check_digit(r.n[:12])
        if r.n and re.fullmatch(r"[0-9]+", r.n):  # accepted or not: no digit made up
            ascii_digits = v.translate(str.maketrans(THAI_DIGITS, "0123456789"))
            digits = "".join(c for c in ascii_digits if c in "0123456789")
            assert digits.startswith(r.n.rstrip("0")), (v, r.n)


@pytest.mark.parametrize("sent", ["1.1017002070299E12", "01101700207030.0"])
def test_a_number_that_is_not_exactly_an_id_is_not_made_into_one(spark_session, sent):
    # 1.1017002070299E12 rounds to the valid 1101700207030; the leading zero is not in any ID.
    ((n, problem),) = _normalise(spark_session, [sent])
    assert problem is not None


# --------------------------------------------------------------------------- contract checks


def _contracts(conf):
    return [(f"{a}.{d}", c) for a, d, c in conf.datasets()]


@settings(max_examples=100, deadline=None)
@given(data=st.data())
def test_check_columns_keeps_the_contract_and_names_what_is_missing(spark_session, conf, data):
    name, contract = data.draw(st.sampled_from(_contracts(conf)))
    expected = [c.name for c in contract.columns]
    present = data.draw(st.lists(st.sampled_from(expected), unique=True))
    extra = data.draw(
        st.lists(
            st.from_regex(r"[a-z][a-z_]{0,8}", fullmatch=True).filter(lambda n: n not in expected),
            unique=True,
            max_size=3,
        )
    )
    columns = data.draw(st.permutations(present + extra))
    df = spark_session.createDataFrame([], ", ".join(f"`{c}` string" for c in columns) or "x int")
    if not columns:
        df = df.drop("x")
    missing = [c for c in expected if c not in present]
    if missing:
        with pytest.raises(ContractError) as e:
            check_columns(df, contract, name)
        message = str(e.value)
        assert name in message and "Nothing was written" in message
        assert f"missing column(s) {missing}" in message
    else:
        kept, dropped = check_columns(df, contract, name)
        assert kept.columns == expected
        assert dropped == [c for c in columns if c in extra]


GOOD = {
    ColumnType.integer: "42",
    ColumnType.long: "1234567890123",
    ColumnType.double: "12.5",
    ColumnType.boolean: "true",
    ColumnType.date: "2024-03-05",
}
BAD = {
    ColumnType.integer: "4x2",
    ColumnType.long: "12 34",
    ColumnType.double: "twelve",
    ColumnType.boolean: "maybe",
    ColumnType.date: "2024-13-45",
}


def _person_contracts(conf):
    """Contracts with a citizen ID whose key a unique ID or unique strings make unique."""
    out = []
    for name, c in _contracts(conf):
        by_name = {col.name: col for col in c.columns}
        unique = [
            k
            for k in c.key
            if k == c.citizen_id_column
            or (by_name[k].type is ColumnType.string and not by_name[k].codes)
        ]
        if c.citizen_id_column and unique:
            out.append((name, c))
    return out


def _expected_reason(contract, kinds: dict[str, str]) -> str | None:
    """The first fault in the order the contract is checked: the citizen ID, then each column's
    presence, type and code, column by column."""
    id_col = contract.citizen_id_column
    reasons = {"blank": "empty", "bad": "bad_check_digit"}
    if kinds[id_col] != "good":
        return reasons[kinds[id_col]]
    for c in contract.person_ids:  # another person's ID: its reason and column, or left empty
        if c.name != id_col and kinds[c.name] != "good" and c.if_invalid == "quarantine":
            return f"{reasons[kinds[c.name]]}:{c.name}"
    ids = {c.name for c in contract.person_ids}
    for c in contract.columns:
        if c.name in ids:
            continue
        kind = kinds[c.name]
        if kind == "blank" and c.mandatory:
            return f"missing:{c.name}"
        if kind == "bad" and c.type is not ColumnType.string:
            return f"bad_type:{c.name}"
        if kind == "bad" and c.codes:
            return f"unknown_code:{c.name}"
    return None


def _faulty_rows(data, contract) -> tuple[list[dict], list[str | None]]:
    """1-25 rows of ``contract``, each column good, blank or bad at random, with the reason the
    first fault must give (None for a good row)."""
    province = sorted(province_codes())[0]
    n = data.draw(st.integers(1, 25))
    offset = data.draw(st.integers(10**10, 8 * 10**10))
    ids = [c.name for c in contract.person_ids]
    rows, expected = [], []
    for i in range(n):
        kinds, row = {}, {}
        for c in contract.columns:
            faultable = c.name in ids or c.type is not ColumnType.string or c.codes
            choices = ["good", "blank"] + (["bad"] if faultable else [])
            kinds[c.name] = kind = data.draw(st.sampled_from(choices))
            if kind == "blank":
                value = data.draw(st.sampled_from([None, "", "   "]))
            elif c.name in ids:
                body = str(offset + i * 7919 + ids.index(c.name)).zfill(12)
                digit = check_digit(body) if kind == "good" else (check_digit(body) + 3) % 10
                value = body + str(digit)
            elif c.codes:
                code = province if c.codes == "province" else province + "01"
                value = code if kind == "good" else "9" * len(code)
            elif c.type is ColumnType.string:
                value = f"{c.name}-{i}"  # unique: a string key never repeats
            else:
                value = (GOOD if kind == "good" else BAD)[c.type]
            row[c.name] = value
        rows.append(row)
        expected.append(_expected_reason(contract, kinds))
    return rows, expected


@BATCHED
@given(data=st.data())
def test_validate_quarantines_exactly_the_faulty_rows_with_the_first_fault(
    spark_session, conf, data
):
    # Each list is validated under its own contract in a frame of its own (no key is shared
    # between lists); the ten frames' results are unioned, so one Spark job checks them all.
    cases, frames = [], []
    for j in range(BATCH):
        name, contract = data.draw(st.sampled_from(_person_contracts(conf)))
        rows, expected = _faulty_rows(data, contract)
        schema = T.StructType([T.StructField(c.name, T.StringType()) for c in contract.columns])
        df = local_rows(
            spark_session, [tuple(r[c.name] for c in contract.columns) for r in rows], schema
        ).withColumn("_row", F.monotonically_increasing_id())
        checked = df.transform(validate(contract)).transform(flag_duplicate_keys(contract))
        id_col = contract.citizen_id_column
        frames.append(
            checked.select(
                F.lit(j).alias("_list"), "_row", REASON, F.col(id_col + TYPED).alias("id")
            )
        )
        cases.append((name, id_col, rows, expected))
    got = reduce(DataFrame.unionByName, frames).orderBy("_list", "_row").collect()
    for j, (name, id_col, rows, expected) in enumerate(cases):
        mine = [r for r in got if r["_list"] == j]
        assert [r[REASON] for r in mine] == expected, name
        # Accepted rows carry their canonical ID; the accounting balances by construction.
        assert all(r["id"] == rows[i][id_col] for i, r in enumerate(mine) if r[REASON] is None)
