"""``pooling contract draft``: a first contract for a new extract, guessed from its content.

A data steward confirms the draft; nothing is ingested under it until they have. The delivery
(format, compression, encoding, XML row element, Excel sheet) is detected from the files; each
column's class from a sample of its values, in one Spark aggregation (native expressions: the
citizen-ID rules are those ingest applies). Each guess carries its evidence as a YAML comment.
The one mistake a draft must not make is to class an identifier as an attribute, so every
test that points to an identifier wins over one that points to an attribute.
"""

from __future__ import annotations

import gzip
import itertools
import re
from dataclasses import dataclass, field
from pathlib import PurePosixPath

import pandas as pd
import yaml
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import StructType

from pooling.core.config import AgencyContract, DatasetContract
from pooling.core.errors import ContractError
from pooling.core.storage import Storage
from pooling.ingest.read import PY_CODEC, data_files, read_extract, read_xml
from pooling.ingest.validate import MOJIBAKE
from pseudonymize import citizen_id_problem_as_sent
from pseudonymize.reference import province_codes

SAMPLE_ROWS = 5_000
# A share of a column's (non-empty) sampled values at or over which a test counts as passed.
MOST = 0.9
# Within a string column, at least this share distinct: a name or a record number, not a code.
VARIED = 0.3

_THAI_NAME = r"^[\u0e00-\u0e7f]+( [\u0e00-\u0e7f.]+){0,3}$"
_LATIN_NAME = r"^[A-Z][a-z]+([ '-][A-Z][a-z]+){0,3}$"
_PHONE = r"^(\+66|0)[0-9]{8,9}$"
_EMAIL = r"^[^@\s]+@[^@\s]+\.[a-z]{2,}$"
# A street address: a house number and words (Thai or Latin), or Thai address markers.
_ADDRESS = r"(?:[0-9]+/[0-9]+|หมู่|ถนน|ซอย|ตำบล|อำเภอ|จังหวัด|ต\.|อ\.|จ\.|Moo |Road|Soi )"
# A record number: a letter prefix and digits, or digits with leading zeros (a plain number is
# a record number only if its column is named like one: an amount is not).
_RECORD_NO = r"^([A-Z]{1,4}-?[0-9]{3,}|0[0-9]{5,})$"
# Person names: a vocabulary, not free text, so not always varied; but many distinct values.
NAMES_DISTINCT = 30
_ROLE_WORDS = ("mother", "father", "spouse", "head", "child", "member", "applicant")


@dataclass
class Guess:
    """One column of the draft: the contract entry and why."""

    name: str
    type: str
    field_class: str
    evidence: str
    generalise: list[str] = field(default_factory=list)
    codes: str | None = None
    role: str | None = None
    path: str | None = None
    mandatory: bool = False
    record: bool = False  # a record number: an identifier only where the rows are people

    def entry(self) -> dict[str, object]:
        out: dict[str, object] = {"name": self.name, "type": self.type, "class": self.field_class}
        if self.role:
            out["role"] = self.role
        if self.generalise:
            out["generalise"] = self.generalise
        if self.codes:
            out["codes"] = self.codes
        if self.mandatory:
            out["mandatory"] = True
        if self.path:
            out["path"] = self.path
        out["description"] = f"TODO: what {self.name} holds"
        return out


@dataclass
class Delivery:
    format: str
    compression: str = "none"
    encoding: str = "utf-8"
    row_tag: str | None = None
    sheet: str | None = None
    evidence: dict[str, str] = field(default_factory=dict)


# --------------------------------------------------------------------------- the delivery


