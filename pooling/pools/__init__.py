"""Pools (deidentified → pools): one project's tables, keyed by the project's own pseudonym."""

from pooling.pools.build import PoolReport, build_pool, pool_tables, to_pool

__all__ = ["PoolReport", "build_pool", "pool_tables", "to_pool"]
