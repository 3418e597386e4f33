"""Lifecycle: expired extracts and quarantines are destroyed, old versions vacuumed, all audited."""

import copy
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from pooling.core import tables
from pooling.core.config import Lifecycle
from pooling.ingest import ingest
from pooling.ops.retention import plan_and_apply

HEADER = "case_no,citizen_id,first_name,last_name,record_type,start_date"
JUSTICE = {"agency": "justice", "dataset": "justice_records"}  # retention_days: 90


def _extract(root: Path, name: str, rows: list[str]) -> str:
    path = root / name
    path.mkdir(parents=True)
    (path / "part-0.csv").write_text("\n".join([HEADER, *rows]) + "\n", encoding="utf-8")
    return str(path)


@pytest.fixture
def ingested(spark, conf, zones, master_key, tmp_path):
    landing = Path(zones.landing("justice"))
    good = "J1,1101700207030,สมชาย,ใจดี,prisoner,2023-01-05"
    bad = "J2,1101700207031,สมศรี,ใจดี,prisoner,2023-01-05"  # bad check digit → quarantine
    inside = _extract(landing, "2025-q4", [good, bad])
    outside = _extract(tmp_path / "elsewhere", "2025-q4", [good])
    ingest(spark, conf, zones, master_key, path=outside, **JUSTICE)
    ingest(spark, conf, zones, master_key, path=inside, **JUSTICE)
    return inside, outside


def test_nothing_expires_before_the_retention(spark, conf, zones, ingested):
    soon = datetime.now(UTC) + timedelta(days=30)
    report = plan_and_apply(spark, conf, zones, dry_run=True, now=soon)
    assert report.destroyed() == []
    assert [i.action for i in report.items] == ["keep"]  # the extract outside the landing zone


def test_dry_run_shows_what_a_real_run_destroys_and_records(spark, conf, zones, ingested):
    inside, outside = ingested
    later = datetime.now(UTC) + timedelta(days=91)
    plan = plan_and_apply(spark, conf, zones, dry_run=True, now=later)
    planned = {(i.action, i.target) for i in plan.destroyed()}
    assert planned == {
        ("destroy_extract", str(Path(inside).resolve())),
        ("destroy_quarantine", zones.quarantine(**JUSTICE)),
    }
    assert "would destroy 2 item(s)" in plan.render()
    assert Path(inside).exists() and tables.exists(spark, zones.quarantine(**JUSTICE))
    events = tables.read_version(spark, zones.audit).where("action = 'retention'")
    assert events.count() == 0  # a dry run changes nothing, not even the audit

    done = plan_and_apply(spark, conf, zones, dry_run=False, now=later, actor="steward")
    assert {(i.action, i.target) for i in done.destroyed()} == planned
    assert not Path(inside).exists()
    assert Path(outside).exists()  # never touched: not in the landing zone
    assert not Path(zones.quarantine(**JUSTICE)).exists()
    # The de-identified table is not raw data: it stays.
    assert tables.read_version(spark, zones.deidentified(**JUSTICE)).count() == 1

    event = tables.read_version(spark, zones.audit).where("action = 'retention'").collect()
    assert len(event) == 1 and event[0].actor == "steward"
    destroyed = json.loads(event[0].details)["destroyed"]
    assert {(d["action"], d["target"]) for d in destroyed} == planned
    assert next(d for d in destroyed if d["action"] == "destroy_quarantine")["rows"] == 1


def test_superseded_versions_are_vacuumed_per_policy(spark, conf, zones, master_key, tmp_path):
    first = _extract(tmp_path / "x", "a", ["J1,1101700207030,สมชาย,ใจดี,prisoner,2023-01-05"])
    second = _extract(tmp_path / "x", "b", ["J1,1101700207030,สมชาย,ใจดี,probation,2023-01-05"])
    ingest(spark, conf, zones, master_key, path=first, **JUSTICE)
    ingest(spark, conf, zones, master_key, path=second, **JUSTICE)
    table = zones.deidentified(**JUSTICE)

    keep_week = plan_and_apply(spark, conf, zones, dry_run=False)
    assert not [i for i in keep_week.items if i.action == "vacuum"]
    assert tables.read_version(spark, table, 0).count() == 1  # still readable
    # Delta's VACUUM honours only the table's own setting (RETAIN is ignored unless 0 hours):
    # the policy is written there.
    detail = spark.sql(f"DESCRIBE DETAIL delta.`{table}`").first()["properties"]
    assert detail["delta.deletedFileRetentionDuration"] == "interval 168 hours"

    strict = copy.copy(conf)
    strict.lifecycle = Lifecycle(
        version_retention_hours={"linkage": 0, "deidentified": 0, "pools": 0, "outputs": 0}
    )
    report = plan_and_apply(spark, strict, zones, dry_run=False)
    vacuumed = {i.target: i.files for i in report.items if i.action == "vacuum"}
    assert vacuumed.get("deidentified.justice.justice_records", 0) >= 1
    assert tables.read_version(spark, table).collect()[0].record_type == "probation"
    with pytest.raises(Exception, match="BEYOND_DELETED_FILE_RETENTION"):
        tables.read_version(spark, table, 0).collect()
