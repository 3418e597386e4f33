"""The layout's one-way flow, read from the source (AST only: no import runs, no Spark).

``pseudonymize`` imports nothing of the service; ``pooling/core`` imports no stage; each stage of
``pooling`` imports only ``core`` and the stages before it in :data:`FLOW`; ``projects`` (pool
tables in, aggregates out) takes only ``core`` and the standard. Imports inside functions count
the same as those at the top: they are dependencies all the same.
"""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

# pooling's sub-packages in the order data flows; the tools and the command line come last.
FLOW = ("core", "ingest", "pools", "outputs", "review", "console", "access", "ops", "dev", "cli")


def _imports(path: Path) -> list[tuple[int, str]]:
    """(line, absolute module name) of every import in the file, relative ones resolved."""
    package = ".".join(path.relative_to(REPO).with_suffix("").parts)
    if path.name != "__init__.py":
        package = package.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parts, *([base] if base else [])])
            # `from pooling import review` imports pooling.review
            names = [f"{base}.{a.name}" for a in node.names] if base == "pooling" else [base]
            found += [(node.lineno, n) for n in names]
    return found


def _stage(module: str) -> str | None:
    """The pooling stage a module belongs to (None: the pooling package itself, or not pooling)."""
    parts = module.split(".")
    return parts[1] if parts[0] == "pooling" and len(parts) > 1 else None


def _violations() -> list[str]:
    out = []
    for sub in sorted(p for p in (REPO / "pooling").iterdir() if (p / "__init__.py").is_file()):
        if sub.name not in FLOW:
            out.append(f"pooling/{sub.name}/ is not placed in the flow (FLOW in {__name__})")
    for path in sorted(REPO.glob("*/**/*.py")):
        top = path.relative_to(REPO).parts[0]
        if top not in ("pooling", "pseudonymize", "projects"):
            continue
        here = _stage(".".join(path.relative_to(REPO).with_suffix("").parts))
        for line, module in _imports(path):
            where = f"{path.relative_to(REPO)}:{line} imports {module}"
            root, stage = module.split(".")[0], _stage(module)
            if top == "pseudonymize" and root in ("pooling", "projects"):
                out.append(f"{where}: pseudonymize stands on its own")
            elif top == "projects" and root == "pooling" and stage != "core":
                out.append(f"{where}: a project takes only pooling.core and the standard")
            elif top == "pooling" and here == "core" and root == "projects":
                out.append(f"{where}: core imports no project")
            elif top == "pooling" and root == "pooling" and stage and here in FLOW:
                if stage not in FLOW:
                    out.append(f"{where}: no such stage")
                elif FLOW.index(stage) > FLOW.index(here):
                    out.append(f"{where}: {here} comes before {stage} in the flow")
    return out


def test_no_import_runs_against_the_flow():
    assert _imports(REPO / "pooling" / "ingest" / "job.py"), "the scan found no imports"
    assert _violations() == []
