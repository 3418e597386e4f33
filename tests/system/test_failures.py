"""What real jobs meet: a process killed mid-write, two ingests at once, bad keys and bad extracts.

The jobs run as the `pooling` command in their own processes, on a fresh data root per test. The
killed and concurrent jobs ingest the extracts the shared demo generated (they need its size); a
refusal needs only an extract to refuse, so those tests write the three they feed, for 500 persons.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from pooling.core import tables
from pooling.core.errors import ContractError, ExtractUnreadableError, UnknownNameError
from pooling.core.zones import Zones
from pooling.dev.synth import SynthPlan, generate, write_extracts
from pooling.ingest import ingest
from tests.system.jobs import (
    REPO,
    demo_extract,
    env_for,
    events,
    ingest_cmd,
    key,
    killed_while_writing,
    pooling,
    versions,
)


@pytest.fixture(scope="module")
def extracts(spark_session, tmp_path_factory):
    """``name -> path`` of the three extracts the refusals are fed (the whole job not needed)."""
    landing = tmp_path_factory.mktemp("extracts")
    synthetic = generate(spark_session, SynthPlan(persons=500, seed=5))
    try:
        manifest = write_extracts(synthetic, str(landing), datasets=REFUSED_WITH, truths=())
    finally:
        synthetic.release()
    return lambda name: landing / manifest["datasets"][name]["path"]


def _zones(data: Path) -> Zones:
    return Zones.under(data)


def _files(data: Path) -> dict[str, int]:
    return {str(p): p.stat().st_size for p in data.rglob("*") if p.is_file()}


# --------------------------------------------------------------------------- killed mid-write

NAME = "interior.population_register"
REFUSED_WITH = (NAME, "finance.welfare_registry", "public_health.respiratory_visits")


@pytest.mark.slow
def test_a_job_killed_mid_write_leaves_every_table_at_its_previous_version(
    demo, spark_session, conf, tmp_path
):
    data = tmp_path / "data"
    agency, dataset = NAME.split(".")
    ingest(  # the previous version, written in this process
        spark_session,
        conf,
        _zones(data),
        key(),
        agency=agency,
        dataset=dataset,
        path=str(demo_extract(demo, NAME)),
    )
    before = versions(spark_session, data)
    table = _zones(data).deidentified(*NAME.split("."))
    assert set(before) == {table, _zones(data).quarantine(*NAME.split(".")), _zones(data).audit}
    old_rows = tables.read_version(spark_session, table).count()
    old_files = set(Path(table).glob("*.parquet"))

    # A new extract: the same rows delivered twice over (so a different checksum).
    second = tmp_path / "second"
    shutil.copytree(demo_extract(demo, NAME), second)
    for f in list(second.glob("*.parquet")):
        shutil.copy(f, f.with_name("copy-" + f.name))
    killed_while_writing(ingest_cmd(NAME, second), data, table, records_per_file=5)

    # Killed inside the write: data files landed, but no commit did.
    assert set(Path(table).glob("*.parquet")) - old_files
    assert versions(spark_session, data) == before
    assert tables.read_version(spark_session, table).count() == old_rows
    assert len(events(spark_session, data)) == 1

    rerun = ingest(
        spark_session, conf, _zones(data), key(), agency=agency, dataset=dataset, path=str(second)
    )
    assert not rerun.skipped and rerun.balanced()
    after = versions(spark_session, data)
    assert after[table] == before[table] + 1
    props = tables.properties(spark_session, table)
    (event,) = [e for e in events(spark_session, data) if e["checksum"] == props["source_checksum"]]
    assert event["duplicates"] >= old_rows  # every row came twice
    assert tables.read_version(spark_session, table).count() == old_rows


# --------------------------------------------------------------------------- two at once


@pytest.mark.slow
def test_three_ingests_at_once_two_datasets_land_and_the_same_extract_is_written_once(
    demo, spark_session, conf, tmp_path
):
    """Two ingests of one extract and one of another dataset, all at once: both datasets land
    with their audit events; of the pair one writes, the other waits for it and skips."""
    data = tmp_path / "data"
    other = "finance.welfare_registry"
    cmds = [ingest_cmd(n, demo_extract(demo, n)) for n in (NAME, NAME, other)]
    # Small files make each write take seconds, so whichever of the pair comes second (by
    # however much its JVM started later) finds the first inside its ingest.
    slow = env_for(
        data, PYSPARK_SUBMIT_ARGS="--conf spark.sql.files.maxRecordsPerFile=10 pyspark-shell"
    )
    jobs = [
        subprocess.Popen(
            cmd, cwd=REPO, env=slow, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for cmd in cmds
    ]
    results = [j.communicate(timeout=600) for j in jobs]
    for j, (_, err) in zip(jobs, results, strict=True):
        assert j.returncode == 0, err[-3000:]
    pair = [err for _, err in results[:2]]
    waited = [log for log in pair if f"{NAME}: waiting for another ingest of it" in log]
    assert len(waited) == 1, pair  # the two overlapped: one found the other inside its ingest
    assert "already ingested" in waited[0]
    assert "waiting" not in results[2][1]  # another dataset waits for nothing
    zones = _zones(data)
    for n in (NAME, other):
        t = zones.deidentified(*n.split("."))
        assert versions(spark_session, data)[t] == 0  # written once
        want = demo[0].manifest["datasets"][n]["expected_accepted"]
        assert tables.read_version(spark_session, t).count() == want
    assert sorted(e["subject"] for e in events(spark_session, data)) == sorted([NAME, other])
    before = versions(spark_session, data)
    agency, dataset = NAME.split(".")
    again = ingest(
        spark_session,
        conf,
        zones,
        key(),
        agency=agency,
        dataset=dataset,
        path=str(demo_extract(demo, NAME)),
    )
    assert again.skipped and versions(spark_session, data) == before  # a rerun changes nothing


# ------------------------------------------------------------------- refused: nothing written


def test_a_missing_key_is_refused_before_anything_starts(extracts, tmp_path):
    data = tmp_path / "data"
    env = env_for(data, POOLING_KEY_FILE=str(tmp_path / "no.key"))
    env.pop("POOLING_MASTER_KEY")
    done = pooling(ingest_cmd(NAME, extracts(NAME)), env)
    assert done.returncode == 2
    assert "no.key does not exist" in done.stderr
    assert not data.exists()


def test_a_weak_key_is_refused_and_not_shown(extracts, tmp_path):
    data = tmp_path / "data"
    weak = "ab" * 8  # 8 bytes
    extract = extracts(NAME)
    done = pooling(ingest_cmd(NAME, extract), env_for(data, POOLING_MASTER_KEY=weak))
    assert done.returncode == 2
    assert "POOLING_MASTER_KEY" in done.stderr and weak not in done.stderr
    assert not data.exists()


def test_a_corrupted_extract_is_named_and_nothing_is_written(extracts, tmp_path):
    data = tmp_path / "data"
    broken = tmp_path / "broken"
    shutil.copytree(extracts(NAME), broken)
    victim = sorted(broken.glob("*.parquet"))[0]
    victim.write_bytes(victim.read_bytes()[: victim.stat().st_size // 2])  # cut off in transfer
    done = pooling(ingest_cmd(NAME, broken), env_for(data))
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
    extracts, spark_session, conf, tmp_path, agency, dataset, extract, error, message
):
    data = tmp_path / "data"
    zones = _zones(data)
    # A table already there must stay as it is, too.
    ingest(
        spark_session,
        conf,
        zones,
        key(),
        agency="finance",
        dataset="welfare_registry",
        path=str(extracts("finance.welfare_registry")),
    )
    before = _files(data)
    path = str(extracts(extract)) if extract else str(tmp_path / "not-delivered")
    with pytest.raises(error, match=message) as e:
        ingest(spark_session, conf, zones, key(), agency=agency, dataset=dataset, path=path)
    assert f"{agency}" in str(e.value) or extract is None
    # Another dataset's file makes its first row the "header": no value of it may be echoed.
    assert not re.search(r"[0-9]{13}|[\u0e00-\u0e7f]", str(e.value))
    assert _files(data) == before


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
            key(),
            agency="public_health",
            dataset="respiratory_visits",
            path=str(extract),
        )
    assert not [p for p in data.rglob("*") if p.is_file()]
