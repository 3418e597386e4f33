"""The edge of ingest: an extract's files in the landing zone, read as strings, or a named error.

Reading never types a value (a bad one quarantines its row later, it does not fail the job) and
never lets Spark's message about a damaged file through: that message can quote the bytes.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager

from py4j.protocol import Py4JJavaError
from pyspark.errors.exceptions.captured import CapturedException
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from pooling.core.errors import ExtractNotFoundError, ExtractUnreadableError, InternalError
from pooling.core.storage import Entry, Storage


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
def unreadable_as_error(spark: SparkSession, path: str, fmt: str, where: str) -> Iterator[None]:
    """Turn Spark's failure to read a damaged file into an error that names the file.

    Spark's own message is dropped, not chained: it can quote the bytes it choked on. When it
    does not name the file (JSON schema inference does not), each file is read on its own to
    find it: this costs time only on the way to an error.
    """
    try:
        yield
    except (CapturedException, Py4JJavaError) as e:
        condition = _unreadable(e)
        if condition is None:
            raise
        files = data_files(Storage(spark), path)
        text = str(e)
        damaged = [f for f in files if f.uri.removeprefix("file:") in text] or [
            f for f in files if not _readable(spark, f.uri, fmt)
        ]
        which = f"file {damaged[0].name}" if damaged else "a data file"
        raise ExtractUnreadableError(
            f"{where}: {which} cannot be read as {fmt} ({condition}): the extract is damaged or "
            "not in its contract's format. Nothing was written."
        ) from None


def _readable(spark: SparkSession, file: str, fmt: str) -> bool:
    try:
        read_extract(spark, file, fmt).count()
    except (CapturedException, Py4JJavaError) as e:
        if _unreadable(e) is None:
            raise
        return False
    return True


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
        # A line that is not JSON means the file is damaged (cut off, mixed up): refuse the
        # extract, rather than quarantine a row whose fields cannot be told apart.
        df = spark.read.option("primitivesAsString", True).option("mode", "FAILFAST").json(path)
    elif fmt == "parquet":
        df = spark.read.parquet(path)
    else:
        raise InternalError(f"unsupported format {fmt!r} passed the contract model")
    # A UTF-8 byte-order mark ends up in the first CSV header; strip it from the names.
    renamed = {c: c.lstrip("\ufeff").strip() for c in df.columns}
    return df.select(*[F.col(f"`{c}`").cast("string").alias(n) for c, n in renamed.items()])
