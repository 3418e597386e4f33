"""Suppression that provably protects: how closely a reader can still compute each hidden cell.

A reader of a released table knows every published cell exactly, every total that is published
or can be derived (each line of the table, the whole table, the published cells of a coarser
output of the same run), and that counts are never negative. The hidden cells of a value column
are then the unknowns of linear equations with lower bounds: each hidden cell can lie anywhere in
an interval [lo, hi], which linear programming finds exactly (SciPy's HiGHS: one LP minimising
the cell, one maximising it).

The per-line rule of :func:`pooling.review.disclosure.suppress` (every known total hides no cell
or at least two) is necessary, not sufficient. Two hidden 2x2 blocks, rows {a, b} x columns
{1, 2} and rows {c, d} x columns {3, 4}, joined by one hidden cell (a, 3) hide at least two cells
in every row and column, yet (a, 3) is the hidden part of rows a and b less that of columns 1 and
2: exact. It is a bridge of the bipartite graph of hidden cells, on no cycle along which values
could shift. Non-negativity narrows intervals further: a hidden 3 can go down by 3 at most, and
up only by as much as the other hidden cells of each of its totals can give.

A hidden cell is **exposed** when its interval does not reach ``level`` either side of its value
(or down to the lower bound). :func:`protect` hides further cells until none is: for an exposed
cell, the LP of :meth:`_Reader.shift` finds the cheapest change of the table that moves the cell
by its level and that a reader could not rule out if the published cells it changes were hidden
too; those cells are hidden, and the cell is checked again (its shifted table is a witness, or
another LP decides). A final LP bounds every hidden cell. Optimal cell suppression is NP-hard
(tau-ARGUS solves it as a mixed integer program); this is a greedy heuristic, one exposed cell
at a time, verified by the LP after every step: not an optimum. Pure functions on pandas and
SciPy: no Spark, no I/O.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import sparse
from scipy.optimize import linprog
from scipy.sparse.csgraph import connected_components

TOLERANCE = 1e-6  # of max(1, |value|): the float error allowed in an LP's answer
Level = float | Callable[[float], float]


@dataclass(frozen=True)
class KnownTotals:
    """A grouping of the table whose part totals a reader knows: group by ``dims`` (``()`` is
    the whole table); with ``parts``, only the totals of those keys (tuples of the dims' values),
    as for a coarser output that does not publish its small cells."""

    dims: tuple[str, ...]
    parts: frozenset[tuple] | None = None


@dataclass
class Added:
    index: Hashable  # the cell's label in the table's index
    reason: str


@dataclass
class Protection:
    hidden: pd.Series  # the final mask: the given hidden cells and the added ones
    added: list[Added]  # in the order added
    intervals: pd.DataFrame  # lo, hi of every hidden cell, indexed like the table
    exposed: list[Hashable]  # hidden cells still narrower than the level: refuse the release

    @property
    def safe(self) -> bool:
        return not self.exposed


def line_totals(dims: Sequence[str]) -> list[KnownTotals]:
    """Every line of the table along each dimension, and the whole table."""
    return [KnownTotals(tuple(d for d in dims if d != along)) for along in dims] + [KnownTotals(())]


def _parts(df: pd.DataFrame, totals: Iterable[KnownTotals]) -> list[np.ndarray]:
    """The rows of every known part, less those implied by a finer grouping's known parts (the
    whole table is the sum of its rows): the same knowledge, in fewer and sparser equations."""
    known: list[tuple[set[str], list[np.ndarray]]] = []
    for t in dict.fromkeys(totals):
        groups = df.groupby(list(t.dims), dropna=False).indices if t.dims else {(): range(len(df))}
        parts = [
            np.asarray(rows)
            for key, rows in groups.items()
            if t.parts is None or (key if isinstance(key, tuple) else (key,)) in t.parts
        ]
        known.append((set(t.dims), parts))
    covered = []  # the rows in some known part of each grouping
    for _, parts in known:
        rows = np.zeros(len(df), dtype=bool)
        if parts:
            rows[np.concatenate(parts)] = True
        covered.append(rows)
    return [
        rows
        for dims, parts in known
        for rows in parts
        if not any(
            dims < finer and cover[rows].all()
            for (finer, _), cover in zip(known, covered, strict=True)
        )
    ]


class _Reader:
    """What a reader knows of one column: the known parts (rows of an incidence matrix over the
    table's cells, by position), their totals, the lower bound; and the tables seen so far that
    are consistent with it."""

    def __init__(
        self,
        df: pd.DataFrame,
        dims: Sequence[str],
        column: str,
        totals: Iterable[KnownTotals],
        lower: float | None,
    ):
        self.df, self.dims, self.lower = df, list(dims), lower
        self.floor = -math.inf if lower is None else lower
        self.x = df[column].to_numpy(dtype=float, na_value=np.nan)
        self.null = np.isnan(self.x)
        self.x0 = np.where(self.null, 0.0, self.x)  # a null adds nothing to a total
        if (self.x0 < self.floor).any():
            raise ValueError(f"{column} has values under the lower bound {lower}")
        parts = _parts(df, totals)
        rows = np.repeat(np.arange(len(parts)), [len(p) for p in parts])
        cols = np.concatenate(parts) if parts else np.zeros(0, dtype=int)
        self.m = sparse.csr_matrix((np.ones(len(cols)), (rows, cols)), shape=(len(parts), len(df)))
        self.mt = self.m.T.tocsr()  # cell -> its parts
        self.totals = self.m @ self.x0
        # How low and how high each cell was seen in a table consistent with what the reader
        # knows (the true table first). Still consistent after more cells are hidden.
        self.seen_lo, self.seen_hi = self.x0.copy(), self.x0.copy()
        self._view_of: tuple[bytes, tuple[np.ndarray, np.ndarray, np.ndarray]] | None = None

    def name(self, c: int) -> str:
        return ", ".join(f"{d}={self.df[d].iat[c]}" for d in self.dims)

    def _view(self, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """For hidden cells ``mask``: the ones a reader cannot compute exactly (``free``), their
        components (label per cell, -1 if not free) and what each part's free cells sum to."""
        if self._view_of is None or self._view_of[0] != mask.tobytes():
            free = mask.copy()
            while True:  # a hidden cell alone in a known part is that part's remainder
                lone = (self.m @ free.astype(float)) == 1
                solved = free & ((self.mt @ lone.astype(float)) > 0)
                if not solved.any():
                    break
                free &= ~solved
            # Free cells are coupled only through parts holding more than one of them.
            labels = np.full(len(mask), -1)
            cells = np.flatnonzero(free)
            if len(cells):
                shared = self.m[(self.m @ free.astype(float)) >= 2][:, cells]
                _, labels[cells] = connected_components(shared.T @ shared, directed=False)
            rhs = self.totals - self.m @ np.where(free, 0.0, self.x0)
            self._view_of = (mask.tobytes(), (free, labels, rhs))
        return self._view_of[1]

    def _system(
        self, mask: np.ndarray, c: int
    ) -> tuple[np.ndarray, sparse.csr_matrix, np.ndarray, np.ndarray]:
        """The component of free cell c: its cells, its equations (a, b) and each cell's cap,
        b - floor * (k - 1) over its parts of k free cells (a bound that needs no LP)."""
        _, labels, rhs = self._view(mask)
        comp = np.flatnonzero(labels == labels[c])
        sub = self.m[:, comp]
        rows = np.flatnonzero(sub.getnnz(axis=1))
        a, b = sub[rows].tocsr(), rhs[rows]
        cap = np.full(len(comp), math.inf)
        if self.lower is not None:
            entries = a.tocoo()
            np.minimum.at(cap, entries.col, (b - self.floor * (a.getnnz(axis=1) - 1))[entries.row])
        return comp, a, b, cap

    def bounds(self, mask: np.ndarray, cells: Iterable[int]) -> dict[int, tuple[float, float]]:
        """[lo, hi] of the hidden ``cells``: two LPs per cell at most, on its component only."""
        free, labels, _ = self._view(mask)
        out: dict[int, tuple[float, float]] = {}
        todo: dict[int, list[int]] = {}
        for c in cells:
            if free[c]:
                todo.setdefault(labels[c], []).append(c)
            else:
                out[c] = (self.x0[c], self.x0[c])
        for group in todo.values():
            comp, a, b, cap = self._system(mask, group[0])
            for c in group:
                j = int(np.searchsorted(comp, c))
                out[c] = (self._side(comp, a, b, cap, j, 1.0), self._side(comp, a, b, cap, j, -1.0))
        return out

    def reaches(self, mask: np.ndarray, c: int, side: float, target: float, tol: float) -> bool:
        """Whether hidden cell c can go as low (side 1) or as high (side -1) as ``target``."""
        if self.seen_lo[c] <= target + tol if side > 0 else self.seen_hi[c] >= target - tol:
            return True
        if not self._view(mask)[0][c]:
            return False  # exact, and target is not its value
        comp, a, b, cap = self._system(mask, c)
        value = self._side(comp, a, b, cap, int(np.searchsorted(comp, c)), side)
        return value <= target + tol if side > 0 else value >= target - tol

    def _side(
        self,
        comp: np.ndarray,
        a: sparse.csr_matrix,
        b: np.ndarray,
        cap: np.ndarray,
        j: int,
        side: float,
    ) -> float:
        """Minimum (side 1) or maximum (side -1) of the component's cell j. A cell already seen
        at its floor or its cap needs no LP for that side."""
        c = comp[j]
        near = 1e-9 * max(1.0, abs(self.x0[c]))
        if side > 0 and self.lower is not None and self.seen_lo[c] <= self.lower + near:
            return self.lower
        if side < 0 and cap[j] < math.inf and self.seen_hi[c] >= cap[j] - near:
            return cap[j]
        if not a.shape[0]:  # in no known total
            return self.floor if side > 0 else math.inf
        objective = np.zeros(len(comp))
        objective[j] = side
        res = linprog(objective, A_eq=a, b_eq=b, bounds=(self.lower, None), method="highs")
        if res.status == 3:  # unbounded
            return -side * math.inf
        if res.status != 0:
            raise RuntimeError(f"HiGHS could not bound a hidden cell: {res.message}")
        table = self.x0.copy()
        table[comp] = res.x
        self.witness(table)
        return side * res.fun

    def witness(self, table: np.ndarray) -> None:
        """Record a table consistent with what a reader knows."""
        self.seen_lo = np.minimum(self.seen_lo, table)
        self.seen_hi = np.maximum(self.seen_hi, table)

    def shift(
        self, mask: np.ndarray, e: int, delta: float, cost: np.ndarray, movable: np.ndarray
    ) -> np.ndarray | None:
        """The cheapest change y of the table that moves cell e by ``delta``, keeps every known
        total and the lower bound: hidden cells change freely, a published ``movable`` one at
        ``cost`` per unit. None if there is none, not even with every movable cell hidden."""
        h, p = np.flatnonzero(mask), np.flatnonzero(~mask & ~self.null & movable)
        a = sparse.hstack([self.m[:, h], self.m[:, p], -self.m[:, p]]).tocsr()
        bounds = np.zeros((len(h) + 2 * len(p), 2))
        bounds[:, 1] = math.inf
        bounds[: len(h), 0] = self.floor - self.x0[h]
        bounds[len(h) + len(p) :, 1] = self.x0[p] - self.floor  # down to the floor at most
        bounds[int(np.searchsorted(h, e))] = delta
        objective = np.concatenate([np.zeros(len(h)), cost[p], cost[p]])
        res = linprog(objective, A_eq=a, b_eq=np.zeros(a.shape[0]), bounds=bounds, method="highs")
        if res.status == 2:
            return None
        if res.status != 0:
            raise RuntimeError(f"HiGHS could not move a hidden cell: {res.message}")
        y = np.zeros(len(mask))
        y[h] = res.x[: len(h)]
        y[p] = res.x[len(h) : len(h) + len(p)] - res.x[len(h) + len(p) :]
        return y


def _row_min(m: sparse.csr_matrix) -> np.ndarray:
    """The smallest stored entry of each row (inf if none)."""
    out = np.full(m.shape[0], math.inf)
    rows = np.repeat(np.arange(m.shape[0]), np.diff(m.indptr))
    np.minimum.at(out, rows, m.data)
    return out


def _as_mask(df: pd.DataFrame, hidden: pd.Series) -> np.ndarray:
    if not hidden.index.equals(df.index):
        raise ValueError("hidden must have the table's index")
    return hidden.to_numpy(dtype=bool).copy()


def _frame(df: pd.DataFrame, bounds: dict[int, tuple[float, float]]) -> pd.DataFrame:
    cells = sorted(bounds)
    lo_hi = np.array([bounds[c] for c in cells], dtype=float).reshape(-1, 2)
    return pd.DataFrame(lo_hi, index=df.index[cells], columns=["lo", "hi"])


def intervals(
    df: pd.DataFrame,
    dims: Sequence[str],
    column: str,
    hidden: pd.Series,
    totals: Sequence[KnownTotals],
    lower: float | None = 0.0,
) -> pd.DataFrame:
    """For every hidden cell of ``column``, the interval [lo, hi] (columns ``lo``, ``hi``, indexed
    like ``df``) of its values consistent with the published cells, the known ``totals`` and
    ``lower`` (None: no lower bound, for a column that may be negative). Nulls count as 0."""
    reader, mask = _Reader(df, dims, column, totals, lower), _as_mask(df, hidden)
    return _frame(df, reader.bounds(mask, np.flatnonzero(mask)))


class _Need:
    """How far each cell's interval must reach: [max(lower, x - level), x + level]; or, sliding,
    only as wide as that, 2 x level (less where the lower bound cuts it), wherever it lies."""

    def __init__(self, x: np.ndarray, level: Level, lower: float | None, sliding: bool = False):
        self.null = np.isnan(x)
        x = np.where(self.null, 0.0, x)
        self.size = np.array([level(v) for v in x]) if callable(level) else np.full(len(x), level)
        self.lo = np.maximum(-math.inf if lower is None else lower, x - self.size)
        self.hi = x + self.size
        self.width = self.hi - self.lo
        self.sliding = sliding
        self.tol = TOLERANCE * np.maximum(1.0, np.abs(x))

    def shortfall(self, c: int, lo: float, hi: float) -> float:
        """How much the interval [lo, hi] of cell c lacks (0: safe). A null has nothing to hide."""
        if self.null[c]:
            return 0.0
        if self.sliding:
            short = max(0.0, self.width[c] - (hi - lo))
        else:
            short = max(0.0, lo - self.lo[c]) + max(0.0, self.hi[c] - hi)
        return 0.0 if short <= self.tol[c] else short


def exposed(
    df: pd.DataFrame,
    column: str,
    bounds: pd.DataFrame,
    level: Level,
    lower: float | None = 0.0,
) -> list[Hashable]:
    """Hidden cells (rows of ``bounds``, from :func:`intervals`) whose interval does not reach
    ``level`` (a number, or a function of the cell's value) either side of their value."""
    need = _Need(df[column].to_numpy(dtype=float, na_value=np.nan), level, lower)
    pos = df.index.get_indexer(bounds.index)
    return [
        label
        for label, c, lo, hi in zip(bounds.index, pos, bounds["lo"], bounds["hi"], strict=True)
        if need.shortfall(c, lo, hi) > 0
    ]


def protect(
    df: pd.DataFrame,
    dims: Sequence[str],
    column: str,
    hidden: pd.Series,
    totals: Sequence[KnownTotals],
    level: Level,
    lower: float | None = 0.0,
    *,
    sensitive: pd.Series | None = None,
    sliding: bool = False,
) -> Protection:
    """Hide further cells of ``column`` until no hidden cell is exposed, or nothing can help.

    One exposed cell and side at a time, in table order: hide the published cells that the
    cheapest shift of it by its level changes (:meth:`_Reader.shift`; a published cell costs its
    value per unit changed, a zero more than any other, so small cells go first and zeros last,
    as in :func:`~pooling.review.disclosure.suppress`); then check it again. Hiding a cell only
    widens intervals, so a cell once safe stays safe. A cell that no suppression can protect
    (e.g. the whole table hidden, or a known total too small) is reported in ``exposed``, from a
    final LP on every hidden cell: the caller then refuses the release.

    Every hidden cell must reach its level, the cells added too, unless ``sensitive`` (a subset
    of ``hidden``, e.g. the primary cells) says which must: as in tau-ARGUS, where a secondary
    cell is publishable and needs no interval. The strict default never hides a cell that could
    not reach its level itself, and so may refuse where ``sensitive`` would not: in a line 4 + 10
    with the 4 primary, protecting the 4 takes hiding the 10, which is never more than 14.

    ``sliding``: an interval need only be as wide as [x - level, x + level] (cut at the lower
    bound), wherever it lies around x: tau-ARGUS's sliding protection, and what "the interval is
    wider than the protection level" asks. Without it the interval must hold that range itself."""
    reader, mask = _Reader(df, dims, column, totals, lower), _as_mask(df, hidden)
    need = _Need(reader.x, level, lower, sliding)
    strict = sensitive is None
    must = mask.copy() if strict else _as_mask(df, sensitive)
    if (must & ~mask).any():
        raise ValueError("every sensitive cell must be hidden")
    cost = np.where(reader.x0 == 0, 1.0 + np.abs(reader.x0).max(initial=0.0), np.abs(reader.x0))
    # Even with every cell hidden, a cell is at most each of its totals less the floor of its
    # other cells: one that cannot reach its level so is left exposed without an LP, and (when
    # every hidden cell must reach it) never hidden.
    sizes = reader.m @ (~reader.null).astype(float)
    room = sparse.diags(reader.totals - reader.floor * (sizes - 1)) @ reader.m
    ceiling = np.full(len(df), math.inf) if lower is None else _row_min(room.T.tocsr())
    can = (
        (ceiling - reader.floor >= need.width - need.tol)
        if sliding
        else (ceiling >= need.hi - need.tol)
    )
    movable = can if strict else np.ones(len(df), dtype=bool)
    added: list[Added] = []
    queue = deque(np.flatnonzero(must & ~reader.null & can))
    while queue:
        e = queue.popleft()
        if sliding:
            lo, hi = reader.bounds(mask, [e])[e]
            if not need.shortfall(e, lo, hi):
                continue
            # Up from the low end, else down from the high end, to the width needed.
            short = [t for t in (lo + need.width[e], hi - need.width[e]) if t >= reader.floor]
        else:
            short = [
                target
                for side, target in ((-1.0, need.hi[e]), (1.0, need.lo[e]))
                if not reader.reaches(mask, e, side, target, need.tol[e])
            ]
            if not short:
                continue
        y = None
        for target in short[: 2 if sliding else 1]:
            y = reader.shift(mask, e, target - reader.x0[e], cost, movable)
            if y is not None:
                break
        if y is None:
            continue  # nothing can protect it
        moved = np.flatnonzero(~mask & (np.abs(y) > TOLERANCE * max(1.0, abs(y[e]))))
        if not len(moved):
            continue  # within the LPs' float error: the final LP decides
        reach = f"a width of {need.width[e]:g}" if sliding else f"±{need.size[e]:g}"
        why = f"secondary: widens the interval of hidden cell {reader.name(e)} to {reach}"
        for c in sorted(moved, key=lambda c: (reader.x0[c] == 0, reader.x0[c], c)):
            mask[c] = True
            added.append(Added(df.index[c], why))
        # x + y, and x - t y as far as the lower bound allows, are now tables a reader cannot
        # rule out: witnesses for the other side, and for the cells moved.
        y[~mask] = 0.0  # float dust on the cells left published
        reader.witness(reader.x0 + y)
        down = y > 0
        t = min(1.0, float(((reader.x0 - reader.floor)[down] / y[down]).min())) if down.any() else 1
        reader.witness(reader.x0 - t * y)
        queue.appendleft(e)
        if strict:
            queue.extend(moved)
    final = reader.bounds(mask, np.flatnonzero(mask))
    return Protection(
        hidden=pd.Series(mask, index=df.index, name=column),
        added=added,
        intervals=_frame(df, final),
        exposed=[
            df.index[c] for c in sorted(final) if must[c] and need.shortfall(c, *final[c]) > 0
        ],
    )
