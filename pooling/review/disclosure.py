"""Output checking before release: the automatic checks a reviewer sees, suppression, rounding.

Following established output-checking practice (ACRO/SACRO, OpenSAFELY; the "safe outputs" of
the Five Safes), on the small aggregate tables a project run writes (pandas, no Spark needed).
Each rule is a setting of the project's ``disclosure:`` block (:class:`DisclosureSettings`):

- **threshold** (fail): a count of people under ``min_cell_count`` is disclosive; a 0 too when
  ``zeros_are_disclosive``;
- **zeros** (warn): a shown 0 within a non-empty group says that no one in it has the attribute
  (group disclosure), for the reviewer to judge. Judged on one canonical long form of the
  output's people counts, so that the same counts flag the same zeros whether a breakdown is a
  dimension (rows) or a set of sub-count columns (:func:`zeros_check`);
- **dominance** (fail): for a summed magnitude, the p% rule and the (n, k) rule on the absolute
  values of the cell's largest contributions (kept by the run in a secretariat-only support
  table); ``dominance_nk_inclusive`` says whether a share of exactly k% fails;
- **negatives** (warn): a magnitude cell with negative contributions, for the reviewer;
- **aggregate** (fail): no value shaped like a pseudonym, one row per cell, not one person per row;
- **differencing** (fail): another output of the same run counts the same people over coarser
  cells; its totals would let a lone hidden cell be recomputed.

:func:`suppress` applies primary suppression (the cells failing threshold or dominance) and
secondary suppression (further cells, smallest first) until every group whose total is known (a
line of the table, the whole table, a cell of a coarser output) hides either nothing or at least
two cells; each hidden cell says why (a secondary one: which hidden cell, in which total, it
protects). Where a row's population count is hidden, the whole row is hidden; derived values
(rates, means, shares) are hidden in any row with a hidden value. With ``rounding_base`` set,
:func:`round_counts` then rounds the counts of people that suppression leaves shown.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import pandas as pd

from pooling.core.config import DisclosureSettings
from pooling.review import protection
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


def _disclosive_count(v: float, s: DisclosureSettings) -> bool:
    """A count of people that may not be shown: under the threshold, or 0 if zeros disclose."""
    return 0 < v < s.min_cell_count or (v == 0 and s.zeros_are_disclosive)


def _where(df: pd.DataFrame, i: int, dims: Sequence[str]) -> str:
    return ", ".join(f"{d}={df.at[i, d]}" for d in dims)


def _total_name(group: Sequence[str], key: tuple) -> str:
    """How a suppression reason names the known total of one part of a grouping."""
    if not group:
        return "the table's total"
    return "the total of " + ", ".join(f"{d}={v}" for d, v in zip(group, key, strict=True))


def _shown(
    df: pd.DataFrame, dims: Sequence[str], hidden: pd.DataFrame, flags: list[dict]
) -> list[dict]:
    """The flags (dims + column, from a support table) on cells of ``df`` that are shown."""
    keyed = df.set_index(list(dims)).index
    shown = []
    for flag in flags:
        key = tuple(flag[d] for d in dims)
        key = key[0] if len(dims) == 1 else key
        if key in keyed and not hidden.at[df.index[keyed.get_loc(key)], flag["column"]]:
            shown.append(flag)
    return shown


def _known_groups(meta: OutputMeta, coarser: Sequence[tuple[str, ...]]) -> list[tuple[str, ...]]:
    """Groupings whose totals a reader knows or can get: each line along one dimension, the
    whole table, and the cells of coarser outputs of the same run."""
    dims = meta.dims
    groups = [tuple(d for d in dims if d != along) for along in dims] + [()]
    groups += [tuple(c) for c in coarser]
    return list(dict.fromkeys(groups))


def dominance_reasons(largest: Sequence[float], total: float, s: DisclosureSettings) -> list[str]:
    """The dominance rules a cell fails, from its largest contributions (absolute values,
    descending) and its total of absolute values."""
    x1 = largest[0]
    x2 = largest[1] if len(largest) > 1 else 0.0
    reasons = []
    # Multiplied out rather than divided, so that a share of exactly k% compares as equal.
    if 100 * (total - x1 - x2) < s.dominance_p_percent * x1:
        reasons.append(f"p% rule (p={s.dominance_p_percent:g})")
    top, bound = 100 * sum(largest[: s.dominance_n]), s.dominance_k_percent * total
    if top > bound or (s.dominance_nk_inclusive and top == bound):
        reasons.append(f"({s.dominance_n}, {s.dominance_k_percent:g}) rule")
    return reasons


def _shares(largest: Sequence[float], total: float) -> str:
    """The evidence a reviewer weighs: the largest contributions as shares of the total."""
    return " and ".join(f"{100 * v / total:.0f} %" for v in largest[:2])


def dominance_flags(
    support: pd.DataFrame, dims: Sequence[str], s: DisclosureSettings
) -> list[dict]:
    """Cells whose magnitude is dominated by its largest contributors (p% or (n, k) rule), on
    absolute values: a large negative contribution dominates a total as much as a positive one,
    and a signed total that contributions of both signs cancel out overstates every share."""
    # A support table written before runs kept absolute totals has the signed one only.
    absolute = "abs_total" if "abs_total" in support.columns else "total"
    flags = []
    for _, row in support.iterrows():
        listed = row["largest"]
        largest = sorted((abs(v) for v in listed), reverse=True) if listed is not None else []
        total = row[absolute]
        if not largest or pd.isna(total) or total <= 0:
            continue
        reasons = dominance_reasons(largest, total, s)
        if reasons:
            flags.append(
                {
                    **{d: row[d] for d in dims},
                    "column": row["measure"],
                    "detail": (
                        f"{' and '.join(reasons)}; {int(row['contributors'])} contributor(s), "
                        f"the largest {_shares(largest, total)} of the total"
                    ),
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
        negatives_check(df, meta, hidden, support),
        aggregate_check(df, meta),
        differencing_check(df, meta, settings, hidden, threshold, coarser),
    ]


def threshold_check(
    df: pd.DataFrame, meta: OutputMeta, settings: DisclosureSettings, hidden: pd.DataFrame
) -> Check:
    """Shown counts of people under ``min_cell_count``; 0 too if ``zeros_are_disclosive``."""
    m = settings.min_cell_count
    if settings.zeros_are_disclosive:
        rule = f"at least {m}: a smaller count can point at identifiable people, and a 0 says "
        rule += "that no one in a group has the attribute."
    else:
        rule = f"0 or at least {m}: a smaller count can point at identifiable people."
    check = Check(
        "threshold",
        f"Counts of people must be {rule}",
        "fail",
    )
    for c in meta.people_counts:
        for i in df.index:
            v = df.at[i, c]
            if hidden.at[i, c] or pd.isna(v) or not _disclosive_count(v, settings):
                continue
            detail = f"{int(v)} < {m}" if v else "0, and zeros are disclosive"
            check.cells.append(_cell(df, i, meta.dims, c, detail))
    return check


_COLUMN, _VALUE, _ROW = "__column__", "__value__", "__row__"  # of the canonical long form


def canonical_counts(df: pd.DataFrame, meta: OutputMeta) -> pd.DataFrame:
    """The output's counts of people in one long form, whatever its layout: one row per cell
    (``_ROW``: its row in ``df``) and sub-count column, the sub-count columns being a
    pseudo-dimension (``_COLUMN``) beside the dims. Sub-counts are the people counts other than
    the population count; a table with none has the population count as its only column. So
    ``persons, age_0_14, age_15_64`` per province and ``persons`` per province and age band have
    the same long form, bar the pseudo-dimension's name."""
    subs = [c for c in meta.people_counts if c != meta.count] or list(meta.people_counts)
    dims = list(meta.dims)
    return (
        df[dims + subs]
        .rename_axis(_ROW)
        .reset_index()
        .melt(id_vars=[_ROW, *dims], value_vars=subs, var_name=_COLUMN, value_name=_VALUE)
    )


