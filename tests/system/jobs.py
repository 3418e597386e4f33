"""The `pooling` command as the system tests run it: its own process, a data root, a test key."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
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


def killed_while_writing(cmd: list[str], data: Path, table: str, *, records_per_file: int) -> None:
    """Run ``cmd`` and SIGKILL its whole process group as soon as a new data file lands in
    ``table``. Tiny files (``records_per_file``) make the write take seconds, long enough to kill
    the job inside it."""
    old_files = set(Path(table).glob("*.parquet"))
    tiny_files = f"--conf spark.sql.files.maxRecordsPerFile={records_per_file} pyspark-shell"
    job = subprocess.Popen(
        cmd,
        cwd=REPO,
        env=env_for(data, PYSPARK_SUBMIT_ARGS=tiny_files),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # its own process group: the JVM and Python workers die with it
    )
    deadline = time.monotonic() + 300
    while not set(Path(table).glob("*.parquet")) - old_files:
        assert job.poll() is None, "the job ended before it started writing"
        assert time.monotonic() < deadline, "the job never started writing"
        time.sleep(0.02)
    os.killpg(job.pid, signal.SIGKILL)
    job.wait()
