"""The audit register: appends land, Delta itself refuses to change or delete an event, and its
checkpoints are spaced for a table that takes one small commit per event."""

import json

import pytest

from pooling.core import audit, tables


def test_events_append_and_delta_refuses_to_change_them(spark, tmp_path):
    path = str(tmp_path / "audit" / "events")
    ids = [
        audit.record(spark, path, action="ingest", subject=f"a.d{i}", details={"n": i})
        for i in range(12)  # past Delta's default checkpoint interval of 10
    ]
    rows = spark.read.format("delta").load(path).orderBy("subject").collect()
    assert sorted(r.event_id for r in rows) == sorted(ids)
    assert sorted(json.loads(r.details)["n"] for r in rows) == list(range(12))
    config = tables._delta_properties(spark, path)  # noqa: SLF001
    assert config["delta.appendOnly"] == "true"
    assert config["delta.checkpointInterval"] == str(tables.APPEND_ONLY_CHECKPOINT_INTERVAL)
    assert not list((tmp_path / "audit" / "events" / "_delta_log").glob("*.checkpoint*.parquet"))
    for statement in (
        f"DELETE FROM delta.`{path}` WHERE subject = 'a.d1'",
        f"UPDATE delta.`{path}` SET subject = 'x' WHERE subject = 'a.d1'",
    ):
        with pytest.raises(Exception, match="DELTA_CANNOT_MODIFY_APPEND_ONLY"):
            spark.sql(statement)
    assert spark.read.format("delta").load(path).count() == 12
