"""Injected faults: the problems agencies reported (non-standard formats, incomplete or wrong
records, duplicates), at configured rates. Each row carries at most one fault, tagged in
``_fault`` with the reason a correct ingest must give, so the ground truth can count them."""

from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql.types import StringType

from pooling.dev.synth.draws import uniform
from pooling.dev.synth.plan import FaultRates
from pseudonymize.citizen_id import THAI_DIGITS

FAULT = "_fault"
DUPLICATE = "_duplicate"
STRAY = "_stray"  # a line the writer encodes in UTF-8 within a file in another code page
# ID faults after which the row cannot be linked, and the reason the pipeline must give.
ID_UNRECOVERABLE = {
    "bad_check_digit": "bad_check_digit",
    "wrong_length": "wrong_length",
    "empty_id": "empty",
}
# ID faults that normalisation must repair: the row still links.
ID_RECOVERABLE = ("thai_digits", "dashes", "spaces", "float_export")


# A fault in the ID of another role whose contract says an invalid one is only left empty:
# "nulled:<column>:<reason>". The row is accepted; the ingest counts the reason.
NULLED = "nulled:"
# An identifier planted in a free-text note: "pii:<column>" where the contract quarantines the
# row, "masked:<column>" where it masks the match (the row is accepted).
PII = "pii:"
MASKED = "masked:"
# The forms an identifier is planted in, one drawn per planted note.
STRAY_KINDS = ("printed_id", "thai_digit_id", "phone", "email", "titled_name")


def expected_reason(fault: str | None) -> str | None:
    """The quarantine reason a fault must produce (None: the row must be accepted)."""
    if fault is None or fault in ID_RECOVERABLE or fault.startswith((NULLED, MASKED)):
        return None
    return ID_UNRECOVERABLE.get(fault, fault)


def planted_identifier(df: DataFrame, note: Column, u: Column) -> Column:
    """``note`` with one of the row's own identifiers written into it, in a form drawn by ``u``:
    the printed 1-2345-67890-12-3 ID, the ID in Thai digits, the phone (where the extract has
    one), an e-mail address, or the titled full name."""
    cid = F.col("citizen_id")
    forms = {
        "printed_id": F.concat(F.lit("ติดต่อ "), _id_fault("dashes", cid)),
        "thai_digit_id": F.concat(F.lit("เลขบัตร "), _id_fault("thai_digits", cid)),
        "phone": F.concat(F.lit("โทร "), F.col("phone")) if "phone" in df.columns else None,
        "email": F.concat(F.lit("อีเมล p"), cid.substr(6, 8), F.lit("@example.co.th")),
        "titled_name": F.concat(
            F.lit("พบ คุณ"), F.col("first_name"), F.lit(" "), F.col("last_name")
        ),
    }
    kinds = [k for k in STRAY_KINDS if forms[k] is not None]
    index = F.floor(u * len(kinds)).cast("int")
    planted = F.lit(None).cast(StringType())
    for i, k in enumerate(kinds):
        planted = F.when(index == i, forms[k]).otherwise(planted)
    return F.concat(note, F.lit(" "), planted)


def _id_fault(fault: str, cid: Column) -> Column:
    if fault == "bad_check_digit":  # any other last digit is wrong
        last = F.substring(cid, 13, 1).cast("int")
        return F.concat(F.substring(cid, 1, 12), ((last + 1) % 10).cast("string"))
    if fault == "wrong_length":  # a digit lost in re-keying
        return F.substring(cid, 1, 12)
    if fault == "empty_id":
        return F.lit("")
    if fault == "thai_digits":
        return F.translate(cid, "0123456789", THAI_DIGITS)
    if fault == "dashes":  # the printed 1-2345-67890-12-3 form
        parts = [F.substring(cid, s, n) for s, n in ((1, 1), (2, 4), (6, 5), (11, 2), (13, 1))]
        return F.concat_ws("-", *parts)
    if fault == "spaces":
        return F.concat(F.lit("  "), cid, F.lit(" "))
    if fault == "float_export":  # a spreadsheet that took the ID for a number
        return F.concat(cid, F.lit(".0"))
    raise ValueError(f"unknown fault {fault!r}")


def _bad_value(df: DataFrame, column: str) -> Column:
    dtype = df.schema[column].dataType.simpleString()
    return F.lit("31/02/2025" if dtype == "date" else "n/a")


