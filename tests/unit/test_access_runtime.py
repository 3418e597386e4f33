"""Where the SQL endpoint keeps its grants, spool and home: its own local disk."""

from pathlib import Path

import pytest

from pooling.access import AccessSettings, Runtime
from pooling.core.errors import PoolingError
from pooling.core.zones import Zones

SETTINGS = {
    "service_user": "pooling-sql",
    "statement_timeout_s": 120,
    "max_result_rows": 10,
    "max_result_bytes": "1m",
    "reload_interval_s": 2,
}


def test_beside_a_local_audit_zone_by_default(tmp_path):
    runtime = Runtime.for_zones(Zones.under(str(tmp_path)), AccessSettings(**SETTINGS))
    assert runtime.folder == tmp_path / "_access"
    runtime = Runtime.for_zones(Zones.under(f"file:{tmp_path}"), AccessSettings(**SETTINGS))
    assert runtime.folder == tmp_path / "_access"


def test_zones_on_hdfs_need_a_local_runtime_dir(tmp_path, monkeypatch):
    zones = Zones.under("hdfs://namenode:8020/pooling")
    with pytest.raises(PoolingError, match="set runtime_dir in conf/access.yaml"):
        Runtime.for_zones(zones, AccessSettings(**SETTINGS))
    monkeypatch.setenv("POOLING_ENDPOINT_DIR", str(tmp_path / "endpoint"))
    settings = AccessSettings(**SETTINGS, runtime_dir="${POOLING_ENDPOINT_DIR}")
    assert Runtime.for_zones(zones, settings).folder == Path(tmp_path / "endpoint")
