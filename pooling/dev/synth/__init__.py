"""Synthetic agency extracts with a ground truth: ``generate`` (pure) and ``write_extracts`` (I/O).

Faker builds small Thai vocabularies once; Spark samples a population and every extract from them
with hash-based randomness, so the same seed and size give the same records, and the same bytes,
at any scale. The ground truth is computed in :mod:`~pooling.dev.synth.truth`, the files written
by :mod:`~pooling.dev.synth.write`.
"""

from __future__ import annotations

from pyspark.sql import SparkSession
from pyspark.sql import functions as F
from pyspark.storagelevel import StorageLevel

from pooling.dev.synth import environment
from pooling.dev.synth.extracts import (
    EXTRA_COLUMN,
    EXTRACTS,
    Extract,
    Sources,
    Synthetic,
    prepare,
)
from pooling.dev.synth.faults import inject_faults
from pooling.dev.synth.plan import FaultRates, SynthPlan
from pooling.dev.synth.population import population
from pooling.dev.synth.truth import TRUTHS, fault_counts
from pooling.dev.synth.write import write_extracts

__all__ = [
    "EXTRACTS",
    "TRUTHS",
    "Extract",
    "FaultRates",
    "Synthetic",
    "SynthPlan",
    "fault_counts",
    "generate",
    "write_extracts",
]


def generate(spark: SparkSession, plan: SynthPlan) -> Synthetic:
    """The population, the environment grid and every extract, lazily, as DataFrames.

    The population and the grid are persisted: every extract and the ground truth sample from
    them, and the cache is also an optimiser barrier that keeps Spark from inlining their long
    expressions into every filter of every extract. Call :meth:`Synthetic.release` when done.
    """
    people = population(spark, plan).persist(StorageLevel.MEMORY_AND_DISK)
    grid = environment.grid(spark, plan).persist(StorageLevel.MEMORY_AND_DISK)
    sources = Sources(spark, plan, people, grid, {})
    prepare(sources)
    extracts = {}
    for spec in EXTRACTS:
        rows = inject_faults(
            spec.make(sources),
            plan.faults,
            seed=plan.seed,
            dataset=spec.name,
            key=spec.key,
            fmt=spec.format,
            id_column=spec.id_column if spec.person_level else None,
            mandatory=spec.mandatory,
            typed=spec.typed,
            coded=spec.coded,
            roles=spec.roles,
            encoding=spec.encoding,
            notes=spec.notes,
        )
        extra = spec.name in plan.extra_column_datasets
        if extra:  # an agency system that added a column nobody agreed on
            rows = rows.withColumn(EXTRA_COLUMN, F.lit("ตรวจสอบแล้ว"))
        if not spec.person_level:
            rows = rows.withColumn("person", F.lit(None).cast("long"))
        extracts[spec.name] = Extract(spec, rows, extra)
    return Synthetic(plan, people, grid, extracts)
