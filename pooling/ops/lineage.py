"""Lineage: where a table came from, read from the tables themselves.

Each table's ``lineage`` property names the table versions it was made from (written in the same
commit as its data); a de-identified table names its source extract and checksum.
"""

from __future__ import annotations

import json
from pathlib import Path

from pyspark.sql import SparkSession

from pooling.core.errors import UnknownNameError
from pooling.core.zones import Zones
from pooling.ops.catalog import TableInfo, list_tables


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


def _normal(path: str) -> str:
    """A table path as a key: local paths normalised; a URI (``hdfs://…``) as written."""
    return path.rstrip("/") if "://" in path else str(Path(path))


def lineage(spark: SparkSession, zones: Zones, name: str) -> list[str]:
    """Where a table came from: table → the table versions it read → … → the source extract."""
    infos = list_tables(spark, zones)
    by_path = {_normal(t.path): t for t in infos}
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
            src = by_path.get(_normal(parent["table"]))
            if src is None:
                lines.append(f"{pad}  {parent['table']} @ v{parent['version']} (no longer present)")
            else:
                walk(src, depth + 1, parent["version"])

    walk(find(infos, name), 0, None)
    return lines
