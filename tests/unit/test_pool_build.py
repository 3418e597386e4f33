"""A pool build is atomic as a whole: runs read the versions its build marker names."""

import shutil
from pathlib import Path

import pytest

from pooling.core import tables
from pooling.core.config import Conf
from pooling.core.errors import ContractError
from pooling.ingest import ingest
from pooling.pools import build
from pooling.pools.build import build_pool, pool_tables

REPO = Path(__file__).resolve().parents[2]
PROJECT = "low_income"
HEADER = "case_no,citizen_id,first_name,last_name,record_type,start_date"


@pytest.fixture
def two_table_pool(spark, zones, master_key, tmp_path) -> Conf:
    """``low_income`` cut down to two tables, both from one small justice extract."""
    conf_dir = tmp_path / "conf"
    shutil.copytree(REPO / "conf", conf_dir)
    extract = tmp_path / "landing" / "j"
    extract.mkdir(parents=True)
    rows = ["J1,1101700207030,ก,ข,prisoner,2023-01-05", "J2,3100600123450,ค,ง,probation,2023-02-01"]
    (extract / "part-0.csv").write_text("\n".join([HEADER, *rows]) + "\n", encoding="utf-8")
    conf = Conf(conf_dir)
    ingest(
        spark,
        conf,
        zones,
        master_key,
        agency="justice",
        dataset="justice_records",
        path=str(extract),
    )
    spec = conf_dir / "projects" / f"{PROJECT}.yaml"
    text = spec.read_text()
    source = "    agency: justice\n    dataset: justice_records\n    columns: [record_type]\n"
    spec.write_text(
        text[: text.index("pool:")]
        + f"pool:\n  first:\n{source}  second:\n{source}"
        + text[text.index("analysts:") :]
    )
    return Conf(conf_dir)


def test_a_run_reads_the_versions_of_the_last_complete_build(
    spark, zones, master_key, two_table_pool, monkeypatch
):
    conf, spec = two_table_pool, two_table_pool.project(PROJECT)
    with pytest.raises(ContractError, match="no complete build"):
        pool_tables(spark, zones, spec)
    done = build_pool(spark, conf, zones, master_key, PROJECT)
    assert {t: v for t, (_, v) in pool_tables(spark, zones, spec).items()} == {
        t: w.version for t, w in done.tables.items()
    }

    # A rebuild that dies after its first table: that table is newer on disk, but a run still
    # sees the whole previous build.
    real = build._build_table

    def dies_on_the_second(*args, **kwargs):
        if args[1] == "second":  # (build, table, source, frame)
            raise RuntimeError("killed between two tables")
        return real(*args, **kwargs)

    monkeypatch.setattr(build, "_build_table", dies_on_the_second)
    with pytest.raises(RuntimeError, match="between two tables"):
        build_pool(spark, conf, zones, master_key, PROJECT)
    first = zones.pool(PROJECT, "first")
    assert tables.last_commit(spark, first).version == done.tables["first"].version + 1
    seen = pool_tables(spark, zones, spec)
    assert {t: v for t, (_, v) in seen.items()} == {t: w.version for t, w in done.tables.items()}

    # The rerun completes, and its marker moves both tables on together.
    monkeypatch.setattr(build, "_build_table", real)
    again = build_pool(spark, conf, zones, master_key, PROJECT)
    seen = pool_tables(spark, zones, spec)
    assert {t: v for t, (_, v) in seen.items()} == {t: w.version for t, w in again.tables.items()}
    assert seen["first"][0].count() == seen["second"][0].count() == 2
