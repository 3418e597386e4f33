"""Where each zone lives, for a profile. Paths only; nothing here touches the data."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pooling.core.config import ZONES, Profile, expand_env


def resolve_path(value: str, base_dir: Path) -> str:
    """A profile path: ``${VAR}`` expanded; relative local paths taken from ``base_dir``."""
    value = expand_env(value)
    if "://" in value or value.startswith("file:"):
        return value
    p = Path(value)
    return str(p if p.is_absolute() else (base_dir / p).resolve())


@dataclass(frozen=True)
class Zones:
    roots: dict[str, str]

    @classmethod
    def under(cls, root: str | Path) -> Zones:
        """Every zone in its folder under one root."""
        return cls({z: f"{root}/{z}" for z in ZONES})

    @classmethod
    def for_profile(cls, profile: Profile, base_dir: Path) -> Zones:
        roots = cls.under(resolve_path(profile.storage.root, base_dir)).roots
        for zone, uri in profile.storage.zones.items():
            if expand_env(uri):  # an override left empty (``${VAR:-}``): the zone stays put
                roots[zone] = resolve_path(uri, base_dir)
        return cls(roots)

    def _path(self, zone: str, *parts: str) -> str:
        return "/".join([self.roots[zone], *parts])

    def landing(self, *parts: str) -> str:
        return self._path("landing", *parts)

    def quarantine(self, agency: str, dataset: str) -> str:
        return self._path("linkage", "quarantine", agency, dataset)

    def deidentified(self, agency: str, dataset: str) -> str:
        return self._path("deidentified", agency, dataset)

    def pool(self, project: str, table: str) -> str:
        return self._path("pools", project, table)

    def outputs(self, project: str, *parts: str) -> str:
        return self._path("outputs", project, *parts)

    def released(self, project: str, *parts: str) -> str:
        return self._path("released", project, *parts)

    def risk(self, project: str, *parts: str) -> str:
        """The secretariat's risk figures of a project's pool (``figures``) and its reports."""
        return self._path("risk", project, *parts)

    @property
    def audit(self) -> str:
        return self._path("audit", "events")
