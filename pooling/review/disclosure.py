"""Output checking before release: the automatic checks a reviewer sees, and suppression.

Following established output-checking practice (ACRO/SACRO; the "safe outputs" of the Five
Safes), on the small aggregate tables a project run writes (pandas, no Spark needed):

- **threshold**: a count of people under ``min_cell_count`` (other than 0) is disclosive;
- **zeros**: a sub-count of 0 in a non-empty cell says that no one in it has the attribute
  (group disclosure); flagged for the reviewer to judge;
- **dominance**: for a summed magnitude, the p% rule and the (n, k) rule on the cell's largest
  contributions (kept by the run in a secretariat-only support table);
- **aggregate**: no value shaped like a pseudonym, one row per cell, not one person per row;
- **differencing**: another output of the same run counts the same people over coarser cells;
  its totals would let a lone hidden cell be recomputed.

:func:`suppress` applies primary suppression (the failing cells) and secondary suppression
(further cells, smallest first) until every group whose total is known (a line of the table,
the whole table, a cell of a coarser output) hides either nothing or at least two cells.
Where a row's population count is hidden, the whole row is hidden; derived values (rates,
means, shares) are hidden in any row with a hidden value.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import pandas as pd

from pooling.core.config import DisclosureSettings
from pseudonymize.standard import PSEUDONYM_PATTERN


@dataclass(frozen=True)
class OutputMeta:
    """What the review knows of an output from its run manifest."""

    name: str
    dims: tuple[str, ...]
    count: str | None  # the population counted in each cell
    people_counts: tuple[str, ...]  # every column counting people (``count`` first)


@dataclass
class Check:
    name: str
    description: str  # plain language, for the review page
    severity: Literal["fail", "warn"]
    cells: list[dict] = field(default_factory=list)  # dims + column + detail

    @property
    def passed(self) -> bool:
        return not self.cells


def _cell(df: pd.DataFrame, i: int, dims: Sequence[str], column: str, detail: str) -> dict:
    return {**{d: df.at[i, d] for d in dims}, "column": column, "detail": detail}


def _known_groups(meta: OutputMeta, coarser: Sequence[tuple[str, ...]]) -> list[tuple[str, ...]]:
    """Groupings whose totals a reader knows or can get: each line along one dimension, the
    whole table, and the cells of coarser outputs of the same run."""
    dims = meta.dims
    groups = [tuple(d for d in dims if d != along) for along in dims] + [()]
    groups += [tuple(c) for c in coarser]
    return list(dict.fromkeys(groups))


def dominance_flags(
    support: pd.DataFrame, dims: Sequence[str], s: DisclosureSettings
) -> list[dict]:
    """Cells whose magnitude is dominated by its largest contributors (p% or (n, k) rule)."""
    flags = []
    for _, row in support.iterrows():
        largest = sorted(row["largest"], reverse=True)
        total = row["total"]
        if not largest or not total or total <= 0:
            continue
        x1 = largest[0]
        x2 = largest[1] if len(largest) > 1 else 0.0
        reasons = []
        if total - x1 - x2 < s.dominance_p_percent / 100 * x1:
            reasons.append(f"p% rule (p={s.dominance_p_percent:g})")
        if sum(largest[: s.dominance_n]) > s.dominance_k_percent / 100 * total:
            reasons.append(f"({s.dominance_n}, {s.dominance_k_percent:g}) rule")
        if reasons:
            flags.append(
                {
                    **{d: row[d] for d in dims},
                    "column": row["measure"],
                    "detail": f"{' and '.join(reasons)}; {int(row['contributors'])} contributor(s)",
                }
            )
    return flags


def run_checks(
    df: pd.DataFrame,
    meta: OutputMeta,
    settings: DisclosureSettings,
    *,
    support: pd.DataFrame | None = None,
    coarser: Sequence[tuple[OutputMeta, pd.DataFrame]] = (),
    hidden: pd.DataFrame | None = None,
) -> list[Check]:
    """Every automatic check on one output. ``hidden`` (same shape, booleans) marks cells a
    suppression hides; checks then look at what would be released."""
    hidden = (
        hidden if hidden is not None else pd.DataFrame(False, index=df.index, columns=df.columns)
    )
    threshold = threshold_check(df, meta, settings, hidden)
    return [
        threshold,
        zeros_check(df, meta, hidden),
        dominance_check(df, meta, settings, hidden, support),
        aggregate_check(df, meta),
        differencing_check(df, meta, settings, hidden, threshold, coarser),
    ]


def threshold_check(
    df: pd.DataFrame, meta: OutputMeta, settings: DisclosureSettings, hidden: pd.DataFrame
) -> Check:
    """Counts of people under ``min_cell_count``, other than 0."""
    m = settings.min_cell_count
    check = Check(
        "threshold",
        f"Counts of people must be 0 or at least {m}: a smaller count can point at "
        "identifiable people.",
        "fail",
    )
    for c in meta.people_counts:
        for i in df.index:
            v = df.at[i, c]
            if not (hidden.at[i, c] or pd.isna(v)) and 0 < v < m:
                check.cells.append(_cell(df, i, meta.dims, c, f"{int(v)} < {m}"))
    return check


def zeros_check(df: pd.DataFrame, meta: OutputMeta, hidden: pd.DataFrame) -> Check:
    """Sub-counts of 0 in a cell whose population is not 0 (shown): for the reviewer to judge."""
    check = Check(
        "zeros",
        "A zero within a non-empty cell says that no one in it has the attribute. The reviewer "
        "judges whether that discloses something about the group.",
        "warn",
    )
    for c in meta.people_counts:
        for i in df.index:
            v = df.at[i, c]
            if hidden.at[i, c] or pd.isna(v):
                continue
            if (
                v == 0
                and meta.count
                and c != meta.count
                and (df.at[i, meta.count] or 0) > 0
                and not hidden.at[i, meta.count]
            ):
                check.cells.append(_cell(df, i, meta.dims, c, "0 of a non-empty cell"))
    return check


def dominance_check(
    df: pd.DataFrame,
    meta: OutputMeta,
    settings: DisclosureSettings,
    hidden: pd.DataFrame,
    support: pd.DataFrame | None,
) -> Check:
    """Shown magnitude cells dominated by their largest contributors (:func:`dominance_flags`)."""
    dims = list(meta.dims)
    check = Check(
        "dominance",
        f"A total must not be dominated by its largest contributors (p% rule, p = "
        f"{settings.dominance_p_percent:g}; ({settings.dominance_n}, "
        f"{settings.dominance_k_percent:g}) rule).",
        "fail",
    )
    if support is not None and len(support):
        keyed = df.set_index(dims)
        for flag in dominance_flags(support, dims, settings):
            key = tuple(flag[d] for d in dims)
            key = key[0] if len(dims) == 1 else key
            if key in keyed.index:
                i = df.index[keyed.index.get_loc(key)]
                if not hidden.at[i, flag["column"]]:
                    check.cells.append(flag)
    return check


def aggregate_check(df: pd.DataFrame, meta: OutputMeta) -> Check:
    """No value shaped like a pseudonym, one row per cell, not one person per row."""
    dims = list(meta.dims)
    check = Check(
        "aggregate",
        "Outputs hold aggregates only: no pseudonym, one row per cell, no row per person.",
        "fail",
    )
    for c in df.columns:
        if df[c].dtype == object or pd.api.types.is_string_dtype(df[c]):
            shaped = df[c].astype(str).str.fullmatch(PSEUDONYM_PATTERN)
            if shaped.any():
                check.cells.append({"column": c, "detail": "values shaped like pseudonyms"})
    if df.duplicated(dims).any():
        check.cells.append({"column": ",".join(dims), "detail": "more than one row per cell"})
    if meta.count and len(df) and df[meta.count].max() <= 1:
        check.cells.append({"column": meta.count, "detail": "every row counts one person"})
    return check


def differencing_check(
    df: pd.DataFrame,
    meta: OutputMeta,
    settings: DisclosureSettings,
    hidden: pd.DataFrame,
    threshold: Check,
    coarser: Sequence[tuple[OutputMeta, pd.DataFrame]],
) -> Check:
    """Cells of a coarser output of the same people that would hold a single hidden cell."""
    dims, m = list(meta.dims), settings.min_cell_count
    check = Check(
        "differencing",
        "Where another output of this run counts the same people over coarser cells, its totals "
        "would reveal a single hidden cell; each of its cells must hide none or at least two.",
        "fail",
    )
    # Before any suppression: the cells primary suppression would hide.
    exposed = hidden.copy()
    if not hidden.to_numpy().any() and meta.count:
        for cell in threshold.cells:
            if cell["column"] == meta.count:
                exposed.loc[
                    (df[dims] == pd.Series({d: cell[d] for d in dims})).all(axis=1), meta.count
                ] = True
    for other, other_df in coarser:
        # A coarse cell under the threshold is never published, so it reveals nothing.
        totals = {tuple(row[list(other.dims)]): row[other.count] for _, row in other_df.iterrows()}
        for key, part in df.groupby(list(other.dims), dropna=False):
            rows = part.index
            if 0 < (totals.get(key) or 0) < m:
                continue
            k = int(exposed.loc[rows, meta.count].sum()) if meta.count else 0
            if k == 1:
                check.cells.append(
                    {
                        **dict(zip(other.dims, key, strict=True)),
                        "column": meta.count,
                        "detail": f"one hidden cell within a cell of {other.name}",
                    }
                )
    return check


def coarser_outputs(
    meta: OutputMeta, df: pd.DataFrame, others: Sequence[tuple[OutputMeta, pd.DataFrame]]
) -> list[tuple[OutputMeta, pd.DataFrame]]:
    """Other outputs of the run whose cells are sums of this one's (same population count,
    fewer dims, equal totals): differencing between them is possible."""
    found = []
    for other, other_df in others:
        if other.name == meta.name or not meta.count or other.count != meta.count:
            continue
        if not set(other.dims) < set(meta.dims):
            continue
        sums = df.groupby(list(other.dims), dropna=False)[meta.count].sum()
        theirs = other_df.set_index(list(other.dims))[other.count]
        if sums.sort_index().equals(theirs.reindex(sums.index).sort_index()):
            found.append((other, other_df))
    return found


@dataclass
class Suppression:
    released: pd.DataFrame  # hidden cells set to null
    hidden: pd.DataFrame  # booleans, same shape
    cells: list[dict]  # every hidden cell: dims, column, primary or secondary, and why


def suppress(
    df: pd.DataFrame,
    meta: OutputMeta,
    checks: Sequence[Check],
    *,
    additive: Sequence[str] = (),
    coarser: Sequence[tuple[str, ...]] = (),
) -> Suppression:
    """Primary suppression of every failing cell, then secondary suppression (see module doc).
    ``additive``: magnitude columns that are sums (their totals are known too)."""
    dims = list(meta.dims)
    values = [c for c in df.columns if c not in dims]
    hidden = pd.DataFrame(False, index=df.index, columns=df.columns)
    why: dict[tuple[int, str], str] = {}
    keyed = {tuple(df.loc[i, dims]): i for i in df.index}
    for check in checks:
        if check.severity != "fail" or check.name not in ("threshold", "dominance"):
            continue
        for cell in check.cells:
            i = keyed[tuple(cell[d] for d in dims)]
            hidden.at[i, cell["column"]] = True
            why.setdefault((i, cell["column"]), f"primary: {check.name} ({cell['detail']})")
    groups = _known_groups(meta, coarser)
    summed = [c for c in (*meta.people_counts, *additive) if c in values]

    def secondary(column: str) -> None:
        changed = True
        while changed:
            changed = False
            for g in groups:
                parts = [p.index for _, p in df.groupby(list(g), dropna=False)] if g else [df.index]
                for part in parts:
                    rows = list(part)
                    if int(hidden.loc[rows, column].sum()) != 1:
                        continue
                    open_ = [
                        r for r in rows if not hidden.at[r, column] and pd.notna(df.at[r, column])
                    ]
                    if not open_:
                        continue
                    # The smallest value loses the least information; a zero only if nothing else.
                    pick = min(open_, key=lambda r: (df.at[r, column] == 0, df.at[r, column]))
                    hidden.at[pick, column] = True
                    why[(pick, column)] = "secondary: protects a hidden cell from its total"
                    changed = True

    population = meta.count
    if population:
        secondary(population)
        for i in df.index[hidden[population]]:
            for c in values:
                if not hidden.at[i, c]:
                    hidden.at[i, c] = True
                    why[(i, c)] = "secondary: the cell's population count is hidden"
    for c in summed:
        if c != population:
            secondary(c)
    derived = [c for c in values if c not in summed]
    for i in df.index[hidden[summed].any(axis=1)] if summed else []:
        for c in derived:
            if not hidden.at[i, c]:
                hidden.at[i, c] = True
                why[(i, c)] = "secondary: derived from a hidden value"
    released = df.astype(object).where(~hidden, None)
    cells = [
        {**{d: df.at[i, d] for d in dims}, "column": c, "reason": reason}
        for (i, c), reason in sorted(why.items(), key=lambda kv: (kv[0][0], kv[0][1]))
    ]
    return Suppression(released, hidden, cells)
