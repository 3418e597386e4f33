"""One Delta-enabled SparkSession for the whole suite, built by the service's own builder.

pytest-spark provides ``spark_session``; its internal ``_spark_session`` fixture is overridden here
so that the session is exactly the one ``pooling.session.build_session`` makes for the local
profile (Delta extension and catalog, offline jars), tuned for tests: two shuffle partitions,
no UI, and an event log we can search for leaked key material.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from pooling.core.audit import current_actor
from pooling.core.config import Conf, Profile, ReviewSettings, load_model
from pooling.core.session import build_session
from pooling.core.zones import Zones
from pseudonymize import SecretKey

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def conf() -> Conf:
    """conf/ as the repository has it, but with the tests' output checkers: r1, r2 and the OS
    account the tests run as (a reviewer in the CLI is the account that runs it)."""
    c = Conf(REPO / "conf")
    c.review = ReviewSettings(reviewers=["r1", "r2", current_actor()])
    return c


@pytest.fixture(scope="session")
def event_log_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("spark-events")


@pytest.fixture(scope="session")
def _spark_session(event_log_dir: Path, tmp_path_factory: pytest.TempPathFactory):
    profile = load_model(REPO / "conf" / "profiles" / "local.yaml", Profile)
    warehouse = tmp_path_factory.mktemp("warehouse")
    spark = build_session(
        profile,
        base_dir=REPO,
        s3=True,  # the S3A connector, for the tests on a real object store (test_remote_stores)
        extra_conf={
            "spark.sql.shuffle.partitions": "2",
            "spark.default.parallelism": "2",
            "spark.ui.enabled": "false",
            "spark.eventLog.enabled": "true",
            "spark.eventLog.compress": "false",  # searched as text by test_hmac
            "spark.eventLog.dir": event_log_dir.as_uri(),
            "spark.sql.warehouse.dir": str(warehouse),
        },
    )
    yield spark
    spark.stop()


@pytest.fixture
def spark(spark_session):
    """The shared session, with temp views and cached data cleared after each test."""
    yield spark_session
    for t in spark_session.catalog.listTables():
        if t.isTemporary:
            spark_session.catalog.dropTempView(t.name)
    spark_session.catalog.clearCache()


@pytest.fixture
def zones(tmp_path: Path) -> Zones:
    profile = Profile.model_validate(
        {
            "name": "test",
            "description": "test zones under a temp dir",
            "spark": {"master": "local[2]", "driver_memory": "1g", "shuffle_partitions": 2},
            "storage": {"root": str(tmp_path / "data")},
        }
    )
    return Zones.for_profile(profile, tmp_path)


@pytest.fixture(scope="session")
def master_key() -> SecretKey:
    return SecretKey(bytes(range(7, 7 + 48)), "master")
