"""Extracts as agencies deliver them: TIS-620 / CP874 CSV, gzip, XML, Excel. Each is ingested
through the justice records' contract, changed only in how the file is delivered."""

from __future__ import annotations

import copy
import datetime as dt
import gzip
from pathlib import Path

import pytest

from pooling.core import tables
from pooling.core.config import DatasetContract
from pooling.core.errors import ContractError, ExtractEncodingError
from pooling.ingest import ingest

HEADER = "case_no,citizen_id,first_name,last_name,record_type,start_date"
GOOD = [
    "J1,1101700207030,สมชาย,ใจดี,prisoner,2023-01-05",
    "J2,1-1017-00207-03-0,สมหญิง,มีสุข,probation,2023-02-01",
    "J3,1101700207031,สมศรี,รักไทย,prisoner,2023-01-05",  # bad check digit: quarantined
]


def _delivered(conf, **changes):
    """``conf`` with the justice records delivered as ``changes`` say (format, encoding, ...);
    ``paths`` sets XML column paths."""
    paths = changes.pop("paths", {})
    agency = conf.agencies["justice"]
    d = agency.datasets["justice_records"].model_dump(by_alias=True, exclude_none=True)
    for c in d["columns"]:
        if c["name"] in paths:
            c["path"] = paths[c["name"]]
    dataset = DatasetContract.model_validate({**d, **changes})
    out = copy.copy(conf)
    out.agencies = {
        **conf.agencies,
        "justice": agency.model_copy(
            update={"datasets": {**agency.datasets, "justice_records": dataset}}
        ),
    }
    return out


def _file(folder: Path, name: str, data: bytes) -> str:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_bytes(data)
    return str(folder)


def _ingest(spark, conf, zones, key, path):
    return ingest(spark, conf, zones, key, agency="justice", dataset="justice_records", path=path)


def _quarantined_names(spark, zones) -> list[str]:
    q = spark.read.format("delta").load(zones.quarantine("justice", "justice_records"))
    return [r.first_name for r in q.collect()]


@pytest.mark.parametrize("encoding", ["tis-620", "windows-874"])
def test_a_thai_code_page_csv_is_read_in_it(spark, conf, zones, master_key, tmp_path, encoding):
    text = "\r\n".join([HEADER, *GOOD]) + "\r\n"
    path = _file(tmp_path / "j", "part-0.csv", text.encode("cp874"))
    r = _ingest(spark, _delivered(conf, encoding=encoding), zones, master_key, path)
    assert (r.input_rows, r.accepted, r.quarantined) == (3, 2, {"bad_check_digit": 1})
    assert _quarantined_names(spark, zones) == ["สมศรี"]  # the Thai text, decoded


def _refused(spark, conf, zones, key, path) -> str:
    with pytest.raises(ExtractEncodingError) as e:
        _ingest(spark, conf, zones, key, path)
    assert not tables.exists(spark, zones.deidentified("justice", "justice_records"))
    message = str(e.value)
    assert "Nothing was written" in message
    # Never a value of the file: no ID, no name, garbled or not.
    assert not any(v in message for line in GOOD for v in line.split(",")[1:4])
    assert "1101700207030" not in message and "\ufffd" not in message
    return message


def test_tis620_declared_as_utf8_is_refused_naming_file_encoding_and_line(
    spark, conf, zones, master_key, tmp_path
):
    text = "\n".join([HEADER, *GOOD]) + "\n"
    path = _file(tmp_path / "j", "part-0.csv", text.encode("tis-620"))
    message = _refused(spark, conf, zones, master_key, path)
    assert "file part-0.csv line 2 is not utf-8 text (3 row(s) garbled" in message


def test_utf8_declared_as_tis620_is_refused_as_mojibake(spark, conf, zones, master_key, tmp_path):
    text = "\n".join([HEADER, *GOOD]) + "\n"
    path = _file(tmp_path / "j", "part-0.csv", text.encode("utf-8"))
    message = _refused(spark, _delivered(conf, encoding="tis-620"), zones, master_key, path)
    assert "file part-0.csv line 2 is not tis-620 text" in message


def test_one_stray_line_in_another_code_page_refuses_the_extract(
    spark, conf, zones, master_key, tmp_path
):
    good = "\n".join([HEADER, *GOOD[:2]]).encode("utf-8")
    stray = GOOD[2].encode("tis-620")  # line 4: pasted in from another system
    path = _file(tmp_path / "j", "part-0.csv", good + b"\n" + stray + b"\n")
    message = _refused(spark, conf, zones, master_key, path)
    assert "file part-0.csv line 4 is not utf-8 text (1 row(s) garbled" in message


