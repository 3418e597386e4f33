"""The cross-process lock that serialises commits to the shared audit table on a local disk."""

import subprocess
import sys
from pathlib import Path

from pooling.core.storage import local_commit_lock

TRY_LOCK = """
import fcntl, sys
with open(sys.argv[1], "a") as fh:
    try:
        fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        print("got")
    except BlockingIOError:
        print("blocked")
"""


def _other_process_tries(lock: Path) -> str:
    done = subprocess.run(
        [sys.executable, "-c", TRY_LOCK, str(lock)], capture_output=True, text=True, check=True
    )
    return done.stdout.strip()


def test_another_process_waits_while_a_commit_holds_the_lock(tmp_path):
    table = tmp_path / "audit" / "events"
    lock = table.parent / ".events.lock"
    with local_commit_lock(str(table)):
        assert _other_process_tries(lock) == "blocked"
    assert _other_process_tries(lock) == "got"
    with local_commit_lock(f"file://{table}"):  # a file: URI is the same table
        assert _other_process_tries(lock) == "blocked"


def test_storage_with_atomic_commits_needs_no_lock(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with local_commit_lock("hdfs://namenode:8020/pooling/audit/events"):
        pass
    assert not list(tmp_path.rglob("*"))
