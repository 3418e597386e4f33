"""Crash windows: a job SIGKILLed, its whole process group, between two of its commits or inside
one, then run again.

Each job runs as the `pooling` command in a process group of its own. It is killed at a named
failpoint (:mod:`pooling.core.failpoints`: the job kills its own group there) or, inside a Spark
write, from outside when its first data file lands. After the kill every table is at a version a
reader may see and nothing half-made is visible; the rerun (in this process) completes; and what
it leaves equals an uninterrupted run of the same work on a second data root.
"""

from __future__ import annotations

import json
import re
import shutil
import signal
import subprocess
from pathlib import Path

import pytest
import yaml
from pyspark.sql import DataFrame

from pooling import review
from pooling.core import tables
from pooling.core.audit import current_actor
from pooling.core.errors import ReviewError
from pooling.core.storage import Storage
from pooling.core.zones import Zones
from pooling.ingest import ingest
from pooling.outputs.runs import run_project
from pooling.pools.build import build_pool, built_versions, pool_tables
from tests.system.jobs import (
    POOLING,
    REPO,
    demo_extract,
    env_for,
    events,
    ingest_cmd,
    key,
    killed_while_writing,
    versions,
)

pytestmark = pytest.mark.slow
PROJECT = "education_labour"  # its suppressed outputs can be released at the demo's size


def _killed_at(point: str, cmd: list[str], data: Path) -> None:
    """Run ``cmd`` until it reaches ``point`` and kills its process group there."""
    done = subprocess.run(
        cmd,
        cwd=REPO,
        env=env_for(data, POOLING_FAILPOINT=point),
        capture_output=True,
        text=True,
        timeout=600,
        start_new_session=True,
    )
    assert done.returncode == -signal.SIGKILL, done.stderr[-3000:]
    assert f"failpoint {point}: killing process group" in done.stderr  # killed there, by itself


def _same_rows(a: DataFrame, b: DataFrame) -> None:
    assert a.schema == b.schema
    assert a.count() == b.count()
    assert a.exceptAll(b).isEmpty() and b.exceptAll(a).isEmpty()


def _props(spark, path: str) -> dict[str, str]:
    return {k: v for k, v in tables.properties(spark, path).items() if k != "ingested_at"}


def _audited(spark, data: Path) -> list[str]:
    """The ingest events, as comparable text (a table's path names its root, so it is left out)."""
    evs = [{k: v for k, v in e.items() if k != "table"} for e in events(spark, data)]
    return sorted(json.dumps(e, sort_keys=True) for e in evs)


def _ingest(spark, conf, data: Path, name: str, path: Path):
    agency, dataset = name.split(".")
    return ingest(
        spark, conf, Zones.under(data), key(), agency=agency, dataset=dataset, path=str(path)
    )


# --------------------------------------------------------------------------- ingest


def test_killed_after_the_table_the_rerun_keeps_it_and_writes_the_quarantine_and_event(
    demo, spark_session, conf, tmp_path
):
    spark, name = spark_session, "finance.welfare_registry"
    extract = demo_extract(demo, name)
    ref, data = tmp_path / "ref" / "data", tmp_path / "data"
    reference = _ingest(spark, conf, ref, name, extract)
    assert reference.quarantined_total  # the synthetic extract carries bad rows to quarantine

    _killed_at("ingest.table_written", ingest_cmd(name, extract), data)
    zones = Zones.under(data)
    table, quarantine = zones.deidentified(*name.split(".")), zones.quarantine(*name.split("."))
    # The table is whole (its one commit), the quarantine was never written, nothing audited.
    assert versions(spark, data) == {table: 0}
    assert tables.properties(spark, table)["source_checksum"] == reference.checksum
    assert events(spark, data) == []

    rerun = _ingest(spark, conf, data, name, extract)
    assert not rerun.skipped and rerun.balanced()
    assert rerun.version == 0  # the committed table was kept, not written again
    ref_zones = Zones.under(ref)
    for mine, theirs in (
        (table, ref_zones.deidentified(*name.split("."))),
        (quarantine, ref_zones.quarantine(*name.split("."))),
    ):
        _same_rows(tables.read_version(spark, mine), tables.read_version(spark, theirs))
        assert _props(spark, mine) == _props(spark, theirs)
        assert tables.current_version(spark, mine) == tables.current_version(spark, theirs)
    assert _audited(spark, data) == _audited(spark, ref)
    assert _ingest(spark, conf, data, name, extract).skipped  # and now it is done


