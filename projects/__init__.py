"""The analytics projects: one module each, a pure function from pool tables to output tables.

A project function takes ``{table name: DataFrame}`` (its pool, nothing else) and returns
``{output name: DataFrame}`` of aggregates. It never reads or writes storage itself.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from pyspark.sql import DataFrame

from pooling.errors import UnknownNameError

ProjectFn = Callable[[Mapping[str, DataFrame]], dict[str, DataFrame]]
_REGISTRY: dict[str, ProjectFn] = {}


def register(name: str) -> Callable[[ProjectFn], ProjectFn]:
    def deco(fn: ProjectFn) -> ProjectFn:
        _REGISTRY[name] = fn
        return fn

    return deco


def get(name: str) -> ProjectFn:
    from projects import low_income  # noqa: F401  (modules register themselves on import)

    try:
        return _REGISTRY[name]
    except KeyError:
        raise UnknownNameError(
            f"no analytics module for project {name!r}. Available projects are: {sorted(_REGISTRY)}"
        ) from None
