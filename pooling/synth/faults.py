"""Injected faults: the problems agencies reported (non-standard formats, bad or incomplete
records, duplicates), at configured rates, each row tagged so the ground truth can count them."""

from __future__ import annotations

from dataclasses import fields

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from pooling.synth.plan import FaultRates
from pooling.synth.random import uniform
from pseudonymize.citizen_id import THAI_DIGITS

# Faults after which the row cannot be linked and must be quarantined, with the reason code the
# pipeline is expected to give.
UNRECOVERABLE = {
    "bad_check_digit": "bad_check_digit",
    "wrong_length": "wrong_length",
    "empty_id": "empty",
}
RECOVERABLE = ("thai_digits", "dashes", "spaces", "float_export")
FAULT = "_fault"
DUPLICATE = "_duplicate"


def _apply(fault: str, cid: Column) -> Column:
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


def inject_faults(
    df: DataFrame, rates: FaultRates, *, seed: int, dataset: str, record_key: str, fmt: str
) -> DataFrame:
    """Corrupt ``citizen_id`` on a share of rows, tag each row's fault in ``_fault`` (null if
    none) and deliver a share of rows twice (the copy has ``_duplicate`` true)."""
    # Both draws come from the clean record key, before the ID is touched.
    df = df.withColumns(
        {
            "u_fault": uniform(seed, f"fault:{dataset}", F.col(record_key)),
            "u_duplicate": uniform(seed, f"duplicate:{dataset}", F.col(record_key)),
        }
    )
    u = F.col("u_fault")
    names = [f.name for f in fields(FaultRates) if f.name != "duplicate"]
    if fmt != "csv":  # only text exports turn IDs into numbers
        names.remove("float_export")
    tag, value, lo = F.lit(None).cast("string"), F.col("citizen_id"), 0.0
    for name in names:
        hi = lo + getattr(rates, name)
        hit = (u >= lo) & (u < hi)
        tag = F.when(hit, F.lit(name)).otherwise(tag)
        value = F.when(hit, _apply(name, F.col("citizen_id"))).otherwise(value)
        lo = hi
    # A duplicated row is exploded into the original and a copy flagged as such.
    copies = F.when(
        F.col("u_duplicate") < rates.duplicate, F.array(F.lit(False), F.lit(True))
    ).otherwise(F.array(F.lit(False)))
    return (
        df.withColumns({FAULT: tag, "citizen_id": value})
        .withColumn(DUPLICATE, F.explode(copies))
        .drop("u_fault", "u_duplicate")
    )
