"""The catalog: every Delta table of the service with the metadata it carries.

Metadata lives in each table's own properties (written in the same commit as the data), so the
catalog is read from the tables themselves; there is no second register to fall out of step.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from pyspark.sql import SparkSession

from pooling.core import tables
from pooling.core.storage import Storage
from pooling.core.zones import Zones
from pooling.review.release import is_released

_COMMIT = re.compile(r"^\d{20}\.(json|checkpoint\.parquet)$|^\d{20}\.checkpoint\.")
CATALOG_ZONES = ("linkage", "deidentified", "pools", "outputs", "released", "audit", "risk")


@dataclass(frozen=True)
class TableInfo:
    name: str  # zone.part.part…, e.g. pools.low_income.welfare_registry
    path: str
    version: int
    properties: dict[str, str]

    @property
    def kind(self) -> str:
        return self.properties.get("kind", self.name.split(".")[0])


def delta_tables(storage: Storage, root: str) -> list[tuple[str, ...]]:
    """The folders under ``root`` that hold a Delta table, as their parts below ``root``, in
    order. A table's own folders are not walked: only the zone's folders above the tables.

    A ``_delta_log`` without a commit in it is no table: a first write that never landed, or the
    empty folders an object store may keep after a table was deleted (SeaweedFS does).
    """
    found: list[tuple[str, ...]] = []
    todo: list[tuple[str, ...]] = [()]
    while todo:
        parts = todo.pop()
        entries = storage.list("/".join([root.rstrip("/"), *parts]))
        log = next((e for e in entries if e.name == "_delta_log" and e.is_dir), None)
        if log is not None:
            if any(_COMMIT.match(e.name) for e in storage.list(log.uri)):
                found.append(parts)
        else:  # ".staging-…" and other dot folders are work in progress, not tables
            todo.extend((*parts, e.name) for e in entries if e.is_dir and e.name[0] != ".")
    return sorted(p for p in found if p)


def list_tables(spark: SparkSession, zones: Zones) -> list[TableInfo]:
    """Every Delta table under the zones, on whichever store they are, with its current version."""
    storage = Storage(spark)
    found = []
    for zone in CATALOG_ZONES:
        root = zones.roots[zone]
        for parts in delta_tables(storage, root):
            path = "/".join([root.rstrip("/"), *parts])
            if zone == "released" and not is_released(storage, path.rsplit("/", 1)[0]):
                continue  # a release still being copied (S3): not released yet
            version = tables.current_version(spark, path)
            properties = tables.properties(spark, path)
            found.append(TableInfo(".".join([zone, *parts]), path, version, properties))
    return found


def render_catalog(infos: list[TableInfo]) -> str:
    lines = [
        f"{'table':<58} {'ver':>4} {'rows':>10}  {'class':<9} {'std':<6} {'key id':<20} description"
    ]
    for t in infos:
        p = t.properties
        lines.append(
            f"{t.name:<58} {t.version:>4} {p.get('rows', ''):>10}  {p.get('data_class', ''):<9} "
            f"{p.get('standard_version', ''):<6} {p.get('key_id', ''):<20} "
            f"{p.get('description', '')[:60]}"
        )
    return "\n".join(lines)
