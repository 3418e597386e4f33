"""The whole main job for one project, small, in the default run: its outputs equal the ground
truth, and no raw identifier reaches a de-identified table, the pool, an output or the audit.

low_income pools ten extracts in all five delivery formats (CSV in two code pages, JSON lines,
Parquet, Excel, XML), so every reader and the HMAC of every role meet real extracts here. The
seven-project job and the tests on its output are marked ``whole_job`` and run in
`make test SUITE=full` and CI (tests/system/conftest.py).
"""

from pathlib import Path

import pytest

from pooling.core.zones import Zones
from pooling.dev.demo import TRUTH_CHECKS, run_demo
from pseudonymize import SecretKey
from tests.system.leaks import (
    assert_read_from_the_harder_deliveries,
    files_outside_landing_and_linkage,
    raw_values,
)

PROJECT = "low_income"
PERSONS = 1000


@pytest.fixture(scope="module")
def job(spark_session, conf, tmp_path_factory):
    data = tmp_path_factory.mktemp("one-project") / "data"
    key = SecretKey(bytes(range(90, 130)), "master")
    report = run_demo(
        spark_session, conf, Zones.under(data), key, persons=PERSONS, seed=13, projects=[PROJECT]
    )
    return report, data


def test_the_outputs_equal_the_ground_truth(job, conf):
    report, _ = job
    assert report.mismatches == []
    assert {f"{r.agency}.{r.dataset}" for r in report.ingests} == {
        f"{s.agency}.{s.dataset}" for s in conf.projects[PROJECT].pool.values()
    }
    assert set(report.runs) == {PROJECT}
    checked = {f"{p}.{o}" for p, o, _ in TRUTH_CHECKS if p == PROJECT}
    assert set(report.checked) == checked and len(checked) == 3
    overlap = report.checked[f"{PROJECT}.welfare_overlap"]
    assert sum(r["registry_members"] for r in overlap) > 50  # the comparison had substance
    assert sum(r["in_benefit_recipients"] for r in overlap) > 0


def test_no_raw_identifier_outside_landing_and_linkage(job):
    report, data = job
    raw = raw_values(Path(report.landing), report.manifest)
    assert_read_from_the_harder_deliveries(Path(report.landing), report.manifest)
    assert len(raw) > PERSONS  # IDs, names, phones and addresses were collected
    assert files_outside_landing_and_linkage(data, raw) > 20
