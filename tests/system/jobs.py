"""The `pooling` command as the system tests run it: its own process, a data root, a test key."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from pooling.core import tables
from pooling.core.zones import Zones
from pseudonymize import SecretKey

REPO = Path(__file__).resolve().parents[2]
POOLING = Path(sys.executable).parent / "pooling"
KEY = bytes(range(100, 132))


def key() -> SecretKey:
    return SecretKey(KEY, "master")


def env_for(data: Path, **extra: str) -> dict[str, str]:
    env = {**os.environ, "POOLING_DATA_ROOT": str(data), "POOLING_MASTER_KEY": KEY.hex()}
    env.pop("PYSPARK_SUBMIT_ARGS", None)
    env.update(extra)
    return env


def ingest_cmd(name: str, path: Path) -> list[str]:
    agency, dataset = name.split(".")
    return [str(POOLING), "ingest", "--agency", agency, "--dataset", dataset, "--path", str(path)]


def pooling(cmd: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=600)


def demo_extract(demo, name: str) -> Path:
    report = demo[0]
    return Path(report.landing) / report.manifest["datasets"][name]["path"]


def versions(spark, data: Path) -> dict[str, int]:
    """Every Delta table under ``data`` and its current version."""
    logs = sorted(data.rglob("_delta_log"))
    return {str(d.parent): tables.current_version(spark, str(d.parent)) for d in logs}


def events(spark, data: Path, action: str = "ingest") -> list[dict]:
    audit = Zones.under(data).audit
    if not tables.exists(spark, audit):
        return []
    rows = tables.read_version(spark, audit).where(f"action = '{action}'").collect()
    return [{"subject": r["subject"], **json.loads(r["details"])} for r in rows]
