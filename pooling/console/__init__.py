"""The secretariat's review console: a web page for output checkers, not a shell.

``pooling console`` serves it (cheroot, a threaded WSGI server with TLS built in, the one CherryPy
is made of), on 127.0.0.1 unless told otherwise, and on another address only with TLS. Modules:
``signin`` (the LDAP bind), ``desk`` (reading runs and deciding, on :mod:`pooling.review`),
``app`` (the Flask application) and ``server``.
"""
