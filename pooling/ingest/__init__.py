"""Ingest (landing → linkage → deidentified): an agency extract into its de-identified table."""

from pooling.ingest.job import IngestReport, ingest

__all__ = ["IngestReport", "ingest"]
