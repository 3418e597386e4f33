"""The storage layer over Hadoop's FileSystem, on the local store (HDFS and S3 in the system
tests): what it writes is what it reads, a listing says what is there, and the checksum streamed
in the JVM is the one ingest has always recorded."""

import hashlib

import pytest

from pooling.core.storage import Storage


def _python_sha256(root, files):
    h = hashlib.sha256()
    for f in files:
        h.update(str(f.relative_to(root)).encode())
        h.update(f.read_bytes())
    return h.hexdigest()


@pytest.fixture
def storage(spark_session):
    return Storage(spark_session)


def test_written_bytes_read_back_whole_and_nothing_else_is_left(storage, tmp_path):
    target = tmp_path / "runs" / "r1" / "report.md"
    storage.write_text(str(target), "# รายงาน\n")
    storage.write_text(str(target), "# report, second version\n")  # replaces, whole
    assert storage.read_text(str(target)) == "# report, second version\n"
    assert target.read_text() == "# report, second version\n"  # the same file, seen locally
    # No partial file left, and no ".report.md.crc" beside it (Hadoop's checksummed local store
    # would write one, and released/ would hand it out): listed raw, and seen locally.
    assert [e.name for e in storage.list(str(target.parent))] == ["report.md"]
    assert [p.name for p in target.parent.iterdir()] == ["report.md"]
    assert storage.exists(f"file://{target}") and storage.exists(f"file:{target}")


def test_listing_files_and_folders(storage, tmp_path):
    (tmp_path / "a" / "b").mkdir(parents=True)
    (tmp_path / "a" / "x.csv").write_bytes(b"1")
    (tmp_path / "a" / "b" / "y.csv").write_bytes(b"22")
    listed = storage.list(str(tmp_path / "a"))
    assert [(e.name, e.is_dir) for e in listed] == [("b", True), ("x.csv", False)]
    assert [(e.name, e.size) for e in storage.files(str(tmp_path / "a"))] == [
        ("y.csv", 2),
        ("x.csv", 1),
    ]
    assert storage.list(str(tmp_path / "missing")) == []
    assert storage.is_dir(str(tmp_path / "a")) and not storage.is_dir(str(tmp_path / "a/x.csv"))


def test_rename_and_delete(storage, tmp_path):
    storage.write_text(str(tmp_path / "staging" / "t.csv"), "x")
    storage.rename(str(tmp_path / "staging"), str(tmp_path / "released"))
    assert (tmp_path / "released" / "t.csv").read_text() == "x"
    assert not (tmp_path / "staging").exists()
    assert storage.delete(str(tmp_path / "released"), recursive=True)
    assert not (tmp_path / "released").exists()
    with pytest.raises(OSError, match="could not rename"):
        storage.rename(str(tmp_path / "nothing"), str(tmp_path / "elsewhere"))


def test_the_checksum_streamed_in_the_jvm_is_ingests_checksum(storage, tmp_path):
    root = tmp_path / "extract"
    (root / "part").mkdir(parents=True)
    (root / "a.csv").write_bytes(b"citizen_id,x\n" * 1000)
    (root / "part" / "b.csv").write_bytes(bytes(range(256)) * 5000)  # more than one chunk
    files = [root / "a.csv", root / "part" / "b.csv"]
    entries = storage.files(str(root))
    before = storage.sha256(str(root), entries)
    assert before == _python_sha256(root, files)
    one = storage.files(str(root / "a.csv"))
    assert storage.sha256(str(root / "a.csv"), one) == _python_sha256(root, files[:1])
    (root / "a.csv").write_bytes(b"citizen_id,x\n" * 999)  # positive control: a change shows
    assert storage.sha256(str(root), storage.files(str(root))) != before


def test_the_catalog_finds_every_table_folder_through_the_storage_layer(storage, tmp_path):
    from pooling.ops.catalog import delta_tables

    for table in ("low_income/welfare_registry", "low_income/justice_records", "water/plots"):
        (tmp_path / table / "_delta_log").mkdir(parents=True)
        (tmp_path / table / "_delta_log" / f"{0:020d}.json").write_text("{}")
        (tmp_path / table / "part-0.parquet").write_bytes(b"x")
    (tmp_path / "water" / "plots" / "province_code=10" / "_delta_log").mkdir(parents=True)
    (tmp_path / "empty" / "folder").mkdir(parents=True)
    # A log without a commit: a first write that never landed, or what a store kept of a table.
    (tmp_path / "gone" / "table" / "_delta_log" / "_staged_commits").mkdir(parents=True)
    (tmp_path / "low_income" / ".staging-1" / "t" / "_delta_log").mkdir(parents=True)
    (tmp_path / "low_income" / ".staging-1" / "t" / "_delta_log" / f"{0:020d}.json").touch()
    assert delta_tables(storage, str(tmp_path)) == [
        ("low_income", "justice_records"),
        ("low_income", "welfare_registry"),
        ("water", "plots"),  # a table's own folders are not tables of their own
    ]
    assert delta_tables(storage, str(tmp_path / "missing")) == []
