"""The edge of ingest: an extract's files in the landing zone, read as strings, or a named error.

Reading never types a value (a bad one quarantines its row later, it does not fail the job) and
never lets Spark's message about a damaged file through: that message can quote the bytes.
"""

from __future__ import annotations

import datetime as dt
import gzip
import io
import re
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager

import pandas as pd
from py4j.protocol import Py4JJavaError
from pyspark.errors.exceptions.captured import CapturedException
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from pooling.core.config import DatasetContract
from pooling.core.errors import (
    ContractError,
    ExtractNotFoundError,
    ExtractUnreadableError,
    InternalError,
)
from pooling.core.storage import Entry, Storage
from pooling.ingest.validate import MOJIBAKE, REPLACEMENT

# A contract's encoding, as Java (Spark's CSV reader) and Python (the line finder) name it.
JAVA_CHARSET = {"utf-8": "UTF-8", "tis-620": "TIS-620", "windows-874": "x-windows-874"}
PY_CODEC = {"utf-8": "utf-8", "tis-620": "tis-620", "windows-874": "cp874"}


def data_files(storage: Storage, path: str) -> list[Entry]:
    """The extract's data files in path order (Spark's ``_SUCCESS`` and hidden files aside)."""
    files = [f for f in storage.files(path) if not f.name.startswith((".", "_"))]
    if not files:
        raise ExtractNotFoundError(f"extract {path} does not exist or holds no data files")
    return files


def extract_checksum(storage: Storage, path: str) -> str:
    """SHA-256 over the extract's data files (relative name and bytes, in path order), streamed
    in the JVM from whichever store the landing zone is on."""
    return storage.sha256(path, data_files(storage, path))


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
def unreadable_as_error(
    spark: SparkSession, path: str, contract: DatasetContract, where: str
) -> Iterator[None]:
    """Turn Spark's failure to read a damaged file into an error that names the file.

    Spark's own message is dropped, not chained: it can quote the bytes it choked on. When it
    does not name the file (JSON schema inference does not), each file is read on its own to
    find it: this costs time only on the way to an error.
    """
    fmt = contract.format
    try:
        yield
    except (CapturedException, Py4JJavaError) as e:
        condition = _unreadable(e)
        if condition is None:
            raise
        files = data_files(Storage(spark), path)
        text = str(e)
        damaged = [f for f in files if f.uri.removeprefix("file:") in text] or [
            f for f in files if not _readable(spark, f.uri, contract)
        ]
        which = f"file {damaged[0].name}" if damaged else "a data file"
        raise ExtractUnreadableError(
            f"{where}: {which} cannot be read as {fmt} ({condition}): the extract is damaged or "
            "not in its contract's format. Nothing was written."
        ) from None


def _readable(spark: SparkSession, file: str, contract: DatasetContract) -> bool:
    try:
        read_extract(spark, file, contract).count()
    except (CapturedException, Py4JJavaError) as e:
        if _unreadable(e) is None:
            raise
        return False
    return True


def check_compression(files: list[Entry], contract: DatasetContract, where: str) -> None:
    """Spark decompresses by file name: a gzip contract's files must be named *.gz, and a file
    so named is gzip whatever the contract says. Either mismatch is refused, naming the file."""
    gz = contract.compression == "gzip"
    wrong = [f.name for f in files if f.name.endswith(".gz") != gz]
    if wrong:
        said = "gzip-compressed (*.gz)" if gz else "not compressed"
        raise ContractError(
            f"{where}: file {wrong[0]} is not named as its contract says ({said}); "
            f"{len(wrong)} of {len(files)} file(s) differ. Nothing was written."
        )


