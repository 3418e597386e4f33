"""Ingest: an agency extract in the landing zone → a de-identified Delta table.

contract check → normalise and validate citizen IDs and types → quarantine bad rows (linkage zone)
→ apply the standard → write the de-identified table, all counted so that
``input rows = accepted + quarantined + duplicates removed``.

:func:`ingest` runs the phases in that order; reading is in :mod:`pooling.ingest.read`, the pure
transforms in :mod:`pooling.ingest.validate`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from pooling.core import audit, failpoints, tables
from pooling.core.config import AgencyContract, Conf, DatasetContract
from pooling.core.constraints import as_properties, contract_constraints
from pooling.core.errors import (
    ExtractEncodingError,
    InternalError,
    MisclassifiedColumnError,
    WriteConflictError,
)
from pooling.core.held import held
from pooling.core.storage import Storage, local_commit_lock
from pooling.core.zones import Zones
from pooling.ingest.read import (
    check_compression,
    data_files,
    extract_checksum,
    first_bad_line,
    read_extract,
    unreadable_as_error,
)
from pooling.ingest.report import IngestReport
from pooling.ingest.rerun import already_ingested, counts_from_audit
from pooling.ingest.validate import (
    BAD_ENCODING,
    COPIES,
    ENCODING_REFUSAL_SHARE,
    NULLED,
    PII,
    PII_REFUSAL_SHARE,
    REASON,
    accepted_rows,
    check_columns,
    collapse_copies,
    flag_duplicate_keys,
    nulled_columns,
    pii_columns,
    quarantined_rows,
    validate,
    with_record_key,
)
from pseudonymize import SecretKey, derive_record_key
from pseudonymize.standard import RECORD_KEY

log = logging.getLogger("pooling.ingest")  # the name it had before the layout: logs are read by it


@dataclass(frozen=True)
class _Job:
    """What one ingest works from, settled before any data is read."""

    owner: AgencyContract
    contract: DatasetContract
    path: str
    where: str  # how messages name the extract
    upsert: bool  # merge into the table (an upsert dataset, and no full reload)
    batch: dict[str, str]  # what the table's commit carries: the extract, key id and standard
    report: IngestReport


def ingest(
    spark: SparkSession,
    conf: Conf,
    zones: Zones,
    master_key: SecretKey,
    *,
    agency: str,
    dataset: str,
    path: str,
    actor: str | None = None,
    full_reload: bool = False,
) -> IngestReport:
    """Ingest one extract. ``full_reload`` replaces an upsert dataset's table with this extract
    (which must then be complete), e.g. after the master key or the standard changed."""
    job = _plan(Storage(spark), conf, zones, master_key, agency, dataset, path, full_reload)
    report = job.report
    if _done_before(spark, zones, job, master_key.key_id):  # the same extract, ingested before
        return report
    with held(_read_and_check(spark, job)) as checked:
        _count(spark, job, checked)  # a damaged extract stops here, before anything is written
        # Two ingests of one dataset on one disk: the second waits here, then finds the first's
        # work done (same extract) or replaces it. On HDFS Delta's own commit protocol decides,
        # and the loser is refused naming the dataset (_write_table).
        with local_commit_lock(
            report.table, waiting=f"{agency}.{dataset}: waiting for another ingest of it to finish"
        ):
            if _done_before(spark, zones, job, master_key.key_id):
                return report
            _write(spark, conf, zones, job, checked, master_key)
            _record(spark, zones, conf, job, master_key.key_id, actor)
    log.info(report.summary())
    return report


def _write(
    spark: SparkSession,
    conf: Conf,
    zones: Zones,
    job: _Job,
    checked: DataFrame,
    master_key: SecretKey,
) -> None:
    """The de-identified table, then the quarantine: each its own atomic commit."""
    report = job.report
    now = datetime.now(UTC).isoformat(timespec="seconds")
    common = {
        "agency": report.agency,
        "dataset": report.dataset,
        "source_checksum": report.checksum,
        "ingested_at": now,
    }
    properties = _properties(conf, job, common)
    exists = tables.exists(spark, report.table)
    if exists and already_ingested(spark, report.table, job.batch, job.upsert, job.where):
        # An ingest of this extract committed the table and died before its audit event: the
        # table is kept as it is, and the rest done.
        _finish_table(spark, job, properties)
    else:
        deidentified = _deidentify(conf, job, checked, master_key)
        _write_table(spark, conf, job, deidentified, properties, exists=exists)
        failpoints.reached("ingest.table_written")
    # The quarantine (linkage zone only) keeps the bad rows as delivered, for the steward to fix.
    # Two tables cannot commit together: the big write comes first, then the quarantine, then
    # the audit event that marks the ingest complete (_record). A rerun after a crash keeps what
    # was committed and does the rest.
    _quarantine(spark, zones, job, checked, common)


# --------------------------------------------------------------------------- the phases, in order


def _plan(
    storage: Storage,
    conf: Conf,
    zones: Zones,
    master_key: SecretKey,
    agency: str,
    dataset: str,
    path: str,
    full_reload: bool,
) -> _Job:
    """The contract, the extract's checksum and the report to fill (unknown names fail here)."""
    owner = conf.agency(agency)
    contract = owner.dataset(dataset)
    where = f"extract {path} ({agency}.{dataset})"
    check_compression(data_files(storage, path), contract, where)
    checksum = extract_checksum(storage, path)
    upsert = contract.load == "upsert" and not full_reload
    report = IngestReport(
        agency,
        dataset,
        path,
        checksum,
        table=zones.deidentified(agency, dataset),
        load="upsert" if upsert else "replace",
    )
    batch = {
        "source_checksum": checksum,
        "key_id": master_key.key_id,
        "standard_version": conf.standard.version,
    }
    return _Job(owner, contract, path, where, upsert, batch, report)


