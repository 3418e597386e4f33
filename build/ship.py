"""The service's code as one zip for ``spark-submit --py-files`` (``make dist``).

A zip, not a wheel: ``--py-files`` puts ``.zip`` files on the driver's and executors' ``sys.path``
as they are (it does not install wheels). It holds the three packages' modules and package data
(the province list), no caches, with fixed timestamps so the same code gives the same bytes.
"""

from __future__ import annotations

import sys
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("pooling", "pseudonymize", "projects")
DATA = ("*.py", "reference/*.csv")


def ship(out: Path) -> Path:
    files = sorted({f for pkg in PACKAGES for pattern in DATA for f in (REPO / pkg).rglob(pattern)})
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".tmp")
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as z:
        for f in files:
            if "__pycache__" in f.parts:
                continue
            info = zipfile.ZipInfo(str(f.relative_to(REPO)), date_time=(2026, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(info, f.read_bytes())
    tmp.replace(out)  # never a half-written zip under the real name
    return out


if __name__ == "__main__":
    print(ship(Path(sys.argv[1]) if len(sys.argv) > 1 else REPO / "dist" / "pooling.zip"))
