"""`pooling sql --as ANALYST`: the same grants and audit as the SQL endpoint, for local use."""

import getpass
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from delta.tables import DeltaTable
from pyspark.sql import functions as F

from pooling.core import audit, tables
from pooling.core.zones import Zones
from pooling.pools.build import build_marker, built_versions
from pseudonymize.standard import POOL_PSEUDONYM

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


def test_analysts_read_each_pool_at_its_last_complete_build(demo, spark_session, tmp_path):
    """A rebuild that has moved a table on but not yet the marker (running, or died halfway) is
    not what an analyst reads; a pool with no complete build is refused by our own check."""
    _, zones, _ = demo
    root = tmp_path / "data"
    mine = Zones.under(root)
    plots = mine.pool("agriculture", "plots")
    shutil.copytree(Path(zones.pool("agriculture", "plots")).parent, Path(plots).parent)
    audit.ensure(spark_session, mine.audit)  # the service's first job made it
    built = built_versions(spark_session, mine, "agriculture")["plots"]
    rows = tables.read_version(spark_session, plots, built).count()
    DeltaTable.forPath(spark_session, plots).delete(F.col(POOL_PSEUDONYM) < "8")  # a rebuild's
    assert tables.read_version(spark_session, plots).count() < rows  # first table, moved on

    # In a CTE too (and the CTE's own name is not taken for a table).
    cte = f"WITH p AS (SELECT {POOL_PSEUDONYM} FROM agriculture.plots) SELECT count(*) AS n FROM p"
    ok = _sql(root, "oae_analyst", cte)
    assert ok.returncode == 0, ok.stderr[-2000:]
    assert ok.stdout.split()[-1] == str(rows)  # the build's version, not the latest

    Path(build_marker(mine, "agriculture")).unlink()  # as before a pool's first build finishes
    refused = _sql(root, "oae_analyst", "SELECT count(*) AS n FROM agriculture.plots")
    assert refused.returncode == 2
    assert (
        "not allowed for oae_analyst: pool agriculture has no complete build of plots"
        in refused.stderr
    )