def _done_before(spark: SparkSession, zones: Zones, job: _Job, key_id: str) -> bool:
    """True, with the report filled from the audit, when the table holds this extract (same key
    and standard) and the ingest that wrote it finished (its audit event): nothing to do."""
    report = job.report
    if not (
        tables.exists(spark, report.table)
        and already_ingested(spark, report.table, job.batch, job.upsert, job.where)
        and counts_from_audit(spark, zones, report, key_id)
    ):
        return False
    report.skipped = True
    report.version = tables.current_version(spark, report.table)
    log.info(report.summary())
    return True


def _read_and_check(spark: SparkSession, job: _Job) -> DataFrame:
    """The extract read, cut to its contract's columns, exact copies collapsed (with their
    count), validated and checked for shared keys: the count and both writes read it, so the
    caller holds it (:func:`pooling.core.held.held`)."""
    contract, report, where = job.contract, job.report, job.where
    with unreadable_as_error(spark, job.path, contract, where):
        raw = read_extract(spark, job.path, contract)
    selected, report.dropped_columns = check_columns(raw, contract, where)
    if report.dropped_columns:
        log.warning(
            "%s: dropping %d unexpected column(s) %s",
            where,
            len(report.dropped_columns),
            report.dropped_columns,
        )
    return (
        selected.transform(collapse_copies(contract))
        .transform(validate(contract))
        .transform(flag_duplicate_keys(contract))
    )


def _count(spark: SparkSession, job: _Job, checked: DataFrame) -> None:
    """Fill the report's row accounting in one aggregation, and check that it balances."""
    report = job.report
    # The first pass over the data: a damaged file shows here, before anything is written.
    nulled, pii = nulled_columns(job.contract), pii_columns(job.contract)
    with unreadable_as_error(spark, job.path, job.contract, job.where):
        counts = (
            checked.groupBy(REASON, *nulled, *pii)
            .agg(F.sum(COPIES).alias("rows"), F.count(F.lit(1)).alias("distinct"))
            .collect()
        )
    hits = dict.fromkeys(pii, 0)
    for r in counts:
        for p in pii:
            hits[p] += r["distinct"] if r[p] else 0
        report.input_rows += r["rows"]
        report.duplicates += r["rows"] - r["distinct"]
        if r[REASON] is None:
            report.accepted += r["distinct"]
            for n in nulled:  # an accepted row whose other person's ID was left empty
                if r[n] is not None:
                    why = f"{n.removesuffix(NULLED)}:{r[n]}"
                    report.nulled[why] = report.nulled.get(why, 0) + r["distinct"]
            for p in pii:  # quarantining columns have no flag left on an accepted row
                if r[p]:
                    col = p.removesuffix(PII)
                    report.masked[col] = report.masked.get(col, 0) + r["distinct"]
        else:
            report.quarantined[r[REASON]] = report.quarantined.get(r[REASON], 0) + r["distinct"]
    if not report.balanced():
        raise InternalError(f"{job.where}: row accounting does not balance: {report}")
    distinct = report.input_rows - report.duplicates
    garbled = report.quarantined.get(BAD_ENCODING, 0)
    if garbled > ENCODING_REFUSAL_SHARE * distinct:
        _refuse_encoding(spark, job, garbled)
    crowded = {p.removesuffix(PII): n for p, n in hits.items() if n > PII_REFUSAL_SHARE * distinct}
    if crowded:
        found = ", ".join(f"{c} ({n:,} of {distinct:,} rows)" for c, n in sorted(crowded.items()))
        raise MisclassifiedColumnError(
            f"{job.where}: column(s) {found} hold a citizen ID, phone, e-mail or name in more "
            f"than {PII_REFUSAL_SHARE:.0%} of their rows: probably an identifier classed as "
            "'attribute'. Class it direct_identifier (dropped) in the contract, or ask the "
            "agency to clean it. Nothing was written."
        )


