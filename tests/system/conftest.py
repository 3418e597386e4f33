"""The whole main job once for the system tests that read its output (a session fixture: it
takes minutes), and the marker that keeps those tests out of the default run."""

from pathlib import Path

import pytest

from pooling.dev.demo import run_demo

PERSONS = 4000
REPO = Path(__file__).resolve().parents[2]


@pytest.hookimpl(tryfirst=True)  # before `-m` deselects by marker
def pytest_collection_modifyitems(items):
    """Mark ``whole_job`` every test that needs the demo, directly or through a fixture: the
    job's fixed cost (four minutes with the SQL endpoint started on it) is paid once for all of
    them, and only by the runs that ask for them (`make test SUITE=full`, CI)."""
    for item in items:
        if "demo" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.whole_job)


@pytest.fixture(scope="session")
def demo(spark_session, conf, tmp_path_factory):
    from pooling.core.config import Profile
    from pooling.core.zones import Zones
    from pseudonymize import SecretKey

    root = tmp_path_factory.mktemp("pipeline")
    profile = Profile.model_validate(
        {
            "name": "test",
            "description": "system test",
            "spark": {"master": "local[2]", "driver_memory": "1g", "shuffle_partitions": 2},
            "storage": {"root": str(root / "data")},
        }
    )
    zones = Zones.for_profile(profile, root)
    key = SecretKey(bytes(range(50, 90)), "master")
    report = run_demo(spark_session, conf, zones, key, persons=PERSONS, seed=11)
    return report, zones, root / "data"
