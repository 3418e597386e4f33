"""Quoting for Spark SQL text: a column name and a string literal.

Expressions that are built as SQL text (see :mod:`pseudonymize.citizen_id`) and statements the
service writes (``pooling.core.tables``) quote through these two, never by hand.
"""

from __future__ import annotations


def sql_name(name: str) -> str:
    """A column name (or a path) quoted for Spark SQL."""
    return "`" + name.replace("`", "``") + "`"


def sql_string(text: str) -> str:
    """A Spark SQL string literal holding ``text`` as is (Spark unescapes backslashes)."""
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"