def test_a_stray_line_among_many_is_quarantined_not_ingested(
    spark, conf, zones, master_key, tmp_path
):
    """One line in 201 pasted in from a TIS-620 system: that row is quarantined (bad_encoding),
    the rest ingested. Garbled rows past 1 % of the extract refuse it whole (above)."""
    good = [f"J{i},1101700207030,สมชาย,ใจดี,prisoner,2023-01-05" for i in range(200)]
    text = "\n".join([HEADER, *good]).encode("utf-8") + b"\n"
    stray = "X1,1101700207030,สมศรี,รักไทย,prisoner,2023-01-05\n".encode("tis-620")
    path = _file(tmp_path / "j", "part-0.csv", text + stray)
    r = _ingest(spark, conf, zones, master_key, path)
    assert (r.input_rows, r.accepted, r.quarantined) == (201, 200, {"bad_encoding": 1})


def test_gzip_extracts_are_read_and_a_misnamed_one_is_refused(
    spark, conf, zones, master_key, tmp_path
):
    text = ("\n".join([HEADER, *GOOD]) + "\n").encode("utf-8")
    path = _file(tmp_path / "j", "part-0.csv.gz", gzip.compress(text))
    r = _ingest(spark, _delivered(conf, compression="gzip"), zones, master_key, path)
    assert (r.input_rows, r.accepted) == (3, 2)
    with pytest.raises(ContractError) as e:  # the contract says plain CSV
        _ingest(spark, conf, zones, master_key, path)
    assert "file part-0.csv.gz is not named as its contract says (not compressed)" in str(e.value)


XML = """<?xml version="1.0" encoding="UTF-8"?>
<records>
  <record>
    <case_no>J1</case_no><record_type>prisoner</record_type><start_date>2023-01-05</start_date>
    <person><citizen_id>1101700207030</citizen_id><name first="สมชาย" last="ใจดี"/></person>
  </record>
  <record>
    <case_no>J2</case_no><record_type>probation</record_type><start_date>2023-02-01</start_date>
    <person><citizen_id>1-1017-00207-03-0</citizen_id><name first="สมหญิง" last="มีสุข"/></person>
    <remarks>checked</remarks>
  </record>
  <record>
    <case_no>J3</case_no><record_type>prisoner</record_type><start_date>5 Jan 2023</start_date>
    <person><citizen_id>1101700207030</citizen_id><name first="สมศรี" last="รักไทย"/></person>
  </record>
</records>
"""
XML_PATHS = {
    "citizen_id": "person/citizen_id",
    "first_name": "person/name/@first",
    "last_name": "person/name/@last",
}


def test_xml_records_are_flattened_by_the_contracts_paths(spark, conf, zones, master_key, tmp_path):
    path = _file(tmp_path / "j", "part-0.xml.gz", gzip.compress(XML.encode("utf-8")))
    delivered = _delivered(
        conf, format="xml", row_tag="record", compression="gzip", paths=XML_PATHS
    )
    r = _ingest(spark, delivered, zones, master_key, path)
    assert (r.input_rows, r.accepted, r.quarantined) == (3, 2, {"bad_type:start_date": 1})
    assert r.dropped_columns == ["remarks"]  # an element no path reaches
    assert _quarantined_names(spark, zones) == ["สมศรี"]  # an attribute, by its path
    table = spark.read.format("delta").load(r.table)
    assert sorted(r.record_type for r in table.collect()) == ["prisoner", "probation"]


def _workbook(rows: list[list[object]], sheet: str = "records") -> bytes:
    from io import BytesIO

    from openpyxl import Workbook

    book = Workbook()
    ws = book.active
    ws.title = sheet
    for row in rows:
        ws.append(row)
    out = BytesIO()
    book.save(out)
    return out.getvalue()


