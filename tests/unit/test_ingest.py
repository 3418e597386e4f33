import copy
import json

import pytest
from pyspark.sql import functions as F

from pooling.core import tables
from pooling.core.errors import ContractError, ExtractNotFoundError
from pooling.ingest import ingest
from pooling.ingest.validate import check_columns, validate

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
    # The figures of the ingest that did the work, from its audit event.
    assert (again.input_rows, again.accepted, again.quarantined) == (5, 2, r.quarantined)
    assert "5 rows in = 2 accepted" in again.summary()

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


# --------------------------------------------------------------------------- upsert datasets


def _write_jsonl(path, rows):
    path.mkdir(parents=True, exist_ok=True)
    lines = [json.dumps(r, ensure_ascii=False) for r in rows]
    (path / "part-0.json").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return str(path)


def _visit(visit_id, citizen_id, cost, day="2025-03-01"):
    return {
        "visit_id": visit_id,
        "citizen_id": citizen_id,
        "first_name": "สมชาย",
        "last_name": "ใจดี",
        "service_date": day,
        "hospital_code": "H1001",
        "diagnosis_icd10": "E11",
        "cost_baht": cost,
    }


def _costs(spark, zones):
    from pseudonymize.standard import RECORD_KEY

    df = spark.read.format("delta").load(zones.deidentified("public_health", "service_records"))
    assert RECORD_KEY in df.columns and "visit_id" not in df.columns
    return sorted(r.cost_baht for r in df.collect())


def test_upsert_dataset_merges_extracts_on_the_record_key(spark, conf, zones, master_key, tmp_path):
    assert conf.dataset("public_health", "service_records").load == "upsert"
    kw = {"agency": "public_health", "dataset": "service_records"}
    a = _write_jsonl(
        tmp_path / "landing" / "a",
        [
            _visit("V1", "1101700207030", "100.0"),
            _visit("V2", "1101700207030", "200.0"),
            _visit("V3", "1101700207030", "300.0"),
            _visit("V3", "1101700207030", "301.0"),  # same visit, other cost: which is right?
        ],
    )
    first = ingest(spark, conf, zones, master_key, path=a, **kw)
    assert (first.accepted, first.quarantined) == (2, {"duplicate_key": 2})
    assert (first.inserted, first.updated) == (2, 0)
    assert _costs(spark, zones) == [100.0, 200.0]

    b = _write_jsonl(
        tmp_path / "landing" / "b",
        [
            _visit("V1", "1101700207030", "100.0"),  # unchanged
            _visit("V2", "1101700207030", "250.0"),  # corrected
            _visit("V4", "1101700207030", "400.0"),  # new
        ],
    )
    second = ingest(spark, conf, zones, master_key, path=b, **kw)
    assert (second.accepted, second.inserted, second.updated) == (3, 1, 1)
    assert "1 new, 1 changed, 1 unchanged" in second.summary()
    assert _costs(spark, zones) == [100.0, 250.0, 400.0]
    table = zones.deidentified("public_health", "service_records")
    assert tables.properties(spark, table)["rows"] == "3"

    # Both extracts are part of the table now: re-ingesting either changes nothing.
    version = tables.last_commit(spark, table).version
    q_version = tables.last_commit(spark, zones.quarantine(**kw)).version
    for extract in (a, b):
        assert ingest(spark, conf, zones, master_key, path=extract, **kw).skipped
    assert tables.last_commit(spark, table).version == version
    assert tables.last_commit(spark, zones.quarantine(**kw)).version == q_version
    assert _costs(spark, zones) == [100.0, 250.0, 400.0]
    quarantine = spark.read.format("delta").load(zones.quarantine(**kw)).collect()
    assert sorted(r.visit_id for r in quarantine) == ["V3", "V3"]


def test_upsert_under_another_key_is_refused_until_a_full_reload(
    spark, conf, zones, master_key, tmp_path
):
    from pseudonymize import SecretKey

    kw = {"agency": "public_health", "dataset": "service_records"}
    a = _write_jsonl(tmp_path / "landing" / "a", [_visit("V1", "1101700207030", "100.0")])
    ingest(spark, conf, zones, master_key, path=a, **kw)
    table = zones.deidentified(**kw)
    version = tables.last_commit(spark, table).version

    other = SecretKey(bytes(range(100, 140)), "master")
    b = _write_jsonl(tmp_path / "landing" / "b", [_visit("V2", "1101700207030", "200.0")])
    with pytest.raises(ContractError, match="--full-reload") as e:
        ingest(spark, conf, zones, other, path=b, **kw)
    assert other.key_id in str(e.value) and "1101700207030" not in str(e.value)
    assert tables.last_commit(spark, table).version == version

    redo = ingest(spark, conf, zones, other, path=b, full_reload=True, **kw)
    assert redo.load == "replace" and redo.accepted == 1
    assert tables.properties(spark, table)["key_id"] == other.key_id
    assert _costs(spark, zones) == [200.0]


def test_tables_refuse_rows_that_break_the_contract(spark, conf, zones, master_key, tmp_path):
    from py4j.protocol import Py4JJavaError

    path = _write_csv(
        tmp_path / "landing" / "j", [HEADER, "J1,1101700207030,สมชาย,ใจดี,prisoner,2023-01-05"]
    )
    r = ingest(
        spark, conf, zones, master_key, agency="justice", dataset="justice_records", path=path
    )
    assert set(tables.constraints(spark, r.table)) == {
        "linkage_pseudonym_format",
        "record_type_not_null",
    }
    bad = spark.createDataFrame(
        [("not-a-pseudonym", "prisoner", None)],
        "linkage_pseudonym string, record_type string, start_date date",
    )
    with pytest.raises(Py4JJavaError, match="linkage_pseudonym_format"):
        bad.write.format("delta").mode("append").save(r.table)
    assert tables.last_commit(spark, r.table).version == r.version


def test_a_table_is_created_then_replaced_and_one_made_in_between_is_replaced(
    spark, tmp_path, monkeypatch
):
    """replace_table makes a new table with a plain CREATE (cheaper than Delta's replace), an
    existing one with CREATE OR REPLACE, and one that another writer created after the check
    (here: the check lies once) is replaced rather than failing."""
    path = str(tmp_path / "t")
    one = tables.replace_table(
        spark, spark.range(3), path, {"n": "1"}, constraints={"c": "id >= 0"}
    )
    assert (one.version, one.rows) == (0, 3)
    two = tables.replace_table(spark, spark.range(5), path, {"n": "2"})
    assert (two.version, two.rows) == (1, 5)
    real = tables.exists
    missed = []  # the first check misses the table, as if it appeared just after

    def exists(s, p):
        if not missed:
            missed.append(p)
            return False
        return real(s, p)

    monkeypatch.setattr(tables, "exists", exists)
    three = tables.replace_table(spark, spark.range(7), path, {"n": "3"})
    assert (three.version, three.rows) == (2, 7)
    assert tables.properties(spark, path)["n"] == "3"
    assert spark.read.format("delta").load(path).count() == 7
    history = spark.sql(f"DESCRIBE HISTORY delta.`{path}`").orderBy("version").collect()
    assert [h.operation for h in history] == [
        "CREATE TABLE AS SELECT",
        "CREATE OR REPLACE TABLE AS SELECT",
        "CREATE OR REPLACE TABLE AS SELECT",
    ]
