"""Deterministic randomness as Column expressions.

Every draw is a hash of (seed, purpose, row key), so a value depends only on the seed and the
entity, never on partitioning, task order or the number of cores: the same seed gives the same data
on a laptop and on a cluster.

Draws are materialised as columns (:func:`with_uniforms`) before they are used: an expression
referenced many times (a 77-branch province choice, say) would otherwise be inlined into every
reference and blow up the generated code.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import accumulate

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

_2_53 = 1 << 53


def uniform(seed: int, purpose: str, *keys: Column) -> Column:
    """A uniform double in [0, 1) for (seed, purpose, keys)."""
    h = F.xxhash64(F.lit(seed), F.lit(purpose), *keys)
    return F.pmod(h, F.lit(_2_53)).cast("double") / float(_2_53)


def with_uniforms(df: DataFrame, seed: int, keys: Sequence[str], *purposes: str) -> DataFrame:
    """Add one column ``u_<purpose>`` per purpose, drawn for the row identified by ``keys``."""
    key_cols = [F.col(k) for k in keys]
    return df.withColumns({f"u_{p}": uniform(seed, p, *key_cols) for p in purposes})


def drop_uniforms(df: DataFrame) -> DataFrame:
    return df.drop(*[c for c in df.columns if c.startswith("u_")])


def below(u: Column, n: Column | int) -> Column:
    """An integer in [0, n) from a uniform ``u``."""
    return F.floor(u * (n if isinstance(n, Column) else F.lit(n))).cast("long")


def choose(u: Column, values: Sequence[object], weights: Sequence[float] | None = None) -> Column:
    """One of ``values`` with probability proportional to ``weights`` (uniform if None).

    ``u`` should be a column reference (see :func:`with_uniforms`); it is used once per value.
    """
    if weights is None:
        index = (below(u, len(values)) + 1).cast("int")
        return F.element_at(F.array(*[F.lit(v) for v in values]), index)
    total = float(sum(weights))
    cumulative = [w / total for w in accumulate(weights)]
    expr = F.when(u < cumulative[0], F.lit(values[0]))
    for v, c in zip(values[1:-1], cumulative[1:-1], strict=True):
        expr = expr.when(u < c, F.lit(v))
    return expr.otherwise(F.lit(values[-1]))


def date_in_year(u: Column, year: int) -> Column:
    """A day of ``year`` from a uniform ``u`` (the first 365 days)."""
    from datetime import date

    return F.date_add(F.lit(date(year, 1, 1)), below(u, 365).cast("int"))


def person_draw(seed: int, purpose: str, *keys: Column) -> Column:
    """A uniform draw for the row's person (or for ``keys`` if given)."""
    return uniform(seed, purpose, *(keys or (F.col("person"),)))
