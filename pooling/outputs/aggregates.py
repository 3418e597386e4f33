"""The gate every project output passes before it is written: aggregates only.

A project module is ordinary code and can be wrong: a forgotten ``groupBy`` gives a row per
person, a stray join key carries a pseudonym out. This check catches both in one pass over the
output, before anything is written, and says which output and column is at fault without
quoting any value.
"""

from __future__ import annotations

from dataclasses import dataclass

from pyspark.sql import functions as F
from pyspark.sql.types import StringType

from pooling.core.errors import AggregateError
from projects import Output
from pseudonymize.standard import (
    LINKAGE_PSEUDONYM,
    POOL_PSEUDONYM,
    PSEUDONYM_PATTERN,
    RECORD_KEY,
    is_linkage_column,
    is_pool_column,
)

IDENTIFYING_COLUMNS = (POOL_PSEUDONYM, LINKAGE_PSEUDONYM, RECORD_KEY)


@dataclass(frozen=True)
class AggregateStats:
    rows: int
    cells: int  # distinct combinations of the output's dims
    largest_cell: int | None  # the largest count in a cell, for person-level outputs


def check_aggregate(
    project: str, name: str, output: Output, *, person_level: bool
) -> AggregateStats:
    """Refuse an output that is not an aggregate table. ``person_level``: the pool holds people.

    - no column named like a pseudonym or record key, and no text cell shaped like one;
    - ``dims`` exist and identify a row (one row per cell);
    - a person-level output names its ``count`` column, and not every cell holds one person
      (that is a list of people, not an aggregate).
    """
    df = output.df
    where = f"project {project} output {name!r}"
    named = [
        c
        for c in df.columns
        if c in IDENTIFYING_COLUMNS or is_pool_column(c) or is_linkage_column(c)
    ]
    if named:
        raise AggregateError(f"{where} has identifying column(s) {named}; outputs are aggregates")
    missing = [c for c in (*output.dims, *output.people_counts) if c not in df.columns]
    if missing:
        raise AggregateError(f"{where} declares column(s) {missing} it does not have {df.columns}")
    if person_level and not output.count:
        raise AggregateError(
            f"{where} comes from a pool of people but names no count column: the review could "
            "not apply the minimum cell count"
        )
    text = [f.name for f in df.schema.fields if isinstance(f.dataType, StringType)]
    aggs = [
        F.count(F.lit(1)).alias("rows"),
        F.count_distinct(F.struct(*output.dims)).alias("cells"),
        *[F.max(F.col(c).rlike(PSEUDONYM_PATTERN)).alias(f"hex_{i}") for i, c in enumerate(text)],
    ]
    if output.count:
        aggs.append(F.max(output.count).alias("largest_cell"))
    stats = df.agg(*aggs).first()
    shaped = [c for i, c in enumerate(text) if stats[f"hex_{i}"]]
    if shaped:
        raise AggregateError(
            f"{where} has values shaped like pseudonyms in column(s) {shaped}; outputs are "
            "aggregates"
        )
    if stats["cells"] != stats["rows"]:
        raise AggregateError(
            f"{where} has {stats['rows']:,} rows but {stats['cells']:,} distinct "
            f"{list(output.dims)}: an aggregate has one row per cell"
        )
    largest = stats["largest_cell"] if output.count else None
    if person_level and stats["rows"] and (largest or 0) <= 1:
        raise AggregateError(
            f"{where}: every one of its {stats['rows']:,} rows counts at most one person "
            f"({output.count!r}); that is a list of people, not an aggregate"
        )
    return AggregateStats(stats["rows"], stats["cells"], largest)
