"""Writing the extracts and ``manifest.json`` (the ground truth), deterministically.

The same plan gives the same bytes: files are hash-partitioned by the record key, sorted by all
their columns and renamed ``part-00000.<ext>`` ...; Spark's bookkeeping files are removed.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import logging
import math
import re
import time
import zipfile
from collections.abc import Callable, Collection
from dataclasses import asdict

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.storagelevel import StorageLevel

from pooling.core import parallel
from pooling.core.storage import Storage
from pooling.dev.synth.extracts import Extract, ExtractSpec, Synthetic
from pooling.dev.synth.faults import STRAY
from pooling.dev.synth.plan import SynthPlan
from pooling.dev.synth.truth import TRUTH_COLUMNS, TRUTHS, Accepted, accepted_rows, fault_counts

log = logging.getLogger("pooling.synth")  # the name it had before the layout: logs are read by it

PERSONS_PER_FILE = 1_000_000


def _files(plan: SynthPlan, extract: Extract) -> int:
    if not extract.spec.person_level:
        return 1
    return max(1, math.ceil(plan.persons / PERSONS_PER_FILE))


def _write(extract: Extract, rows: DataFrame, path: str, n_files: int) -> None:
    """Write deterministically: hash-partitioned by the record key, each file sorted by all its
    columns, files renamed part-00000.<ext> ..., Spark's bookkeeping files removed."""
    storage = Storage(rows.sparkSession)
    spec = extract.spec
    cols = extract.columns
    df = rows.select(*cols).repartition(n_files, *spec.key).sortWithinPartitions(*cols)
    recode = spec.format == "csv" and spec.encoding != "utf-8"
    if recode:  # written in UTF-8 with the stray-line mark last, then re-encoded line by line
        df = rows.select(*cols, STRAY).repartition(n_files, *spec.key).sortWithinPartitions(*cols)
    if spec.format == "xlsx":
        _write_workbook(storage, extract, df, path)
        return
    writer = df.write.mode("overwrite")
    if spec.compression == "gzip":
        writer = writer.option("compression", "gzip")
    if spec.format == "csv":
        writer.option("header", True).option("encoding", "UTF-8").csv(path)
    elif spec.format == "json":
        writer.json(path)
    elif spec.format == "xml":
        nested = df.select(*_xml_elements(spec, cols))
        writer = nested.write.mode("overwrite").option("compression", spec.compression)
        writer.format("xml").option("rowTag", spec.row_tag).option("rootTag", spec.dataset).option(
            "attributePrefix", "@"
        ).save(path)
    else:
        writer.parquet(path)
    for f in storage.list(path):
        if f.name.startswith("part-"):
            target = f"{path}/{f.name[:10]}{spec.extension}"
            if recode:
                _recode(storage, f.uri, target, spec.encoding)
            elif spec.format == "csv" and (spec.bom or spec.crlf):
                _rewrite_text(storage, f.uri, target, bom=spec.bom, crlf=spec.crlf)
            else:
                storage.rename(f.uri, target)
        else:
            storage.delete(f.uri, recursive=True)  # _SUCCESS, .crc files, S3's _temporary/


def _xml_elements(spec: ExtractSpec, cols: list[str]) -> list[Column]:
    """The record's columns nested as its XML paths say: "child/name" becomes the field name
    of a struct child; "@no" an attribute. A column with no path is an element of its name."""
    paths = dict(spec.xml_paths)
    tree: dict[str, object] = {}
    for c in cols:
        parts = paths.get(c, c).split("/")
        node = tree
        for part in parts[:-1]:
            node = node.setdefault(part, {})  # type: ignore[assignment]
        node[parts[-1]] = F.col(c)  # type: ignore[index]

    def build(node: dict[str, object]) -> list[Column]:
        return [
            (F.struct(*build(v)) if isinstance(v, dict) else v).alias(k)  # type: ignore[union-attr]
            for k, v in node.items()
        ]

    return build(tree)


def _write_workbook(storage: Storage, extract: Extract, df: DataFrame, path: str) -> None:
    """An Excel workbook as an agency's office software saves one: citizen IDs and whole
    numbers in number cells (as Excel turns a typed 13-digit ID into a number), valid dates in
    date cells, the rest as text. Spark has no Excel writer; a sheet is at most a million rows,
    so it is written on the driver. Its bytes are made reproducible (no save time inside)."""
    from openpyxl import Workbook

    book = Workbook(write_only=True)
    sheet = book.create_sheet(extract.spec.sheet)
    cols = list(df.columns)
    sheet.append(cols)
    for row in df.toLocalIterator():
        sheet.append([_as_excel(c, row[c]) for c in cols])
    book.properties.creator = extract.spec.agency
    raw = io.BytesIO()
    book.save(raw)
    storage.delete(path, recursive=True)
    storage.write_bytes(f"{path}/part-00000{extract.spec.extension}", _reproducible(raw.getvalue()))


def _as_excel(column: str, value: object) -> object:
    if isinstance(value, str) and re.fullmatch(r"[1-8][0-9]{12}", value):
        return int(value)  # a citizen ID, as Excel stores a typed one
    if isinstance(value, str) and re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", value):
        try:
            return dt.datetime.strptime(value, "%Y-%m-%d")
        except ValueError:
            return value
    if isinstance(value, dt.date):
        return dt.datetime(value.year, value.month, value.day)
    return value


_FIXED = dt.datetime(2025, 1, 1)


