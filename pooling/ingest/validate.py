"""Pure transforms of ingest: the contract's columns, typed and validated values, the record key.

Every function returns a ``DataFrame -> DataFrame`` transform or works on one; none reads or
writes storage. A bad row is never dropped here: it gets a reason (``_reason``) and goes to the
quarantine.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection
from functools import reduce
from operator import or_

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from pooling.core.config import ColumnSpec, ColumnType, DatasetContract
from pooling.core.errors import ContractError
from pseudonymize import SecretKey, citizen_id_problem, hmac_sha256, normalize_citizen_id
from pseudonymize.reference import province_codes
from pseudonymize.standard import RECORD_KEY, FieldClass
from pseudonymize.stray import has_stray, masked, non_ascii

REASON = "_reason"
COPIES = "_copies"
# The reason of a row whose text did not decode in the declared encoding. A stray line (pasted in
# from another system) is quarantined like any bad row; an extract with more than
# ENCODING_REFUSAL_SHARE of its rows so garbled is in another encoding than declared, and is
# refused whole: never ingested as garbage.
BAD_ENCODING = "bad_encoding"
ENCODING_REFUSAL_SHARE = 0.01
# Thai text whose UTF-8 bytes were decoded as TIS-620 / CP874: each character turns into
# "เ" (0xE0), then "ธ" or "น" (0xB8, 0xB9), then one more. Three such triples in a row never
# occur in real Thai; any value with them is mojibake.
MOJIBAKE = "(\u0e40[\u0e18\u0e19].){3}"
# What a decoder puts in place of bytes that are not text in its encoding.
REPLACEMENT = "\ufffd"
# Next to each kept text column: true where it holds a stray identifier (pseudonymize.stray).
PII = "__pii"
# A kept column where more than this share of rows hold an identifier is no free text with a
# slip in it but an identifier column classed wrongly: refused whole, never masked row by row.
PII_REFUSAL_SHARE = 0.05
# The formats whose bytes ingest decodes (Parquet and Excel hold their text as text).
DECODED = ("csv", "json", "xml")


def mis_decoded(column: Column) -> Column:
    """True where a text value did not decode in its declared encoding: replacement characters
    (bytes that are not text in it), or Thai mojibake (UTF-8 read as TIS-620 / CP874)."""
    return column.contains(REPLACEMENT) | (non_ascii(column) & column.rlike(MOJIBAKE))


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
NULLED = "__nulled"


def typed_columns(
    contract: DatasetContract, names: Collection[str] | None = None
) -> dict[str, Column]:
    """``<name>__typed`` for each column (or each of ``names``): its value cast to the
    contract's type, a citizen ID in canonical form (or null where it cannot be)."""
    ids = {c.name for c in contract.person_ids}
    return {
        c.name + TYPED: normalize_citizen_id(c.name)
        if c.name in ids
        else _typed(F.col(c.name), c.type)
        for c in contract.columns
        if names is None or c.name in names
    }


def key_columns(contract: DatasetContract) -> dict[str, Column]:
    """The typed key columns (:func:`typed_columns`), by name."""
    return typed_columns(contract, contract.key)


_COPY = "__copy"  # the row's number among its exact copies; the first is kept


def collapse_copies(contract: DatasetContract) -> Callable[[DataFrame], DataFrame]:
    """Exact copies of a row collapse into one carrying their number (``_copies``), which gives
    both the input count and the duplicate count.

    Copies share their key, so the rows cross one shuffle, partitioned on the typed key
    (:func:`key_columns`), and one sort on the key then every column lines copies up: the
    collapse and :func:`flag_duplicate_keys` after :func:`validate` both use that order, with no
    second shuffle or sort of the wide rows (grouping on every column, then a window on the key,
    shuffled them twice).
    """
    key = key_columns(contract)

    def transform(df: DataFrame) -> DataFrame:
        columns = [*key, *df.columns]
        same = Window.partitionBy(*columns).orderBy(*columns)
        every = same.rowsBetween(Window.unboundedPreceding, Window.unboundedFollowing)
        return (
            df.withColumns(key)
            .repartition(*key)
            .withColumns({COPIES: F.count(F.lit(1)).over(every), _COPY: F.row_number().over(same)})
            .where(F.col(_COPY) == 1)
            .drop(_COPY)
        )

    return transform


def own_identifiers(contract: DatasetContract) -> list[str]:
    """The row's own identifying values (its IDs, name, phone, record number): text quoting them
    holds an identifier whatever its shape."""
    return [
        c.name
        for c in contract.columns
        if c.field_class in (FieldClass.citizen_id, FieldClass.direct_identifier)
        and c.type is ColumnType.string
    ]


