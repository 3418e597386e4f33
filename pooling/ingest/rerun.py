"""A rerun of an extract: is it already what the table holds, and what did that ingest count?

An ingest is idempotent: the same extract under the same key and standard writes nothing the
second time, and reports the figures of the ingest that did the work (from its audit event).
"""

from __future__ import annotations

import json

from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from pooling.core import tables
from pooling.core.errors import ContractError
from pooling.core.zones import Zones
from pooling.ingest.report import IngestReport


def already_ingested(
    spark: SparkSession, table: str, batch: dict[str, str], upsert: bool, where: str
) -> bool:
    """Whether this extract, under this key and standard, is already what the table holds.

    A replace dataset holds exactly its latest extract. An upsert dataset holds every extract
    merged since it was (re)loaded: each merge commit carries its batch id in the table history.
    """
    props = tables.properties(spark, table)
    current = {k: props.get(k) for k in batch}
    if not upsert:
        return current == batch
    for k in ("key_id", "standard_version"):
        if current[k] != batch[k]:
            raise ContractError(
                f"{where}: the table holds records pseudonymised under {k} {current[k]}, this "
                f"run uses {batch[k]}; merging would mix the two. Reload the dataset from a "
                "complete extract with --full-reload."
            )
    return any(info == batch for info in tables.commit_infos(spark, table))


def counts_from_audit(spark: SparkSession, zones: Zones, report: IngestReport, key_id: str) -> bool:
    """Fill a skipped ingest's figures from the audit event of the ingest that did the work.

    False when there is no such event: that ingest died after writing its table but before it
    finished, so the extract must be ingested again.
    """
    if not tables.exists(spark, zones.audit):
        return False
    events = (
        tables.read_version(spark, zones.audit)
        .where(
            (F.col("action") == "ingest")
            & (F.col("subject") == f"{report.agency}.{report.dataset}")
            & (F.get_json_object("details", "$.checksum") == report.checksum)
            & (F.get_json_object("details", "$.key_id") == key_id)
        )
        .orderBy(F.col("at").desc())
        .limit(1)
        .collect()
    )
    if not events:
        return False
    d = json.loads(events[0]["details"])
    report.input_rows, report.accepted = d["input_rows"], d["accepted"]
    report.duplicates, report.quarantined = d["duplicates"], d["quarantined"]
    report.dropped_columns = d["dropped_columns"]
    report.nulled = d.get("nulled", {})  # events before roles had none
    report.masked = d.get("masked", {})  # nor those before the stray-identifier scan
    return True
