"""The stray-identifier scan: every form of a planted identifier found, ordinary text left alone,
masking that leaves nothing behind, and what ingest does with a hit (quarantine, mask, refuse)."""

from __future__ import annotations

import random
import re

import pytest
from pyspark.sql import functions as F

from pooling.core.errors import MisclassifiedColumnError
from pooling.dev.synth.low_income import CASEWORKER_NOTES, PAYMENT_NOTES
from pooling.ingest import ingest
from pseudonymize.stray import masked, stray_kinds, thai_given_names

THAI_DIGITS = "๐๑๒๓๔๕๖๗๘๙"
THAI_LETTER = "[\u0e01-\u0e4e]"  # what the scan counts as a letter of a name


def _check_digit(first12: str) -> int:
    """The oracle: the check digit as the Department of Provincial Administration defines it,
    written out here, independently of pseudonymize.citizen_id."""
    total = sum(int(first12[i]) * (13 - i) for i in range(12))
    return (11 - total % 11) % 10


def _render(digits: str, form: str) -> str:
    if form == "plain":
        return digits
    if form == "printed":  # 1-2345-67890-12-3
        return "-".join([digits[0], digits[1:5], digits[5:10], digits[10:12], digits[12]])
    if form == "spaced":
        return " ".join([digits[0], digits[1:5], digits[5:10], digits[10:12], digits[12]])
    if form == "dotted":
        return ".".join([digits[0], digits[1:5], digits[5:10], digits[10:12], digits[12]])
    if form == "thai":
        return digits.translate(str.maketrans("0123456789", THAI_DIGITS))
    if form == "scientific":  # a spreadsheet's 1.101700207030E12 (trailing zeros trimmed)
        return f"{digits[0]}.{digits[1:].rstrip('0') or '0'}E12"
    raise ValueError(form)


def _kinds(spark, texts, own=None):
    rows = [(t, o) for t, o in zip(texts, own or [None] * len(texts), strict=True)]
    df = spark.createDataFrame(rows, "t string, own string")
    got = df.select(stray_kinds("t", ["own"]).alias("k")).collect()
    return [sorted(r.k) if r.k is not None else None for r in got]


def test_citizen_ids_in_every_form_with_a_valid_check_digit_and_no_others(spark):
    """300 texts with a 13-digit number in one of six forms, half with a valid check digit:
    the scan flags exactly those the oracle calls valid."""
    rng = random.Random(19)
    forms = ("plain", "printed", "spaced", "dotted", "thai", "scientific")
    texts, want = [], []
    for i in range(300):
        first12 = str(rng.randint(1, 8)) + "".join(str(rng.randint(0, 9)) for _ in range(11))
        good = _check_digit(first12)
        last = good if i % 2 == 0 else (good + rng.randint(1, 9)) % 10
        digits = first12 + str(last)
        form = forms[i % len(forms)]
        texts.append(f"ติดต่อ {_render(digits, form)} ด่วน")
        want.append(last == good)
    got = ["citizen_id" in k for k in _kinds(spark, texts)]
    assert got == want
    assert sum(want) == 150


FOUND = {
    "โทร 081-234-5678 ก่อนเข้าบ้าน": "phone",
    "มือถือ 0912345678": "phone",
    "โทร +66 81 234 5678": "phone",
    "สำนักงาน 02-123-4567": "phone",
    "ส่งเอกสารที่ somchai.k@example.co.th แล้ว": "email",
    "พบ คุณสมชาย ใจดี ที่บ้าน": "name",
    "ผู้ป่วย มาลี สุขใจ มาตรวจ": "name",
    "ส่งต่อนางสาวสมหญิง": "name",
    "ติดต่อ 1-1017-00207-03-0": "citizen_id",
    # The shortest of each kind, bare: each detector's cheap gate must let it through.
    "021234567": "phone",
    "a@b.co": "email",
    "1101700207030": "citizen_id",
    "สมชาย ใจดี": "name",
}
LEFT_ALONE = [
    "E11",
    "HC1001",
    "elderly_allowance",
    "2025-03-01",
    "จ่าย 1,500 บาท 2 เดือน",
    "เลขที่ 123456789",  # 9 digits: no phone, no ID
    "02123456",  # one digit short of a fixed line
    "เลข 1101700207031",  # 13 digits, wrong check digit
    "เลข 11017002070300",  # 14 digits: an ID inside a longer number is not one
    "ตรวจสอบเอกสารครบถ้วน รอผลการตรวจ",
    "ข้าวหอมมะลิ",
    "user at example dot com",
]


