"""The 13-digit Thai citizen ID as Spark Column expressions.

``normalize_citizen_id`` turns the forms agencies really send into the canonical 13-digit string;
``citizen_id_problem`` is null for a valid ID and otherwise a reason code. Both are pure Column
expressions: they run on the JVM and never log or collect a value.
"""

from __future__ import annotations

from functools import reduce

from pyspark.sql import Column
from pyspark.sql import functions as F

THAI_DIGITS = "๐๑๒๓๔๕๖๗๘๙"

# Reason codes, in the order they are tested. Documented in the README.
EMPTY = "empty"
NON_DIGIT = "non_digit"
WRONG_LENGTH = "wrong_length"
BAD_CHECK_DIGIT = "bad_check_digit"
REASONS = (EMPTY, NON_DIGIT, WRONG_LENGTH, BAD_CHECK_DIGIT)


def check_digit(first12: str) -> int:
    """The 13th digit for 12 leading digits: ``(11 - sum(d[i] * (13 - i)) % 11) % 10``."""
    return (11 - sum(int(d) * (13 - i) for i, d in enumerate(first12)) % 11) % 10


def normalize_citizen_id(col: Column | str) -> Column:
    """Canonical form of a citizen ID as sent: 13 ASCII digits where the input allows it.

    Handles surrounding white space, dashes / spaces / dots between the groups
    (``1-2345-67890-12-3``), Thai digits (๐–๙), and numbers exported by spreadsheets
    (``1234567890123.0``, ``1.234567890123E12``). Anything else is returned cleaned but unchanged,
    for :func:`citizen_id_problem` to reject. Null stays null.
    """
    c = F.col(col) if isinstance(col, str) else col
    s = F.translate(F.trim(c.cast("string")), THAI_DIGITS, "0123456789")
    # A spreadsheet number: 1234567890123.0 or scientific 1.234567890123E12. Only whole numbers
    # with no leading zero qualify: at most 12 significant decimals after the point, so nothing
    # is ever rounded into an ID.
    number = r"^[1-9][0-9]*\.0+$|^[1-9]\.[0-9]{1,12}0*[eE]\+?12$"
    as_number = s.try_cast("decimal(38,1)").cast("decimal(38,0)").cast("string")
    s = F.when(s.rlike(number), as_number).otherwise(s)
    # Group separators that agencies' systems insert between the 1-4-5-2-1 groups.
    return F.regexp_replace(s, r"[\s\-\u2010-\u2015/.]", "")


def check_digit_expr(first12: Column) -> Column:
    """:func:`check_digit` as a Column expression over a string of 12 digits."""
    weighted = reduce(
        lambda acc, i: acc + F.substring(first12, i + 1, 1).try_cast("int") * (13 - i),
        range(12),
        F.lit(0),
    )
    return (F.lit(11) - weighted % 11) % 10


def _check_digit_ok(s: Column) -> Column:
    return F.substring(s, 13, 1).try_cast("int") == check_digit_expr(s)


def citizen_id_problem(col: Column | str) -> Column:
    """Null when ``col`` (already normalised) is a valid citizen ID, else a reason code."""
    s = F.col(col) if isinstance(col, str) else col
    return (
        F.when(s.isNull() | (F.length(s) == 0), F.lit(EMPTY))
        .when(~s.rlike(r"^[0-9]+$"), F.lit(NON_DIGIT))
        .when(F.length(s) != 13, F.lit(WRONG_LENGTH))
        .when(~_check_digit_ok(s), F.lit(BAD_CHECK_DIGIT))
    )
