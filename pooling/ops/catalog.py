"""The catalog: every Delta table of the service with the metadata it carries, and its lineage.

Metadata lives in each table's own properties (written in the same commit as the data), so the
catalog is read from the tables themselves; there is no second register to fall out of step.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from pyspark.sql import SparkSession

from pooling.core import tables
from pooling.core.errors import UnknownNameError
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


def find(infos: list[TableInfo], name: str) -> TableInfo:
    """A table by catalog name or path; the error lists the close matches."""
    for t in infos:
        if name in (t.name, t.path) or t.name.endswith("." + name):
            return t
    close = [t.name for t in infos if name.split(".")[-1] in t.name]
    hint = (
        f"Close matches: {close}"
        if close
        else (f"The catalog has {len(infos)} tables; `pooling catalog` lists them")
    )
    raise UnknownNameError(f"no table {name!r} in the catalog. {hint}")


def lineage(spark: SparkSession, zones: Zones, name: str) -> list[str]:
    """Where a table came from: table → the table versions it read → … → the source extract."""
    infos = list_tables(spark, zones)
    by_path = {t.path: t for t in infos}
    lines: list[str] = []

    def walk(t: TableInfo, depth: int, version: int | None) -> None:
        pad = "  " * depth
        at = f" @ v{version}" if version is not None else f" (current v{t.version})"
        key = f", key {t.properties['key_id']}" if "key_id" in t.properties else ""
        lines.append(f"{pad}{t.name}{at}{key}")
        if "source_checksum" in t.properties:
            lines.append(
                f"{pad}  extract {t.properties.get('source', '?')} "
                f"sha256 {t.properties['source_checksum'][:16]}… "
                f"(ingested {t.properties.get('ingested_at', '?')})"
            )
        for parent in json.loads(t.properties.get("lineage", "[]")):
            src = by_path.get(str(Path(parent["table"])))
            if src is None:
                lines.append(f"{pad}  {parent['table']} @ v{parent['version']} (no longer present)")
            else:
                walk(src, depth + 1, parent["version"])

    walk(find(infos, name), 0, None)
    return lines