def _corrections(first: Path, out: Path) -> Path:
    """The next monthly extract of an upsert dataset: every visit's cost corrected."""
    out.mkdir()
    cost = re.compile(r'("cost_baht":"?)(-?[0-9.]+(?:E-?[0-9]+)?)')  # a number, or as text
    for f in sorted(first.iterdir()):
        if f.name.startswith((".", "_")):
            continue
        text = f.read_text(encoding="utf-8")
        (out / f.name).write_text(
            cost.sub(lambda m: f"{m.group(1)}{float(m.group(2)) + 1.0}", text), encoding="utf-8"
        )
    return out


def test_killed_inside_an_upsert_merge_nothing_moves_and_the_rerun_merges_once(
    demo, spark_session, conf, tmp_path
):
    spark, name = spark_session, "public_health.service_records"
    first = demo_extract(demo, name)
    second = _corrections(first, tmp_path / "second")
    ref, data = tmp_path / "ref" / "data", tmp_path / "data"
    _ingest(spark, conf, ref, name, first)
    reference = _ingest(spark, conf, ref, name, second)
    assert reference.updated > 0 and reference.inserted == 0

    _ingest(spark, conf, data, name, first)
    before = versions(spark, data)
    table = Zones.under(data).deidentified(*name.split("."))
    old_files = set(Path(table).glob("*.parquet"))
    killed_while_writing(ingest_cmd(name, second), data, table, records_per_file=5)
    assert set(Path(table).glob("*.parquet")) - old_files  # the merge's files landed ...
    assert versions(spark, data) == before  # ... but no commit did
    assert [e["checksum"] for e in events(spark, data)] == [_ingest_checksum(spark, ref, first)]

    rerun = _ingest(spark, conf, data, name, second)
    assert (rerun.inserted, rerun.updated) == (reference.inserted, reference.updated)
    ref_zones = Zones.under(ref)
    for kind in ("deidentified", "quarantine"):
        mine = getattr(Zones.under(data), kind)(*name.split("."))
        theirs = getattr(ref_zones, kind)(*name.split("."))
        _same_rows(tables.read_version(spark, mine), tables.read_version(spark, theirs))
        assert _props(spark, mine) == _props(spark, theirs)
        assert tables.current_version(spark, mine) == tables.current_version(spark, theirs)
    assert _audited(spark, data) == _audited(spark, ref)


def _ingest_checksum(spark, data: Path, path: Path) -> str:
    (event,) = [e for e in events(spark, data) if e["source"] == str(path)]
    return event["checksum"]


# --------------------------------------------------------------------------- pool and release


@pytest.fixture(scope="module")
def pooled(demo, spark_session, conf, tmp_path_factory):
    """A data root with the project's datasets ingested and its pool built once."""
    data = tmp_path_factory.mktemp("crash-pool") / "data"
    for t in conf.project(PROJECT).pool.values():
        name = f"{t.agency}.{t.dataset}"
        _ingest(spark_session, conf, data, name, demo_extract(demo, name))
    build_pool(spark_session, conf, Zones.under(data), key(), PROJECT)
    return data


def test_killed_between_two_pool_tables_runs_read_the_last_whole_build(pooled, spark_session, conf):
    spark, data, zones = spark_session, pooled, Zones.under(pooled)
    spec = conf.project(PROJECT)
    built = built_versions(spark, zones, PROJECT)
    frozen = {t: tables.read_version(spark, zones.pool(PROJECT, t), v) for t, v in built.items()}
    assert len(built) > 1

    _killed_at("pool.table_built", [str(POOLING), "pool", "--project", PROJECT], data)
    now = {t: tables.current_version(spark, zones.pool(PROJECT, t)) for t in built}
    rebuilt = [t for t in built if now[t] > built[t]]
    # The kill came after one table of the new build committed (tables are written two at a
    # time, so the other one writing may have committed too), never after all of them.
    assert 1 <= len(rebuilt) < len(built)
    # A run reads the last whole build: the marker still names its versions, for every table.
    assert built_versions(spark, zones, PROJECT) == built
    for t, (df, v) in pool_tables(spark, zones, spec).items():
        assert v == built[t]
        _same_rows(df, frozen[t])

    build_pool(spark, conf, zones, key(), PROJECT)
    after = built_versions(spark, zones, PROJECT)
    assert all(after[t] > built[t] for t in built)  # the rerun moved every table on together
    for t, (df, _) in pool_tables(spark, zones, spec).items():
        _same_rows(df, frozen[t])  # same sources, same key: the same pool as before


