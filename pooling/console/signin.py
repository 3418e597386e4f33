"""Signing in to the console: a simple bind to the analysts' LDAP directory, then the reviewer list.

The directory says who someone is (the bind proves the password); ``conf/review.yaml`` says who may
review. A bind with an empty password is an *unauthenticated* bind that many directories accept
(RFC 4513 §5.1.2), so it is refused here before the directory is asked.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

from ldap3 import Connection, Server
from ldap3.core.exceptions import LDAPException
from ldap3.utils.dn import escape_rdn

log = logging.getLogger("pooling.console")
USER_NAME = re.compile(r"^[a-z_][a-z0-9_.-]{0,63}$")  # as conf/review.yaml's reviewers


@dataclass(frozen=True)
class Directory:
    url: str  # ldap:// or ldaps://
    base_dn: str  # users are uid=<name>,<base_dn>, as the SQL endpoint binds them
    timeout_s: int = 5  # seconds; ldap3 packs it into a socket option: whole seconds

    def authenticates(self, user: str, password: str) -> bool:
        """Whether ``user`` binds with ``password``. Never raises for a wrong password or an
        unreachable directory (both mean: not signed in); never logs the password."""
        if not USER_NAME.fullmatch(user) or not password:
            return False
        server = Server(self.url, connect_timeout=self.timeout_s)
        dn = f"uid={escape_rdn(user)},{self.base_dn}"
        try:
            conn = Connection(server, user=dn, password=password, receive_timeout=self.timeout_s)
            ok = conn.bind()
            conn.unbind()
            return bool(ok)
        except (LDAPException, OSError) as e:  # the directory down or refusing: not signed in
            log.warning("sign-in of %s: directory error %s", user, type(e).__name__)
            return False
