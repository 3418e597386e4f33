"""Ingest: an agency extract in the landing zone → a de-identified Delta table.

contract check → normalise and validate citizen IDs and types → quarantine bad rows (linkage zone)
→ apply the standard → write the de-identified table, all counted so that
``input rows = accepted + quarantined + duplicates removed``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from py4j.protocol import Py4JJavaError
from pyspark.errors.exceptions.captured import CapturedException
from pyspark.sql import Column, DataFrame, SparkSession, Window
from pyspark.sql import functions as F
from pyspark.storagelevel import StorageLevel

from pooling.core import audit, tables
from pooling.core.config import AgencyContract, ColumnType, Conf, DatasetContract
from pooling.core.constraints import as_properties, contract_constraints
from pooling.core.errors import (
    ContractError,
    ExtractNotFoundError,
    ExtractUnreadableError,
    InternalError,
)
from pooling.core.zones import Zones
from pseudonymize import (
    SecretKey,
    citizen_id_problem,
    derive_record_key,
    hmac_sha256,
    normalize_citizen_id,
)
from pseudonymize.reference import province_codes
from pseudonymize.standard import LINKAGE_PSEUDONYM, RECORD_KEY

log = logging.getLogger("pooling.ingest")  # the name it had before the layout: logs are read by it

REASON = "_reason"
COPIES = "_copies"


@dataclass
class IngestReport:
    agency: str
    dataset: str
    source: str
    checksum: str
    input_rows: int = 0
    duplicates: int = 0
    quarantined: dict[str, int] = field(default_factory=dict)
    accepted: int = 0
    dropped_columns: list[str] = field(default_factory=list)
    table: str = ""
    version: int | None = None
    skipped: bool = False  # the same extract was already ingested: nothing written
    load: str = "replace"
    # upsert only: how the accepted rows changed the table (the rest were already there as-is)
    inserted: int | None = None
    updated: int | None = None

    @property
    def quarantined_total(self) -> int:
        return sum(self.quarantined.values())

    def balanced(self) -> bool:
        return self.input_rows == self.accepted + self.quarantined_total + self.duplicates

    def summary(self) -> str:
        if self.skipped:
            return (
                f"{self.agency}.{self.dataset}: extract {self.checksum[:12]} already ingested "
                f"(version {self.version}; {self.input_rows:,} rows in = {self.accepted:,} "
                f"accepted + {self.quarantined_total:,} quarantined + {self.duplicates:,} "
                "duplicates); nothing changed"
            )
        q = ", ".join(f"{k} {v:,}" for k, v in sorted(self.quarantined.items()) if v) or "none"
        extra = (
            f"; dropped unexpected columns {self.dropped_columns}" if self.dropped_columns else ""
        )
        merged = (
            f" (merged: {self.inserted:,} new, {self.updated:,} changed, "
            f"{self.accepted - self.inserted - self.updated:,} unchanged)"
            if self.inserted is not None and self.updated is not None
            else ""
        )
        return (
            f"{self.agency}.{self.dataset}: {self.input_rows:,} rows in = {self.accepted:,} "
            f"accepted{merged} + {self.quarantined_total:,} quarantined ({q}) + "
            f"{self.duplicates:,} duplicates removed{extra}"
        )


# --------------------------------------------------------------------------- edges: reading


def data_files(path: str) -> list[Path]:
    """The extract's data files in name order (Spark's ``_SUCCESS`` and hidden files aside)."""
    root = Path(path)
    files = (
        sorted(p for p in root.rglob("*") if p.is_file() and not p.name.startswith((".", "_")))
        if root.is_dir()
        else [root]
    )
    if not files or not files[0].exists():
        raise ExtractNotFoundError(f"extract {path} does not exist or holds no data files")
    return files


def extract_checksum(path: str) -> str:
    """SHA-256 over the extract's data files (relative name and bytes, in name order)."""
    root = Path(path)
    h = hashlib.sha256()
    for f in data_files(path):
        h.update(str(f.relative_to(root) if root.is_dir() else f.name).encode())
        with f.open("rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
    return h.hexdigest()


# Spark's error conditions (and, for older code paths, message fragments) of a file that cannot
# be read in its format.
_UNREADABLE = ("FAILED_READ_FILE", "CANNOT_READ_FILE_FOOTER", "MALFORMED_RECORD")
_UNREADABLE_TEXT = ("is not a Parquet file", "Not in GZIP format", "Unexpected end of input")
_CONDITION = re.compile(r"\[([A-Z][A-Z_]+(?:\.[A-Z_]+)*)\]")


def _unreadable(e: Exception) -> str | None:
    """Spark's error condition when ``e`` says a file cannot be read, else None."""
    text = str(e)
    condition = e.getCondition() if isinstance(e, CapturedException) else None
    if not condition:
        found = _CONDITION.search(text)
        condition = found.group(1) if found else ""
    if condition.startswith(_UNREADABLE) or any(t in text for t in _UNREADABLE_TEXT):
        return condition or "read error"
    return None


@contextmanager
def unreadable_as_error(spark: SparkSession, path: str, fmt: str, where: str) -> Iterator[None]:
    """Turn Spark's failure to read a damaged file into an error that names the file.

    Spark's own message is dropped, not chained: it can quote the bytes it choked on. When it
    does not name the file (JSON schema inference does not), each file is read on its own to
    find it: this costs time only on the way to an error.
    """
    try:
        yield
    except (CapturedException, Py4JJavaError) as e:
        condition = _unreadable(e)
        if condition is None:
            raise
        files = data_files(path)
        damaged = [f for f in files if str(f) in str(e)] or [
            f for f in files if not _readable(spark, str(f), fmt)
        ]
        which = f"file {damaged[0].name}" if damaged else "a data file"
        raise ExtractUnreadableError(
            f"{where}: {which} cannot be read as {fmt} ({condition}): the extract is damaged or "
            "not in its contract's format. Nothing was written."
        ) from None


def _readable(spark: SparkSession, file: str, fmt: str) -> bool:
    try:
        read_extract(spark, file, fmt).count()
    except (CapturedException, Py4JJavaError) as e:
        if _unreadable(e) is None:
            raise
        return False
    return True


def read_extract(spark: SparkSession, path: str, fmt: str) -> DataFrame:
    """The extract with every column as a string: types are checked row by row later, so a bad
    value quarantines its row instead of failing the job or turning silently into null."""
    if fmt == "csv":
        df = (
            spark.read.option("header", True)
            .option("encoding", "UTF-8")
            .option("inferSchema", False)
            .option("mode", "PERMISSIVE")
            .csv(path)
        )
    elif fmt == "json":
        # A line that is not JSON means the file is damaged (cut off, mixed up): refuse the
        # extract, rather than quarantine a row whose fields cannot be told apart.
        df = spark.read.option("primitivesAsString", True).option("mode", "FAILFAST").json(path)
    elif fmt == "parquet":
        df = spark.read.parquet(path)
    else:
        raise InternalError(f"unsupported format {fmt!r} passed the contract model")
    # A UTF-8 byte-order mark ends up in the first CSV header; strip it from the names.
    renamed = {c: c.lstrip("\ufeff").strip() for c in df.columns}
    return df.select(*[F.col(f"`{c}`").cast("string").alias(n) for c, n in renamed.items()])


# --------------------------------------------------------------------------- pure transforms


_COLUMN_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_ .\-]{0,63}")


