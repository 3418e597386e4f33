"""Nothing proportional to the data reaches the driver: a code search, by the syntax tree.

Every call that brings rows to the driver (``collect``, ``toPandas``, ``first`` ...) in the service
and the standard is listed here with why what it brings is bounded by something other than the
number of persons or extract rows. A new call site fails this test until it is classified; a
listed one that is gone fails it too, so the list stays the truth.
"""

from __future__ import annotations

import ast

from tests.conftest import REPO

PULLS = {"collect", "collectAsList", "toPandas", "toLocalIterator", "take", "first", "head", "tail"}
FUNCTIONS = {"F", "functions"}  # F.first is an aggregate inside a plan, not a pull


def _is_pull(node: ast.AST) -> bool:
    return (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr in PULLS
        and not (isinstance(node.func.value, ast.Name) and node.func.value.id in FUNCTIONS)
    )


BOUNDED = {
    # one row per reason (and flag combination) of the row accounting
    ("pooling/ingest/job.py", "_count"): "grouped by reason and flags",
    ("pooling/ingest/rerun.py", "counts_from_audit"): "limit(1) audit event",
    ("pooling/ops/retention.py", "_ingests"): "one audit event per ingest, not per row",
    ("pooling/ops/retention.py", "_quarantines"): "one row per extract (source checksum)",
    ("pooling/core/tables.py", "commit_infos"): "one row per commit of the table's history",
    ("pooling/core/tables.py", "commit_with"): "one row per commit of the table's history",
    ("pooling/core/tables.py", "upsert"): "the newest commit (LIMIT 1)",
    ("pooling/ingest/draft.py", "_profile"): "the draft's sample, limit(SAMPLE_ROWS)",
    ("pooling/pools/risk.py", "all_figures"): "per scope, one row per class-size bucket and "
    "one aggregate row",
    ("pooling/pools/enforce.py", "_below"): "one aggregate row",
    ("pooling/pools/enforce.py", "_suppressed"): "the largest class: one row",
    ("pooling/pools/enforce.py", "_suppress"): "one aggregate row",
    ("pooling/outputs/aggregates.py", "check_aggregate"): "one aggregate row",
    ("pooling/outputs/runs.py", "_chart"): "an output's cells (aggregates, not rows)",
    ("pooling/review/examine.py", "stray_identifier_check"): "one aggregate row",
    ("pooling/review/examine.py", "review_run"): "an output's cells and their top contributors",
    ("pooling/access/__init__.py", "warm_up"): "limit(1)",
    ("pooling/access/__init__.py", "run_sql"): "the analysts' rule caps rows and bytes",
    # development only: synthetic data and benchmarks
    ("pooling/dev/demo.py", "_check_outputs"): "an output's cells, against the truth",
    ("pooling/dev/bench.py", "bench_pseudonymize"): "the benchmark's fixed-size sample",
    ("pooling/dev/synth/truth.py", "fault_counts"): "one row per planted fault kind",
    ("pooling/dev/synth/write.py", "truth_one"): "the ground truth's aggregate cells",
    ("pooling/dev/synth/write.py", "_write_workbook"): (
        "streamed one partition at a time into an Excel sheet (at most a million rows): Spark "
        "has no Excel writer"
    ),
}


def _pull_sites() -> set[tuple[str, str]]:
    found: set[tuple[str, str]] = set()

    def visit(node: ast.AST, path: str, function: str) -> None:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            function = node.name
        if _is_pull(node):
            found.add((path, function))
        for child in ast.iter_child_nodes(node):
            visit(child, path, function)

    for package in ("pooling", "pseudonymize"):
        for source in sorted((REPO / package).rglob("*.py")):
            path = source.relative_to(REPO).as_posix()
            visit(ast.parse(source.read_text(encoding="utf-8")), path, "<module>")
    return found


def test_every_pull_to_the_driver_is_bounded_and_listed():
    sites = _pull_sites()
    new = sorted(sites - BOUNDED.keys())
    assert not new, f"rows pulled to the driver in {new}: bound them, or list them with why"
    gone = sorted(BOUNDED.keys() - sites)
    assert not gone, f"listed but no longer pulling rows: {gone}"


def test_the_search_sees_a_pull():
    """The positive control: the same search finds a collect in code shaped like the service's."""
    tree = ast.parse("def f(df):\n    return df.agg(F.first('x')).where('x').collect()\n")
    calls = [n for n in ast.walk(tree) if _is_pull(n)]
    assert [c.func.attr for c in calls] == ["collect"]  # and not the aggregate F.first
    assert ("pooling/ingest/job.py", "_count") in _pull_sites()
