"""Analysts' SQL access through a real client: beeline against `pooling serve` (the Spark Thrift
server) with LDAP authentication by a real OpenLDAP, and `pooling sql --as`.

Runs on the pools the shared demo fixture built. The
server is its own process (its driver needs the access rule on its class path); it is the only
writer of the audit table while it runs.
"""

import json
import os
import secrets
import socket
import subprocess
import sys
import time
from pathlib import Path

import pyspark
import pytest

REPO = Path(__file__).resolve().parents[2]
LDAP = REPO / ".cache" / "ldap" / "root"
BEELINE = Path(pyspark.__file__).parent / "bin" / "beeline"
POOLING = Path(sys.executable).parent / "pooling"
BASE_DN = "ou=people,dc=pooling,dc=local"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _ldap_env() -> dict[str, str]:
    libs = f"{LDAP}/usr/lib/x86_64-linux-gnu:{LDAP}/lib/x86_64-linux-gnu"
    return {**os.environ, "LD_LIBRARY_PATH": libs}


@pytest.fixture(scope="module")
def ldap(tmp_path_factory):
    """A throwaway OpenLDAP (Debian's slapd, unpacked by `make ldap`) with two analysts."""
    d = tmp_path_factory.mktemp("ldap")
    (d / "db").mkdir()
    env = _ldap_env()
    # Hex: a password starting with "-" would read as an option to beeline.
    users = {"fpo_analyst": secrets.token_hex(12), "oae_analyst": secrets.token_hex(12)}
    schema = LDAP / "etc" / "ldap" / "schema"
    (d / "slapd.conf").write_text(
        "".join(f"include {schema}/{s}.schema\n" for s in ("core", "cosine", "inetorgperson"))
        + f"modulepath {LDAP}/usr/lib/ldap\nmoduleload back_mdb\npidfile {d}/slapd.pid\n"
        + 'database mdb\nsuffix "dc=pooling,dc=local"\n'
        + f'rootdn "cn=admin,dc=pooling,dc=local"\nrootpw {secrets.token_urlsafe(12)}\n'
        + f"directory {d}/db\n"
    )
    entries = [
        "dn: dc=pooling,dc=local\nobjectClass: dcObject\nobjectClass: organization\n"
        "o: pooling\ndc: pooling\n",
        f"dn: {BASE_DN}\nobjectClass: organizationalUnit\nou: people\n",
    ]
    for user, password in users.items():
        hashed = subprocess.run(
            [LDAP / "usr/sbin/slappasswd", "-s", password],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        entries.append(
            f"dn: uid={user},{BASE_DN}\nobjectClass: inetOrgPerson\nuid: {user}\ncn: {user}\n"
            f"sn: analyst\nuserPassword: {hashed}\n"
        )
    (d / "data.ldif").write_text("\n".join(entries))
    subprocess.run(
        [LDAP / "usr/sbin/slapadd", "-f", d / "slapd.conf", "-l", d / "data.ldif"],
        env=env,
        check=True,
        capture_output=True,
    )
    port = _free_port()
    url = f"ldap://127.0.0.1:{port}"
    subprocess.run(
        [LDAP / "usr/sbin/slapd", "-f", d / "slapd.conf", "-h", f"{url}/"], env=env, check=True
    )
    yield url, users
    pid = int((d / "slapd.pid").read_text())
    os.kill(pid, 15)


@pytest.fixture(scope="module")
def served(demo, ldap, tmp_path_factory):
    _, zones, data = demo
    url, users = ldap
    port = _free_port()
    env = {**os.environ, "POOLING_DATA_ROOT": str(data)}
    log = (tmp_path_factory.mktemp("serve") / "serve.log").open("w+")
    proc = subprocess.Popen(
        [POOLING, "serve", "--port", str(port), "--ldap-url", url, "--stop-after", "900"],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=log,
        text=True,
    )
    deadline = time.monotonic() + 240
    line = ""
    while time.monotonic() < deadline and "READY" not in line:
        line = proc.stdout.readline()
        if not line and proc.poll() is not None:
            log.seek(0)
            pytest.fail(f"pooling serve exited: {log.read()[-2000:]}")
    yield port, users, zones
    proc.terminate()
    proc.wait(timeout=60)


def _beeline(port, user, password, sql):
    args = [BEELINE, "-u", f"jdbc:hive2://127.0.0.1:{port}/default"]
    if user:
        args += ["-n", user, "-p", password]
    args += ["--silent=true", "--outputformat=csv2", "-e", sql]
    return subprocess.run(args, capture_output=True, text=True, timeout=180)


def test_an_analyst_reads_the_pools_of_their_projects(served, demo):
    port, users, _ = served
    report, _, _ = demo
    rows = (
        next(p for p in report.pools if p.project == "low_income").tables["welfare_registry"].rows
    )
    out = _beeline(
        port,
        "fpo_analyst",
        users["fpo_analyst"],
        "SELECT count(*) AS n FROM low_income.welfare_registry",
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split()[-2:] == ["n", str(rows)]
    out = _beeline(port, "fpo_analyst", users["fpo_analyst"], "SHOW TABLES IN agriculture")
    assert out.returncode == 0 and "welfare_registry" in out.stdout  # granted: agriculture too


def test_no_other_project_and_no_other_zone_is_reachable(served, demo):
    """oae_analyst is granted agriculture only; none of this may return a row."""
    port, users, _ = served
    _, zones, _ = demo
    deid = zones.deidentified("finance", "welfare_registry")
    attempts = [
        "SELECT * FROM low_income.welfare_registry",
        "SELECT count(*) FROM agriculture.farmer_registry f "
        "JOIN low_income.justice_records j ON f.pool_pseudonym = j.pool_pseudonym",
        "SHOW TABLES IN low_income",
        "DESCRIBE low_income.justice_records",
        f"SELECT * FROM delta.`{deid}`",
        f"SELECT * FROM parquet.`{zones.landing()}`",
        "SET spark.sql.runSQLOnFiles=true",
        f"CREATE TABLE agriculture.copy USING DELTA LOCATION '{deid}'",
        "SELECT reflect('java.lang.System', 'getenv', 'HOME')",
        "SELECT * FROM deidentified.welfare_registry",
    ]
    for sql in attempts:
        out = _beeline(port, "oae_analyst", users["oae_analyst"], sql)
        text = out.stdout + out.stderr
        assert out.returncode != 0, sql
        assert (
            "not allowed" in text
            or "TABLE_OR_VIEW_NOT_FOUND" in text
            or ("SCHEMA_NOT_FOUND" in text)
        ), (sql, text[-1500:])


def test_an_unauthenticated_client_is_refused(served):
    port, users, _ = served
    # The server is up and lets the right credentials in ...
    assert _beeline(port, "oae_analyst", users["oae_analyst"], "SELECT 1").returncode == 0
    # ... and nobody else.
    for user, password in (
        (None, None),
        ("fpo_analyst", "wrong-" + users["fpo_analyst"]),
        ("nobody", "x"),
    ):
        out = _beeline(port, user, password, "SELECT 1")
        assert out.returncode != 0
        assert "Error validating" in out.stdout + out.stderr or "Could not open" in (
            out.stdout + out.stderr
        )


def test_every_query_is_audited_with_analyst_and_project(served, spark_session):
    port, users, zones = served
    # A citizen ID typed into a query is redacted before the statement reaches the audit table.
    _beeline(
        port,
        "fpo_analyst",
        users["fpo_analyst"],
        "SELECT count(*) FROM low_income.justice_records WHERE '1234567890121' <> 'x'",
    )
    time.sleep(6)  # the server moves its spool into the audit table every 2 s
    events = spark_session.read.format("delta").load(zones.audit).where("action = 'query'")
    rows = [(r["actor"], r["subject"], json.loads(r["details"])) for r in events.collect()]
    allowed = [(a, s) for a, s, d in rows if d["allowed"]]
    refused = [(a, d["refusal"]) for a, s, d in rows if not d["allowed"]]
    assert ("fpo_analyst", "low_income") in allowed
    assert any(a == "oae_analyst" and "not in a granted project" in r for a, r in refused)
    assert any(a == "oae_analyst" and "SetCommand" in r for a, r in refused)
    statements = [d["statement"] for _, _, d in rows]
    assert any("justice_records" in s and "<redacted>" in s for s in statements)
    assert not any("1234567890121" in s for s in statements)
