"""Provable protection of suppressed cells (LP intervals), on small pandas tables: no Spark."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

from pooling.review.protection import (
    KnownTotals,
    exposed,
    intervals,
    line_totals,
    protect,
)

LEVEL = 5  # +/- 50 % of a threshold of 10


def _table(shape: tuple[int, ...], values) -> pd.DataFrame:
    dims = [f"d{i}" for i in range(len(shape))]
    df = pd.DataFrame(list(itertools.product(*[range(s) for s in shape])), columns=dims)
    df["n"] = np.asarray(values).reshape(-1)
    return df


def _mask(df: pd.DataFrame, cells) -> pd.Series:
    dims = [c for c in df.columns if c != "n"]
    keys = {tuple(c) for c in cells}
    return pd.Series([tuple(r) in keys for r in df[dims].itertuples(index=False)], index=df.index)


def _lines(dims: list[str]) -> list[list[str]]:
    return [[d for d in dims if d != along] for along in dims]


def _parts(df: pd.DataFrame, group: list[str]) -> list[pd.Index]:
    return [p.index for _, p in df.groupby(group)] if group else [df.index]


def _per_line_rule(df: pd.DataFrame, hidden: pd.Series) -> pd.Series:
    """The heuristic secondary suppression of ``suppress()``, written out independently: a line
    (or the whole table) hiding exactly one cell hides its smallest other cell, a zero last."""
    dims = [c for c in df.columns if c != "n"]
    hidden = hidden.copy()
    changed = True
    while changed:
        changed = False
        for group in [*_lines(dims), []]:
            for rows in _parts(df, group):
                open_ = [r for r in rows if not hidden[r]]
                if hidden[rows].sum() == 1 and open_:
                    hidden[min(open_, key=lambda r: (df.at[r, "n"] == 0, df.at[r, "n"]))] = True
                    changed = True
    return hidden


def _hides_none_or_two(df: pd.DataFrame, hidden: pd.Series) -> bool:
    dims = [c for c in df.columns if c != "n"]
    counts = [hidden[rows].sum() for g in [*_lines(dims), []] for rows in _parts(df, g)]
    return all(k == 0 or k >= 2 for k in counts)


def _safe(df: pd.DataFrame, bounds: pd.DataFrame, level=LEVEL) -> dict:
    """Per hidden cell, whether its interval reaches +/- level (down to 0 at most)."""
    out = {}
    for i, (lo, hi) in bounds[["lo", "hi"]].iterrows():
        x = df.at[i, "n"]
        out[i] = lo <= max(0, x - level) + 1e-6 and hi >= x + level - 1e-6
    return out


# --- The LP intervals against brute force -------------------------------------------------------


def _brute_force(df: pd.DataFrame, hidden: pd.Series, known: list[tuple[list[str], set | None]]):
    """Min and max of each hidden cell over every non-negative integer table that agrees with the
    published cells and the known totals (the whole table among them, so each cell <= its sum)."""
    cells = list(df.index[hidden])
    left = int(df.loc[cells, "n"].sum())
    equations = []
    for group, keys in known:
        for key, part in df.groupby(group) if group else [((), df)]:
            key = key if isinstance(key, tuple) else (key,)
            if keys is not None and key not in keys:
                continue
            members = [cells.index(r) for r in part.index if hidden[r]]
            if members:
                equations.append((members, int(df.loc[part.index[hidden[part.index]], "n"].sum())))
    grid = np.stack(
        np.meshgrid(*[np.arange(left + 1, dtype=np.int16)] * len(cells), indexing="ij"), axis=-1
    ).reshape(-1, len(cells))
    ok = np.ones(len(grid), dtype=bool)
    for members, total in equations:
        ok &= grid[:, members].sum(axis=1) == total
    feasible = grid[ok]
    return {c: (feasible[:, j].min(), feasible[:, j].max()) for j, c in enumerate(cells)}


def _random_case(seed: int):
    """A small table, 2-D or 2 x J x K (whose LP vertices are integral, so the LP's bounds are
    the integer ones), values 0..6, 3 or 4 hidden cells; known: the whole table and a random
    subset of the lines (all lines of length 2 in 3-D)."""
    rng = np.random.default_rng(seed)
    shape = [(3, 3), (3, 4), (2, 2, 3), (2, 3, 3)][seed % 4]
    df = _table(shape, rng.integers(0, 7, int(np.prod(shape))))
    hidden = pd.Series(False, index=df.index)
    hidden[rng.choice(len(df), size=rng.integers(3, 5), replace=False)] = True
    dims = list(df.columns[:-1])
    known: list[tuple[list[str], set | None]] = [([], None)]
    for group in _lines(dims):
        keys = set(df[group].drop_duplicates().itertuples(index=False, name=None))
        if len(dims) == 3 and "d0" not in group:
            known.append((group, None))
        else:
            known.append((group, {k for k in keys if rng.random() < 0.7}))
    totals = [KnownTotals(tuple(g), None if k is None else frozenset(k)) for g, k in known]
    return df, dims, hidden, known, totals


@pytest.mark.parametrize("seed", range(40))
def test_intervals_are_those_of_every_consistent_table(seed):
    df, dims, hidden, known, totals = _random_case(seed)
    got = intervals(df, dims, "n", hidden, totals)
    want = _brute_force(df, hidden, known)
    assert sorted(got.index) == sorted(want)
    for c, (lo, hi) in want.items():
        assert got.at[c, "lo"] == pytest.approx(lo, abs=1e-6), (c, df.loc[c].tolist())
        assert got.at[c, "hi"] == pytest.approx(hi, abs=1e-6), (c, df.loc[c].tolist())


def test_without_a_lower_bound_a_hidden_rectangle_is_unbounded_both_ways():
    df = _table((3, 3), [[5, -2, 7], [3, 4, -1], [6, 2, 8]])
    hidden = _mask(df, [(0, 0), (0, 1), (1, 0), (1, 1)])
    free = intervals(df, ["d0", "d1"], "n", hidden, line_totals(["d0", "d1"]), lower=None)
    assert (free["lo"] == -np.inf).all() and (free["hi"] == np.inf).all()
    # A magnitude's level can be a share of its value: nothing is exposed when unbounded.
    assert exposed(df, "n", free, lambda v: 0.1 * abs(v), lower=None) == []


# --- The bridge -----------------------------------------------------------------------------------


def test_the_bridge_passes_the_per_line_rule_but_is_exact_and_protect_closes_it():
    rng = np.random.default_rng(1)
    df = _table((5, 5), rng.integers(20, 60, 25))
    dims = ["d0", "d1"]
    blocks = [(0, 0), (0, 1), (1, 0), (1, 1), (2, 2), (2, 3), (3, 2), (3, 3)]
    bridge = (0, 2)  # row a = 0, column 3 = 2
    hidden = _mask(df, [*blocks, bridge])
    assert _hides_none_or_two(df, hidden)
    i = df.index[_mask(df, [bridge])][0]
    # A reader's computation: rows 0 and 1 less columns 0 and 1, over what is not published.
    published = df["n"].where(~hidden, 0)
    rows = df[df.d0.isin([0, 1])]
    cols = df[df.d1.isin([0, 1])]
    recomputed = (
        rows["n"].sum()
        - published[rows.index].sum()
        - cols["n"].sum()
        + published[cols.index].sum()
    )
    assert recomputed == df.at[i, "n"]

    totals = line_totals(dims)
    bounds = intervals(df, dims, "n", hidden, totals)
    assert bounds.at[i, "lo"] == pytest.approx(df.at[i, "n"])
    assert bounds.at[i, "hi"] == pytest.approx(df.at[i, "n"])
    assert exposed(df, "n", bounds, LEVEL) == [i]

    result = protect(df, dims, "n", hidden, totals, LEVEL)
    assert result.safe and result.exposed == []
    assert result.added, "the bridge needs a further cell"
    assert (
        result.added[0].reason == "secondary: widens the interval of hidden cell d0=0, d1=2 to ±5"
    )
    assert set(df.index[result.hidden]) == set(df.index[hidden]) | {a.index for a in result.added}
    after = intervals(df, dims, "n", result.hidden, totals)
    assert all(_safe(df, after).values())
    pd.testing.assert_frame_equal(after, result.intervals, atol=1e-6)


def test_a_bridge_in_three_dimensions():
    """The 2-D bridge in two layers of a 4 x 4 x 3 table: every line along the third dimension
    hides 0 or 2 cells, and the bridge cells are still exact."""
    rng = np.random.default_rng(2)
    df = _table((4, 4, 3), rng.integers(20, 60, 48))
    dims = ["d0", "d1", "d2"]
    pattern = [(0, 0), (0, 1), (1, 0), (1, 1), (2, 2), (2, 3), (3, 2), (3, 3), (0, 2)]
    hidden = _mask(df, [(i, j, k) for i, j in pattern for k in (0, 1)])
    assert _hides_none_or_two(df, hidden)
    totals = line_totals(dims)
    bounds = intervals(df, dims, "n", hidden, totals)
    bridges = list(df.index[_mask(df, [(0, 2, 0), (0, 2, 1)])])
    for i in bridges:
        assert bounds.at[i, "lo"] == pytest.approx(df.at[i, "n"])
        assert bounds.at[i, "hi"] == pytest.approx(df.at[i, "n"])
    assert exposed(df, "n", bounds, LEVEL) == bridges

    result = protect(df, dims, "n", hidden, totals, LEVEL)
    assert result.safe and result.added
    assert all(_safe(df, intervals(df, dims, "n", result.hidden, totals)).values())


# --- Random three-dimensional tables --------------------------------------------------------------


def _planted(seed: int) -> pd.DataFrame:
    """A 4 x 3 x 3 table of counts 10..99 with a few zeros and small counts (1-9) planted, at most
    one per line, so that every line has room to protect them."""
    rng = np.random.default_rng(seed)
    df = _table((4, 3, 3), rng.integers(10, 100, 36))
    used: set = set()
    for i in rng.permutation(36)[: rng.integers(4, 8)]:
        a, b, c = df.loc[i, ["d0", "d1", "d2"]]
        lines = {("bc", b, c), ("ac", a, c), ("ab", a, b)}
        if not lines & used:
            used |= lines
            df.at[i, "n"] = 0 if rng.random() < 0.35 else rng.integers(1, 10)
    return df


@pytest.mark.parametrize("seed", range(30))
def test_protect_leaves_no_hidden_cell_narrower_than_the_level(seed):
    df = _planted(seed)
    before = df.copy()
    dims = ["d0", "d1", "d2"]
    primary = (df["n"] > 0) & (df["n"] < 10)
    hidden = _per_line_rule(df, primary)
    totals = [KnownTotals(tuple(g)) for g in _lines(dims)] + [KnownTotals(())]

    result = protect(df, dims, "n", hidden, totals, LEVEL)

    pd.testing.assert_frame_equal(df, before)
    assert result.exposed == []
    assert result.hidden[primary].all() and result.hidden[hidden].all()
    added = [a.index for a in result.added]
    assert len(set(added)) == len(added)
    assert set(df.index[result.hidden & ~hidden]) == set(added)
    assert sorted(result.intervals.index) == sorted(df.index[result.hidden])
    narrow = [i for i, ok in _safe(df, result.intervals).items() if not ok]
    assert narrow == [], df.loc[narrow]


def _mixed(seed: int) -> pd.DataFrame:
    """Zeros, small and larger counts anywhere: some small cells cannot be protected at all."""
    rng = np.random.default_rng(seed)
    kind = rng.choice(3, size=36, p=[0.15, 0.2, 0.65])
    small, large = rng.integers(1, 10, 36), rng.integers(10, 100, 36)
    return _table((4, 3, 3), np.select([kind == 0, kind == 1], [0, small], large))


@pytest.mark.parametrize("seed", range(8))
def test_a_primary_left_exposed_cannot_be_protected_by_any_suppression(seed):
    df = _mixed(seed)
    dims = ["d0", "d1", "d2"]
    primary = (df["n"] > 0) & (df["n"] < 10)
    totals = line_totals(dims)
    result = protect(df, dims, "n", primary, totals, LEVEL, sensitive=primary)
    assert result.hidden[primary].all()
    after = _safe(df, result.intervals)
    assert {i for i in df.index[primary] if not after[i]} == set(result.exposed)
    # Hiding the whole table is as wide as any suppression gets.
    everything = _safe(df, intervals(df, dims, "n", pd.Series(True, index=df.index), totals))
    assert all(not everything[i] for i in result.exposed)


# --- Known totals, termination, what must be protected --------------------------------------------


def test_a_coarser_total_binds_only_for_the_parts_it_lists():
    df = pd.DataFrame(
        [("10", "F", 30), ("10", "M", 40), ("11", "F", 50), ("11", "M", 60)],
        columns=["province_code", "sex", "persons"],
    )
    dims = ["province_code", "sex"]
    hidden = pd.Series([True, True, False, False], index=df.index)
    by_sex = KnownTotals(("sex",), frozenset({("F",)}))
    bounds = intervals(df, dims, "persons", hidden, [by_sex])
    assert bounds.loc[0].tolist() == [30, 30]  # alone in the listed part F
    assert bounds.loc[1].tolist() == [0, np.inf]  # M's total is not known
    everything = intervals(df, dims, "persons", hidden, [KnownTotals(("sex",))])
    assert everything.loc[1].tolist() == [40, 40]
    nothing = intervals(df, dims, "persons", hidden, [KnownTotals(("sex",), frozenset())])
    assert nothing.loc[0].tolist() == [0, np.inf]
    both = [by_sex, KnownTotals(("province_code",), frozenset({("10",)}))]
    assert intervals(df, dims, "persons", hidden, both).loc[1].tolist() == [40, 40]


def test_protect_stops_when_nothing_can_protect_a_cell():
    df = _table((2, 2), [[1, 2], [3, 4]])
    everything = pd.Series(True, index=df.index)
    result = protect(df, ["d0", "d1"], "n", everything, line_totals(["d0", "d1"]), LEVEL)
    assert result.added == []
    assert not result.safe and set(result.exposed) == set(df.index)


def test_sensitive_cells_alone_need_their_level():
    """A 4 beside a 10 in a line of 14: protecting the 4 takes hiding the 10, which a reader then
    bounds by 14. Strictly (every hidden cell needs its level) that is refused; with only the
    primary sensitive, as in tau-ARGUS, it is protected."""
    values = [[4, 10], [60, 70], [55, 45], [80, 65]]
    df = _table((4, 2), values)
    dims = ["d0", "d1"]
    primary = df["n"] < 10
    totals = line_totals(dims)
    strict = protect(df, dims, "n", primary, totals, LEVEL)
    assert strict.exposed == [0]
    assert not strict.hidden[1]  # the 10 is not hidden: it could never reach +/- 5 itself
    relaxed = protect(df, dims, "n", primary, totals, LEVEL, sensitive=primary)
    assert relaxed.safe and relaxed.hidden[1]
    assert _safe(df, intervals(df, dims, "n", relaxed.hidden, totals))[0]
