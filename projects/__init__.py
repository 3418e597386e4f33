"""The analytics projects: one module each, a pure function from pool tables to output tables.

A project function takes ``{table name: DataFrame}`` (its pool, nothing else) and returns
``{output name: Output}``: aggregate tables with what a reader needs to understand them (the
cells they are counted over, the column that counts the people in a cell, a sentence on how to
read them) and, for the headline outputs, a chart. It never reads or writes storage itself;
``pooling.outputs`` checks, writes, draws and reports.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Literal

from pyspark.sql import DataFrame

from pooling.core.errors import UnknownNameError
from pseudonymize.model import lookup

MODULES = (
    "low_income",
    "agriculture",
    "education_labour",
    "tourism_transport",
    "public_health",
    "water",
    "pollution",
)


@dataclass(frozen=True)
class Chart:
    """A bar or line chart drawn from an output's cells.

    Each ``y`` column is summed over the cells with the same ``x`` (and ``series``); with ``per``
    it is divided by the summed ``per`` column (one per ``y``, or one for all) and multiplied by
    ``scale``. A rate is therefore computed from the counts, never averaged over cell rates.
    """

    title: str
    x: str
    y: tuple[str, ...]
    ylabel: str
    per: str | tuple[str, ...] | None = None
    scale: float = 1.0
    series: str | None = None  # split a single y by this column's values
    kind: Literal["bar", "line"] = "bar"

    def pairs(self) -> list[tuple[str, str | None]]:
        """(numerator, denominator) per plotted series."""
        if self.per is None or isinstance(self.per, str):
            return [(y, self.per) for y in self.y]
        if len(self.per) != len(self.y):
            raise ValueError(f"chart {self.title!r}: {len(self.y)} y columns but {len(self.per)}")
        return list(zip(self.y, self.per, strict=True))


@dataclass(frozen=True)
class Output:
    """One aggregate table of a project run.

    ``dims`` are the columns that define a cell: the table has one row per combination.
    ``count`` names the column counting the people (or records of people) in each cell; every
    output of a project whose pool holds pseudonymised tables must have one, so the secretariat's
    review can apply the minimum cell count to it. A headline output has a chart.
    """

    df: DataFrame
    dims: tuple[str, ...]
    title: str
    how_to_read: str
    count: str | None = None
    chart: Chart | None = None
    # Further columns that count people in the cell (subsets of ``count``), checked like it.
    counts: tuple[str, ...] = ()
    # Magnitude tables: one row per contributor to a summed column, with the output's dims,
    # ``measure`` (the summed column) and ``value`` (the contribution). The run keeps the
    # largest contributions per cell so the review can apply the dominance rules.
    contributions: DataFrame | None = None

    @property
    def headline(self) -> bool:
        return self.chart is not None

    @property
    def people_counts(self) -> tuple[str, ...]:
        return ((self.count,) if self.count else ()) + self.counts


ProjectFn = Callable[[Mapping[str, DataFrame]], dict[str, Output]]
_REGISTRY: dict[str, ProjectFn] = {}


def register(name: str) -> Callable[[ProjectFn], ProjectFn]:
    def deco(fn: ProjectFn) -> ProjectFn:
        _REGISTRY[name] = fn
        return fn

    return deco


def get(name: str) -> ProjectFn:
    for module in MODULES:  # modules register themselves on import
        importlib.import_module(f"projects.{module}")
    return lookup(
        _REGISTRY,
        name,
        f"no analytics module for project {name!r}",
        "projects",
        error=UnknownNameError,
    )
