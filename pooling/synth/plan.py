"""What to generate: sizes, seed, overlap rates and injected fault rates."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date


@dataclass(frozen=True)
class FaultRates:
    """Share of rows of every person-level extract given each fault.

    Unrecoverable faults (the row must be quarantined): ``bad_check_digit``, ``wrong_length``,
    ``empty_id``. Recoverable ones (normalisation must repair them, so the row still links):
    ``thai_digits``, ``dashes``, ``spaces``, ``float_export`` (CSV extracts only).
    ``duplicate``: share of rows delivered twice.
    """

    bad_check_digit: float = 0.002
    wrong_length: float = 0.001
    empty_id: float = 0.001
    thai_digits: float = 0.01
    dashes: float = 0.01
    spaces: float = 0.005
    float_export: float = 0.005
    duplicate: float = 0.003

    def __post_init__(self) -> None:
        for name, rate in vars(self).items():
            if not 0 <= rate < 0.5:
                raise ValueError(f"fault rate {name}={rate} must be in [0, 0.5)")


@dataclass(frozen=True)
class SynthPlan:
    persons: int
    seed: int
    reference_date: date = date(2026, 1, 1)
    faults: FaultRates = field(default_factory=FaultRates)

    def __post_init__(self) -> None:
        if self.persons < 1:
            raise ValueError(f"persons must be >= 1, got {self.persons}")
