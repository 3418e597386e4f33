"""The errors of the de-identification standard.

``pseudonymize`` stands on its own (it imports nothing of the service), so it owns its errors.
Each subclasses a built-in as well as :class:`PseudonymizeError`, so callers can catch either.
The service's errors of the same kind (``pooling.core.errors``) subclass these: ``except
ContractError`` with this class catches the service's contract errors too. Messages say what was
wrong and what is allowed; they never carry a raw identifier or key material.
"""

from __future__ import annotations


class PseudonymizeError(Exception):
    """Base class of every error the standard raises on purpose."""


class KeyMaterialError(PseudonymizeError, ValueError):
    """A key is missing, too weak or stored unsafely."""


class ContractError(PseudonymizeError, ValueError):
    """A dataset the standard cannot be applied to (unclassified or colliding columns)."""


class UnknownNameError(PseudonymizeError, KeyError):
    """A name (of a generalisation, say) that is not defined.

    ``KeyError`` repr-quotes its message, so ``__str__`` is overridden to keep it readable.
    """

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""
