"""Identifiers where none should be: citizen IDs, phones, e-mail and names inside kept text.

A column classed ``attribute`` is kept as delivered. When an agency's free text or code column
carries an identifier ("ติดต่อ 1-1017-00207-03-0"), it would flow into the de-identified table and the
pool unchanged. These detectors find such values, as native Spark expressions (no Python UDF, so
the scan runs in the JVM at column speed and never ships a value to Python):

- ``citizen_id``: 13 digits (ASCII or Thai) in any grouping normalisation accepts, or a
  spreadsheet's scientific form, with a valid check digit (a random 13-digit number passes one
  time in eleven, so the check digit keeps invoice numbers out);
- ``own_identifier``: the row's own direct identifiers (its name, phone, record number) quoted
  in the text, whatever their shape;
- ``phone``: Thai mobile (06/08/09 + 8 digits) and fixed-line (02–07 + 7 digits), also as +66;
- ``email``;
- ``name``: a Thai given name from PyThaiNLP's name corpora, after a title (นาย, นาง, คุณ …) or
  followed by another Thai word (the family name). PyThaiNLP is a well-kept Thai NLP library,
  independent of the Faker vocabularies the synthetic data is drawn from.

A hit never shows the value: :func:`stray_kinds` gives the kinds found, :func:`masked` replaces
each match with ``[kind]``.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Sequence
from functools import cache, reduce
from operator import or_

from pyspark.sql import Column
from pyspark.sql import functions as F

from pseudonymize.citizen_id import normalize_sql, problem_sql
from pseudonymize.sql import sql_name, sql_string

KINDS = ("citizen_id", "own_identifier", "phone", "email", "name")

_DIGIT = "[0-9\u0e50-\u0e59]"
# What normalisation strips between the groups of an ID (spaces, dashes, slashes, dots).
_SEP = r"[\s\-\u2010-\u2015/.]"
CITIZEN_ID_CANDIDATE = f"(?<!{_DIGIT}){_DIGIT}(?:{_SEP}{{0,3}}{_DIGIT}){{12}}(?!{_DIGIT})"
SCIENTIFIC_ID = r"(?<![0-9.])[1-9]\.[0-9]{1,12}[eE]\+?12(?![0-9])"
PHONE = (
    r"(?<![0-9])(?:\+66[\s\-]?|0)"
    r"(?:[689](?:[\s\-.]?[0-9]){8}|[2-7](?:[\s\-.]?[0-9]){7})(?![0-9])"
)
EMAIL = r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}"
# Titles that precede a Thai name, longest first (นางสาว before นาง).
TITLES = ("เด็กหญิง", "เด็กชาย", "นางสาว", "ด.ญ.", "ด.ช.", "น.ส.", "นาย", "นาง", "คุณ")
_TITLE = "(?:" + "|".join(t.replace(".", r"\.") for t in TITLES) + ")"
_THAI = "[\u0e01-\u0e4e]"
TITLED_NAME = f"{_TITLE}({_THAI}+)"
# A whole Thai word followed by another one: a given name and a family name.
NAME_BEFORE_WORD = rf"(?<!\S){_THAI}+(?=\s+{_THAI})"
# The shortest text PHONE matches: a fixed line, 0, its area digit and 7 more.
PHONE_MIN_LENGTH = 9
# A value this short is no identifier worth looking for in text ("M", "10").
OWN_MIN_LENGTH = 3


@cache
def thai_given_names() -> tuple[str, ...]:
    """PyThaiNLP's female and male given-name corpora (bundled with the package, no download)."""
    from pythainlp.corpus import thai_female_names, thai_male_names

    return tuple(sorted(thai_female_names() | thai_male_names()))


def _citizen_ids(text: str) -> Column:
    """The substrings of column ``text`` that normalise to a valid citizen ID (an array). In SQL
    text, parsed once (see :mod:`pseudonymize.citizen_id`)."""
    t = sql_name(text)
    candidates = (
        f"concat(regexp_extract_all({t}, {sql_string(CITIZEN_ID_CANDIDATE)}, 0), "
        f"regexp_extract_all({t}, {sql_string(SCIENTIFIC_ID)}, 0))"
    )
    return F.expr(
        f"filter({candidates}, candidate -> ({problem_sql(normalize_sql('candidate'))}) IS NULL)"
    )


# Buckets of the corpus by a hash of the name: a word is compared with the few names in its
# bucket only. CRC-32 because Spark's crc32 and Python's zlib.crc32 are the same function.
NAME_BUCKETS = 4096


def _name_bucket(word: Column) -> Column:
    return F.crc32(word.cast("binary")) % NAME_BUCKETS


@cache
def _names_by_bucket() -> str:
    """The corpus as a JSON array of :data:`NAME_BUCKETS` arrays (a name in its bucket)."""
    buckets: list[list[str]] = [[] for _ in range(NAME_BUCKETS)]
    for n in thai_given_names():
        buckets[zlib.crc32(n.encode()) % NAME_BUCKETS].append(n)
    return json.dumps(buckets, ensure_ascii=False)