def inject_faults(
    df: DataFrame,
    rates: FaultRates,
    *,
    seed: int,
    dataset: str,
    key: tuple[str, ...],
    fmt: str,
    id_column: str | None,
    mandatory: tuple[str, ...] = (),
    typed: tuple[str, ...] = (),
    coded: tuple[str, ...] = (),
    roles: tuple[tuple[str, str], ...] = (),
    encoding: str = "utf-8",
    notes: tuple[tuple[str, str], ...] = (),
) -> DataFrame:
    """Give a share of rows one fault each and deliver a share of rows twice (the copy has
    ``_duplicate`` true). Draws hang on the record key, so faults are reproducible.

    ``roles``: (column, "quarantine" | "null") for the citizen IDs of other people the row names;
    each may get a bad check digit, tagged ``bad_check_digit:<column>`` (the row is quarantined)
    or ``nulled:<column>:bad_check_digit`` (the row is kept, that ID left empty).

    ``encoding``: a CSV in a legacy code page gets stray lines in UTF-8, marked in ``_stray``
    (the writer encodes those lines so, then drops the mark).

    ``notes``: (column, "quarantine" | "mask") for free-text attributes; a share of them quote
    the person's own identifier (:func:`planted_identifier`), tagged ``pii:<column>`` or
    ``masked:<column>``."""
    keys = [F.col(k) for k in key]
    df = df.withColumns(
        {
            "u_fault": uniform(seed, f"fault:{dataset}", *keys),
            "u_duplicate": uniform(seed, f"duplicate:{dataset}", *keys),
            "u_stray": uniform(seed, f"stray:{dataset}", *keys),
        }
    )
    # (tag, rate, column to change, new value) for every fault this extract can carry
    faults: list[tuple[str, float, str, Column]] = []
    if id_column:
        for name in (*ID_UNRECOVERABLE, *ID_RECOVERABLE):
            if name == "float_export" and fmt != "csv":  # only text exports make IDs numbers
                continue
            faults.append(
                (name, getattr(rates, name), id_column, _id_fault(name, F.col(id_column)))
            )
    for column, invalid in roles:
        tag = f"bad_check_digit:{column}" if invalid == "quarantine" else f"{NULLED}{column}:"
        tag += "bad_check_digit" if invalid != "quarantine" else ""
        faults.append((tag, rates.other_id, column, _id_fault("bad_check_digit", F.col(column))))
    if fmt == "csv" and encoding != "utf-8":
        df = df.withColumn(STRAY, F.lit(False))
        faults.append(("bad_encoding", rates.stray_encoding, STRAY, F.lit(True)))
    for column, action in notes:
        tag = f"{PII if action == 'quarantine' else MASKED}{column}"
        value = planted_identifier(df, F.col(column), F.col("u_stray"))
        faults.append((tag, rates.stray_identifier / len(notes), column, value))
    if fmt == "parquet":
        typed = ()  # a typed file cannot hold a wrongly typed value
    for kind, columns, rate in (
        ("missing", mandatory, rates.missing_field),
        ("bad_type", typed, rates.wrong_type),
        ("unknown_code", coded, rates.unknown_code),
    ):
        for c in columns:
            value = {
                "missing": F.lit(None),
                "bad_type": _bad_value(df, c),
                "unknown_code": F.concat(F.lit("99"), F.substring(F.col(c), 3, 2)),
            }[kind]
            faults.append((f"{kind}:{c}", rate / len(columns), c, value))

    changed = {c for _, _, c, _ in faults}
    as_text = {c for tag, _, c, _ in faults if tag.startswith("bad_type:")}
    u, tag, lo = F.col("u_fault"), F.lit(None).cast(StringType()), 0.0
    hits = []
    for name, rate, column, value in faults:
        hit = (u >= lo) & (u < lo + rate)
        if column in dict(roles):
            hit = hit & F.col(column).isNotNull()  # no father named: nothing to get wrong
        hits.append((hit, column, value))
        tag = F.when(hit, F.lit(name)).otherwise(tag)
        lo += rate
    new_values = {}
    for column in changed:
        current = F.col(column).cast("string") if column in as_text else F.col(column)
        for hit, c, value in hits:
            if c == column:
                current = F.when(
                    hit, value.cast(StringType()) if column in as_text else value
                ).otherwise(current)
        new_values[column] = current
    copies = F.when(
        F.col("u_duplicate") < rates.duplicate, F.array(F.lit(False), F.lit(True))
    ).otherwise(F.array(F.lit(False)))
    return (
        df.withColumns({FAULT: tag, **new_values})
        .withColumn(DUPLICATE, F.explode(copies))
        .drop("u_fault", "u_duplicate", "u_stray")
    )
