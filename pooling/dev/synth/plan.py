"""What to generate: sizes, seed, overlap rates and injected fault rates."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date


@dataclass(frozen=True)
class FaultRates:
    """Share of rows of every extract given each fault (at most one per row).

    Citizen-ID faults, person-level extracts only (``other_id``: the IDs of the other people a
    row names). Unrecoverable (the row must be quarantined):
    ``bad_check_digit``, ``wrong_length``, ``empty_id``. Recoverable (normalisation must repair
    them, so the row still links): ``thai_digits``, ``dashes``, ``spaces``, ``float_export``
    (CSV extracts only). Field faults, every extract, on the columns its catalog entry names:
    ``missing_field``, ``wrong_type``, ``unknown_code``. ``duplicate``: rows delivered twice.
    Whole-extract faults (unexpected extra columns, byte-order marks, CRLF line ends) are set
    per dataset.
    """

    bad_check_digit: float = 0.002
    # Another person's ID a row names (a birth's mother or father), given a bad check digit:
    # copied by hand from the parents' ID cards, so mistyped more often than the subject's.
    other_id: float = 0.03
    # A line of a CSV in a legacy code page that is in UTF-8 instead (pasted in from another
    # system): the row is quarantined as bad_encoding.
    stray_encoding: float = 0.002
    wrong_length: float = 0.001
    empty_id: float = 0.001
    thai_digits: float = 0.01
    dashes: float = 0.01
    spaces: float = 0.005
    float_export: float = 0.005
    duplicate: float = 0.003
    missing_field: float = 0.002  # a mandatory field left empty (split over the columns)
    wrong_type: float = 0.002  # a date or number that does not parse (text formats only)
    unknown_code: float = 0.001  # a province or district code that does not exist
    # A free-text note that quotes the person's ID, phone, e-mail or name (split over the notes).
    stray_identifier: float = 0.02

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
    # Extracts delivered with an unexpected extra column (which ingest must drop and report).
    extra_column_datasets: tuple[str, ...] = (
        "finance.welfare_registry",
        "transport.road_accidents",
    )

    def __post_init__(self) -> None:
        if self.persons < 1:
            raise ValueError(f"persons must be >= 1, got {self.persons}")
