"""The de-identification standard, as data (``conf/standard.yaml``) and as one DataFrame transform.

Every column of an agency dataset has exactly one field class:

- ``citizen_id``: normalised, validated, and replaced by the linkage pseudonym
  ``linkage_pseudonym = HMAC-SHA256(master_key, canonical_id)``;
- ``direct_identifier``: dropped (names, phone, e-mail, street address, free text);
- ``quasi_identifier``: replaced by the named generalisations the contract picks;
- ``attribute``: kept as it is.

A column without a class is an error, never passed through.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Literal, Protocol

from pydantic import Field, model_validator
from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from pseudonymize._hmac import hmac_sha256
from pseudonymize.errors import ContractError
from pseudonymize.model import Strict, lookup
from pseudonymize.reference import provinces

if TYPE_CHECKING:
    from pseudonymize.keys import SecretKey

# The pseudonyms of the standard, by column name. The record key pseudonymises the key columns of
# an upsert dataset (a visit number, say): the MERGE key, never linkable across datasets.
LINKAGE_PSEUDONYM = "linkage_pseudonym"
POOL_PSEUDONYM = "pool_pseudonym"
RECORD_KEY = "_record_key"
# Every pseudonym of the standard: a lowercase hex HMAC-SHA256 digest (a regular expression).
PSEUDONYM_PATTERN = "^[0-9a-f]{64}$"
# The person a row is about. A row may name others (a birth: the mother, the father); each
# citizen ID of another role becomes ``<role>_linkage_pseudonym``, under the same master key, so
# a mother links to her own records everywhere; in a pool, ``<role>_pool_pseudonym``.
SUBJECT = "subject"


def linkage_column(role: str | None) -> str:
    """The linkage pseudonym's column for a citizen ID of ``role`` (None: the subject)."""
    return LINKAGE_PSEUDONYM if role in (None, SUBJECT) else f"{role}_{LINKAGE_PSEUDONYM}"


def pool_column(linkage: str) -> str:
    """The pool pseudonym's column made from the linkage pseudonym's column ``linkage``."""
    return linkage.removesuffix(LINKAGE_PSEUDONYM) + POOL_PSEUDONYM


def is_linkage_column(name: str) -> bool:
    return name == LINKAGE_PSEUDONYM or name.endswith(f"_{LINKAGE_PSEUDONYM}")


def is_pool_column(name: str) -> bool:
    return name == POOL_PSEUDONYM or name.endswith(f"_{POOL_PSEUDONYM}")


class FieldClass(StrEnum):
    citizen_id = "citizen_id"
    direct_identifier = "direct_identifier"
    quasi_identifier = "quasi_identifier"
    attribute = "attribute"


class ClassifiedColumn(Protocol):
    """What the standard needs of a column of an agency contract (the service's ``ColumnSpec``)."""

    @property
    def name(self) -> str: ...

    @property
    def field_class(self) -> FieldClass: ...

    @property
    def generalise(self) -> Sequence[str]: ...

    @property
    def role(self) -> str | None: ...  # citizen_id only: whose ID (None: the subject)


class FieldClassRule(Strict):
    description: str


# The generalisation functions the standard may name. Each takes the source column and the rule.
Function = Literal["year", "age_band", "leading_digits", "postcode_province"]


class Generalisation(Strict):
    description: str
    function: Function
    applies_to: list[Literal["date", "string"]]
    output: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$")]
    width_years: int | None = None  # age_band
    top_code: int | None = None  # age_band: ages >= top_code share one band "85+"
    digits: int | None = None  # leading_digits
    # postcode_province: 5-digit postcodes whose 2-digit prefix is shared by several provinces.
    overrides: dict[str, str] = {}
    # postcode_province: the province a shared prefix means when the postcode is not overridden.
    prefix_defaults: dict[str, str] = {}

    @model_validator(mode="after")
    def _params(self) -> Generalisation:
        needs = {
            "age_band": ("width_years", "top_code"),
            "leading_digits": ("digits",),
            "year": (),
            "postcode_province": (),
        }
        for p in needs[self.function]:
            if getattr(self, p) is None:
                raise ValueError(f"function {self.function!r} needs {p!r}")
        return self

    def check_input(self, column_type: str) -> None:
        if column_type not in self.applies_to:
            raise ValueError(
                f"generalisation {self.output!r} applies to {self.applies_to} columns, "
                f"not to a {column_type} column"
            )

    def apply(self, col: Column, reference_date: date) -> Column:
        if self.function == "year":
            return F.year(col)
        if self.function == "leading_digits":
            return leading_digits(col, self.digits or 0)
        if self.function == "postcode_province":
            return postcode_province(col, self.overrides, self.prefix_defaults)
        return age_band(col, reference_date, self.width_years or 5, self.top_code or 85)