def shown_columns(names: list[str]) -> list[str]:
    """Column names fit for a message, a log line or the audit table.

    A file without a header (or another dataset's file) turns its first row into "column names":
    a citizen ID or a name there must not be echoed. Anything not shaped like a column name is
    shown by position only.
    """
    return [
        n if _COLUMN_NAME.fullmatch(n) and not re.search(r"[0-9]{5}", n) else f"<column {i + 1}>"
        for i, n in enumerate(names)
    ]


def check_columns(
    df: DataFrame, contract: DatasetContract, where: str
) -> tuple[DataFrame, list[str]]:
    """Keep the contract's columns; a missing column is an error, unexpected ones are dropped
    (returned as :func:`shown_columns` shows them)."""
    expected = [c.name for c in contract.columns]
    missing = [c for c in expected if c not in df.columns]
    if missing:
        raise ContractError(
            f"{where}: missing column(s) {missing}; the contract expects {expected}, "
            f"the extract has {shown_columns(df.columns)}. Nothing was written."
        )
    shown = dict(zip(df.columns, shown_columns(df.columns), strict=True))
    extra = [shown[c] for c in df.columns if c not in expected]
    return df.select(*expected), extra


def _typed(col: Column, ctype: ColumnType) -> Column:
    if ctype is ColumnType.date:
        return F.to_date(col.try_cast("date"))
    spark_type = {
        "string": "string",
        "integer": "int",
        "long": "bigint",
        "double": "double",
        "boolean": "boolean",
    }[ctype.value]
    return col.try_cast(spark_type)


TYPED = "__typed"


def known_code(col: Column, kind: str) -> Column:
    """True for a province code (2 digits) or district code (4 digits) of a known province."""
    digits = 2 if kind == "province" else 4
    code = F.trim(col)
    return code.rlike(f"^[0-9]{{{digits}}}$") & F.substring(code, 1, 2).isin(
        *sorted(province_codes())
    )