def _reproducible(xlsx: bytes) -> bytes:
    """The workbook with every zip entry's time and the document's save times fixed."""
    stamp = _FIXED.strftime("%Y-%m-%dT%H:%M:%SZ")
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(xlsx)) as src, zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            data = src.read(info.filename)
            if info.filename == "docProps/core.xml":
                data = re.sub(
                    rb"(<dcterms:(created|modified)[^>]*>)[^<]*", rb"\g<1>" + stamp.encode(), data
                )
            fixed = zipfile.ZipInfo(info.filename, date_time=_FIXED.timetuple()[:6])
            fixed.compress_type = zipfile.ZIP_DEFLATED
            dst.writestr(fixed, data)
    return out.getvalue()


def _recode(storage: Storage, source: str, target: str, encoding: str) -> None:
    """A UTF-8 CSV whose last column is the stray-line mark, as a legacy system's export: every
    line in ``encoding`` but the marked ones, which stay UTF-8 (pasted in from elsewhere)."""
    codec = {"tis-620": "tis-620", "windows-874": "cp874"}[encoding]
    with storage.open_read(source) as src, storage.open_write(target) as dst:
        for number, line in enumerate(src):
            text, mark = line.rstrip(b"\n").rsplit(b",", 1)
            stray = number > 0 and mark == b"true"
            dst.write(text + b"\n" if stray else text.decode("utf-8").encode(codec) + b"\n")
    storage.delete(source)


def _rewrite_text(storage: Storage, source: str, target: str, *, bom: bool, crlf: bool) -> None:
    """Add a UTF-8 byte-order mark and/or Windows line ends, as some agencies' exports have."""
    with storage.open_read(source) as src, storage.open_write(target) as dst:
        if bom:
            dst.write(b"\xef\xbb\xbf")
        for line in src:
            dst.write(line[:-1] + b"\r\n" if crlf and line.endswith(b"\n") else line)
    storage.delete(source)


def write_extracts(
    synthetic: Synthetic,
    out_dir: str,
    progress: Callable[[str], None] = log.info,
    *,
    datasets: Collection[str] | None = None,
    truths: Collection[str] | None = None,
    workers: int = parallel.DEFAULT_WORKERS,
) -> dict[str, object]:
    """Write the extracts under ``out_dir/<agency>/<dataset>/`` and ``out_dir/manifest.json``
    (the ground truth). Returns the manifest.

    ``datasets`` ("agency.dataset") and ``truths`` (names in :data:`TRUTHS`) narrow it to what one
    project needs (the pipeline benchmark); by default everything is written. A truth needs the
    extracts it is computed from. The extracts, then the truths, go ``workers`` at a time, as the
    demo's stages do: a small extract's write is mostly driver time (planning, the rename of its
    files), which another's tasks fill. Each file's bytes depend on its plan only, never on the
    order they are written in.
    """
    unknown = sorted(set(datasets or ()) - set(synthetic.extracts)) + sorted(
        set(truths or ()) - set(TRUTHS)
    )
    if unknown:
        raise ValueError(f"unknown extract or truth name(s) {unknown}")
    out_dir = str(out_dir).rstrip("/")
    spark = synthetic.people.sparkSession
    storage = Storage(spark)
    storage.delete(out_dir, recursive=True)
    accepted: Accepted = {}  # one key per extract, each set by the thread writing it

    def write_one(_: SparkSession, name: str) -> dict[str, object]:
        t0 = time.monotonic()
        extract = synthetic.extracts[name]
        spec = extract.spec
        # Computed once: written, counted, and its accepted rows kept for the ground truth.
        rows = extract.rows.persist(StorageLevel.MEMORY_AND_DISK)
        _write(
            extract,
            rows,
            f"{out_dir}/{spec.agency}/{spec.dataset}",
            _files(synthetic.plan, extract),
        )
        counts = fault_counts(extract, rows)
        if name in TRUTH_COLUMNS:
            kept = accepted_rows(rows).select(*TRUTH_COLUMNS[name])
            kept = kept.persist(StorageLevel.MEMORY_AND_DISK)
            kept.count()
            accepted[name] = kept
        rows.unpersist()
        progress(
            f"synth {name}: {counts['rows']:,} rows ({spec.format}) in {time.monotonic() - t0:.1f}s"
        )
        return {
            "format": spec.format,
            "path": f"{spec.agency}/{spec.dataset}",
            "person_level": spec.person_level,
            "bom": spec.bom,
            "crlf": spec.crlf,
            "encoding": spec.encoding,
            "compression": spec.compression,
            **counts,
        }

    def truth_one(_: SparkSession, name: str) -> list[dict[str, object]]:
        df = TRUTHS[name](synthetic.people, accepted)
        return [r.asDict() for r in df.orderBy(*df.columns[:3]).collect()]

    names = [n for n in synthetic.extracts if datasets is None or n in datasets]
    try:
        written = parallel.each(spark, names, write_one, workers=workers)
        t0 = time.monotonic()
        wanted = [t for t in TRUTHS if truths is None or t in truths]
        found = parallel.each(spark, wanted, truth_one, workers=workers)
    finally:
        for df in accepted.values():
            df.unpersist()
    progress(f"synth ground truth in {time.monotonic() - t0:.1f}s")
    manifest: dict[str, object] = {
        "plan": asdict(synthetic.plan),
        "datasets": {n: entry for n, (entry, _) in zip(names, written, strict=True)},
        "truth": {t: cells for t, (cells, _) in zip(wanted, found, strict=True)},
    }
    text = json.dumps(manifest, indent=1, ensure_ascii=False, default=str, sort_keys=True)
    storage.write_text(f"{out_dir}/manifest.json", text + "\n")
    return manifest