def pii_columns(contract: DatasetContract) -> list[str]:
    """The flag columns :func:`validate` adds, one per scanned column."""
    return [c.name + PII for c in contract.columns if c.scanned]


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
    ids = contract.person_ids
    id_col = contract.citizen_id_column

    def transform(df: DataFrame) -> DataFrame:
        # A typed column already there (the key, see key_columns) is kept: recomputing it would
        # lose the partitioning the duplicate-key check reuses.
        typed = {n: e for n, e in typed_columns(contract).items() if n not in df.columns}
        out = df.withColumns(typed)
        # Another role's ID that may be empty: nulled where invalid, the reason kept to count.
        nulled = {
            c.name + NULLED: citizen_id_problem(c.name + TYPED)
            for c in ids
            if c.if_invalid == "null"
        }
        own = own_identifiers(contract)
        pii = {c.name + PII: has_stray(c.name, own) for c in contract.columns if c.scanned}
        out = out.withColumns({**nulled, **pii}).withColumns(
            {
                n.removesuffix(NULLED) + TYPED: F.when(
                    F.col(n).isNull(), F.col(n.removesuffix(NULLED) + TYPED)
                )
                for n in nulled
            }
        )
        checks: list[Column] = []
        if contract.format in DECODED:  # first: a garbled row's other faults mean nothing
            garbled = [mis_decoded(F.col(c.name)) for c in contract.columns]
            checks.append(F.when(reduce(or_, garbled), F.lit(BAD_ENCODING)))
        if id_col:  # the subject's: its plain reason ("bad_check_digit")
            checks.append(citizen_id_problem(id_col + TYPED))
        for c in ids:  # another role's that quarantines: the reason and whose ("empty:mother_id")
            if c.name != id_col and c.if_invalid == "quarantine":
                problem = citizen_id_problem(c.name + TYPED)
                checks.append(F.when(problem.isNotNull(), F.concat(problem, F.lit(f":{c.name}"))))
        for c in contract.columns:
            raw = F.col(c.name)
            blank = raw.isNull() | (F.trim(raw) == "")
            if c.mandatory and c.field_class is not FieldClass.citizen_id:
                checks.append(F.when(blank, F.lit(f"missing:{c.name}")))
            if c.type is not ColumnType.string:
                checks.append(
                    F.when(~blank & F.col(c.name + TYPED).isNull(), F.lit(f"bad_type:{c.name}"))
                )
            if c.codes:
                checks.append(
                    F.when(~blank & ~known_code(raw, c.codes), F.lit(f"unknown_code:{c.name}"))
                )
        for c in contract.columns:  # last: a row already bad for another reason says that one
            if c.scanned and c.pii_action == "quarantine":
                checks.append(F.when(F.col(c.name + PII), F.lit(f"pii:{c.name}")))
        return out.withColumn(REASON, F.coalesce(*checks) if checks else F.lit(None).cast("string"))

    return transform


def nulled_columns(contract: DatasetContract) -> list[str]:
    """The columns :func:`validate` adds with why a role's ID was nulled (null: it was not)."""
    return [c.name + NULLED for c in contract.person_ids if c.if_invalid == "null"]


DUPLICATE_KEY = "duplicate_key"


def flag_duplicate_keys(contract: DatasetContract) -> Callable[[DataFrame], DataFrame]:
    """Quarantine every otherwise-good row whose key (typed, normalised) another good row shares.

    Exact copies were already collapsed, so two rows left with one key disagree, and the extract
    does not say which is right: neither is guessed at, both go back to the steward.
    """
    key = [F.col(k + TYPED) for k in contract.key]

    def transform(df: DataFrame) -> DataFrame:
        good = F.col(REASON).isNull()
        per_key = F.count_if(good).over(Window.partitionBy(*key))
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
    """The good rows of a validated frame, typed, with the contract's column names; in a column
    whose contract says ``pii: mask``, the identifiers found are masked."""
    own = own_identifiers(contract)

    def kept(c: ColumnSpec) -> Column:
        typed = F.col(c.name + TYPED)
        if c.scanned and c.pii_action == "mask":
            typed = F.when(F.col(c.name + PII), masked(c.name + TYPED, own)).otherwise(typed)
        return typed.alias(c.name)

    return checked.where(F.col(REASON).isNull()).select(*[kept(c) for c in contract.columns])


def quarantined_rows(checked: DataFrame, contract: DatasetContract) -> DataFrame:
    """The bad rows as delivered, with their reason and number of copies."""
    return checked.where(F.col(REASON).isNotNull()).select(
        *[c.name for c in contract.columns],
        F.col(REASON).alias("reason"),
        F.col(COPIES).alias("copies"),
    )
