"""The whole main job once for every system test (a session fixture: it takes minutes)."""

from pathlib import Path

import pytest

from pooling.dev.demo import run_demo

PERSONS = 4000
REPO = Path(__file__).resolve().parents[2]


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