def _line_totals(long: pd.DataFrame, along: str, coords: Sequence[str]) -> pd.Series:
    """Each entry's total of its line along ``along`` (the entries sharing every other coord)."""
    others = [c for c in coords if c != along]
    if not others:
        return pd.Series(long[_VALUE].sum(), index=long.index)
    return long.groupby(others, dropna=False)[_VALUE].transform("sum")


def zeros_check(df: pd.DataFrame, meta: OutputMeta, hidden: pd.DataFrame) -> Check:
    """Shown zeros within a non-empty group, for the reviewer to judge. On the canonical long
    form (:func:`canonical_counts`), a 0 is flagged when any line through it, along a dimension
    or along the pseudo-dimension of sub-counts, has a positive total: the line is a group with
    people in it, of whom none is in this cell. Along the pseudo-dimension the line is the cell
    itself, whose population count (where there is one) is its total. Totals count hidden
    values too: a suppressed count is still known to be there."""
    check = Check(
        "zeros",
        "A zero within a non-empty group (a cell's population, or a row or column of the table) "
        "says that no one in that group is in this cell or has the attribute. The reviewer "
        "judges whether that discloses something about the group.",
        "warn",
    )
    if not meta.people_counts:
        return check
    long = canonical_counts(df, meta)
    coords = [*meta.dims, _COLUMN]
    totals = {along: _line_totals(long, along, coords) for along in coords}
    if meta.count:
        population = long[_ROW].map(df[meta.count]).astype(float).fillna(0)
        totals[_COLUMN] = totals[_COLUMN].clip(lower=population)
    for j in long.index[long[_VALUE].eq(0)]:
        i, c = long.at[j, _ROW], long.at[j, _COLUMN]
        if hidden.at[i, c]:
            continue
        line = next((a for a in (_COLUMN, *meta.dims) if totals[a][j] > 0), None)
        if line is not None:
            group = "its cell" if line == _COLUMN else f"its line along {line}"
            detail = f"0 within a non-empty group: {group} totals {totals[line][j]:g}"
            check.cells.append(_cell(df, i, meta.dims, c, detail))
    return check


