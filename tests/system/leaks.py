"""Raw identifiers read from the landing zone, independently of the pipeline's readers, and
searched for in every file of the zones that must hold none (de-identified, pools, outputs,
released, audit): shared by the whole job's test and the one-project job's test."""

from pathlib import Path

import pyarrow.parquet as pq

REPO = Path(__file__).resolve().parents[2]

RAW_COLUMNS = ("citizen_id", "first_name", "last_name", "phone", "address", "house_id")
RAW_COLUMNS += tuple(
    f"{p}_{c}" for p in ("child", "mother", "father") for c in ("citizen_id", "name")
)


def raw_table(f: Path, meta: dict) -> dict[str, list]:
    """One landing file's values by column (for XML, the leaves of each person element, named
    <element>_<leaf>), read independently of the pipeline's readers."""
    import gzip
    import io
    import xml.etree.ElementTree as ET

    import pyarrow as pa
    import pyarrow.csv as pcsv
    import pyarrow.json as pjson
    from openpyxl import load_workbook

    data = f.read_bytes()
    if meta["compression"] == "gzip":
        data = gzip.decompress(data)
    fmt = meta["format"]
    if fmt == "xml":
        leaves: dict[str, list] = {c: [] for c in RAW_COLUMNS}
        for record in ET.fromstring(data):
            for who in record:
                for leaf in who:
                    name = f"{who.tag}_{leaf.tag}"
                    if name in leaves and leaf.text:
                        leaves[name].append(leaf.text)
        return leaves
    if fmt == "xlsx":
        rows = load_workbook(io.BytesIO(data), read_only=True).active.iter_rows(values_only=True)
        header = next(rows)
        out: dict[str, list] = {h: [] for h in header}
        for row in rows:
            for h, v in zip(header, row, strict=True):
                out[h].append(None if v is None else str(v))
        return out
    if fmt == "csv":
        table = pcsv.read_csv(
            pa.BufferReader(data),
            read_options=pcsv.ReadOptions(encoding=meta["encoding"]),
            convert_options=pcsv.ConvertOptions(
                column_types={c: "string" for c in ("citizen_id", "phone")}
            ),
        )
    elif fmt == "json":
        table = pjson.read_json(pa.BufferReader(data))
    else:
        table = pq.read_table(f)
    return {c: table.column(c).to_pylist() for c in table.column_names}


def raw_values(landing: Path, manifest: dict) -> set[str]:
    """Every citizen ID (as sent and canonical), name, phone and address in the extracts."""
    values: set[str] = set()
    for meta in manifest["datasets"].values():
        for f in (landing / meta["path"]).glob("part-*"):
            columns = raw_table(f, meta)
            for col in RAW_COLUMNS:
                values.update(str(v) for v in columns.get(col, ()) if v)
    values.update(v.replace("-", "").strip() for v in list(values) if v[:1].isdigit())
    return {v for v in values if len(v) >= 4}


def assert_read_from_the_harder_deliveries(landing: Path, manifest: dict) -> None:
    """The raw values were read from the XML births (the mothers), the Excel names and the
    TIS-620 names too, so a search for them cannot pass for want of values."""
    for name, column in (
        ("interior.births", "mother_citizen_id"),
        ("social_development.disability_registry", "first_name"),
        ("social_development.elderly_registry", "last_name"),
    ):
        meta = manifest["datasets"][name]
        f = next((landing / meta["path"]).glob("part-*"))
        assert raw_table(f, meta)[column], name


def files_outside_landing_and_linkage(data: Path, raw: set[str]) -> int:
    """Fail on the first file under ``data`` outside the landing and linkage zones that holds a
    value of ``raw``; return how many files were searched."""
    # Table metadata quotes the contracts' descriptions; a surname that is also an ordinary word
    # of a description (e.g. เกษตร, "agriculture") is not a leak there, so text files are checked
    # for raw values that the configuration does not itself contain.
    conf_text = "".join(p.read_text(encoding="utf-8") for p in (REPO / "conf").rglob("*.yaml"))
    raw_in_text = {v for v in raw if v not in conf_text}
    checked_files = 0
    for zone in ("deidentified", "pools", "outputs", "released", "audit"):
        for f in (data / zone).rglob("*"):
            if not f.is_file():
                continue
            checked_files += 1
            if f.suffix == ".parquet":
                t = pq.read_table(f)
                cells = {str(v) for c in t.columns for v in c.to_pylist() if v is not None}
                leaked = cells & raw
            else:
                text = f.read_bytes().decode("utf-8", errors="replace")
                leaked = {v for v in raw_in_text if v in text}
            assert not leaked, f"{f} holds raw identifiers, e.g. {sorted(leaked)[:1]!r:.8}..."
    return checked_files