def test_a_release_killed_halfway_or_before_its_record_finishes_as_an_uninterrupted_one(
    pooled, spark_session, conf, tmp_path
):
    spark, data, zones = spark_session, pooled, Zones.under(pooled)
    storage = Storage(spark)
    # Run by an engineer: the OS account running the tests reviews them (not its own runs).
    runs = (run_project(spark, conf, zones, PROJECT, actor="engineer") for _ in range(2))
    whole, killed = (r.run_id for r in runs)
    # Two checkers: r1, then the OS account (the CLI's reviewer), whose approval releases.
    second = current_actor()
    approve = dict(verdict="approve", reason="suppressed", apply_suppression=True)
    for reviewer in ("r1", second):
        review.decide(spark, conf, zones, f"{PROJECT}/{whole}", reviewer=reviewer, **approve)
    review.decide(spark, conf, zones, f"{PROJECT}/{killed}", reviewer="r1", **approve)

    site = tmp_path / "conf"  # conf/ with this test's reviewers, for the CLI
    shutil.copytree(REPO / "conf", site)
    (tmp_path / ".cache").symlink_to(REPO / ".cache")  # the jars, beside conf/ as in a repository
    (site / "review.yaml").write_text(yaml.safe_dump(conf.review.model_dump()))
    cmd = [str(POOLING), "--conf", str(site), "review", "approve", f"{PROJECT}/{killed}"]
    cmd += ["--reason", "suppressed", "--suppress"]
    _killed_at("release.output_staged", cmd, data)
    final = zones.released(PROJECT, killed)
    # Halfway: the staging holds a part, the release does not exist, the run is still pending.
    assert not storage.exists(final)
    assert [p.name for p in Path(zones.released(PROJECT, "")).iterdir() if p.name != whole] == [
        f".staging-{killed}"
    ]
    staging = Path(zones.released(PROJECT, "")) / f".staging-{killed}"
    assert any(staging.iterdir()) and not (staging / "manifest.json").exists()
    assert killed in [m.run_id for m in review.pending(storage, zones)]

    _killed_at("release.moved", cmd, data)
    # Released as a whole, but not recorded and the run not marked: the rerun finishes it.
    assert storage.exists(f"{final}/manifest.json")
    assert [e["subject"] for e in events(spark, data, "release")] == [f"{PROJECT}/{whole}"]
    # Only the same release is finished; another decision on the released run is refused.
    released = sorted(json.loads(Path(final, "manifest.json").read_text())["outputs"])
    again = dict(reviewer=second, **approve)  # its step died with it: it may take it again
    with pytest.raises(ReviewError, match="is released already, with outputs"):
        review.decide(spark, conf, zones, f"{PROJECT}/{killed}", outputs=released[:1], **again)
    review.decide(spark, conf, zones, f"{PROJECT}/{killed}", **again)

    assert not staging.exists()
    releases = sorted(e["subject"] for e in events(spark, data, "release"))
    assert releases == sorted([f"{PROJECT}/{whole}", f"{PROJECT}/{killed}"])
    a, b = Path(zones.released(PROJECT, whole)), Path(final)
    assert sorted(p.name for p in a.iterdir()) == sorted(p.name for p in b.iterdir())
    for f in a.iterdir():
        if f.suffix in (".csv", ".png"):
            assert f.read_bytes() == (b / f.name).read_bytes(), f.name
    ma, mb = (
        {**json.loads((d / "manifest.json").read_text().replace(d.name, "RUN")), "released_at": 0}
        for d in (a, b)
    )
    assert ma == mb  # the same reviewers, outputs, rows, suppressed cells, checks and sources
    for n in ma["outputs"]:
        _same_rows(tables.read_version(spark, str(a / n)), tables.read_version(spark, str(b / n)))
    assert killed not in [m.run_id for m in review.pending(storage, zones)]
