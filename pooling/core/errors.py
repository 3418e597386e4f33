"""One exception hierarchy for the service.

User errors subclass a built-in (``ValueError``, ``FileNotFoundError``, ``PermissionError``) as well
as :class:`PoolingError`, so callers can catch either. Messages say what was wrong, where (file,
dataset, column, row count) and what is allowed. They never carry a raw identifier or key material.

``pseudonymize`` stands on its own and owns its errors (:mod:`pseudonymize.errors`). The kinds both
raise (contract errors, unknown names) are subclasses of the standard's here, so one ``except``
with the standard's class catches both; :class:`KeyMaterialError` is the standard's own, and
:data:`EXPECTED` is what the command line reports as a user error.
"""

from __future__ import annotations

from pseudonymize import errors as _standard
from pseudonymize.errors import KeyMaterialError, PseudonymizeError


class PoolingError(Exception):
    """Base class of every error the service raises on purpose."""


class ConfigError(PoolingError, ValueError):
    """A file under ``conf/`` is missing, malformed or inconsistent."""


class ContractError(PoolingError, _standard.ContractError):
    """An extract does not match its agency contract (missing columns, wrong dataset, ...)."""


class ExtractNotFoundError(PoolingError, FileNotFoundError):
    """An extract path does not exist or holds no data files."""


class ExtractUnreadableError(PoolingError, ValueError):
    """An extract's data file is damaged (truncated, corrupted) or not in its contract's format."""


class ExtractEncodingError(PoolingError, ValueError):
    """An extract whose text is not in its contract's encoding (refused whole)."""


class MisclassifiedColumnError(PoolingError, ValueError):
    """A kept column where identifiers are the rule, not the exception: refused whole."""


class UnknownNameError(PoolingError, _standard.UnknownNameError):
    """A project, agency, dataset or table name that is not configured (``str`` is the message)."""


class UsageError(PoolingError, ValueError):
    """Command-line options that do not go together."""


class InternalError(PoolingError, RuntimeError):
    """Something that should not happen: this is probably a bug, please report it."""


class AggregateError(PoolingError, ValueError):
    """A project output that is not an aggregate: a pseudonym in it, or a row per person."""


class ReviewError(PoolingError, ValueError):
    """A review decision that cannot be taken (e.g. approving an output that fails its checks)."""


class AccessDenied(PoolingError, PermissionError):
    """The access rule refused a statement."""


class AuditError(PoolingError, ValueError):
    """An event the audit register cannot take (an action it does not know)."""


class TableNotFoundError(PoolingError, FileNotFoundError):
    """A path that holds no Delta table."""


class WriteConflictError(PoolingError, RuntimeError):
    """A commit that kept losing to other writers of the same table."""


# Every error raised on purpose, by the service or by the standard it applies.
EXPECTED = (PoolingError, PseudonymizeError)

__all__ = [
    "EXPECTED",
    "AccessDenied",
    "AggregateError",
    "AuditError",
    "ConfigError",
    "ContractError",
    "ExtractEncodingError",
    "ExtractNotFoundError",
    "ExtractUnreadableError",
    "InternalError",
    "KeyMaterialError",
    "PoolingError",
    "PseudonymizeError",
    "ReviewError",
    "UnknownNameError",
    "TableNotFoundError",
    "UsageError",
    "WriteConflictError",
]