def leading_digits(code: Column, digits: int) -> Column:
    """The first ``digits`` characters of a code (a district's province); null if shorter."""
    return F.when(F.length(code) >= digits, F.substring(code, 1, digits))


def age_band(birth: Column, reference_date: date, width: int, top_code: int) -> Column:
    """Completed years at ``reference_date``, banded: ``"00-04"``, ``"05-09"`` … ``"85+"``."""
    age = F.floor(F.months_between(F.lit(reference_date), birth) / 12).cast("int")
    return age_label(age, width, top_code)


def age_label(age: Column, width: int, top_code: int) -> Column:
    """An age in years as its band's label (the one labelling of every age band)."""
    low = F.floor(age / width) * width
    label = F.concat(
        F.lpad(low.cast("string"), 2, "0"),
        F.lit("-"),
        F.lpad((low + width - 1).cast("string"), 2, "0"),
    )
    return F.when(age < 0, None).when(age >= top_code, F.lit(f"{top_code}+")).otherwise(label)


def widen_age_band(band: Column, width: int, top_code: int) -> Column:
    """A band label ("35-39", "85+") relabelled into wider bands ("30-39", "80+") from its lower
    bound; the target's top code must not exceed the source's (an open "85+" cannot split)."""
    return age_label(F.split(band, "[-+]")[0].cast("int"), width, top_code)


def birth_year_band(year: Column, reference_date: date, width: int, top_code: int) -> Column:
    """A birth year as an age band: the age reached in the reference date's year."""
    return age_label(F.lit(reference_date.year) - year, width, top_code)


class CoarseningStep(Strict):
    """One step of the coarsening ladder (``coarsening:``): a published quasi-identifier made
    coarser when a pool's classes are smaller than its project's k."""

    description: str
    column: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$")]
    # The column's new name (district_code -> province_code); when the table has that column
    # already, the coarsened one is dropped (the ladder makes the existing one as coarse first).
    output: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$")]
    function: Literal["leading_digits", "widen_age_band", "birth_year_band"]
    digits: int | None = None  # leading_digits
    width_years: int | None = None  # the age-band functions
    top_code: int | None = None

    @model_validator(mode="after")
    def _params(self) -> CoarseningStep:
        needs = {"leading_digits": ("digits",)}.get(self.function, ("width_years", "top_code"))
        for p in needs:
            if getattr(self, p) is None:
                raise ValueError(f"coarsening function {self.function!r} needs {p!r}")
        return self

    def apply(self, col: Column, reference_date: date) -> Column:
        if self.function == "leading_digits":
            return leading_digits(col, self.digits or 0)
        if self.function == "widen_age_band":
            return widen_age_band(col, self.width_years or 10, self.top_code or 80)
        return birth_year_band(col, reference_date, self.width_years or 10, self.top_code or 80)


