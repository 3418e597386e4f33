"""Thai-locale vocabularies, built once with Faker and then sampled by Spark.

Faker is far too slow to call per row at national scale; a few hundred names and addresses drawn
once, combined by Spark, give millions of realistic and reproducible records.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from faker import Faker


@dataclass(frozen=True)
class Vocabulary:
    first_names_male: tuple[str, ...]
    first_names_female: tuple[str, ...]
    last_names: tuple[str, ...]
    streets: tuple[str, ...]


def _unique(draw, n: int) -> tuple[str, ...]:
    seen: dict[str, None] = {}
    for _ in range(n * 20):
        seen.setdefault(draw(), None)
        if len(seen) == n:
            break
    return tuple(seen)


@lru_cache(maxsize=8)
def thai_vocabulary(seed: int, size: int = 200) -> Vocabulary:
    fake = Faker("th_TH")
    fake.seed_instance(seed)
    return Vocabulary(
        first_names_male=_unique(fake.first_name_male, size),
        first_names_female=_unique(fake.first_name_female, size),
        last_names=_unique(fake.last_name, size),
        # "177/76 ถนนเขียวขุ้ย": house number and street; the district comes from the register.
        streets=_unique(lambda: fake.street_address().split(" ", 1)[-1], size),
    )