def _refuse_encoding(spark: SparkSession, job: _Job, rows: int) -> None:
    """An extract whose text is not in its declared encoding is refused whole, naming the first
    bad line (found by streaming the files, on this way to an error only), never a value."""
    contract, storage = job.contract, Storage(spark)
    found = first_bad_line(storage, data_files(storage, job.path), contract)
    at = f"file {found[0]} line {found[1]}" if found else "a line Spark read"
    raise ExtractEncodingError(
        f"{job.where}: {at} is not {contract.encoding} text ({rows:,} row(s) garbled: bytes "
        f"that are not {contract.encoding}, or Thai text in another code page; more than "
        f"{ENCODING_REFUSAL_SHARE:.0%} of the rows). Declare the encoding the agency exports in, "
        "in the contract's 'encoding'. Nothing was written."
    )


def _deidentify(conf: Conf, job: _Job, checked: DataFrame, master_key: SecretKey) -> DataFrame:
    """The accepted rows under the standard (an upsert dataset's first with its record key)."""
    contract, report = job.contract, job.report
    accepted = accepted_rows(checked, contract)
    keep: tuple[str, ...] = ()
    if contract.load == "upsert":
        accepted = accepted.transform(
            with_record_key(contract, derive_record_key(master_key, report.agency, report.dataset))
        )
        keep = (RECORD_KEY,)
    return accepted.transform(conf.standard.deidentify(contract.columns, master_key, keep=keep))


def _properties(conf: Conf, job: _Job, common: dict[str, str]) -> dict[str, str]:
    """The de-identified table's metadata, written in the same commit as its data."""
    contract, owner = job.contract, job.owner
    return {
        **common,
        "kind": "deidentified",
        "source": job.path,
        "load": contract.load,
        "description": contract.description.strip(),
        "steward": f"{owner.steward.unit} <{owner.steward.contact}>",
        "data_class": contract.data_class.value,
        "standard_version": conf.standard.version,
        "key_id": job.batch["key_id"],
        "update_frequency": contract.update_frequency,
        "retention_days": str(contract.retention_days),
    }


def _write_table(
    spark: SparkSession,
    conf: Conf,
    job: _Job,
    deidentified: DataFrame,
    properties: dict[str, str],
    *,
    exists: bool,
) -> None:
    """Merge into the table (upsert) or replace it, in one commit that carries the batch id."""
    try:
        _commit_table(spark, conf, job, deidentified, properties, exists=exists)
    except Exception as e:
        if not tables.is_conflict(e):
            raise
        # Not retried: the other writer's extract may differ, and which one should win is the
        # steward's call. The table is as the other ingest left it.
        raise WriteConflictError(
            f"{job.where}: another ingest of {job.report.agency}.{job.report.dataset} committed "
            f"to {job.report.table} while this one ran, so nothing of this run was written. "
            "Run it again once the other has finished (it skips an extract the other wrote)."
        ) from None


def _commit_table(
    spark: SparkSession,
    conf: Conf,
    job: _Job,
    deidentified: DataFrame,
    properties: dict[str, str],
    *,
    exists: bool,
) -> None:
    report, contract = job.report, job.contract
    if job.upsert and exists:
        merged = tables.upsert(spark, deidentified, report.table, RECORD_KEY, job.batch)
        report.inserted, report.updated = merged.inserted, merged.updated
        report.version = merged.version
        rows = tables.read_version(spark, report.table, merged.version).count()
        # Metadata-only commit; the merge commit itself carries the batch id (see above).
        tables.set_properties(spark, report.table, {**properties, "rows": str(rows)})
        return
    written = tables.replace_table(
        spark,
        deidentified,
        report.table,
        {**properties, "rows": str(report.accepted)},
        _column_comments(conf, contract),
        constraints=as_properties(contract_constraints(conf.standard, contract.columns)),
        commit_info=job.batch,
    )
    if written.rows != report.accepted:
        raise InternalError(f"{job.where}: wrote {written.rows} rows, expected {report.accepted}")
    report.version = written.version
    if job.upsert:  # the first extract of an upsert dataset creates its table
        report.inserted, report.updated = report.accepted, 0


