"""Files outside Delta, on whatever store the zones are on: Hadoop's ``FileSystem`` API.

The same API, URIs, credentials and configuration Spark uses for the tables (``file:``,
``hdfs://``, ``s3a://``, …), reached through the session's JVM, so a data root that Spark can
write is one this module can write. Bytes that can be large (an extract's checksum) stay in the
JVM: they are streamed there, never copied into Python.

A bare path (no scheme) is a local path, as everywhere in the configuration.
"""

from __future__ import annotations

import fcntl
import io
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from py4j.protocol import Py4JJavaError
from pyspark.sql import SparkSession

log = logging.getLogger("pooling.storage")
_CHUNK = 1 << 20
_ATOMIC_RENAME = ("file", "hdfs", "viewfs")


@dataclass(frozen=True)
class Entry:
    uri: str
    name: str
    is_dir: bool
    size: int


class Storage:
    """One session's view of the stores. Cheap to make; holds no state but the session."""

    def __init__(self, spark: SparkSession):
        self._jvm = spark._jvm  # noqa: SLF001  (py4j is the way to Hadoop's FileSystem)
        self._conf = spark._jsc.hadoopConfiguration()  # noqa: SLF001
        self._gateway = spark.sparkContext._gateway  # noqa: SLF001  (for Java arrays)

    # -- paths

    def _path(self, uri: str):
        return self._jvm.org.apache.hadoop.fs.Path(
            uri if "://" in uri or uri.startswith("file:") else f"file://{uri}"
        )

    def _fs(self, uri: str):
        path = self._path(uri)
        fs = path.getFileSystem(self._conf)
        if fs.getUri().getScheme() == "file":  # raw: no ".name.crc" written beside each file
            fs = fs.getRaw()
        return fs, path

    def qualified(self, uri: str) -> str:
        """The URI as the store names it (scheme and authority filled in), for comparing."""
        fs, path = self._fs(uri)
        return str(fs.makeQualified(path).toString())

    # -- questions

    def renames_atomically(self, uri: str) -> bool:
        """Whether a rename on this store is one atomic step (local disk, HDFS), not the copy and
        delete of an object store (S3), which a reader can see halfway."""
        fs, _ = self._fs(uri)
        return fs.getUri().getScheme() in _ATOMIC_RENAME

    def exists(self, uri: str) -> bool:
        fs, path = self._fs(uri)
        return bool(fs.exists(path))

    def is_dir(self, uri: str) -> bool:
        fs, path = self._fs(uri)
        return bool(fs.exists(path) and fs.getFileStatus(path).isDirectory())

    def list(self, uri: str) -> list[Entry]:
        """The entries directly in a folder, by name; nothing if it does not exist."""
        fs, path = self._fs(uri)
        if not fs.exists(path):
            return []
        return sorted((self._entry(status) for status in fs.listStatus(path)), key=lambda e: e.name)

    def files(self, uri: str) -> list[Entry]:
        """Every file under a folder (or the file itself), by path; none if it does not exist."""
        fs, path = self._fs(uri)
        if not fs.exists(path):
            return []
        found = []
        listing = fs.listFiles(path, True)
        while listing.hasNext():
            found.append(self._entry(listing.next()))
        return sorted(found, key=lambda e: e.uri)

    @staticmethod
    def _entry(status) -> Entry:
        p = status.getPath()
        return Entry(p.toString(), p.getName(), bool(status.isDirectory()), int(status.getLen()))

    # -- reading and writing

    def read_bytes(self, uri: str) -> bytes:
        fs, path = self._fs(uri)
        stream = fs.open(path)
        try:
            out = self._jvm.java.io.ByteArrayOutputStream()
            self._jvm.org.apache.hadoop.io.IOUtils.copyBytes(stream, out, _CHUNK, False)
            return bytes(out.toByteArray())
        finally:
            stream.close()

    def open_read(self, uri: str) -> io.BufferedReader:
        """The file as a Python binary stream, read from the store a megabyte at a time."""
        fs, path = self._fs(uri)
        return io.BufferedReader(_JavaInput(fs.open(path)), _CHUNK)

    def open_write(self, uri: str) -> io.BufferedWriter:
        """A new file (replacing any), written through a Python binary stream."""
        fs, path = self._fs(uri)
        return io.BufferedWriter(_JavaOutput(fs.create(path, True)), _CHUNK)

    def read_text(self, uri: str) -> str:
        return self.read_bytes(uri).decode("utf-8")

    def write_bytes(self, uri: str, data: bytes) -> None:
        """Replace the file with ``data``, whole: written beside it, then renamed over it in one
        step where the store renames atomically (local, HDFS); written in place on an object
        store, whose single PUT is atomic already."""
        fs, path = self._fs(uri)
        fs.mkdirs(path.getParent())
        scheme = fs.getUri().getScheme()
        atomic = scheme in _ATOMIC_RENAME
        Path = self._jvm.org.apache.hadoop.fs.Path
        target = Path(path.getParent(), f".{path.getName()}.partial") if atomic else path
        stream = fs.create(target, True)
        try:
            stream.write(bytearray(data))
        finally:
            stream.close()
        if scheme == "file":  # rename(2) replaces the old file in one step
            moved = fs.rename(target, path)
        elif atomic:  # HDFS's rename replaces only when asked to
            context = self._jvm.org.apache.hadoop.fs.FileContext.getFileContext(
                path.toUri(), self._conf
            )
            rename = getattr(self._jvm, "org.apache.hadoop.fs.Options$Rename")
            options = self._gateway.new_array(rename, 1)
            options[0] = rename.OVERWRITE
            context.rename(target, path, options)
            moved = True
        else:
            moved = True
        if not moved:
            raise OSError(f"could not move {target.toString()} to {uri}")

    def write_text(self, uri: str, text: str) -> None:
        self.write_bytes(uri, text.encode("utf-8"))

    def mkdirs(self, uri: str) -> None:
        fs, path = self._fs(uri)
        fs.mkdirs(path)

    def rename(self, source: str, target: str) -> None:
        fs, src = self._fs(source)
        try:
            moved = bool(fs.rename(src, self._path(target)))
        except Py4JJavaError as e:  # the local store raises where HDFS and S3 answer False
            if e.java_exception.getClass().getSimpleName() != "FileNotFoundException":
                raise
            moved = False
        if not moved:
            raise OSError(f"could not rename {source} to {target}")

    def delete(self, uri: str, *, recursive: bool = False) -> bool:
        fs, path = self._fs(uri)
        return bool(fs.delete(path, recursive))

    # -- checksums

    def sha256(self, root: str, files: list[Entry]) -> str:
        """SHA-256 over each file's name relative to ``root`` (its own name when ``root`` is the
        file) and then its bytes, in the order given. Streamed in the JVM."""
        digest = self._jvm.java.security.MessageDigest.getInstance("SHA-256")
        base = self._path(root).toString().rstrip("/") + "/"
        sink = self._jvm.org.apache.commons.io.output.NullOutputStream.INSTANCE
        for entry in files:
            name = entry.uri[len(base) :] if entry.uri.startswith(base) else entry.name
            digest.update(bytearray(name.encode("utf-8")))
            fs, path = self._fs(entry.uri)
            stream = self._jvm.java.security.DigestInputStream(fs.open(path), digest)
            self._jvm.org.apache.hadoop.io.IOUtils.copyBytes(stream, sink, _CHUNK, True)
        return bytes(digest.digest()).hex()


