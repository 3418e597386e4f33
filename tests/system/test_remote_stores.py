"""The whole main job with every zone on real distributed storage: HDFS, and S3 (SeaweedFS).

The stores are real and started here (see ``stores.py``); the data root and the linkage root are
two different places on each (two HDFS directories, two buckets), as on a ministry's cluster. One
run each: synthetic extracts written into the remote landing zone, all 24 ingests, seven pools,
seven project runs, a review approved with suppression and released, a retention run that
destroys an expired extract; then the catalog, lineage and review commands against the remote
root. Nothing may be written under the local working directory.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest

from pooling import cli, review
from pooling.core import tables
from pooling.core.storage import Storage
from pooling.core.zones import Zones
from pooling.dev.demo import run_demo
from pooling.dev.stores import HDFS_CLIENT, mini_hdfs, seaweed_s3
from pooling.dev.synth import EXTRACTS
from pooling.ops.retention import plan_and_apply
from pooling.pools.build import build_marker
from pseudonymize import SecretKey

pytestmark = pytest.mark.slow

PERSONS = 1000  # smaller, some outputs count one person a row and the gate refuses them
# The project released: its small cells can be protected at this size (low_income's cannot all
# be: the review's protection check refuses it).
RELEASED = "education_labour"
BUCKETS = ["pooling-data", "pooling-linkage"]


@contextlib.contextmanager
def _hadoop_settings(spark, settings: dict[str, str]):
    """Settings in the shared session's Hadoop configuration, for one store's tests."""
    hadoop = spark._jsc.hadoopConfiguration()  # noqa: SLF001
    for key, value in settings.items():
        hadoop.set(key, value)
    try:
        yield
    finally:
        for key in settings:
            hadoop.unset(key)


@pytest.fixture(scope="module")
def hdfs(tmp_path_factory, spark_session):
    with (
        mini_hdfs(tmp_path_factory.mktemp("hdfs")) as uri,
        _hadoop_settings(spark_session, HDFS_CLIENT),
    ):
        yield f"{uri}/pooling", f"{uri}/pooling-linkage"


@pytest.fixture(scope="module")
def s3(tmp_path_factory, spark_session):
    with (
        seaweed_s3(tmp_path_factory.mktemp("seaweed"), BUCKETS) as store,
        _hadoop_settings(spark_session, store.hadoop_conf()),
    ):
        yield f"s3a://{BUCKETS[0]}/pooling", f"s3a://{BUCKETS[1]}/pooling"


def _zones(root: str, linkage: str) -> Zones:
    """Every zone under ``root`` but the linkage zone, which is elsewhere (as on a cluster)."""
    return Zones({**Zones.under(root).roots, "linkage": linkage})


def _whole_job(spark, conf, root: str, linkage: str) -> dict[str, str]:
    """The whole small demo, a review with suppression and the release, and a retention run, on
    one store; checked as it goes. Returns what the commands are then checked against."""
    storage = Storage(spark)
    zones = _zones(root, linkage)
    key = SecretKey(bytes(range(20, 60)), "master")

    report = run_demo(spark, conf, zones, key, persons=PERSONS, seed=5)

    # Every ingest's counts equal the generator's manifest; every checked output its truth.
    assert report.mismatches == []
    assert len(report.ingests) == len(EXTRACTS) == 24
    assert len(report.pools) == len(report.runs) == 7
    assert len(report.checked) == 7
    assert all(r.table.startswith(f"{root}/deidentified/") for r in report.ingests)
    assert storage.exists(f"{report.landing}/manifest.json")
    assert storage.list(f"{linkage}/quarantine")  # the linkage zone is where it was put
    for project, run in report.runs.items():
        manifest = json.loads(storage.read_text(f"{run.directory}/manifest.json"))
        assert manifest["status"] == "pending_review", project
        assert storage.read_text(f"{run.directory}/report.md").startswith("#"), project
        assert storage.exists(build_marker(zones, project)), project

    # Review: approved with suppression, released as a whole, with its manifest last.
    runs = {m["project"]: f"{m['project']}/{m['run_id']}" for m in review.pending(storage, zones)}
    assert set(runs) == set(conf.projects)
    for reviewer in ("r1", "r2"):  # two checkers, on outputs that suppression makes safe
        review.decide(
            spark,
            conf,
            zones,
            runs[RELEASED],
            verdict="approve",
            reviewer=reviewer,
            reason="small cells suppressed",
            apply_suppression=True,
        )
    released = zones.released(RELEASED, report.runs[RELEASED].run_id)
    out = json.loads(storage.read_text(f"{released}/manifest.json"))
    assert out["status"] == "approved" and out["outputs"] and out["reviewers"] == ["r1", "r2"]
    for name, o in out["outputs"].items():
        assert tables.read_version(spark, f"{released}/{name}").count() == o["rows"], name
    assert [e.name for e in storage.list(zones.released(RELEASED))] == [out["run_id"]]

    # Retention: an extract past its retention is destroyed, the others kept, all audited.
    later = datetime.now(UTC) + timedelta(days=91)  # past justice's 90 days, not welfare's
    done = plan_and_apply(spark, conf, zones, dry_run=False, now=later, actor="steward")
    destroyed = [i.target for i in done.destroyed() if i.action == "destroy_extract"]
    assert destroyed
    for target in destroyed:  # no byte left (an object store may keep empty folders)
        assert storage.files(target) == [], target
    kept = [r.source for r in report.ingests if r.dataset == "welfare_registry"]
    assert kept and all(storage.exists(k) for k in kept)
    (event,) = tables.read_version(spark, zones.audit).where("action = 'retention'").collect()
    recorded = {d["target"] for d in json.loads(event["details"])["destroyed"]}
    assert set(destroyed) <= recorded
    return {"released": out["run_id"], "output": report.runs["low_income"].run_id}


def test_the_whole_job_on_hdfs_and_on_s3(
    hdfs, s3, spark_session, conf, tmp_path, monkeypatch, capsys
):
    """Both stores at once, each job in a session of its own (its own SQL settings and commit
    metadata; one SparkContext): the two runs are latency-bound, so they overlap well."""
    work = tmp_path / "cwd"
    work.mkdir()
    monkeypatch.chdir(work)
    stores = {"hdfs": hdfs, "s3": s3}
    with ThreadPoolExecutor(max_workers=2) as pool:
        jobs = {
            name: pool.submit(_whole_job, spark_session.newSession(), conf, *roots)
            for name, roots in stores.items()
        }
        done = {name: job.result() for name, job in jobs.items()}  # re-raises a failed check

    # The operators' commands against each remote root.
    monkeypatch.setenv("POOLING_CONF", str(conf.root))
    for name, (root, linkage) in stores.items():
        monkeypatch.setenv("POOLING_DATA_ROOT", root)
        monkeypatch.setenv("POOLING_LINKAGE_ROOT", linkage)
        capsys.readouterr()
        assert cli.main(["catalog"]) == 0, name
        catalog = capsys.readouterr().out
        assert "pools.low_income.welfare_registry" in catalog, name
        released = f"released.{RELEASED}.{done[name]['released']}.employment_within_12m"
        assert released in catalog, name
        assert "linkage.quarantine.finance.welfare_registry" in catalog, name  # the other root
        output = f"outputs.low_income.{done[name]['output']}.welfare_overlap"
        assert cli.main(["lineage", output]) == 0, name
        assert "deidentified.finance.welfare_registry @ v0" in capsys.readouterr().out, name
        assert cli.main(["review", "list"]) == 0, name
        assert "6 run(s) waiting for review" in capsys.readouterr().out, name

    # Nothing of either job landed on the local disk of the working directory.
    assert sorted(p.name for p in work.iterdir()) == []


@pytest.mark.parametrize("store", ["hdfs", "s3"])
def test_audit_appends_from_two_writers_at_once_all_land(store, request, spark_session):
    """No lock on a remote store: Delta's optimistic concurrency (and our bounded retry) let two
    writers append to one audit table at once, and every event lands once."""
    from pooling.core import audit

    root, _ = request.getfixturevalue(store)
    path = f"{root}/concurrency/audit/events"
    spans: dict[int, tuple[float, float]] = {}

    def writer(n: int) -> None:
        t0 = time.monotonic()
        for i in range(4):
            audit.record(spark_session, path, action="query", subject=f"w{n}-{i}", details={})
        spans[n] = (t0, time.monotonic())

    threads = [threading.Thread(target=writer, args=(n,)) for n in (1, 2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    (a0, a1), (b0, b1) = spans[1], spans[2]
    assert a0 < b1 and b0 < a1  # the two writers overlapped in time
    subjects = [r[0] for r in tables.read_version(spark_session, path).select("subject").collect()]
    assert sorted(subjects) == sorted(f"w{n}-{i}" for n in (1, 2) for i in range(4))