def read_extract(spark: SparkSession, path: str, contract: DatasetContract) -> DataFrame:
    """The extract with every column as a string: types are checked row by row later, so a bad
    value quarantines its row instead of failing the job or turning silently into null."""
    fmt = contract.format
    if fmt == "csv":
        df = (
            spark.read.option("header", True)
            .option("encoding", JAVA_CHARSET[contract.encoding])
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
    elif fmt == "xml":
        return _flattened(read_xml(spark, path, contract), contract)
    elif fmt == "xlsx":
        df = _read_xlsx(spark, path, contract)
    else:
        raise InternalError(f"unsupported format {fmt!r} passed the contract model")
    # A UTF-8 byte-order mark ends up in the first CSV header; strip it from the names.
    renamed = {c: c.lstrip("\ufeff").strip() for c in df.columns}
    return df.select(*[F.col(f"`{c}`").cast("string").alias(n) for c, n in renamed.items()])


# --------------------------------------------------------------------------- XML


def read_xml(spark: SparkSession, path: str, contract: DatasetContract) -> DataFrame:
    """Spark's own XML source: every leaf a string, a damaged record fails the read."""
    return (
        spark.read.format("xml")
        .option("rowTag", contract.row_tag)
        .option("inferSchema", False)
        .option("attributePrefix", "@")
        .option("valueTag", "#text")
        .option("mode", "FAILFAST")
        .load(path)
    )


def _flattened(df: DataFrame, contract: DatasetContract) -> DataFrame:
    """One column per contract column, taken from its path below the record's element; a
    top-level element no path reaches is kept, to be reported and dropped like a CSV's extra
    column. A path that is not in the file leaves its column out (check_columns names it)."""

    def field(parts: list[str]):
        fields = df.schema
        for part in parts:
            names = {f.name: f for f in getattr(fields, "fields", [])}
            if part not in names:
                return None
            fields = names[part].dataType
        return fields

    columns, used = [], set()
    for c in contract.columns:
        parts = (c.path or c.name).split("/")
        used.add(parts[0])
        kind = field(parts)
        if kind is None:
            continue
        ref = F.col(".".join(f"`{p}`" for p in parts))
        if hasattr(kind, "fields"):  # an element with attributes: its text is its value
            ref = ref.getField("#text")
        columns.append(ref.cast("string").alias(c.name))
    extra = [F.col(f"`{n}`").cast("string").alias(n) for n in df.columns if n not in used]
    return df.select(*columns, *extra)


# --------------------------------------------------------------------------- Excel


def _cell_text(value: object) -> str | None:
    """A cell as the text an agency meant: dates as ISO dates (a time only when there is one),
    numbers as Python writes them (an ID Excel made a number keeps its digits, with a ".0" the
    citizen-ID normalisation removes), booleans as true/false."""
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time() else value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)


def _read_xlsx(spark: SparkSession, path: str, contract: DatasetContract) -> DataFrame:
    """Excel workbooks, read at the edge with openpyxl (Spark has no Excel source): the
    contract's sheet, first row the header, every cell as text. A workbook is at most a million
    rows a sheet, so it is read on the driver and handed to Spark once."""
    from openpyxl import load_workbook

    storage, frames = Storage(spark), []
    for f in data_files(storage, path):
        data = storage.read_bytes(f.uri)
        if contract.compression == "gzip":
            data = gzip.decompress(data)
        try:
            book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
        except (zipfile.BadZipFile, KeyError, ValueError, OSError):
            raise ExtractUnreadableError(
                f"file {f.name} of {path} cannot be read as xlsx: the workbook is damaged or "
                "not an Excel workbook. Nothing was written."
            ) from None
        try:
            if contract.sheet not in book.sheetnames:
                raise ContractError(
                    f"file {f.name} of {path} has no sheet {contract.sheet!r}; its sheets are "
                    f"{book.sheetnames}. Nothing was written."
                )
            rows = book[contract.sheet].iter_rows(values_only=True)
            header = [str(h).strip() if h is not None else "" for h in next(rows, ())]
            body = [[_cell_text(v) for v in r] for r in rows if any(v is not None for v in r)]
        finally:
            book.close()
        frames.append(pd.DataFrame([r[: len(header)] for r in body], columns=header, dtype=object))
    names = list(frames[0].columns)
    if any(list(fr.columns) != names for fr in frames):
        raise ContractError(f"the workbooks of {path} do not share one header row")
    schema = ", ".join(f"`{n}` string" for n in names)
    return spark.createDataFrame(pd.concat(frames, ignore_index=True), schema)


# --------------------------------------------------------------------------- decoding


def first_bad_line(
    storage: Storage, files: list[Entry], contract: DatasetContract
) -> tuple[str, int] | None:
    """(file name, line number) of the first line that does not decode in the contract's
    encoding, or decodes to mojibake: streamed on the driver, only on the way to an error."""
    codec = PY_CODEC[contract.encoding]
    mojibake = re.compile(MOJIBAKE)
    for f in files:
        with storage.open_read(f.uri) as raw:
            stream = gzip.GzipFile(fileobj=raw) if contract.compression == "gzip" else raw
            for number, line in enumerate(stream, 1):
                try:
                    text = line.decode(codec)
                except UnicodeDecodeError:
                    return f.name, number
                if REPLACEMENT in text or mojibake.search(text):
                    return f.name, number
    return None
