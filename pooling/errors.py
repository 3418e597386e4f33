"""One exception hierarchy for the service.

User errors subclass a built-in (``ValueError``, ``FileNotFoundError``, ``PermissionError``) as well
as :class:`PoolingError`, so callers can catch either. Messages say what was wrong, where (file,
dataset, column, row count) and what is allowed. They never carry a raw identifier or key material.
"""

from __future__ import annotations


class PoolingError(Exception):
    """Base class of every error the service raises on purpose."""


class ConfigError(PoolingError, ValueError):
    """A file under ``conf/`` is missing, malformed or inconsistent."""


class KeyMaterialError(PoolingError, ValueError):
    """A key is missing, too weak or stored unsafely."""


class ContractError(PoolingError, ValueError):
    """An extract does not match its agency contract (missing columns, wrong dataset, ...)."""


class ExtractNotFoundError(PoolingError, FileNotFoundError):
    """An extract path does not exist or holds no data files."""


class ExtractUnreadableError(PoolingError, ValueError):
    """An extract's data file is damaged (truncated, corrupted) or not in its contract's format."""


class UnknownNameError(PoolingError, KeyError):
    """A project, agency, dataset or table name that is not configured.

    ``KeyError`` repr-quotes its message, so ``__str__`` is overridden to keep it readable.
    """

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class UsageError(PoolingError, ValueError):
    """Command-line options that do not go together."""


class InternalError(PoolingError, RuntimeError):
    """Something that should not happen: this is probably a bug, please report it."""


class AggregateError(PoolingError, ValueError):
    """A project output that is not an aggregate: a pseudonym in it, or a row per person."""