def postcode_province(
    postcode: Column, overrides: dict[str, str], prefix_defaults: dict[str, str]
) -> Column:
    """The province code of a Thai postcode, from its 2-digit prefix (reference data).

    A prefix shared by several provinces (10: Bangkok and Samut Prakan) gives the province of
    ``overrides`` for a listed postcode, else the one ``prefix_defaults`` names, else null:
    never an unstated guess. Malformed postcodes give null.
    """
    by_prefix: dict[str, set[str]] = {}
    for p in provinces():
        by_prefix.setdefault(p.postcode_prefix, set()).add(p.code)
    unique = {k: next(iter(v)) for k, v in by_prefix.items() if len(v) == 1} | prefix_defaults
    code = F.trim(postcode.cast("string"))
    prefix_map = F.create_map(*[x for k, v in sorted(unique.items()) for x in (F.lit(k), F.lit(v))])
    by_override = (
        F.create_map(*[x for k, v in sorted(overrides.items()) for x in (F.lit(k), F.lit(v))])
        if overrides
        else None
    )
    valid = code.rlike(r"^[1-9][0-9]{4}$")
    guess = prefix_map[F.substring(code, 1, 2)]
    if by_override is not None:
        guess = F.coalesce(by_override[code], guess)
    return F.when(valid, guess)


class Standard(Strict):
    """``conf/standard.yaml``: one versioned standard for every agency."""

    version: str
    reference_date: date
    field_classes: dict[FieldClass, FieldClassRule]
    generalisations: dict[str, Generalisation]
    # Attributes kept as they are that still identify in combination (sex): quasi-identifiers of
    # the disclosure-risk measure, with the generalisations' outputs.
    quasi_identifying_attributes: list[Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$")]] = []
    # The order in which a pool's quasi-identifiers are made coarser when its k does not hold.
    coarsening: list[CoarseningStep] = []

    @model_validator(mode="after")
    def _all_classes(self) -> Standard:
        missing = [c.value for c in FieldClass if c not in self.field_classes]
        if missing:
            raise ValueError(f"field_classes must describe every class; missing {missing}")
        return self

    @property
    def quasi_identifiers(self) -> set[str]:
        """Every column name the standard treats as a quasi-identifier of a published table."""
        return {
            *(g.output for g in self.generalisations.values()),
            *(s.output for s in self.coarsening),
            *self.quasi_identifying_attributes,
        }

    def generalisation(self, name: str) -> Generalisation:
        return lookup(
            self.generalisations,
            name,
            f"generalisation {name!r} is not in standard {self.version}",
            "generalisations",
        )

    def output_columns(self, columns: Sequence[ClassifiedColumn]) -> list[str]:
        """The column names a dataset has after de-identification, in contract order."""
        out: list[str] = []
        for c in columns:
            if c.field_class is FieldClass.citizen_id:
                out.append(linkage_column(c.role))
            elif c.field_class is FieldClass.quasi_identifier:
                out.extend(self.generalisation(g).output for g in c.generalise)
            elif c.field_class is FieldClass.attribute:
                out.append(c.name)
        dupes = sorted({n for n in out if out.count(n) > 1})
        if dupes:
            raise ContractError(f"de-identified columns would collide: {dupes}")
        return out

    def deidentify(
        self,
        columns: Sequence[ClassifiedColumn],
        linkage_key: SecretKey,
        keep: Sequence[str] = (),
    ) -> Callable[[DataFrame], DataFrame]:
        """The transform that applies this standard to a dataset described by ``columns``.

        The input holds canonical, validated citizen IDs (see ``normalize_citizen_id``) and values
        already cast to their contract types. ``keep`` names columns the caller has already
        pseudonymised (a record key), passed through first. Use as
        ``df.transform(standard.deidentify(...))``.
        """
        by_name = {c.name: c for c in columns}
        wanted = [*keep, *self.output_columns(columns)]

        def transform(df: DataFrame) -> DataFrame:
            unclassified = [c for c in df.columns if c not in by_name and c not in keep]
            if unclassified:
                raise ContractError(
                    f"columns without a field class: {unclassified}; every column must be "
                    f"classified in the agency contract (classes: {[c.value for c in FieldClass]})"
                )
            out = df
            for c in columns:
                if c.field_class is FieldClass.citizen_id:  # an empty one (null) stays empty
                    out = hmac_sha256(out, c.name, linkage_key, linkage_column(c.role))
                elif c.field_class is FieldClass.quasi_identifier:
                    for g in c.generalise:
                        rule = self.generalisation(g)
                        out = out.withColumn(
                            rule.output, rule.apply(F.col(c.name), self.reference_date)
                        )
            return out.select(*wanted)

        return transform
