"""Reference data shipped with the package: the 77 provinces with their official codes."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import lru_cache
from importlib.resources import files


@dataclass(frozen=True)
class Province:
    code: str
    name_en: str
    name_th: str
    region: str
    population: int
    districts: int
    urban_share: float
    postcode_prefix: str


@lru_cache(maxsize=1)
def provinces() -> tuple[Province, ...]:
    text = files("pseudonymize").joinpath("reference/provinces.csv").read_text(encoding="utf-8")
    rows = csv.DictReader(text.splitlines())
    return tuple(
        Province(
            code=r["province_code"],
            name_en=r["name_en"],
            name_th=r["name_th"],
            region=r["region"],
            population=int(r["population"]),
            districts=int(r["districts"]),
            urban_share=float(r["urban_share"]),
            postcode_prefix=r["postcode_prefix"],
        )
        for r in rows
    )


def province_codes() -> frozenset[str]:
    return frozenset(p.code for p in provinces())