def detect_delivery(storage: Storage, path: str) -> Delivery:
    """Format and compression from the file names; encoding, row element or sheet from the
    bytes of the first file."""
    files = data_files(storage, path)
    names = [f.name for f in files]
    gz = all(n.endswith(".gz") for n in names)
    stems = {PurePosixPath(n.removesuffix(".gz")).suffix.lstrip(".").lower() for n in names}
    fmt = {"jsonl": "json", "ndjson": "json", "xls": "xlsx"}.get(s := next(iter(stems)), s)
    if len(stems) != 1 or fmt not in ("csv", "json", "parquet", "xml", "xlsx"):
        raise ContractError(
            f"extract {path}: cannot tell its format from the file names {names[:3]}; "
            "name them *.csv, *.json, *.parquet, *.xml or *.xlsx (each may end in .gz)"
        )
    found = Delivery(fmt, "gzip" if gz else "none")
    found.evidence["format"] = f"{len(names)} file(s) named *.{fmt}{'.gz' if gz else ''}"
    head = storage.read_bytes(files[0].uri)
    if gz:
        head = gzip.decompress(head)
    if fmt == "csv":
        found.encoding, found.evidence["encoding"] = _encoding(head[:1_000_000])
    elif fmt == "xml":
        found.row_tag, found.evidence["row_tag"] = _row_tag(head)
    elif fmt == "xlsx":
        found.sheet, found.evidence["sheet"] = _sheet(head)
    return found


def _encoding(sample: bytes) -> tuple[str, str]:
    """UTF-8 if the bytes are UTF-8 (Thai text that is UTF-8 almost never decodes otherwise);
    else CP874 or TIS-620, whichever decodes them."""
    try:
        text = sample.decode("utf-8")
        if re.search(MOJIBAKE, text):
            return "utf-8", "decodes as UTF-8 but holds Thai mojibake: check the export"
        thai = sum("\u0e00" <= ch <= "\u0e7f" for ch in text)
        return "utf-8", f"the first {len(sample):,} bytes are UTF-8 ({thai:,} Thai characters)"
    except UnicodeDecodeError:
        pass
    for encoding in ("tis-620", "windows-874"):
        try:
            sample.decode(PY_CODEC[encoding])
        except UnicodeDecodeError:
            continue
        return encoding, f"not UTF-8; the first {len(sample):,} bytes are {encoding}"
    raise ContractError("the extract is neither UTF-8 nor TIS-620 / Windows-874 text")


def _row_tag(head: bytes) -> tuple[str, str]:
    """The element repeated under the root: one per record."""
    tags = re.findall(rb"<([A-Za-z_][\w.-]*)[\s>/]", head[:2_000_000])
    tags = [t.decode() for t in tags if not t.startswith(b"?")]
    if len(tags) < 2:
        raise ContractError("the XML holds no repeated record element")
    counts = pd.Series(tags[1:]).value_counts()
    # The record element: the first element after the root that repeats.
    tag = next(t for t in tags[1:] if counts[t] > 1)
    return tag, f"<{tags[0]}> holds {counts[tag]:,} <{tag}> elements in the first file"


def _sheet(book: bytes) -> tuple[str, str]:
    import io

    from openpyxl import load_workbook

    wb = load_workbook(io.BytesIO(book), read_only=True)
    try:
        sizes = {name: wb[name].max_row or 0 for name in wb.sheetnames}
    finally:
        wb.close()
    sheet = max(sizes, key=lambda n: sizes[n])
    return sheet, f"the largest of the sheets {list(sizes)} ({sizes[sheet]:,} rows)"


# --------------------------------------------------------------------------- the columns


def _sample(spark: SparkSession, path: str, delivery: Delivery) -> tuple[DataFrame, dict]:
    """Up to SAMPLE_ROWS rows as text, and each column's XML path (if any)."""
    provisional = DatasetContract.model_construct(
        format=delivery.format,
        encoding=delivery.encoding,
        compression=delivery.compression,
        row_tag=delivery.row_tag,
        sheet=delivery.sheet,
        columns=[],
    )
    if delivery.format != "xml":
        return read_extract(spark, path, provisional).limit(SAMPLE_ROWS), {}
    df = read_xml(spark, path, provisional).limit(SAMPLE_ROWS)
    leaves = list(_leaves(df.schema, []))
    short = [p[-1].lstrip("@") for p in leaves]
    cols, paths = [], {}
    for parts, last in zip(leaves, short, strict=True):
        name = last if short.count(last) == 1 else "_".join(p.lstrip("@") for p in parts)
        name = re.sub(r"[^a-z0-9_]", "_", name.lower())
        cols.append(F.col(".".join(f"`{p}`" for p in parts)).cast("string").alias(name))
        paths[name] = "/".join(parts)
    return df.select(*cols), paths