def _is_given_name(word: Column) -> Column:
    """True where ``word`` is a given name of the corpus: one hash and a handful of string
    comparisons. The corpus enters the plan as one literal that the optimiser folds once into
    an array: as a list of 11,843 literals (``w IN (...)``) it took the analyser over half a
    second in every DataFrame that scanned a column, twice an ingest's time at 1,000 persons."""
    corpus = F.from_json(F.lit(_names_by_bucket()), "array<array<string>>")
    bucket = F.get(corpus, _name_bucket(word).cast("int"))
    return F.coalesce(F.array_contains(bucket, word), F.lit(False))


def _names(text: str) -> Column:
    """The Thai given names of the corpus that column ``text`` names as a person (an array)."""
    t = F.col(text)
    titled = F.regexp_extract_all(t, F.lit(TITLED_NAME), 1)
    bare = F.transform(
        F.regexp_extract_all(t, F.lit(NAME_BEFORE_WORD), 0),
        lambda w: F.regexp_replace(w, f"^{_TITLE}", ""),
    )
    return F.filter(F.concat(titled, bare), _is_given_name)


def _own(text: Column, own: Sequence[str]) -> list[tuple[Column, Column]]:
    """(value, found) for each of the row's own identifier values long enough to look for."""
    out = []
    for name in own:
        v = F.trim(F.col(name).cast("string"))
        found = F.coalesce((F.length(v) >= OWN_MIN_LENGTH) & text.contains(v), F.lit(False))
        out.append((v, found))
    return out


def non_ascii(t: Column) -> Column:
    """True where ``t`` holds a character outside ASCII (Thai text, Thai digits): its UTF-8
    bytes outnumber its characters. Cheap next to a regular expression."""
    return F.octet_length(t) > F.length(t)


def _found(text: str, own: Sequence[str]) -> dict[str, Column]:
    """For each kind, a boolean column: does column ``text`` hold one?

    Each regular expression runs only where a cheap test says a match is possible at all (a
    necessary condition, so nothing is missed): most kept values are short codes, and the scans
    were most of an ingest's time (1.4 M service records: 4.9 s for its two code columns alone).
    ``AND`` stops at a false gate.
    """
    t = F.col(text)
    return {
        # 13 digits with separators, or the scientific form: 1.1E12 at the shortest
        "citizen_id": ((F.length(t) >= 13) | t.contains("E") | t.contains("e"))
        & (F.size(_citizen_ids(text)) > 0),
        # Shorter text cannot hold a value long enough to look for (codes such as "M").
        "own_identifier": (F.length(t) >= OWN_MIN_LENGTH)
        & reduce(or_, [f for _, f in _own(t, own)], F.lit(False)),
        "phone": (F.length(t) >= PHONE_MIN_LENGTH) & t.rlike(PHONE),
        "email": t.contains("@") & t.rlike(EMAIL),
        "name": non_ascii(t) & (F.size(_names(text)) > 0),  # Thai names only
    }


def stray_kinds(text: str, own: Sequence[str] = ()) -> Column:
    """The kinds of identifier found in column ``text`` (an array, empty for clean text; null
    stays null). ``own``: the columns of the row's own direct identifiers."""
    found = _found(text, own)
    kinds = F.array(*[F.when(found[k], F.lit(k)) for k in KINDS])
    return F.when(F.col(text).isNotNull(), F.filter(kinds, lambda k: k.isNotNull()))


def has_stray(text: str, own: Sequence[str] = ()) -> Column:
    """True where column ``text`` holds an identifier of any kind (false for null)."""
    return F.coalesce(reduce(or_, _found(text, own).values()), F.lit(False))


def masked(text: str, own: Sequence[str] = ()) -> Column:
    """Column ``text`` with every identifier found replaced by ``[kind]``: the row's own values
    first (whatever their shape), then IDs, e-mail, phones, and names with their title and the
    family name after them."""
    t = F.col(text)
    out = t
    for value, found in _own(t, own):
        out = F.when(found, F.replace(out, value, F.lit("[own_identifier]"))).otherwise(out)
    out = F.aggregate(
        _citizen_ids(text), out, lambda acc, x: F.replace(acc, x, F.lit("[citizen_id]"))
    )
    out = F.regexp_replace(out, EMAIL, "[email]")
    out = F.regexp_replace(out, PHONE, "[phone]")
    name = F.lit(f"{_TITLE}?\\Q"), F.lit(f"\\E(?:\\s+{_THAI}+)?")
    return F.aggregate(
        _names(text),
        out,
        lambda acc, n: F.regexp_replace(acc, F.concat(name[0], n, name[1]), F.lit("[name]")),
    )
