"""The jobs, unchanged, under spark-submit on a real Spark standalone cluster.

A master and a worker start on localhost from the installed PySpark. The code goes to the cluster
as the zip `build/ship.py` makes. The ingest, pool and project jobs are submitted in turn, and
everything they write must equal what local mode wrote from the same extracts with the same key.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pyspark
import pytest
from chispa import assert_approx_df_equality

from pooling.core import tables
from pooling.core.session import delta_jars
from pooling.core.zones import Zones

REPO = Path(__file__).resolve().parents[2]
SPARK_HOME = Path(pyspark.__file__).parent
PROJECT = "education_labour"
pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _alive_workers(ui_port: int) -> int:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{ui_port}/json/", timeout=2) as r:
            return int(json.load(r).get("aliveworkers", 0))
    except OSError:
        return 0


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """A standalone master and one worker (2 cores, 2 GiB), stopped after the module."""
    home = tmp_path_factory.mktemp("standalone")
    env = {
        **os.environ,
        "SPARK_HOME": str(SPARK_HOME),
        "SPARK_LOCAL_IP": "127.0.0.1",
        "SPARK_LOG_DIR": str(home / "logs"),
        "SPARK_WORKER_DIR": str(home / "work"),
        "PYSPARK_PYTHON": sys.executable,  # executors' Python: this venv
    }
    port, ui = _free_port(), _free_port()
    url = f"spark://127.0.0.1:{port}"
    spark_class = str(SPARK_HOME / "bin" / "spark-class")
    commands = {
        "master": [spark_class, "org.apache.spark.deploy.master.Master"]
        + ["--host", "127.0.0.1", "--port", str(port), "--webui-port", str(ui)],
        "worker": [spark_class, "org.apache.spark.deploy.worker.Worker", url]
        + ["--host", "127.0.0.1", "--cores", "2", "--memory", "2g"]
        + ["--work-dir", str(home / "work"), "--webui-port", str(_free_port())],
    }
    procs = []
    try:
        for name, cmd in commands.items():
            log = (home / f"{name}.log").open("w")
            procs.append(
                subprocess.Popen(
                    cmd, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
                )
            )
        deadline = time.monotonic() + 120
        while _alive_workers(ui) < 1:
            assert time.monotonic() < deadline, (home / "worker.log").read_text()[-3000:]
            assert all(p.poll() is None for p in procs), "master or worker exited"
            time.sleep(1)
        yield url, home
    finally:
        for p in procs:
            os.killpg(p.pid, signal.SIGTERM)
        for p in procs:
            p.wait(timeout=60)


def _job(url: str, code: Path, data: Path, key_hex: str, job: str) -> tuple[list[str], dict]:
    """A spark-submit command line for one of jobs/, and its environment."""
    jars = ",".join(str(j) for j in delta_jars(REPO / ".cache" / "jars"))
    cmd = [str(SPARK_HOME / "bin" / "spark-submit"), "--master", url]
    cmd += ["--py-files", str(code), "--jars", jars]
    # Sized by whoever submits: these win over the cluster profile's 8g and 4 cores.
    cmd += ["--executor-memory", "1g", "--total-executor-cores", "2"]
    cmd += ["--conf", "spark.executor.cores=2", "--conf", "spark.sql.shuffle.partitions=4"]
    # The redacting log configuration, for the driver and the executors (JVMs that are already
    # started, or started by the worker, before the profile is read).
    log4j = f"-Dlog4j2.configurationFile=file:{REPO / 'conf' / 'log4j2.properties'}"
    cmd += ["--driver-java-options", log4j, "--conf", f"spark.executor.extraJavaOptions={log4j}"]
    cmd += [str(REPO / "jobs" / job), "--profile", "cluster"]
    env = {
        **os.environ,
        "SPARK_HOME": str(SPARK_HOME),
        "SPARK_LOCAL_IP": "127.0.0.1",
        "PYSPARK_PYTHON": sys.executable,
        "SPARK_MASTER_URL": url,
        "POOLING_DATA_ROOT": str(data),
        "POOLING_LINKAGE_ROOT": str(data / "linkage"),
        "POOLING_MASTER_KEY": key_hex,  # the driver reads it; no key file travels anywhere
    }
    return cmd, env


def _run(cmd: list[str], env: dict) -> str:
    done = subprocess.run(
        cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=600, check=False
    )
    # The driver's Python writes to spark-submit's stdout, Spark's JVM to its stderr.
    log = done.stdout + done.stderr
    assert done.returncode == 0, log[-4000:]
    return log


def _raw_ids(spark, report, datasets) -> set[str]:
    """Every well-formed citizen ID in the raw extracts the cluster read."""
    ids: set[str] = set()
    for agency, dataset in datasets:
        m = report.manifest["datasets"][f"{agency}.{dataset}"]
        if not m["person_level"]:
            continue
        reader = spark.read.option("header", True) if m["format"] == "csv" else spark.read
        df = reader.format(m["format"]).load(f"{report.landing}/{m['path']}")
        values = df.select(df["citizen_id"].cast("string")).collect()
        ids |= {v for (v,) in values if v and re.fullmatch(r"[0-9]{13}", v)}
    return ids


def _same(spark, local_path: str, local_version: int, cluster_path: str) -> None:
    # Sums of doubles may differ in the last bits: the cluster partitions the data differently.
    assert_approx_df_equality(
        tables.read_version(spark, cluster_path),
        tables.read_version(spark, local_path, local_version),
        1e-9,
        ignore_row_order=True,
        allow_nan_equality=True,
    )


def test_jobs_under_spark_submit_equal_local_mode(cluster, demo, conf, spark_session, tmp_path):
    url, home = cluster
    report, local, _ = demo
    code = tmp_path / "pooling.zip"
    subprocess.run([sys.executable, str(REPO / "build" / "ship.py"), str(code)], check=True)
    data = tmp_path / "data"
    zones = Zones.under(data)
    key_hex = bytes(range(50, 90)).hex()  # the demo fixture's key, so pseudonyms must agree
    datasets = sorted({(s.agency, s.dataset) for s in conf.project(PROJECT).pool.values()})
    submitted = []
    for agency, dataset in datasets:
        path = f"{report.landing}/{report.manifest['datasets'][f'{agency}.{dataset}']['path']}"
        cmd, env = _job(url, code, data, key_hex, "ingest.py")
        submitted.append((cmd + ["--agency", agency, "--dataset", dataset, "--path", path], env))
    for job in ("build_pool.py", "run_project.py"):
        cmd, env = _job(url, code, data, key_hex, job)
        submitted.append((cmd + ["--project", PROJECT], env))
    logs = [_run(cmd, env) for cmd, env in submitted]
    for i, log in enumerate(logs):
        (home / f"driver-{i}.log").write_text(log)

    # It ran on the cluster, from the shipped zip, sized by spark-submit, not by the profile.
    for log in logs:
        up = [line for line in log.splitlines() if "pooling.session" in line]
        assert any(f"master={url}," in line and "4 shuffle partitions" in line for line in up), up
        assert any(f"pooling code from {code}/pooling" in line for line in up), up
    apps = list((home / "work").glob("app-*"))
    assert len(apps) == len(submitted), "every job ran as an application of the cluster"
    assert all(list(a.glob("*/stderr")) for a in apps), "with executors on the worker"

    # Everything written equals local mode's.
    for r in report.ingests:
        if (r.agency, r.dataset) in datasets:
            _same(spark_session, r.table, r.version, zones.deidentified(r.agency, r.dataset))
    pool = next(p for p in report.pools if p.project == PROJECT)
    for name, w in pool.tables.items():
        _same(spark_session, w.path, w.version, zones.pool(PROJECT, name))
    (manifest,) = [
        json.loads(m.read_text()) for m in Path(zones.outputs(PROJECT)).glob("*/manifest.json")
    ]
    local_run = report.runs[PROJECT]
    assert sorted(manifest["outputs"]) == sorted(local_run.outputs)
    for name, out in manifest["outputs"].items():
        w = local_run.outputs[name]
        _same(spark_session, w.path, w.version, out["path"])

    # Nothing secret or personal in any log of the cluster: the driver's, the master's, the
    # worker's and every executor's.
    key = bytes(range(50, 90))
    files = [f for f in home.rglob("*") if f.name in ("stdout", "stderr") or f.suffix == ".log"]
    texts = logs + [f.read_text(errors="replace") for f in files]
    raw_ids = _raw_ids(spark_session, report, datasets)
    assert len(raw_ids) > 500
    for text in texts:
        assert key.hex() not in text and key_hex.upper() not in text
        assert not raw_ids & set(re.findall(r"(?<![0-9])[0-9]{13}(?![0-9])", text))