def dominance_check(
    df: pd.DataFrame,
    meta: OutputMeta,
    settings: DisclosureSettings,
    hidden: pd.DataFrame,
    support: pd.DataFrame | None,
) -> Check:
    """Shown magnitude cells dominated by their largest contributors (:func:`dominance_flags`)."""
    share = "at least" if settings.dominance_nk_inclusive else "more than"
    check = Check(
        "dominance",
        f"A total must not be dominated by its largest contributors, counted as absolute values "
        f"(p% rule, p = {settings.dominance_p_percent:g}; ({settings.dominance_n}, "
        f"{settings.dominance_k_percent:g}) rule: the {settings.dominance_n} largest make up "
        f"{share} {settings.dominance_k_percent:g}%).",
        "fail",
    )
    if support is not None and len(support):
        flags = dominance_flags(support, meta.dims, settings)
        check.cells = _shown(df, meta.dims, hidden, flags)
    return check


def negatives_check(
    df: pd.DataFrame, meta: OutputMeta, hidden: pd.DataFrame, support: pd.DataFrame | None
) -> Check:
    """Shown magnitude cells with a negative contribution, for the reviewer (ACRO sends such
    outputs to review too: dominance is not defined there the usual way)."""
    check = Check(
        "negatives",
        "Some contributions to this total are negative (losses, refunds, corrections): positive "
        "and negative values can cancel out, so a total may hide how large single contributions "
        "are. The dominance rules count them as absolute values; the reviewer judges whether the "
        "total still says too much about a contributor.",
        "warn",
    )
    if support is None or "negatives" not in support.columns:
        return check  # written before runs counted negative contributions
    flags = [
        {
            **{d: row[d] for d in meta.dims},
            "column": row["measure"],
            "detail": f"{int(row['negatives'])} of {int(row['contributors'])} contribution(s) "
            "negative",
        }
        for _, row in support.iterrows()
        if row["negatives"] > 0
    ]
    check.cells = _shown(df, meta.dims, hidden, flags)
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
    dims = list(meta.dims)
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
        # A coarse cell that fails the threshold is never published, so it reveals nothing.
        totals = {tuple(row[list(other.dims)]): row[other.count] for _, row in other_df.iterrows()}
        for key, part in df.groupby(list(other.dims), dropna=False):
            rows = part.index
            total = totals.get(key)
            if total is not None and _disclosive_count(total, settings):
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
    cells: list[dict]  # every hidden cell: dims, column, primary or secondary, why, interval
    # Hidden cells whose interval a reader can narrow below the protection level (by LP):
    # dims, column, interval and the interval needed. A release with any is refused.
    exposed: list[dict] = field(default_factory=list)

    def public_cells(self) -> list[dict]:
        """The hidden cells as a release lists them: where, and primary or secondary, never the
        check's detail (``3 < 10`` is the hidden value) nor the interval."""
        return [
            {k: v for k, v in c.items() if k not in ("reason", "interval")}
            | {
                "reason": c["reason"].split(" (")[0]
                if c["reason"].startswith("primary")
                else "secondary"
            }
            for c in self.cells
        ]


