"""Ingest: an agency extract in the landing zone → a de-identified Delta table.

contract check → normalise and validate citizen IDs and types → quarantine bad rows (linkage zone)
→ apply the standard → write the de-identified table, all counted so that
``input rows = accepted + quarantined + duplicates removed``.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.storagelevel import StorageLevel

from pooling import audit, tables
from pooling.config import AgencyContract, ColumnType, Conf, DatasetContract
from pooling.errors import ContractError, ExtractNotFoundError, InternalError
from pooling.reference import province_codes
from pooling.zones import Zones
from pseudonymize import SecretKey, citizen_id_problem, normalize_citizen_id
from pseudonymize.standard import LINKAGE_PSEUDONYM

log = logging.getLogger(__name__)

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

    @property
    def quarantined_total(self) -> int:
        return sum(self.quarantined.values())

    def balanced(self) -> bool:
        return self.input_rows == self.accepted + self.quarantined_total + self.duplicates

    def summary(self) -> str:
        if self.skipped:
            return (
                f"{self.agency}.{self.dataset}: extract {self.checksum[:12]} already ingested "
                f"(version {self.version}); nothing changed"
            )
        q = ", ".join(f"{k} {v:,}" for k, v in sorted(self.quarantined.items()) if v) or "none"
        extra = (
            f"; dropped unexpected columns {self.dropped_columns}" if self.dropped_columns else ""
        )
        return (
            f"{self.agency}.{self.dataset}: {self.input_rows:,} rows in = {self.accepted:,} "
            f"accepted + {self.quarantined_total:,} quarantined ({q}) + {self.duplicates:,} "
            f"duplicates removed{extra}"
        )


# --------------------------------------------------------------------------- edges: reading


def extract_checksum(path: str) -> str:
    """SHA-256 over the extract's data files (relative name and bytes, in name order)."""
    root = Path(path)
    files = (
        sorted(p for p in root.rglob("*") if p.is_file() and not p.name.startswith((".", "_")))
        if root.is_dir()
        else [root]
    )
    if not files or not files[0].exists():
        raise ExtractNotFoundError(f"extract {path} does not exist or holds no data files")
    h = hashlib.sha256()
    for f in files:
        h.update(str(f.relative_to(root) if root.is_dir() else f.name).encode())
        with f.open("rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
    return h.hexdigest()


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
        df = spark.read.option("primitivesAsString", True).json(path)
    elif fmt == "parquet":
        df = spark.read.parquet(path)
    else:
        raise InternalError(f"unsupported format {fmt!r} passed the contract model")
    # A UTF-8 byte-order mark ends up in the first CSV header; strip it from the names.
    renamed = {c: c.lstrip("\ufeff").strip() for c in df.columns}
    return df.select(*[F.col(f"`{c}`").cast("string").alias(n) for c, n in renamed.items()])


# --------------------------------------------------------------------------- pure transforms


def check_columns(
    df: DataFrame, contract: DatasetContract, where: str
) -> tuple[DataFrame, list[str]]:
    """Keep the contract's columns; a missing column is an error, unexpected ones are dropped."""
    expected = [c.name for c in contract.columns]
    missing = [c for c in expected if c not in df.columns]
    if missing:
        raise ContractError(
            f"{where}: missing column(s) {missing}; the contract expects {expected}, "
            f"the extract has {df.columns}. Nothing was written."
        )
    extra = [c for c in df.columns if c not in expected]
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
) -> IngestReport:
    contract_owner: AgencyContract = conf.agency(agency)
    contract = contract_owner.dataset(dataset)
    where = f"extract {path} ({agency}.{dataset})"
    checksum = extract_checksum(path)
    report = IngestReport(
        agency, dataset, path, checksum, table=zones.deidentified(agency, dataset)
    )

    if tables.exists(spark, report.table):
        props = tables.properties(spark, report.table)
        unchanged = (checksum, master_key.key_id, conf.standard.version)
        if (
            props.get("source_checksum"),
            props.get("key_id"),
            props.get("standard_version"),
        ) == unchanged:
            report.skipped = True
            report.version = tables.last_commit(spark, report.table).version
            log.info(report.summary())
            return report

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
    checked = deduped.transform(validate(contract)).persist(StorageLevel.MEMORY_AND_DISK)
    try:
        for r in (
            checked.groupBy(REASON)
            .agg(F.sum(COPIES).alias("rows"), F.count(F.lit(1)).alias("distinct"))
            .collect()
        ):
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
        # The quarantine keeps the rows as delivered (linkage zone only), for the steward to fix.
        tables.replace_table(
            spark,
            quarantined_rows(checked, contract),
            zones.quarantine(agency, dataset),
            {
                **common,
                "kind": "quarantine",
                "description": f"Rows of {agency}.{dataset} that "
                "failed validation, as delivered, with the reason",
                "rows": str(report.quarantined_total),
            },
        )

        deidentified = accepted_rows(checked, contract).transform(
            conf.standard.deidentify(contract.columns, master_key)
        )
        comments = _column_comments(conf, contract)
        written = tables.replace_table(
            spark,
            deidentified,
            report.table,
            {
                **common,
                "kind": "deidentified",
                "source": path,
                "description": contract.description.strip(),
                "steward": f"{contract_owner.steward.unit} <{contract_owner.steward.contact}>",
                "data_class": contract.data_class.value,
                "standard_version": conf.standard.version,
                "key_id": master_key.key_id,
                "rows": str(report.accepted),
                "update_frequency": contract.update_frequency,
                "retention_days": str(contract.retention_days),
            },
            comments,
        )
    finally:
        checked.unpersist()
    if written.rows != report.accepted:
        raise InternalError(f"{where}: wrote {written.rows} rows, expected {report.accepted}")
    report.version = written.version
    audit.record(
        spark,
        zones.audit,
        action="ingest",
        subject=f"{agency}.{dataset}",
        actor=actor,
        details={
            "source": path,
            "checksum": checksum,
            "input_rows": report.input_rows,
            "accepted": report.accepted,
            "quarantined": report.quarantined,
            "duplicates": report.duplicates,
            "dropped_columns": report.dropped_columns,
            "table": report.table,
            "version": written.version,
            "key_id": master_key.key_id,
            "standard_version": conf.standard.version,
        },
    )
    log.info(report.summary())
    return report


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