def validate(contract: DatasetContract) -> Callable[[DataFrame], DataFrame]:
    """Add ``_reason`` (null for a good row) and, next to each raw column, its typed value as
    ``<name>__typed`` (the citizen ID in canonical form). Checks, in order: citizen ID, mandatory
    fields, types. The raw columns stay for the quarantine."""
    id_col = contract.citizen_id_column

    def transform(df: DataFrame) -> DataFrame:
        typed = {c.name + TYPED: _typed(F.col(c.name), c.type) for c in contract.columns}
        if id_col:
            typed[id_col + TYPED] = normalize_citizen_id(F.col(id_col))
        out = df.withColumns(typed)
        checks: list[Column] = []
        if id_col:
            checks.append(citizen_id_problem(F.col(id_col + TYPED)))
        for c in contract.columns:
            raw = F.col(c.name)
            blank = raw.isNull() | (F.trim(raw) == "")
            if c.mandatory and c.name != id_col:
                checks.append(F.when(blank, F.lit(f"missing:{c.name}")))
            if c.type is not ColumnType.string:
                checks.append(
                    F.when(~blank & F.col(c.name + TYPED).isNull(), F.lit(f"bad_type:{c.name}"))
                )
            if c.codes:
                checks.append(
                    F.when(~blank & ~known_code(raw, c.codes), F.lit(f"unknown_code:{c.name}"))
                )
        return out.withColumn(REASON, F.coalesce(*checks) if checks else F.lit(None).cast("string"))

    return transform


DUPLICATE_KEY = "duplicate_key"


def flag_duplicate_keys(contract: DatasetContract) -> Callable[[DataFrame], DataFrame]:
    """Quarantine every otherwise-good row whose key (typed, normalised) another good row shares.

    Exact copies were already collapsed, so two rows left with one key disagree, and the extract
    does not say which is right: neither is guessed at, both go back to the steward.
    """
    key = [F.col(k + TYPED) for k in contract.key]

    def transform(df: DataFrame) -> DataFrame:
        good = F.col(REASON).isNull()
        per_key = F.count(F.lit(1)).over(Window.partitionBy(good, *key))
        return df.withColumn(
            REASON, F.when(good & (per_key > 1), F.lit(DUPLICATE_KEY)).otherwise(F.col(REASON))
        )

    return transform


def with_record_key(contract: DatasetContract, key: SecretKey) -> Callable[[DataFrame], DataFrame]:
    """Add ``_record_key``: the keyed HMAC of the record's key columns, the MERGE key of an upsert
    dataset. The key columns themselves may be identifiers (a visit number) and are dropped."""

    def transform(df: DataFrame) -> DataFrame:
        # \u001f (unit separator) cannot occur in a validated key value, so no two keys collide.
        joined = F.concat_ws("\u001f", *[F.col(k).cast("string") for k in contract.key])
        return hmac_sha256(df.withColumn(RECORD_KEY, joined), RECORD_KEY, key, RECORD_KEY)

    return transform


def accepted_rows(checked: DataFrame, contract: DatasetContract) -> DataFrame:
    """The good rows of a validated frame, typed, with the contract's column names."""
    return checked.where(F.col(REASON).isNull()).select(
        *[F.col(c.name + TYPED).alias(c.name) for c in contract.columns]
    )


def quarantined_rows(checked: DataFrame, contract: DatasetContract) -> DataFrame:
    """The bad rows as delivered, with their reason and number of copies."""
    return checked.where(F.col(REASON).isNotNull()).select(
        *[c.name for c in contract.columns],
        F.col(REASON).alias("reason"),
        F.col(COPIES).alias("copies"),
    )


