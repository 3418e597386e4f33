"""A throwaway OpenLDAP directory for the tests: Debian's slapd, unpacked by `make ldap`.

Users are ``uid=<name>,ou=people,dc=pooling,dc=local`` with random passwords, as the SQL
endpoint (Hive's LDAP provider) and the review console bind them.
"""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
LDAP = REPO / ".cache" / "ldap" / "root"
BASE_DN = "ou=people,dc=pooling,dc=local"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _env() -> dict[str, str]:
    libs = f"{LDAP}/usr/lib/x86_64-linux-gnu:{LDAP}/lib/x86_64-linux-gnu"
    return {**os.environ, "LD_LIBRARY_PATH": libs}


@contextmanager
def directory(d: Path, names: Iterable[str]) -> Iterator[tuple[str, dict[str, str]]]:
    """slapd on a free loopback port with these users; yields its URL and {user: password}.
    Hex passwords: one starting with "-" would read as an option to beeline."""
    (d / "db").mkdir()
    env = _env()
    users = {u: secrets.token_hex(12) for u in names}
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
            f"sn: {user}\nuserPassword: {hashed}\n"
        )
    (d / "data.ldif").write_text("\n".join(entries))
    subprocess.run(
        [LDAP / "usr/sbin/slapadd", "-f", d / "slapd.conf", "-l", d / "data.ldif"],
        env=env,
        check=True,
        capture_output=True,
    )
    url = f"ldap://127.0.0.1:{free_port()}"
    subprocess.run(
        [LDAP / "usr/sbin/slapd", "-f", d / "slapd.conf", "-h", f"{url}/"], env=env, check=True
    )
    try:
        yield url, users
    finally:
        os.kill(int((d / "slapd.pid").read_text()), 15)
