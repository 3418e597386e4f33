"""What the standard's models and the service's configuration models share.

:class:`Strict`, the pydantic base of every model read from ``conf/`` (an unknown key is an
error, a loaded model cannot change), and :func:`lookup`, a name looked up or an error that
lists what is available.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TypeVar

from pydantic import BaseModel, ConfigDict

from pseudonymize.errors import UnknownNameError

V = TypeVar("V")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def lookup(
    mapping: Mapping[str, V],
    name: str,
    missing: str,
    plural: str,
    *,
    error: type[UnknownNameError] = UnknownNameError,
) -> V:
    """``mapping[name]``; else ``error``: "<missing>. Available <plural> are: [sorted names]"."""
    try:
        return mapping[name]
    except KeyError:
        raise error(f"{missing}. Available {plural} are: {sorted(mapping)}") from None
