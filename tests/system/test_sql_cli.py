"""`pooling sql --as ANALYST`: the same grants and audit as the SQL endpoint, for local use."""

import getpass
import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
POOLING = Path(sys.executable).parent / "pooling"


def _sql(data, analyst, statement):
    env = {**os.environ, "POOLING_DATA_ROOT": str(data)}
    return subprocess.run(
        [POOLING, "sql", "--as", analyst, statement],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_pooling_sql_applies_the_grants_and_audits(demo, spark_session):
    report, zones, data = demo
    rows = next(p for p in report.pools if p.project == "agriculture").tables["plots"].rows
    ok = _sql(data, "oae_analyst", "SELECT count(*) AS n FROM agriculture.plots")
    assert ok.returncode == 0, ok.stderr[-2000:]
    assert ok.stdout.split()[-1] == str(rows)
    assert "for engineers on the service's machine" in ok.stderr
    refused = _sql(data, "oae_analyst", "SELECT * FROM low_income.welfare_registry")
    assert refused.returncode == 2
    assert "not allowed for oae_analyst: table low_income.welfare_registry is not in a granted" in (
        refused.stderr
    )
    events = spark_session.read.format("delta").load(zones.audit).where("action = 'query'")
    mine = [json.loads(r["details"]) for r in events.where("actor = 'oae_analyst'").collect()]
    mine = [d for d in mine if d["via"] == "pooling sql"]  # not the SQL endpoint's events
    allowed = [d for d in mine if d["allowed"] and d["tables"] == ["agriculture.plots"]]
    assert allowed
    assert all(d["os_user"] == getpass.getuser() for d in mine)  # who ran it
    assert any(
        d["event"] == "refused" and "low_income.welfare_registry" in d["refusal"] for d in mine
    )
