"""The catalog: every Delta table of the service with the metadata it carries.

Metadata lives in each table's own properties (written in the same commit as the data), so the
catalog is read from the tables themselves; there is no second register to fall out of step.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pyspark.sql import SparkSession

from pooling.core import tables
from pooling.core.zones import Zones

CATALOG_ZONES = ("linkage", "deidentified", "pools", "outputs", "released", "audit")


@dataclass(frozen=True)
class TableInfo:
    name: str  # zone.part.part…, e.g. pools.low_income.welfare_registry
    path: str
    version: int
    properties: dict[str, str]

    @property
    def kind(self) -> str:
        return self.properties.get("kind", self.name.split(".")[0])


def _delta_dirs(root: Path) -> list[Path]:
    if not root.is_dir():
        return []
    return sorted(p.parent for p in root.rglob("_delta_log") if p.is_dir())


def list_tables(spark: SparkSession, zones: Zones) -> list[TableInfo]:
    """Every Delta table under the zones (local storage), with its current version."""
    found = []
    for zone in CATALOG_ZONES:
        root = Path(zones.roots[zone])
        for path in _delta_dirs(root):
            name = ".".join([zone, *path.relative_to(root).parts])
            version = tables.last_commit(spark, str(path)).version
            found.append(TableInfo(name, str(path), version, tables.properties(spark, str(path))))
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
