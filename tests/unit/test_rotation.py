"""Rotating a pool key rebuilds the pool from the de-identified tables alone."""

import shutil
from pathlib import Path

from pooling.core import tables
from pooling.core.config import Conf
from pooling.ingest import ingest
from pooling.pools.build import build_pool

REPO = Path(__file__).resolve().parents[2]
PROJECT = "low_income"


def _extract(root: Path, name: str, header: str, rows: list[str]) -> str:
    path = root / name
    path.mkdir(parents=True)
    (path / "part-0.csv").write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return str(path)


def test_bumping_the_key_version_rebuilds_the_pool_without_raw_ids(
    spark, zones, master_key, tmp_path
):
    conf_dir = tmp_path / "conf"
    shutil.copytree(REPO / "conf", conf_dir)
    conf = Conf(conf_dir)
    # A one-table pool is enough to see the key change.
    spec_path = conf_dir / "projects" / f"{PROJECT}.yaml"
    landing = tmp_path / "landing"
    path = _extract(
        landing,
        "j",
        "case_no,citizen_id,first_name,last_name,record_type,start_date",
        ["J1,1101700207030,ก,ข,prisoner,2023-01-05", "J2,3100600123450,ค,ง,probation,2023-02-01"],
    )
    ingest(spark, conf, zones, master_key, agency="justice", dataset="justice_records", path=path)
    text = spec_path.read_text()
    pool_only_justice = (
        text[: text.index("pool:")]
        + (
            "pool:\n  justice_records:\n    agency: justice\n    dataset: justice_records\n"
            "    columns: [record_type]\n"
        )
        + text[text.index("analysts:") :]
    )
    spec_path.write_text(pool_only_justice)

    v1 = build_pool(spark, Conf(conf_dir), zones, master_key, PROJECT)
    table = zones.pool(PROJECT, "justice_records")
    before = {
        r.record_type: r.pool_pseudonym for r in spark.read.format("delta").load(table).collect()
    }

    shutil.rmtree(landing)  # the raw extract is gone: rotation must not need it
    spec_path.write_text(pool_only_justice.replace("pool_key_version: 1", "pool_key_version: 2"))
    v2 = build_pool(spark, Conf(conf_dir), zones, master_key, PROJECT)
    after = {
        r.record_type: r.pool_pseudonym for r in spark.read.format("delta").load(table).collect()
    }

    assert v1.key_id != v2.key_id and v2.key_version == 2
    assert set(before) == set(after) == {"prisoner", "probation"}
    assert not set(before.values()) & set(after.values())
    props = tables.properties(spark, table)
    assert (props["key_id"], props["key_version"]) == (v2.key_id, "2")