# --------------------------------------------------------------------------- the job


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
    contract_owner: AgencyContract = conf.agency(agency)
    contract = contract_owner.dataset(dataset)
    where = f"extract {path} ({agency}.{dataset})"
    checksum = extract_checksum(path)
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
    exists = tables.exists(spark, report.table)
    if (
        exists
        and _already_ingested(spark, report.table, batch, upsert, where)
        and _counts_from_audit(spark, zones, report, master_key.key_id)
    ):
        report.skipped = True
        report.version = tables.last_commit(spark, report.table).version
        log.info(report.summary())
        return report

    with unreadable_as_error(spark, path, contract.format, where):
        raw = read_extract(spark, path, contract.format)
    selected, report.dropped_columns = check_columns(raw, contract, where)
    if report.dropped_columns:
        log.warning(
            "%s: dropping %d unexpected column(s) %s",
            where,
            len(report.dropped_columns),
            report.dropped_columns,
        )

    # Exact duplicate rows collapse into one row carrying its number of copies: one shuffle gives
    # both the input count and the duplicate count.
    names = selected.columns
    deduped = selected.groupBy(*names).agg(F.count(F.lit(1)).alias(COPIES))
    checked = (
        deduped.transform(validate(contract))
        .transform(flag_duplicate_keys(contract))
        .persist(StorageLevel.MEMORY_AND_DISK)
    )
    try:
        # The first pass over the data: a damaged file shows here, before anything is written.
        with unreadable_as_error(spark, path, contract.format, where):
            counts = (
                checked.groupBy(REASON)
                .agg(F.sum(COPIES).alias("rows"), F.count(F.lit(1)).alias("distinct"))
                .collect()
            )
        for r in counts:
            report.input_rows += r["rows"]
            report.duplicates += r["rows"] - r["distinct"]
            if r[REASON] is None:
                report.accepted = r["distinct"]
            else:
                report.quarantined[r[REASON]] = r["distinct"]
        if not report.balanced():
            raise InternalError(f"{where}: row accounting does not balance: {report}")

        now = datetime.now(UTC).isoformat(timespec="seconds")
        common = {
            "agency": agency,
            "dataset": dataset,
            "source_checksum": checksum,
            "ingested_at": now,
        }
        accepted = accepted_rows(checked, contract)
        keep: tuple[str, ...] = ()
        if contract.load == "upsert":
            accepted = accepted.transform(
                with_record_key(contract, derive_record_key(master_key, agency, dataset))
            )
            keep = (RECORD_KEY,)
        deidentified = accepted.transform(
            conf.standard.deidentify(contract.columns, master_key, keep=keep)
        )
        properties = {
            **common,
            "kind": "deidentified",
            "source": path,
            "load": contract.load,
            "description": contract.description.strip(),
            "steward": f"{contract_owner.steward.unit} <{contract_owner.steward.contact}>",
            "data_class": contract.data_class.value,
            "standard_version": conf.standard.version,
            "key_id": master_key.key_id,
            "update_frequency": contract.update_frequency,
            "retention_days": str(contract.retention_days),
        }
        if upsert and exists:
            merged = tables.upsert(spark, deidentified, report.table, RECORD_KEY, batch)
            report.inserted, report.updated = merged.inserted, merged.updated
            report.version = merged.version
            rows = tables.read_version(spark, report.table, merged.version).count()
            # Metadata-only commit; the merge commit itself carries the batch id (see above).
            tables.set_properties(spark, report.table, {**properties, "rows": str(rows)})
        else:
            written = tables.replace_table(
                spark,
                deidentified,
                report.table,
                {**properties, "rows": str(report.accepted)},
                _column_comments(conf, contract),
                constraints=as_properties(contract_constraints(conf.standard, contract.columns)),
                commit_info=batch,
            )
            if written.rows != report.accepted:
                raise InternalError(
                    f"{where}: wrote {written.rows} rows, expected {report.accepted}"
                )
            report.version = written.version
            if upsert:  # the first extract of an upsert dataset creates its table
                report.inserted, report.updated = report.accepted, 0
        # The quarantine (linkage zone only) keeps the bad rows as delivered, for the steward to
        # fix. Each table's commit is atomic, but two tables cannot commit together: the big
        # write comes first, then the quarantine, then the audit event that marks the ingest
        # complete. A job killed anywhere before that event is redone whole by a rerun.
        _write_quarantine(
            spark,
            quarantined_rows(checked, contract).withColumn("source_checksum", F.lit(checksum)),
            zones.quarantine(agency, dataset),
            {
                **common,
                "kind": "quarantine",
                "description": f"Rows of {agency}.{dataset} that "
                "failed validation, as delivered, with the reason",
                "retention_days": str(contract.retention_days),
            },
            checksum,
            report.quarantined_total,
            append=upsert,
        )
    finally:
        checked.unpersist()
    audit.record(
        spark,
        zones.audit,
        action="ingest",
        subject=f"{agency}.{dataset}",
        actor=actor,
        details={
            "source": path,
            "checksum": checksum,
            "load": report.load,
            "input_rows": report.input_rows,
            "accepted": report.accepted,
            "inserted": report.inserted,
            "updated": report.updated,
            "quarantined": report.quarantined,
            "duplicates": report.duplicates,
            "dropped_columns": report.dropped_columns,
            "table": report.table,
            "version": report.version,
            "key_id": master_key.key_id,
            "standard_version": conf.standard.version,
        },
    )
    log.info(report.summary())
    return report


def _already_ingested(
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


def _counts_from_audit(
    spark: SparkSession, zones: Zones, report: IngestReport, key_id: str
) -> bool:
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
    return True


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
            comments[LINKAGE_PSEUDONYM] = (
                f"HMAC-SHA256 linkage pseudonym of {c.name} (standard {conf.standard.version})"
            )
        elif c.field_class.value == "attribute":
            comments[c.name] = c.description
        for g in c.generalise:
            rule = conf.standard.generalisation(g)
            comments[rule.output] = f"{rule.description} (from {c.name})"
    return comments