def _leaves(schema: StructType, prefix: list[str]):
    for f in schema.fields:
        if isinstance(f.dataType, StructType):
            yield from _leaves(f.dataType, [*prefix, f.name])
        else:
            yield [*prefix, f.name]


def _profile(df: DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The sample on the driver (one Spark job, which also applies ingest's own citizen-ID
    rules to every column), and per column the share of its non-empty values passing each
    test. The sample is small: the other tests run in pandas."""
    ids = [
        citizen_id_problem_as_sent(c).isNull().alias(f"__id{i}") for i, c in enumerate(df.columns)
    ]
    both = df.select(*[F.col(f"`{c}`") for c in df.columns], *ids).toPandas()
    sample = both[df.columns]
    provinces = sorted(province_codes())
    out = []
    for i, name in enumerate(df.columns):
        raw = sample[name]
        present = raw.notna() & (raw.astype("string").str.strip() != "")
        v = raw[present].astype(str)
        t = v.str.strip()
        digits = v.str.replace(r"[\s\-()]", "", regex=True)
        tests = {
            "citizen_id": both.loc[present, f"__id{i}"].astype(bool),
            "phone": digits.str.fullmatch(_PHONE),
            "email": v.str.lower().str.fullmatch(_EMAIL),
            "thai_name": v.str.fullmatch(_THAI_NAME),
            "latin_name": v.str.fullmatch(_LATIN_NAME),
            "address": v.str.contains(_ADDRESS) & (v.str.len() > 12),
            "record_no": v.str.fullmatch(_RECORD_NO),
            "long_code": t.str.fullmatch(r"[0-9]{10,}"),
            "date": pd.to_datetime(t.str.slice(0, 10), format="%Y-%m-%d", errors="coerce").notna()
            & t.str.match(r"[0-9]{4}-[0-9]{2}-[0-9]{2}"),
            "integer": t.str.fullmatch(r"-?[0-9]{1,9}"),
            "double": pd.to_numeric(t, errors="coerce").notna(),
            "boolean": t.str.lower().isin(["true", "false"]),
            "province": t.isin(provinces),
            "district": t.str.fullmatch(r"[0-9]{4}") & t.str.slice(0, 2).isin(provinces),
            "postcode": t.str.fullmatch(r"[0-9]{5}") & t.str.slice(0, 2).isin(provinces),
        }
        n = int(present.sum())
        years = t[tests["date"]].str.slice(0, 4)
        out.append(
            {
                "name": name,
                "present": n,
                "distinct": v.nunique() / n if n else 0.0,
                "years": (years.min(), years.max()) if len(years) else (None, None),
                **{
                    k: float(x.fillna(False).astype(bool).mean()) if n else 0.0
                    for k, x in tests.items()
                },
            }
        )
    return pd.DataFrame(out).set_index("name"), sample


def _pct(share: float) -> str:
    return f"{100 * share:.1f} %"


def classify(name: str, p: pd.Series, reference_year: int) -> Guess:
    """The column's class and type from its profile ``p``: identifiers first."""
    n = f"{int(p['present']):,} sampled values"
    if p["present"] == 0:
        return Guess(name, "string", "attribute", "# empty in the sample: TODO")
    if p["citizen_id"] >= MOST:
        return Guess(
            name, "string", "citizen_id", f"# {_pct(p['citizen_id'])} of {n} are valid citizen IDs"
        )
    for test, what in (("phone", "Thai phone numbers"), ("email", "e-mail addresses")):
        if p[test] >= MOST:
            return Guess(
                name, "string", "direct_identifier", f"# {_pct(p[test])} of {n} are {what}"
            )
    if p["address"] >= 0.5:
        return Guess(
            name,
            "string",
            "direct_identifier",
            f"# {_pct(p['address'])} of {n} look like street addresses",
        )
    distinct = p["distinct"] * p["present"]
    for test, what in (("thai_name", "Thai"), ("latin_name", "Latin")):
        if p[test] >= MOST and (p["distinct"] >= VARIED or distinct >= NAMES_DISTINCT):
            return Guess(
                name,
                "string",
                "direct_identifier",
                f"# {_pct(p[test])} of {n} are words in {what} script, {distinct:,.0f} "
                "distinct: person names",
            )
    if p["district"] >= MOST:
        return Guess(
            name,
            "string",
            "quasi_identifier",
            f"# {_pct(p['district'])} of {n} are district codes of known provinces",
            generalise=["province"],
            codes="district",
        )
    if p["postcode"] >= MOST and ("post" in name or "zip" in name):
        return Guess(
            name,
            "string",
            "quasi_identifier",
            f"# {_pct(p['postcode'])} of {n} are postcodes",
            generalise=["postcode_province"],
        )
    if p["date"] >= MOST:
        first, last = (int(y) if y and y.isdigit() else reference_year for y in p["years"])
        if (
            "birth" in name
            or reference_year - first > 40
            and "date" not in name.replace("birth", "")
        ):
            return Guess(
                name,
                "date",
                "quasi_identifier",
                f"# dates from {first} to {last}: a date of birth",
                generalise=["age_band_5y"],
            )
        return Guess(
            name, "date", "attribute", f"# {_pct(p['date'])} of {n} are dates ({first}–{last})"
        )
    if p["long_code"] >= MOST:
        return Guess(
            name,
            "string",
            "direct_identifier",
            f"# {_pct(p['long_code'])} of {n} are codes of 10 or more digits (house, account or "
            "card numbers)",
            record=True,
        )
    named = name.endswith(("_id", "_no", "_number", "_code")) and not name.endswith("province_code")
    if p["distinct"] >= MOST and (p["record_no"] >= MOST or named and p["integer"] >= MOST):
        return Guess(
            name,
            "string",
            "direct_identifier",
            f"# {_pct(p['distinct'])} of {n} are distinct codes: a record number",
            record=True,
        )
    if p["province"] >= MOST and p["distinct"] < VARIED:
        return Guess(
            name,
            "string",
            "attribute",
            f"# {_pct(p['province'])} of {n} are province codes",
            codes="province",
        )
    for test, kind in (("boolean", "boolean"), ("integer", "integer"), ("double", "double")):
        if p[test] >= MOST:
            return Guess(name, kind, "attribute", f"# {_pct(p[test])} of {n} are {kind} values")
    if p["distinct"] >= MOST and p["present"] >= 50:
        return Guess(
            name,
            "string",
            "direct_identifier",
            f"# {_pct(p['distinct'])} of {n} distinct: free text or a record number, dropped "
            "unless the steward says otherwise",
            record=True,
        )
    return Guess(name, "string", "attribute", f"# text, {_pct(p['distinct'])} of {n} distinct")


def _roles(guesses: list[Guess]) -> None:
    """Several citizen-ID columns: the subject is the one named like it, else the first; each
    other gets a role from its name."""
    ids = [g for g in guesses if g.field_class == "citizen_id"]
    if len(ids) < 2:
        return
    subject = next((g for g in ids if g.name == "citizen_id"), None)
    subject = subject or next((g for g in ids if "child" in g.name or "subject" in g.name), ids[0])
    for g in ids:
        if g is subject:
            continue
        word = next((w for w in _ROLE_WORDS if w in g.name), None)
        g.role = word or re.sub(r"_?(citizen_)?id$", "", g.name) or "other"
        g.evidence += f"; role {g.role!r} from the name (TODO: confirm, and if_invalid)"


def _key(sample: pd.DataFrame, guesses: list[Guess]) -> list[str]:
    """The fewest columns (up to three) whose values are unique in the sample: a record number
    or the citizen ID first, else codes and dates (a place-and-time dataset)."""
    order = sorted(
        guesses,
        key=lambda g: (
            g.field_class not in ("direct_identifier", "citizen_id"),
            g.role is not None,
            g.type in ("double",),
        ),
    )
    measures = ("integer", "double", "boolean")  # an amount or a count is not a key
    candidates = [g.name for g in order if g.type not in measures][:8]
    rows = sample.drop_duplicates()  # exact copies collapse at ingest
    for size in (1, 2, 3):
        for combo in itertools.combinations(candidates, size):
            part = rows[list(combo)]
            present = part.dropna()
            # A few faulty rows (an empty or shared ID) are the quarantine's, not the key's.
            if len(present) >= 0.99 * len(part) and present.duplicated().mean() <= 0.005:
                return list(combo)
    return []


@dataclass
class Draft:
    agency: str
    dataset: str
    delivery: Delivery
    columns: list[Guess]
    key: list[str]
    sampled: int

    def yaml(self) -> str:
        """The agency contract, with each guess's evidence as a comment."""
        d = self.delivery
        personal = any(g.field_class == "citizen_id" for g in self.columns)
        lines = [
            f"# DRAFT by `pooling contract draft` from {self.sampled:,} sampled rows: a data",
            "# steward confirms every class (and fills each TODO) before anything is ingested.",
            f"agency: {self.agency}",
            'name: "TODO: the agency\'s name"',
            'name_th: "TODO"',
            'steward: {unit: "TODO", contact: "TODO@example.go.th"}',
            "datasets:",
            f"  {self.dataset}:",
            f'    description: "TODO: what {self.dataset} holds"',
            f"    data_class: {'personal' if personal else 'official'}"
            + ("  # citizen IDs found" if personal else "  # no citizen ID found"),
            f"    format: {d.format}  # {d.evidence.get('format', '')}",
        ]
        if d.compression != "none":
            lines.append(f"    compression: {d.compression}")
        if d.format == "csv":
            lines.append(f"    encoding: {d.encoding}  # {d.evidence['encoding']}")
        if d.row_tag:
            lines.append(f"    row_tag: {d.row_tag}  # {d.evidence['row_tag']}")
        if d.sheet:
            lines.append(f"    sheet: {_scalar(d.sheet)}  # {d.evidence['sheet']}")
        lines += [
            f"    key: {_scalar(self.key)}  # unique in the sample",
            "    retention_days: 90  # TODO: as the data-sharing agreement says",
            "    update_frequency: ad_hoc  # TODO",
            "    load: replace",
            "    columns:",
        ]
        for g in self.columns:
            body = ", ".join(f"{k}: {_scalar(v)}" for k, v in g.entry().items())
            lines.append(f"      - {{{body}}}  {g.evidence}")
        return "\n".join(lines) + "\n"

    def contract(self) -> AgencyContract:
        """The draft as the strict model reads it (it must pass as it is)."""
        return AgencyContract.model_validate(yaml.safe_load(self.yaml()))


def _scalar(v: object) -> str:
    if isinstance(v, bool):
        return str(v).lower()
    if isinstance(v, list):
        return "[" + ", ".join(_scalar(x) for x in v) + "]"
    text = str(v)
    plain = re.fullmatch(r"[a-z_][a-z0-9_]*", text) and yaml.safe_load(text) == text
    return text if plain else yaml.safe_dump(text).split("\n")[0]  # "no" would read as false


def draft_contract(
    spark: SparkSession,
    path: str,
    *,
    agency: str | None = None,
    dataset: str | None = None,
    reference_year: int = 2026,
) -> Draft:
    """A draft contract for the extract at ``path`` (agency and dataset default to the last
    two folders of the path, as the landing zone lays extracts out)."""
    parts = [p for p in str(path).rstrip("/").split("/") if p]
    agency = agency or parts[-2]
    dataset = dataset or parts[-1]
    delivery = detect_delivery(Storage(spark), path)
    df, paths = _sample(spark, path, delivery)
    profile, sample = _profile(df)
    guesses = [classify(n, profile.loc[n], reference_year) for n in profile.index]
    for g in guesses:
        g.path = paths.get(g.name)
    _roles(guesses)
    if not any(g.field_class == "citizen_id" for g in guesses):
        for g in guesses:  # a reservoir's or a station's number identifies no person
            if g.record:
                g.field_class = "attribute"
                g.evidence += "; no citizen ID in this dataset: it numbers things, not people"
    key = _key(sample, guesses)
    for g in guesses:
        g.mandatory = g.name in key and g.field_class != "citizen_id"
    return Draft(agency, dataset, delivery, guesses, key, len(sample))