def suppress(
    df: pd.DataFrame,
    meta: OutputMeta,
    checks: Sequence[Check],
    *,
    additive: Sequence[str] = (),
    coarser: Sequence[tuple[str, ...]] = (),
    settings: DisclosureSettings | None = None,
) -> Suppression:
    """Primary suppression of every failing cell, then secondary suppression (see module doc).
    ``additive``: magnitude columns that are sums (their totals are known too). With
    ``settings``, every primary cell of a summed column is then protected by linear programming
    (:mod:`pooling.review.protection`): further cells are hidden until its interval reaches the
    protection level, and each hidden cell's interval is recorded."""
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
                parts = df.groupby(list(g), dropna=False) if g else [((), df)]
                for key, part in parts:
                    rows = list(part.index)
                    lone = [r for r in rows if hidden.at[r, column]]
                    if len(lone) != 1:
                        continue
                    open_ = [
                        r for r in rows if not hidden.at[r, column] and pd.notna(df.at[r, column])
                    ]
                    if not open_:
                        continue
                    # The smallest value loses the least information; a zero only if nothing else.
                    pick = min(open_, key=lambda r: (df.at[r, column] == 0, df.at[r, column]))
                    hidden.at[pick, column] = True
                    why[(pick, column)] = (
                        f"secondary: protects hidden cell {_where(df, lone[0], dims)} in "
                        f"{_total_name(g, key)}"
                    )
                    changed = True

    groupings = [t.dims for t in protection.line_totals(dims)] + [tuple(c) for c in coarser]
    exposed: list[dict] = []

    def published_totals(column: str) -> list[protection.KnownTotals]:
        """The totals a reader may know (or derive: the LP combines them): every total that
        the same rules would let anyone publish. Of people, 0 or at least ``min_cell_count``, as
        for the differencing check; of a magnitude, one with at least two contributing cells (a
        total of one cell is that cell, as sensitive as it)."""
        people = column in meta.people_counts
        m, known = settings.min_cell_count, []
        for g in groupings:
            parts = df.groupby(list(g), dropna=False) if g else [((), df)]
            keys = []
            for key, part in parts:
                v = part[column]
                ok = not 0 < v.sum() < m if people else int((v.fillna(0) != 0).sum()) != 1
                if ok:
                    keys.append(key if isinstance(key, tuple) else (key,))
            known.append(protection.KnownTotals(g, frozenset(keys)))
        return known

    def provable(column: str) -> None:
        """Close what the per-line rule leaves open (the bridge): a primary cell of ``column``
        whose interval, given every known total, is narrower than the protection level."""
        if settings is None or not hidden[column].any():
            return
        values = df[column]
        people = column in meta.people_counts
        lower = 0.0 if people or (values.dropna() >= 0).all() else None
        p_count = settings.protection_percent / 100 * settings.min_cell_count
        p_share = settings.dominance_p_percent / 100
        level = p_count if people else (lambda v: abs(v) * p_share)
        primary = pd.Series(
            [why.get((i, column), "").startswith("primary") for i in df.index], index=df.index
        )
        done = protection.protect(
            df,
            dims,
            column,
            hidden[column],
            published_totals(column),
            level,
            lower,
            sensitive=None if settings.protect_secondary_cells else primary,
            sliding=True,
        )
        for a in done.added:
            hidden.at[a.index, column] = True
            why[(a.index, column)] = a.reason
        for i, (lo, hi) in done.intervals.iterrows():
            bounds[(i, column)] = [float(lo), float(hi)]
        for i in done.exposed:
            lo, hi = bounds[(i, column)]
            x = values[i]
            wide = min(x, need := level if not callable(level) else level(x)) + need
            if lower is None:
                wide = 2 * need
            exposed.append(
                {
                    **{d: df.at[i, d] for d in dims},
                    "column": column,
                    "detail": (
                        f"a reader can narrow it to [{lo:g}, {hi:g}]; its interval must be at "
                        f"least {wide:g} wide"
                    ),
                }
            )

    bounds: dict[tuple[int, str], list[float]] = {}
    population = meta.count
    if population:
        secondary(population)
        provable(population)
        for i in df.index[hidden[population]]:
            for c in values:
                if not hidden.at[i, c]:
                    hidden.at[i, c] = True
                    why[(i, c)] = "secondary: the cell's population count is hidden"
    for c in summed:
        if c != population:
            secondary(c)
            provable(c)
    derived = [c for c in values if c not in summed]
    for i in df.index[hidden[summed].any(axis=1)] if summed else []:
        for c in derived:
            if not hidden.at[i, c]:
                hidden.at[i, c] = True
                why[(i, c)] = "secondary: derived from a hidden value"
    released = df.astype(object).where(~hidden, None)
    cells = [
        {
            **{d: df.at[i, d] for d in dims},
            "column": c,
            "reason": reason,
            **({"interval": bounds[(i, c)]} if (i, c) in bounds else {}),
        }
        for (i, c), reason in sorted(why.items(), key=lambda kv: (kv[0][0], kv[0][1]))
    ]
    return Suppression(released, hidden, cells, exposed)