def test_each_kind_is_found_and_ordinary_values_are_left_alone(spark):
    texts = [*FOUND, *LEFT_ALONE]
    got = dict(zip(texts, _kinds(spark, texts), strict=True))
    assert got == {**{t: [k] for t, k in FOUND.items()}, **{t: [] for t in LEFT_ALONE}}


def test_the_rows_own_identifiers_are_found_whatever_their_shape(spark):
    texts = ["นัดกับสมปองแล้ว", "อ้างอิง WR00012345", "นัดกับสมปองแล้ว", "ok", "A12"]
    own = ["สมปอง", "WR00012345", "สมใจ", "ok", "A12"]  # "ok": too short to look for
    # "A12": a text of the shortest length looked for, which is the value itself
    found = [["own_identifier"], ["own_identifier"], [], [], ["own_identifier"]]
    assert _kinds(spark, texts, own) == found


def test_masking_leaves_no_identifier_behind(spark):
    texts = [
        "ติดต่อ 1-1017-00207-03-0 โทร 081-234-5678",
        "เลขบัตร ๑๑๐๑๗๐๐๒๐๗๐๓๐ อีเมล a.b@example.co.th",
        "พบ คุณสมชาย ใจดี ที่บ้าน กับ สมปอง",
        "ตรวจสอบเอกสารครบถ้วน",
    ]
    df = spark.createDataFrame([(t, "สมปอง") for t in texts], "t string, own string")
    out = df.select(masked("t", ["own"]).alias("m"))
    got = [r.m for r in out.collect()]
    assert got == [
        "ติดต่อ [citizen_id] โทร [phone]",
        "เลขบัตร [citizen_id] อีเมล [email]",
        "พบ [name] ที่บ้าน กับ [own_identifier]",
        "ตรวจสอบเอกสารครบถ้วน",
    ]
    again = out.select(stray_kinds("m").alias("k")).collect()
    assert [r.k for r in again] == [[], [], [], []]


def test_clean_synthetic_notes_hold_nothing(spark):
    """The generator's clean notes must not trip the scan, or its counts would be wrong."""
    notes = list(CASEWORKER_NOTES + PAYMENT_NOTES)
    assert _kinds(spark, notes) == [[]] * len(notes)


def test_names_come_from_pythainlp_not_from_the_synthetic_vocabulary():
    """The corpus is PyThaiNLP's (thousands of names), so a name Faker never draws is found too."""
    from faker import Faker

    names = set(thai_given_names())
    assert len(names) > 10_000
    fake = Faker("th_TH")
    fake.seed_instance(1)
    drawn = {fake.first_name() for _ in range(2000)}
    assert len(names - drawn) > 10_000


def test_every_name_of_the_corpus_is_found_and_near_misses_are_not(spark):
    """The corpus sits in the plan in buckets of a hash computed in Python (zlib) and looked up
    in Spark (crc32): one name in a wrong bucket would go unseen. Each name after a title is a
    hit; the same name with a character dropped or added, where that is no name, is not. (One
    entry, "ป.เสฎฐวุฒิ", holds a dot: a name is a run of Thai letters to the scan.)"""
    names = [n for n in thai_given_names() if re.fullmatch(f"{THAI_LETTER}+", n)]
    assert len(names) > 11_000
    corpus = set(names)
    misses = sorted(
        {w for n in names for w in (n[:-1], n + "ก") if len(w) > 1 and w not in corpus}
    )[:3000]
    texts = [f"คุณ{w}" for w in (*names, *misses)]
    df = spark.createDataFrame([(t,) for t in texts], "t string")
    hits = {r.t for r in df.where(F.array_contains(stray_kinds("t"), "name")).select("t").collect()}
    assert hits == {f"คุณ{n}" for n in names}


