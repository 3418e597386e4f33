"""What one ingest did, counted: ``input rows = accepted + quarantined + duplicates removed``."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class IngestReport:
    agency: str
    dataset: str
    source: str
    checksum: str
    input_rows: int = 0
    duplicates: int = 0
    quarantined: dict[str, int] = field(default_factory=dict)
    accepted: int = 0
    dropped_columns: list[str] = field(default_factory=list)
    # Accepted rows whose ID of another role was invalid or empty and left empty, by
    # "<column>:<reason>" (e.g. "father_citizen_id:empty"); these rows are in ``accepted``.
    nulled: dict[str, int] = field(default_factory=dict)
    # Accepted rows whose text column (``pii: mask``) held an identifier, masked, by column.
    masked: dict[str, int] = field(default_factory=dict)
    table: str = ""
    version: int | None = None
    skipped: bool = False  # the same extract was already ingested: nothing written
    load: str = "replace"
    # upsert only: how the accepted rows changed the table (the rest were already there as-is)
    inserted: int | None = None
    updated: int | None = None

    @property
    def quarantined_total(self) -> int:
        return sum(self.quarantined.values())

    def balanced(self) -> bool:
        return self.input_rows == self.accepted + self.quarantined_total + self.duplicates

    def summary(self) -> str:
        if self.skipped:
            return (
                f"{self.agency}.{self.dataset}: extract {self.checksum[:12]} already ingested "
                f"(version {self.version}; {self.input_rows:,} rows in = {self.accepted:,} "
                f"accepted + {self.quarantined_total:,} quarantined + {self.duplicates:,} "
                "duplicates); nothing changed"
            )
        q = ", ".join(f"{k} {v:,}" for k, v in sorted(self.quarantined.items()) if v) or "none"
        extra = (
            f"; dropped unexpected columns {self.dropped_columns}" if self.dropped_columns else ""
        )
        if self.nulled:
            kept = ", ".join(f"{k} {v:,}" for k, v in sorted(self.nulled.items()))
            extra += f"; kept with an ID of another role left empty: {kept}"
        if self.masked:
            kept = ", ".join(f"{k} {v:,}" for k, v in sorted(self.masked.items()))
            extra += f"; identifiers masked in {kept} row(s)"
        merged = (
            f" (merged: {self.inserted:,} new, {self.updated:,} changed, "
            f"{self.accepted - self.inserted - self.updated:,} unchanged)"
            if self.inserted is not None and self.updated is not None
            else ""
        )
        return (
            f"{self.agency}.{self.dataset}: {self.input_rows:,} rows in = {self.accepted:,} "
            f"accepted{merged} + {self.quarantined_total:,} quarantined ({q}) + "
            f"{self.duplicates:,} duplicates removed{extra}"
        )
