"""Delta CHECK constraints derived from an agency contract.

What the contract promises about a dataset (mandatory fields, known province codes, a pseudonym on
every person-level row) is written into its de-identified table and into every pool table made
from it, as Delta CHECK constraints. Delta then verifies each write against them in the same
commit, so a bug upstream fails the write instead of putting a bad row in front of an analyst.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from pooling.core.config import ColumnSpec
from pseudonymize.reference import province_codes
from pseudonymize.standard import (
    PSEUDONYM_PATTERN,
    FieldClass,
    Standard,
    is_linkage_column,
    pool_column,
)


def _province_in() -> str:
    return ", ".join(f"'{c}'" for c in sorted(province_codes()))


@dataclass(frozen=True)
class Constraint:
    name: str
    column: str
    condition: str


def contract_constraints(standard: Standard, columns: Iterable[ColumnSpec]) -> list[Constraint]:
    """The constraints over the de-identified columns of a dataset."""
    out: list[Constraint] = []
    for c in columns:
        if c.field_class is FieldClass.citizen_id:  # another role's may be empty (null)
            out.append(_pseudonym_format(c.pseudonym, nullable=c.if_invalid == "null"))
        elif c.field_class is FieldClass.attribute:
            if c.mandatory:
                out.append(Constraint(f"{c.name}_not_null", c.name, f"`{c.name}` IS NOT NULL"))
            if c.codes == "province":
                out.append(_known_province(c.name, nullable=True))
        elif c.field_class is FieldClass.quasi_identifier and c.codes:
            # A validated district or province code generalises to a known province code.
            for g in c.generalise:
                if standard.generalisation(g).output == "province_code":
                    out.append(_known_province("province_code", nullable=not c.mandatory))
    return out


def pool_constraints(table: Iterable[Constraint], columns: Iterable[str]) -> list[Constraint]:
    """The constraints of a de-identified table that still hold in a pool table made from it:
    the linkage pseudonym's becomes the pool pseudonym's; only constraints on kept columns stay."""
    kept = set(columns)
    out = []
    for c in table:
        if is_linkage_column(c.column):
            pool = pool_column(c.column)
            if pool in kept:
                out.append(_pseudonym_format(pool, nullable="IS NULL OR" in c.condition))
        elif c.column in kept:
            out.append(c)
    return out


def as_properties(constraints: Iterable[Constraint]) -> dict[str, str]:
    return {c.name: c.condition for c in constraints}


def _pseudonym_format(column: str, *, nullable: bool = False) -> Constraint:
    shaped = f"`{column}` RLIKE '{PSEUDONYM_PATTERN}'"
    cond = f"`{column}` IS NULL OR {shaped}" if nullable else f"`{column}` IS NOT NULL AND {shaped}"
    return Constraint(f"{column}_format", column, cond)


def _known_province(column: str, *, nullable: bool) -> Constraint:
    cond = f"`{column}` IN ({_province_in()})"
    return Constraint(
        f"{column}_known", column, f"`{column}` IS NULL OR {cond}" if nullable else cond
    )