# --------------------------------------------------------------------------- at ingest

WELFARE = (
    "registry_no,citizen_id,first_name,last_name,phone,address,district_code,birth_date,sex,"
    "registered_on,annual_income_baht,household_size,caseworker_note"
)
RECIPIENTS = "recipient_no,citizen_id,first_name,last_name,benefit,monthly_baht,since,payment_note"


def _id(n: int) -> str:
    first12 = f"{1101700200000 // 10 + n:012d}"
    return first12 + str(_check_digit(first12))


def _write(path, header, lines):
    path.mkdir(parents=True, exist_ok=True)
    (path / "part-0.csv").write_text("\n".join([header, *lines]) + "\n", encoding="utf-8")
    return str(path)


def _welfare_lines(n: int, notes: dict[int, str]) -> list[str]:
    return [
        f"WR{i:08d},{_id(i)},สมปอง,ใจดี,0812345{i:03d},1 หมู่ 2,1001,1960-05-01,M,2017-03-01,"
        f"50000,3,{notes.get(i, 'เยี่ยมบ้านแล้ว')}"
        for i in range(n)
    ]


def test_ingest_masks_a_hit_where_the_contract_says_mask(spark, conf, zones, master_key, tmp_path):
    notes = {3: f"ติดต่อ {_render(_id(3), 'printed')}", 7: "โทร 0812345007 ค่ะ"}
    path = _write(tmp_path / "w", WELFARE, _welfare_lines(40, notes))
    r = ingest(
        spark, conf, zones, master_key, agency="finance", dataset="welfare_registry", path=path
    )
    assert (r.accepted, r.quarantined, r.masked) == (40, {}, {"caseworker_note": 2})
    kept = spark.read.format("delta").load(r.table).select("caseworker_note")
    values = sorted({row.caseworker_note for row in kept.collect()})
    assert values == ["ติดต่อ [citizen_id]", "เยี่ยมบ้านแล้ว", "โทร [own_identifier] ค่ะ"]
    events = spark.read.format("delta").load(zones.audit).where("action = 'ingest'").collect()
    assert '"masked": {"caseworker_note": 2}' in events[-1].details


def test_ingest_quarantines_a_hit_where_the_contract_says_so(
    spark, conf, zones, master_key, tmp_path
):
    notes = {5: "พบ คุณสมศักดิ์ รักดี", 9: f"อ้างอิง {_id(9)}"}
    lines = [
        f"SD{i:06d},{_id(i)},สมปอง,ใจดี,elderly_allowance,700,2020-01-01,"
        f"{notes.get(i, 'โอนเข้าบัญชีแล้ว')}"
        for i in range(40)
    ]
    path = _write(tmp_path / "b", RECIPIENTS, lines)
    r = ingest(
        spark,
        conf,
        zones,
        master_key,
        agency="social_development",
        dataset="benefit_recipients",
        path=path,
    )
    assert (r.accepted, r.quarantined, r.masked) == (38, {"pii:payment_note": 2}, {})
    kept = spark.read.format("delta").load(r.table).select("payment_note").distinct().collect()
    assert [row.payment_note for row in kept] == ["โอนเข้าบัญชีแล้ว"]


def test_a_column_full_of_identifiers_is_refused_by_name(spark, conf, zones, master_key, tmp_path):
    """Three hits in 38 rows (7.9 %, over 5 %): a misclassified column, refused whole."""
    notes = {i: f"โทร 08{i:08d}" for i in (1, 2, 3)}
    path = _write(tmp_path / "w", WELFARE, _welfare_lines(38, notes))
    with pytest.raises(MisclassifiedColumnError) as e:
        ingest(
            spark, conf, zones, master_key, agency="finance", dataset="welfare_registry", path=path
        )
    msg = str(e.value)
    assert "caseworker_note (3 of 38 rows)" in msg and "Nothing was written" in msg
    assert "08000000" not in msg and _id(1) not in msg  # no value in the message
    assert not (tmp_path / "data" / "deidentified" / "finance").exists()
