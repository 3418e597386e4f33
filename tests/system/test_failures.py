"""What real jobs meet: a process killed mid-write, two ingests at once, bad keys and bad extracts.

The jobs run as the `pooling` command in their own processes, on a fresh data root per test, from
the extracts the shared demo generated.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pooling.core import tables
from pooling.core.errors import ContractError, ExtractUnreadableError, UnknownNameError
from pooling.core.zones import Zones
from pooling.ingest import ingest

REPO = Path(__file__).resolve().parents[2]
POOLING = Path(sys.executable).parent / "pooling"
KEY = bytes(range(100, 132))
pytestmark = pytest.mark.slow


def _extract(demo, name: str) -> Path:
    report = demo[0]
    return Path(report.landing) / report.manifest["datasets"][name]["path"]


def _env(data: Path, **extra: str) -> dict[str, str]:
    env = {**os.environ, "POOLING_DATA_ROOT": str(data), "POOLING_MASTER_KEY": KEY.hex()}
    env.pop("PYSPARK_SUBMIT_ARGS", None)
    env.update(extra)
    return env


def _ingest_cmd(name: str, path: Path) -> list[str]:
    agency, dataset = name.split(".")
    return [str(POOLING), "ingest", "--agency", agency, "--dataset", dataset, "--path", str(path)]


def _pooling(cmd: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=600)


def _zones(data: Path) -> Zones:
    return Zones.under(data)


def _versions(spark, data: Path) -> dict[str, int]:
    """Every Delta table under ``data`` and its current version."""
    logs = sorted(data.rglob("_delta_log"))
    return {str(d.parent): tables.last_commit(spark, str(d.parent)).version for d in logs}


def _files(data: Path) -> dict[str, int]:
    return {str(p): p.stat().st_size for p in data.rglob("*") if p.is_file()}


def _ingest_events(spark, data: Path) -> list[dict]:
    audit = _zones(data).audit
    if not tables.exists(spark, audit):
        return []
    rows = tables.read_version(spark, audit).where("action = 'ingest'").collect()
    return [{"subject": r["subject"], **json.loads(r["details"])} for r in rows]


# --------------------------------------------------------------------------- killed mid-write

NAME = "interior.population_register"


def test_a_job_killed_mid_write_leaves_every_table_at_its_previous_version(
    demo, spark_session, conf, tmp_path
):
    data = tmp_path / "data"
    agency, dataset = NAME.split(".")
    ingest(  # the previous version, written in this process
        spark_session,
        conf,
        _zones(data),
        _key(),
        agency=agency,
        dataset=dataset,
        path=str(_extract(demo, NAME)),
    )
    before = _versions(spark_session, data)
    table = _zones(data).deidentified(*NAME.split("."))
    assert set(before) == {table, _zones(data).quarantine(*NAME.split(".")), _zones(data).audit}
    old_rows = tables.read_version(spark_session, table).count()
    old_files = set(Path(table).glob("*.parquet"))

    # A new extract: the same rows delivered twice over (so a different checksum). Tiny files
    # make the write take seconds, long enough to kill the job inside it.
    second = tmp_path / "second"
    shutil.copytree(_extract(demo, NAME), second)
    for f in list(second.glob("*.parquet")):
        shutil.copy(f, f.with_name("copy-" + f.name))
    tiny_files = "--conf spark.sql.files.maxRecordsPerFile=5 pyspark-shell"
    slow = _env(data, PYSPARK_SUBMIT_ARGS=tiny_files)
    job = subprocess.Popen(
        _ingest_cmd(NAME, second),
        cwd=REPO,
        env=slow,
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

    # Killed inside the write: data files landed, but no commit did.
    assert set(Path(table).glob("*.parquet")) - old_files
    assert _versions(spark_session, data) == before
    assert tables.read_version(spark_session, table).count() == old_rows
    assert len(_ingest_events(spark_session, data)) == 1

    rerun = ingest(
        spark_session, conf, _zones(data), _key(), agency=agency, dataset=dataset, path=str(second)
    )
    assert not rerun.skipped and rerun.balanced()
    after = _versions(spark_session, data)
    assert after[table] == before[table] + 1
    props = tables.properties(spark_session, table)
    events = _ingest_events(spark_session, data)
    (event,) = [e for e in events if e["checksum"] == props["source_checksum"]]
    assert event["duplicates"] >= old_rows  # every row came twice
    assert tables.read_version(spark_session, table).count() == old_rows


# --------------------------------------------------------------------------- two at once


def test_two_ingests_of_different_datasets_at_once_both_land(demo, spark_session, tmp_path):
    data = tmp_path / "data"
    names = ["interior.population_register", "finance.welfare_registry"]
    jobs = [
        subprocess.Popen(
            _ingest_cmd(n, _extract(demo, n)),
            cwd=REPO,
            env=_env(data),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for n in names
    ]
    results = [j.communicate(timeout=600) for j in jobs]
    for j, (_, err) in zip(jobs, results, strict=True):
        assert j.returncode == 0, err[-3000:]
    zones = _zones(data)
    for n in names:
        t = zones.deidentified(*n.split("."))
        assert tables.last_commit(spark_session, t).version == 0
        want = demo[0].manifest["datasets"][n]["expected_accepted"]
        assert tables.read_version(spark_session, t).count() == want
    assert sorted(e["subject"] for e in _ingest_events(spark_session, data)) == sorted(names)


# ------------------------------------------------------------------- refused: nothing written


def test_a_missing_key_is_refused_before_anything_starts(demo, tmp_path):
    data = tmp_path / "data"
    env = _env(data, POOLING_KEY_FILE=str(tmp_path / "no.key"))
    env.pop("POOLING_MASTER_KEY")
    done = _pooling(_ingest_cmd(NAME, _extract(demo, NAME)), env)
    assert done.returncode == 2
    assert "no.key does not exist" in done.stderr
    assert not data.exists()


def test_a_weak_key_is_refused_and_not_shown(demo, tmp_path):
    data = tmp_path / "data"
    weak = "ab" * 8  # 8 bytes
    done = _pooling(_ingest_cmd(NAME, _extract(demo, NAME)), _env(data, POOLING_MASTER_KEY=weak))
    assert done.returncode == 2
    assert "POOLING_MASTER_KEY" in done.stderr and weak not in done.stderr
    assert not data.exists()


def test_a_corrupted_extract_is_named_and_nothing_is_written(demo, tmp_path):
    data = tmp_path / "data"
    broken = tmp_path / "broken"
    shutil.copytree(_extract(demo, NAME), broken)
    victim = sorted(broken.glob("*.parquet"))[0]
    victim.write_bytes(victim.read_bytes()[: victim.stat().st_size // 2])  # cut off in transfer
    done = _pooling(_ingest_cmd(NAME, broken), _env(data))
    assert done.returncode == 2, done.stderr[-3000:]
    assert f"file {victim.name} cannot be read as parquet" in done.stderr
    assert "Nothing was written" in done.stderr
    assert not [p for p in data.rglob("*") if p.is_file()]


@pytest.mark.parametrize(
    "agency, dataset, extract, error, message",
    [
        ("finance", "welfare_registry", "interior.population_register", ContractError, "missing"),
        ("interior", "welfare_registry", "finance.welfare_registry", UnknownNameError, "has no"),
        ("nowhere", "welfare_registry", "finance.welfare_registry", UnknownNameError, "Available"),
        ("finance", "welfare_registry", None, Exception, "does not exist"),
        ("natural_resources", "pm25", "public_health.respiratory_visits", ContractError, "pm25"),
    ],
)
def test_a_wrong_or_missing_extract_is_refused_and_nothing_is_written(
    demo, spark_session, conf, tmp_path, agency, dataset, extract, error, message
):
    data = tmp_path / "data"
    zones = _zones(data)
    # A table already there must stay as it is, too.
    ingest(
        spark_session,
        conf,
        zones,
        _key(),
        agency="finance",
        dataset="welfare_registry",
        path=str(_extract(demo, "finance.welfare_registry")),
    )
    before = _files(data)
    path = str(_extract(demo, extract)) if extract else str(tmp_path / "not-delivered")
    with pytest.raises(error, match=message) as e:
        ingest(spark_session, conf, zones, _key(), agency=agency, dataset=dataset, path=path)
    assert f"{agency}" in str(e.value) or extract is None
    # Another dataset's file makes its first row the "header": no value of it may be echoed.
    assert not re.search(r"[0-9]{13}|[\u0e00-\u0e7f]", str(e.value))
    assert _files(data) == before


def _key():
    from pseudonymize import SecretKey

    return SecretKey(KEY, "master")


def test_an_unreadable_json_extract_is_refused(spark_session, conf, tmp_path):
    data = tmp_path / "data"
    extract = tmp_path / "visits"
    extract.mkdir()
    (extract / "part-00000.json").write_text('{"visit_id": "v1", "citizen_id": "11017002\n')
    with pytest.raises(ExtractUnreadableError, match="part-00000.json cannot be read as json"):
        ingest(
            spark_session,
            conf,
            _zones(data),
            _key(),
            agency="public_health",
            dataset="respiratory_visits",
            path=str(extract),
        )
    assert not [p for p in data.rglob("*") if p.is_file()]