def protection_check(sup: Suppression, settings: DisclosureSettings) -> Check:
    """On what a suppression would release: every primary cell's interval of consistent values
    (by LP) is at least as wide as the protection level asks."""
    level = settings.protection_percent / 100 * settings.min_cell_count
    return Check(
        "protection",
        f"A hidden cell must stay uncertain: from everything released (every cell, every total, "
        f"counts never negative) a reader must not narrow a hidden count to an interval "
        f"narrower than ±{level:g} ({settings.protection_percent:g} % of "
        f"{settings.min_cell_count}), nor a hidden magnitude to narrower than "
        f"±{settings.dominance_p_percent:g} % of it.",
        "fail",
        list(sup.exposed),
    )


def round_counts(released: pd.DataFrame, meta: OutputMeta, base: int) -> pd.DataFrame:
    """``released`` (after suppression) with every shown count of people rounded to the nearest
    multiple of ``base``, halves up: 25 gives 30 with base 10 (exact on integers; with an odd
    base such as 5 no whole count is halfway). Hidden cells (null) stay null. ACRO's "round"
    mitigation rounds halves to even instead (numpy's rounding), which differs for even bases
    only. Derived values (rates, means) are left as they are: the reviewer judges whether one
    beside a rounded count gives the exact count back."""
    out = released.copy()
    for c in meta.people_counts:
        if c in out.columns:
            # Built as objects: pandas would turn the nulls of hidden cells into NaN.
            rounded = [v if pd.isna(v) else _round_half_up(v, base) for v in out[c]]
            out[c] = pd.Series(rounded, index=out.index, dtype=object)
    return out


def _round_half_up(v: float, base: int) -> int:
    q, r = divmod(v, base)
    return int((q + (2 * r >= base)) * base)