def test_an_excel_workbook_is_read_as_excel_stores_it(spark, conf, zones, master_key, tmp_path):
    rows = [
        HEADER.split(","),
        # IDs Excel took for numbers (an integer, a float), dates as dates
        ["J1", 1101700207030, "สมชาย", "ใจดี", "prisoner", dt.datetime(2023, 1, 5)],
        ["J2", 1101700207030.0, "สมหญิง", "มีสุข", "probation", dt.date(2023, 2, 1)],
        ["J3", "1101700207031", "สมศรี", "รักไทย", "prisoner", "2023-01-05"],
        [None] * 6,  # a blank row at the end, as Excel leaves them
    ]
    path = _file(tmp_path / "j", "part-0.xlsx", _workbook(rows))
    delivered = _delivered(conf, format="xlsx", sheet="records")
    # J1 and J2 share a citizen ID but not a case number: both kept.
    r = _ingest(spark, delivered, zones, master_key, path)
    assert (r.input_rows, r.accepted, r.quarantined) == (3, 2, {"bad_check_digit": 1})
    table = spark.read.format("delta").load(r.table)
    dates = sorted(str(r.start_date) for r in table.collect())
    assert dates == ["2023-01-05", "2023-02-01"]
    assert table.select("linkage_pseudonym").distinct().count() == 1  # both IDs repaired

    other = _file(tmp_path / "k", "part-0.xlsx", _workbook(rows[:2]))  # not ingested before
    with pytest.raises(ContractError) as e:
        _ingest(spark, _delivered(conf, format="xlsx", sheet="Sheet1"), zones, master_key, other)
    assert "file part-0.xlsx of" in str(e.value) and "its sheets are ['records']" in str(e.value)


def test_the_contract_model_takes_each_formats_settings_only(conf):
    with pytest.raises(ValueError, match="'row_tag' is needed by xml"):
        _delivered(conf, format="xml")
    with pytest.raises(ValueError, match="'encoding' is for csv"):
        _delivered(conf, format="json", encoding="tis-620")
    with pytest.raises(ValueError, match="not for parquet"):
        _delivered(conf, format="parquet", compression="gzip")
    with pytest.raises(ValueError, match="'sheet' is needed by xlsx, and only by xlsx"):
        _delivered(conf, sheet="records")
    with pytest.raises(ValueError, match="only xml columns have"):
        _delivered(conf, paths={"citizen_id": "person/citizen_id"})


# --------------------------------------------------------------------------- several people a row


def _id(body: str) -> str:
    from pseudonymize import check_digit

    return body + str(check_digit(body))


def _wrong(cid: str) -> str:
    return cid[:12] + str((int(cid[12]) + 1) % 10)


MOTHER, FATHER = _id("110170020703"), _id("310060012345")


def _birth(no: str, child: str, mother: str, father: str | None) -> str:
    dad = f"<father><citizen_id>{father}</citizen_id><name>สมชาย ใจดี</name></father>"
    return (
        f'<birth no="{no}"><child><citizen_id>{child}</citizen_id><name>ด.ช. ก</name>'
        "<sex>M</sex><birth_date>2025-03-01</birth_date><weight_g>3100</weight_g></child>"
        f'<place district="1001"/><mother><citizen_id>{mother}</citizen_id>'
        f"<name>สมหญิง ใจดี</name></mother>{dad if father is not None else ''}</birth>"
    )


def test_each_role_links_under_the_same_key_and_follows_its_if_invalid(
    spark, conf, zones, master_key, tmp_path
):
    births = [
        _birth("B1", _id("110080045671"), MOTHER, FATHER),
        _birth("B2", _id("110080045672"), MOTHER, None),  # no father declared: kept
        _birth("B3", _id("110080045673"), MOTHER, _wrong(FATHER)),  # his ID wrong: kept
        _birth("B4", _id("110080045674"), _wrong(MOTHER), FATHER),  # hers wrong: quarantined
    ]
    xml = f"<births>{''.join(births)}</births>"
    path = _file(tmp_path / "b", "part-0.xml.gz", gzip.compress(xml.encode("utf-8")))
    r = ingest(spark, conf, zones, master_key, agency="interior", dataset="births", path=path)
    assert (r.input_rows, r.accepted) == (4, 3)
    assert r.quarantined == {"bad_check_digit:mother_citizen_id": 1}
    assert r.nulled == {"father_citizen_id:bad_check_digit": 1, "father_citizen_id:empty": 1}
    assert "kept with an ID of another role left empty" in r.summary()
    table = spark.read.format("delta").load(r.table)
    pseudonyms = {"linkage_pseudonym", "mother_linkage_pseudonym", "father_linkage_pseudonym"}
    assert pseudonyms <= set(table.columns)
    assert not {"child_citizen_id", "mother_citizen_id", "mother_name"} & set(table.columns)
    rows = table.collect()
    assert sorted(row.father_linkage_pseudonym is None for row in rows) == [False, True, True]
    # The mother as the subject of another dataset has the same pseudonym: she links.
    text = f"{HEADER}\nJ1,{MOTHER},สมหญิง,ใจดี,prisoner,2023-01-05\n"
    j = _ingest(spark, conf, zones, master_key, _file(tmp_path / "j", "p.csv", text.encode()))
    hers = spark.read.format("delta").load(j.table).first().linkage_pseudonym
    assert {row.mother_linkage_pseudonym for row in rows} == {hers}