def _finish_table(spark: SparkSession, job: _Job, properties: dict[str, str]) -> None:
    """The table already holds this extract, written by an ingest that died before its audit
    event: keep that commit, take its figures, and bring the properties up to date if that
    ingest died before it could."""
    report = job.report
    if not job.upsert:
        rows = int(tables.properties(spark, report.table).get("rows", -1))
        if rows != report.accepted:
            raise InternalError(
                f"{job.where}: the table holds this extract with {rows} rows, this run accepts "
                f"{report.accepted}; reload it with --full-reload"
            )
        report.version = tables.current_version(spark, report.table)
        return
    merged = tables.commit_with(spark, report.table, job.batch)
    report.inserted, report.updated = merged.inserted, merged.updated
    rows = tables.read_version(spark, report.table).count()
    wanted = {**properties, "rows": str(rows)}
    current = tables.properties(spark, report.table)
    if any(current.get(k) != v for k, v in wanted.items() if k != "ingested_at"):
        tables.set_properties(spark, report.table, wanted)
    report.version = tables.current_version(spark, report.table)


def _quarantine(
    spark: SparkSession, zones: Zones, job: _Job, checked: DataFrame, common: dict[str, str]
) -> None:
    """The bad rows, as delivered, with their reasons, into the linkage zone's quarantine."""
    report = job.report
    agency, dataset = report.agency, report.dataset
    _write_quarantine(
        spark,
        quarantined_rows(checked, job.contract).withColumn(
            "source_checksum", F.lit(report.checksum)
        ),
        zones.quarantine(agency, dataset),
        {
            **common,
            "kind": "quarantine",
            "description": f"Rows of {agency}.{dataset} that "
            "failed validation, as delivered, with the reason",
            "retention_days": str(job.contract.retention_days),
        },
        report.checksum,
        report.quarantined_total,
        append=job.upsert,
    )


def _record(
    spark: SparkSession, zones: Zones, conf: Conf, job: _Job, key_id: str, actor: str | None
) -> None:
    """The audit event that marks the ingest complete (and that a skipped rerun reads back)."""
    report = job.report
    audit.record(
        spark,
        zones.audit,
        action="ingest",
        subject=f"{report.agency}.{report.dataset}",
        actor=actor,
        details={
            "source": job.path,
            "checksum": report.checksum,
            "load": report.load,
            "input_rows": report.input_rows,
            "accepted": report.accepted,
            "inserted": report.inserted,
            "updated": report.updated,
            "quarantined": report.quarantined,
            "nulled": report.nulled,
            "masked": report.masked,
            "duplicates": report.duplicates,
            "dropped_columns": report.dropped_columns,
            "table": report.table,
            "version": report.version,
            "key_id": key_id,
            "standard_version": conf.standard.version,
        },
    )


# --------------------------------------------------------------------------- helpers


def _write_quarantine(
    spark: SparkSession,
    rows: DataFrame,
    path: str,
    properties: dict[str, str],
    checksum: str,
    rows_in_extract: int,
    *,
    append: bool,
) -> None:
    """Replace the quarantine, or for an upsert dataset replace only this extract's rows in it,
    so that a rerun after a failure never counts an extract's bad rows twice."""
    if append and tables.exists(spark, path):
        (
            rows.write.format("delta")
            .mode("overwrite")
            .option("replaceWhere", f"source_checksum = '{checksum}'")
            .save(path)
        )
        total = tables.read_version(spark, path).count()
        tables.set_properties(spark, path, {**properties, "rows": str(total)})
    else:
        tables.replace_table(spark, rows, path, {**properties, "rows": str(rows_in_extract)})


def _column_comments(conf: Conf, contract: DatasetContract) -> dict[str, str]:
    comments: dict[str, str] = {}
    for c in contract.columns:
        if c.field_class.value == "citizen_id":
            whose = f", the {c.role}" if c.role else ""
            comments[c.pseudonym] = (
                f"HMAC-SHA256 linkage pseudonym of {c.name}{whose} (standard "
                f"{conf.standard.version})"
            )
        elif c.field_class.value == "attribute":
            comments[c.name] = c.description
        for g in c.generalise:
            rule = conf.standard.generalisation(g)
            comments[rule.output] = f"{rule.description} (from {c.name})"
    return comments