@contextmanager
def local_commit_lock(path: str, *, waiting: str | None = None) -> Iterator[None]:
    """On a local disk, hold an exclusive lock across processes while committing to a table that
    several processes write (the audit register: every job, the SQL endpoint, two ingests at once).
    ``waiting``, when given, is logged if another process holds the lock.

    Delta's optimistic concurrency relies on the log store writing ``_delta_log/N.json`` only if
    it is absent. HDFS, ADLS and GCS do that atomically, so there Delta's own retry is enough (S3
    needs the DynamoDB log store or a single writer, see the README). Hadoop's local file system
    checks, then renames: atomic within one JVM only, so two drivers on one machine could both
    write version N and one commit would vanish. An ``flock`` on a file beside the table closes
    that window; on every other store this is a no-op.
    """
    if "://" in path and not path.startswith("file:/"):
        yield
        return
    table = Path(path.removeprefix("file:"))
    table.parent.mkdir(parents=True, exist_ok=True)
    with (table.parent / f".{table.name}.lock").open("a") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if waiting:
                log.info("%s", waiting)
            fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


class _JavaInput(io.RawIOBase):
    """A Java ``InputStream`` as a Python raw stream (``readNBytes`` returns bytes by value)."""

    def __init__(self, stream):
        self._stream = stream

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        chunk = bytes(self._stream.readNBytes(len(buffer)))
        buffer[: len(chunk)] = chunk
        return len(chunk)

    def close(self) -> None:
        if not self.closed:
            self._stream.close()
        super().close()


class _JavaOutput(io.RawIOBase):
    def __init__(self, stream):
        self._stream = stream

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:
        self._stream.write(bytearray(data))
        return len(data)

    def close(self) -> None:
        if not self.closed:
            self._stream.close()
        super().close()
