import copy
import json

import pytest
from pyspark.sql import functions as F

from pooling import tables
from pooling.errors import ContractError, ExtractNotFoundError
from pooling.ingest import check_columns, ingest, validate

HEADER = "case_no,citizen_id,first_name,last_name,record_type,start_date"


def _write_csv(path, lines):
    path.mkdir(parents=True, exist_ok=True)
    (path / "part-0.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return str(path)


def test_validate_gives_one_reason_per_bad_row(spark, conf):
    contract = conf.dataset("justice", "justice_records")
    rows = [
        ("J1", "1101700207030", "prisoner", "2023-01-05"),  # good
        ("J2", "๑-๑๐๑๗-๐๐๒๐๗-๐๓-๐", "probation", "2023-02-01"),  # good after normalising
        ("J3", "1101700207031", "prisoner", "2023-01-05"),  # bad check digit
        ("J4", "1101700207030", "", "2023-01-05"),  # mandatory field missing
        ("J5", "1101700207030", "bankrupt", "5 Jan 2023"),  # not a date
        ("J6", None, "bankrupt", "2023-01-05"),  # no ID
    ]
    df = spark.createDataFrame(
        rows, "case_no string, citizen_id string, record_type string, start_date string"
    ).withColumns({"first_name": F.lit("ก"), "last_name": F.lit("ข")})
    got = {r.case_no: r._reason for r in df.transform(validate(contract)).collect()}
    assert got == {
        "J1": None,
        "J2": None,
        "J3": "bad_check_digit",
        "J4": "missing:record_type",
        "J5": "bad_type:start_date",
        "J6": "empty",
    }


def test_missing_columns_are_an_error_naming_extract_and_columns(spark, conf):
    contract = conf.dataset("justice", "justice_records")
    df = spark.createDataFrame([("1", "x")], "case_no string, citizen_id string")
    with pytest.raises(ContractError) as e:
        check_columns(df, contract, "extract /x (justice.justice_records)")
    msg = str(e.value)
    assert "/x (justice.justice_records)" in msg and "'record_type'" in msg
    assert "Nothing was written" in msg


def test_ingest_counts_quarantines_and_is_idempotent(spark, conf, zones, master_key, tmp_path):
    path = _write_csv(
        tmp_path / "landing" / "j",
        [
            HEADER + ",remarks",
            "J1,1101700207030,สมชาย,ใจดี,prisoner,2023-01-05,x",
            "J1,1101700207030,สมชาย,ใจดี,prisoner,2023-01-05,x",  # exact duplicate
            "J2,1-1017-00207-03-0,สมหญิง,ใจดี,probation,2023-02-01,y",
            "J3,1101700207031,สมศรี,ใจดี,prisoner,2023-01-05,z",  # bad check digit
            "J4,110170020703,สมปอง,ใจดี,prisoner,2023-01-05,",  # wrong length
        ],
    )
    r = ingest(
        spark, conf, zones, master_key, agency="justice", dataset="justice_records", path=path
    )
    assert (r.input_rows, r.accepted, r.duplicates) == (5, 2, 1)
    assert r.quarantined == {"bad_check_digit": 1, "wrong_length": 1}
    assert r.dropped_columns == ["remarks"]

    table = spark.read.format("delta").load(zones.deidentified("justice", "justice_records"))
    assert sorted(table.columns) == ["linkage_pseudonym", "record_type", "start_date"]
    assert table.select("linkage_pseudonym").distinct().count() == 1  # J1 and J2: same person
    quarantine = spark.read.format("delta").load(zones.quarantine("justice", "justice_records"))
    assert sorted(r.reason for r in quarantine.collect()) == ["bad_check_digit", "wrong_length"]

    props = tables.properties(spark, r.table)
    assert props["key_id"] == master_key.key_id
    assert props["standard_version"] == conf.standard.version
    assert props["data_class"] == "secret" and props["rows"] == "2"

    again = ingest(
        spark, conf, zones, master_key, agency="justice", dataset="justice_records", path=path
    )
    assert again.skipped and again.version == r.version

    # A new version of the standard must re-apply it, even to the same extract.
    newer = copy.copy(conf)
    newer.standard = conf.standard.model_copy(update={"version": "1.0.1"})
    redo = ingest(
        spark, newer, zones, master_key, agency="justice", dataset="justice_records", path=path
    )
    assert not redo.skipped and redo.version == r.version + 1
    assert tables.properties(spark, r.table)["standard_version"] == "1.0.1"

    events = spark.read.format("delta").load(zones.audit).where("action = 'ingest'").collect()
    assert len(events) == 2 and {json.loads(e.details)["accepted"] for e in events} == {2}


def test_missing_extract_is_a_clear_error(spark, conf, zones, master_key, tmp_path):
    with pytest.raises(ExtractNotFoundError, match="does not exist"):
        ingest(
            spark,
            conf,
            zones,
            master_key,
            agency="justice",
            dataset="justice_records",
            path=str(tmp_path / "nope"),
        )


def test_extract_missing_a_column_writes_nothing(spark, conf, zones, master_key, tmp_path):
    path = _write_csv(tmp_path / "landing" / "bad", ["case_no,citizen_id", "J1,1101700207030"])
    with pytest.raises(ContractError, match="missing column"):
        ingest(
            spark, conf, zones, master_key, agency="justice", dataset="justice_records", path=path
        )
    assert not tables.exists(spark, zones.deidentified("justice", "justice_records"))
