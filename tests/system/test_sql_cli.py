"""`pooling sql --as ANALYST`: the same grants and audit as the SQL endpoint, for local use."""

import getpass
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from delta.tables import DeltaTable
from pyspark.sql import functions as F

from pooling.core import audit, tables
from pooling.core.zones import Zones
from pooling.pools.build import build_marker, built_versions
from pseudonymize.standard import POOL_PSEUDONYM

REPO = Path(__file__).resolve().parents[2]
POOLING = Path(sys.executable).parent / "pooling"


def _sql(data, analyst, *statements):
    env = {**os.environ, "POOLING_DATA_ROOT": str(data)}
    return subprocess.run(
        [POOLING, "sql", "--as", analyst, *statements],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def _results(stdout: str) -> list[str]:
    """Each statement's printed result, in order (a batch marks each with `-- statement i/n`)."""
    return [part.strip() for part in re.split(r"^-- statement \d+/\d+$", stdout, flags=re.M)[1:]]


PLOTS = "SELECT count(*) AS n FROM agriculture.plots"
# In a CTE too (and the CTE's own name is not taken for a table).
CTE = f"WITH p AS (SELECT {POOL_PSEUDONYM} FROM agriculture.plots) SELECT count(*) AS n FROM p"
NOT_GRANTED = "SELECT * FROM low_income.welfare_registry"


@pytest.fixture(scope="module")
def copied(demo, spark_session, tmp_path_factory):
    """A copy of the agriculture pool whose plots table a rebuild has moved on (running, or died
    halfway) but not yet its build marker; then one `pooling sql` run of three statements."""
    _, zones, _ = demo
    root = tmp_path_factory.mktemp("sql") / "data"
    mine = Zones.under(root)
    plots = mine.pool("agriculture", "plots")
    shutil.copytree(Path(zones.pool("agriculture", "plots")).parent, Path(plots).parent)
    audit.ensure(spark_session, mine.audit)  # the service's first job made it
    built = built_versions(spark_session, mine, "agriculture")["plots"]
    rows = tables.read_version(spark_session, plots, built).count()
    DeltaTable.forPath(spark_session, plots).delete(F.col(POOL_PSEUDONYM) < "8")  # a rebuild's
    assert tables.read_version(spark_session, plots).count() < rows  # first table, moved on
    return root, mine, rows, _sql(root, "oae_analyst", PLOTS, NOT_GRANTED, CTE)


def test_pooling_sql_applies_the_grants_and_audits(demo, copied, spark_session):
    report, _, _ = demo
    _, mine, rows, run = copied
    assert rows == next(p for p in report.pools if p.project == "agriculture").tables["plots"].rows
    assert run.returncode == 2, run.stderr[-2000:]  # one of the three was refused
    plots, refused, _ = _results(run.stdout)
    assert plots.split()[-1] == str(rows)
    assert refused == ""  # nothing printed for it but the refusal
    assert "for engineers on the service's machine" in run.stderr
    assert (
        "pooling: error: statement 2: not allowed for oae_analyst: table "
        "low_income.welfare_registry is not in a granted"
    ) in run.stderr
    events = spark_session.read.format("delta").load(mine.audit).where("action = 'query'")
    mine_ = [json.loads(r["details"]) for r in events.where("actor = 'oae_analyst'").collect()]
    assert all(d["via"] == "pooling sql" for d in mine_)
    allowed = [d for d in mine_ if d["allowed"] and d["tables"] == ["agriculture.plots"]]
    assert len(allowed) == 2  # the plain statement and the CTE
    assert all(d["os_user"] == getpass.getuser() for d in mine_)  # who ran it
    assert any(
        d["event"] == "refused" and "low_income.welfare_registry" in d["refusal"] for d in mine_
    )


def test_analysts_read_each_pool_at_its_last_complete_build(copied):
    """A rebuild that has moved a table on but not yet the marker is not what an analyst reads;
    a pool with no complete build is refused by our own check."""
    root, mine, rows, run = copied
    _, _, cte = _results(run.stdout)
    assert cte.split()[-1] == str(rows)  # the build's version, not the latest

    Path(build_marker(mine, "agriculture")).unlink()  # as before a pool's first build finishes
    refused = _sql(root, "oae_analyst", PLOTS)
    assert refused.returncode == 2
    assert (
        "pooling: error: not allowed for oae_analyst: pool agriculture has no complete build "
        "of plots"
    ) in refused.stderr
