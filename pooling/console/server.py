"""Serving the console: cheroot's threaded WSGI server, TLS from a certificate and key file."""

from __future__ import annotations

import ipaddress
import threading

from cheroot import wsgi
from cheroot.ssl.builtin import BuiltinSSLAdapter

from pooling.core.errors import ConfigError


def loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def make_server(
    app, host: str, port: int, *, cert: str | None = None, key: str | None = None
) -> wsgi.Server:
    """The server, not started. Without TLS only on a loopback address: the pages carry
    unsuppressed cells and the sign-in a password."""
    if bool(cert) != bool(key):
        raise ConfigError("TLS needs both --tls-cert and --tls-key")
    if not cert and not loopback(host):
        raise ConfigError(
            f"--host {host} is not a loopback address: serving there needs TLS "
            "(--tls-cert and --tls-key)"
        )
    server = wsgi.Server((host, port), app, numthreads=4, server_name="pooling-console")
    if cert:
        server.ssl_adapter = BuiltinSSLAdapter(cert, key)
    return server


def start(server: wsgi.Server) -> threading.Thread:
    """Serve in a background thread, once the socket is bound (``server.stop()`` ends it)."""
    server.prepare()
    thread = threading.Thread(target=server.serve, name="console", daemon=True)
    thread.start()
    return thread
