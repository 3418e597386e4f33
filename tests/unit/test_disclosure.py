"""The secretariat's automatic output checks and suppression, on small pandas tables."""

import random

import pandas as pd
import pytest

from pooling.core.config import DisclosureSettings
from pooling.review.disclosure import (
    Check,
    OutputMeta,
    coarser_outputs,
    dominance_flags,
    protection_check,
    round_counts,
    run_checks,
    suppress,
)
from pooling.review.protection import KnownTotals, intervals, line_totals

S = DisclosureSettings()  # min 10, p 10 %, (2, 85 %)
META = OutputMeta("o", ("province_code", "sex"), "persons", ("persons", "screened"))


def _table(seed: int) -> pd.DataFrame:
    rng = random.Random(seed)
    rows = []
    for p in ("10", "11", "12", "13", "14", "15"):
        for s in ("F", "M"):
            persons = rng.choice([0, 1, 3, 9, 10, 11, 25, 40, 120])
            rows.append((p, s, persons, rng.randint(0, persons), round(rng.uniform(18, 30), 1)))
    return pd.DataFrame(rows, columns=["province_code", "sex", "persons", "screened", "mean_bmi"])


def _by(check):
    return {(c["province_code"], c.get("sex"), c["column"]) for c in check.cells}


@pytest.mark.parametrize("seed", range(12))
def test_every_count_under_the_threshold_is_flagged_and_nothing_else(seed):
    df = _table(seed)
    checks = {c.name: c for c in run_checks(df, META, S)}
    want = {
        (r.province_code, r.sex, col)
        for r in df.itertuples()
        for col in ("persons", "screened")
        if 0 < getattr(r, col) < 10
    }
    assert _by(checks["threshold"]) == want
    assert checks["threshold"].severity == "fail"


@pytest.mark.parametrize("seed", range(12))
def test_suppression_hides_every_small_count_and_no_hidden_cell_is_alone_in_a_total(seed):
    df = _table(seed)
    sup = suppress(df, META, run_checks(df, META, S))
    released = sup.released
    for col in ("persons", "screened"):
        shown = [v for v in released[col] if v is not None]
        assert all(v == 0 or v >= 10 for v in shown), col
        # Every known total (a line along either dimension, the whole table) hides 0 or >= 2.
        for group in (["province_code"], ["sex"], []):
            parts = [p.index for _, p in df.groupby(group)] if group else [df.index]
            for rows in parts:
                k = int(sup.hidden.loc[list(rows), col].sum())
                assert (
                    k != 1
                    or len(rows) == 1
                    or all(sup.hidden.loc[list(rows), col] | df.loc[list(rows), col].isna())
                ), (col, group)
    # A hidden population count hides its whole row; a mean beside a hidden count is hidden.
    for i in df.index[sup.hidden["persons"]]:
        assert sup.hidden.loc[i, ["screened", "mean_bmi"]].all()
    for i in df.index[sup.hidden[["persons", "screened"]].any(axis=1)]:
        assert sup.hidden.at[i, "mean_bmi"]
    # After suppression the threshold check passes on what would be released.
    after = {c.name: c for c in run_checks(df, META, S, hidden=sup.hidden)}
    assert after["threshold"].passed
    assert {c["reason"].split(":")[0] for c in sup.cells} <= {"primary", "secondary"}


def test_secondary_suppression_picks_the_smallest_other_cell():
    df = pd.DataFrame(
        {
            "province_code": ["10", "10", "10"],
            "sex": ["F", "M", "X"],
            "persons": [3, 50, 20],
            "screened": [0, 0, 0],
            "mean_bmi": [20.0, 21.0, 22.0],
        }
    )
    sup = suppress(df, META, run_checks(df, META, S))
    assert sup.hidden["persons"].tolist() == [True, False, True]
    reasons = {(c["sex"], c["column"]): c["reason"] for c in sup.cells}
    assert reasons[("F", "persons")] == "primary: threshold (3 < 10)"
    # The reason names the hidden cell it protects and the known total it would be recomputed from.
    assert reasons[("X", "persons")] == (
        "secondary: protects hidden cell province_code=10, sex=F in the total of province_code=10"
    )
    one_dim = OutputMeta("by_province", ("province_code",), "persons", ("persons",))
    by_province = pd.DataFrame({"province_code": ["10", "11", "12"], "persons": [3, 50, 20]})
    sup = suppress(by_province, one_dim, run_checks(by_province, one_dim, S))
    assert [c["reason"] for c in sup.cells] == [
        "primary: threshold (3 < 10)",
        "secondary: protects hidden cell province_code=10 in the table's total",
    ]


def test_zeros_in_non_empty_cells_are_flagged_for_the_reviewer():
    df = pd.DataFrame(
        {
            "province_code": ["10", "11"],
            "sex": ["F", "F"],
            "persons": [40, 0],
            "screened": [0, 0],
            "mean_bmi": [20.0, None],
        }
    )
    zeros = next(c for c in run_checks(df, META, S) if c.name == "zeros")
    assert zeros.severity == "warn"
    # The empty cell's zero says nothing: its cell, and its lines along either dimension, hold no
    # one screened.
    assert _by(zeros) == {("10", "F", "screened")}
    assert zeros.cells[0]["detail"] == "0 within a non-empty group: its cell totals 40"


def test_a_zero_is_flagged_where_any_line_through_it_is_not_empty():
    # Persons by province and sex (the population count is the only count): a 0 is flagged when
    # its province or its sex has people elsewhere, even though the cell itself is empty.
    meta = OutputMeta("by_province_sex", ("province_code", "sex"), "persons", ("persons",))
    df = pd.DataFrame(
        {
            "province_code": ["10", "10", "11", "11"],
            "sex": ["F", "M", "F", "M"],
            "persons": [40, 0, 0, 0],
        }
    )
    zeros = next(c for c in run_checks(df, meta, S) if c.name == "zeros")
    details = {(c["province_code"], c["sex"]): c["detail"] for c in zeros.cells}
    assert details == {
        ("10", "M"): "0 within a non-empty group: its line along sex totals 40",
        ("11", "F"): "0 within a non-empty group: its line along province_code totals 40",
    }
    # A hidden zero is not shown, so it says nothing.
    hidden = pd.DataFrame(False, index=df.index, columns=df.columns)
    hidden.loc[1, "persons"] = True
    zeros = next(c for c in run_checks(df, meta, S, hidden=hidden) if c.name == "zeros")
    assert {(c["province_code"], c["sex"]) for c in zeros.cells} == {("11", "F")}


AGES = ("age_0_14", "age_15_64", "age_65_up")


def _long_and_wide(seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """One random count of persons by province, sex and age band, in both layouts: long (age
    band a dimension) and wide (a column per age band beside the total, per province and sex)."""
    rng = random.Random(seed)
    provinces = ("10", "11", "12", "13")
    empty_province, empty_age = rng.choice(provinces), rng.choice((*AGES, None))
    rows = [
        (p, s, a, 0 if empty_province == p or a == empty_age else rng.choice([0, 0, 0, 3, 12, 40]))
        for p in provinces
        for s in ("F", "M")
        for a in AGES
    ]
    long = pd.DataFrame(rows, columns=["province_code", "sex", "age_band", "persons"])
    wide = long.pivot(index=["province_code", "sex"], columns="age_band", values="persons")
    wide = wide.rename_axis(columns=None).reset_index()
    wide.insert(2, "persons", wide[list(AGES)].sum(axis=1))
    return long, wide


@pytest.mark.parametrize("seed", range(12))
def test_zeros_are_flagged_alike_whatever_the_layout(seed):
    long, wide = _long_and_wide(seed)
    long_meta = OutputMeta("long", ("province_code", "sex", "age_band"), "persons", ("persons",))
    wide_meta = OutputMeta("wide", ("province_code", "sex"), "persons", ("persons", *AGES))
    flagged_long = {
        (c["province_code"], c["sex"], c["age_band"])
        for c in next(c for c in run_checks(long, long_meta, S) if c.name == "zeros").cells
    }
    flagged_wide = {
        (c["province_code"], c["sex"], c["column"])
        for c in next(c for c in run_checks(wide, wide_meta, S) if c.name == "zeros").cells
    }
    assert flagged_long == flagged_wide
    # Which is: every zero whose province and sex, province and age band, or sex and age band
    # hold someone.
    persons = long.set_index(["province_code", "sex", "age_band"])["persons"]
    lines = [["province_code", "sex"], ["province_code", "age_band"], ["sex", "age_band"]]
    non_empty = [persons.groupby(level=line).transform("sum") > 0 for line in lines]
    want = {key for key, v in persons.items() if v == 0 and any(n[key] for n in non_empty)}
    assert flagged_long == want


def test_dominance_p_percent_and_n_k_rules():
    support = pd.DataFrame(
        {
            "province_code": ["10", "11", "12"],
            "measure": ["area_rai"] * 3,
            "contributors": [5, 5, 3],
            "total": [100.0, 100.0, 100.0],
            # 10: balanced; 11: one holder of 91 (p% rule: 100-91-2 = 7 < 9.1);
            # 12: two holders of 86 together (the (2, 85) rule), remainder 14 >= 10% of 46.
            "largest": [[25.0, 20.0], [91.0, 2.0], [46.0, 40.0]],
        }
    )
    flags = {
        f["province_code"]: f["detail"] for f in dominance_flags(support, ["province_code"], S)
    }
    assert set(flags) == {"11", "12"}
    assert "p% rule" in flags["11"] and "(2, 85) rule" in flags["12"]
    assert "p% rule" not in flags["12"]


def _support(rows: dict[str, list[float]], *, absolute: bool = True) -> pd.DataFrame:
    """The support table a run writes, from each cell's every contribution; ``absolute=False``:
    as runs wrote it before, the signed total and the largest signed values only."""
    out = []
    for province, values in rows.items():
        row = {
            "province_code": province,
            "measure": "area_rai",
            "contributors": len(values),
            "total": sum(values),
        }
        if absolute:
            row |= {
                "abs_total": sum(abs(v) for v in values),
                "negatives": sum(v < 0 for v in values),
                "largest": sorted((abs(v) for v in values), reverse=True)[:2],
            }
        else:
            row["largest"] = sorted(values, reverse=True)[:2]
        out.append(row)
    return pd.DataFrame(out)


def test_dominance_counts_negative_contributions_as_absolute_values():
    contributions = {
        # A gain and a loss cancel out: the signed total (30) makes the gain look dominant.
        "10": [60.0, -50.0, 5.0, 5.0, 5.0, 5.0],
        # One large loss: the signed total is negative, and signed arithmetic skips the cell.
        "11": [-100.0, 2.0, 2.0, 2.0],
        # A large loss with a remainder of 15 >= 10% of it, but 105 of 120 in the two largest.
        "12": [-100.0, 5.0, 5.0, 5.0, 5.0],
        "13": [30.0, 30.0, 20.0, 20.0],
    }
    flags = {
        f["province_code"]: f["detail"]
        for f in dominance_flags(_support(contributions), ["province_code"], S)
    }
    assert set(flags) == {"11", "12"}
    assert "p% rule" in flags["11"] and "(2, 85) rule" in flags["11"]
    assert "p% rule" not in flags["12"] and "(2, 85) rule" in flags["12"]
    # The same cells on a support table of signed values (as runs wrote it before): the gain
    # and loss that cancel out are flagged, the dominant losses are not.
    signed = dominance_flags(_support(contributions, absolute=False), ["province_code"], S)
    assert {f["province_code"] for f in signed} == {"10"}


def test_every_cell_with_a_negative_contribution_is_listed_for_the_reviewer():
    meta = OutputMeta("area", ("province_code",), None, ())
    df = pd.DataFrame(
        {"province_code": ["10", "11", "12", "13"], "area_rai": [30.0, 1.0, 2.0, 3.0]}
    )
    support = _support(
        {
            "10": [60.0, -50.0, 5.0, 5.0, 5.0, 5.0],
            "11": [-100.0, 2.0, 2.0, 2.0],
            "12": [-1.0, -1.0, 30.0, 30.0, 30.0],
            "13": [30.0, 30.0, 20.0, 20.0],
        }
    )
    checks = {c.name: c for c in run_checks(df, meta, S, support=support)}
    negatives = checks["negatives"]
    assert negatives.severity == "warn"
    assert {c["province_code"]: c["detail"] for c in negatives.cells} == {
        "10": "1 of 6 contribution(s) negative",
        "11": "1 of 4 contribution(s) negative",
        "12": "2 of 5 contribution(s) negative",
    }
    # Hidden cells are not released: what suppression would release lists only the shown ones.
    sup = suppress(df, meta, list(checks.values()), additive=["area_rai"])
    after = {c.name: c for c in run_checks(df, meta, S, support=support, hidden=sup.hidden)}
    shown = {p for p, h in zip(df["province_code"], sup.hidden["area_rai"], strict=True) if not h}
    assert {c["province_code"] for c in after["negatives"].cells} == shown & {"10", "11", "12"}
    # A support table written before runs counted negatives: nothing to list.
    old = _support({"10": [60.0, -50.0, 5.0]}, absolute=False)
    assert next(c for c in run_checks(df, meta, S, support=old) if c.name == "negatives").passed


def test_the_n_k_rule_at_exactly_k_percent_follows_the_setting():
    # The two largest make up exactly 85%, just over and just under; the remainder is >= 10% of
    # the largest in each, so the p% rule passes.
    support = _support(
        {
            "exact": [50.0, 35.0, 5.0, 5.0, 5.0],
            "over": [50.0, 35.5, 4.5, 5.0, 5.0],
            "under": [50.0, 34.5, 5.5, 5.0, 5.0],
        }
    )
    inclusive = DisclosureSettings(dominance_nk_inclusive=True)  # share >= k, as ACRO 1.0.2
    by_default = {f["province_code"] for f in dominance_flags(support, ["province_code"], S)}
    by_acro = {f["province_code"] for f in dominance_flags(support, ["province_code"], inclusive)}
    assert by_default == {"over"}
    assert by_acro == {"exact", "over"}


def test_a_zero_fails_the_threshold_only_where_zeros_are_disclosive():
    df = pd.DataFrame(
        {
            "province_code": ["10", "11", "12", "13"],
            "sex": ["F", "F", "F", "F"],
            "persons": [0, 9, 10, 40],
            "screened": [0, 0, 10, 0],
            "mean_bmi": [None, 20.0, 21.0, 22.0],
        }
    )
    # The threshold's own boundary: 9 fails, 10 passes; 0 passes by default.
    default = next(c for c in run_checks(df, META, S) if c.name == "threshold")
    assert _by(default) == {("11", "F", "persons")}
    zeros = DisclosureSettings(zeros_are_disclosive=True)
    strict = next(c for c in run_checks(df, META, zeros) if c.name == "threshold")
    assert _by(strict) == {
        ("10", "F", "persons"),
        ("10", "F", "screened"),
        ("11", "F", "persons"),
        ("11", "F", "screened"),
        ("13", "F", "screened"),
    }
    assert {c["detail"] for c in strict.cells} == {"9 < 10", "0, and zeros are disclosive"}
    # Suppression hides them all, and what it would release passes.
    sup = suppress(df, META, run_checks(df, META, zeros))
    assert not any(
        v == 0 for col in ("persons", "screened") for v in sup.released[col] if v is not None
    )
    after = next(c for c in run_checks(df, META, zeros, hidden=sup.hidden) if c.name == "threshold")
    assert after.passed


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("base", [5, 10])
def test_released_counts_are_rounded_to_the_base_and_hidden_cells_stay_hidden(seed, base):
    df = _table(seed)
    sup = suppress(df, META, run_checks(df, META, S))
    rounded = round_counts(sup.released, META, base)
    for col in ("persons", "screened"):
        for i in df.index:
            if sup.hidden.at[i, col]:
                assert rounded.at[i, col] is None
                continue
            v, r = df.at[i, col], rounded.at[i, col]
            assert r % base == 0 and abs(r - v) <= base / 2
            assert r - v != -base / 2  # halves go up
    assert rounded["mean_bmi"].tolist() == sup.released["mean_bmi"].tolist()
    assert rounded["province_code"].tolist() == df["province_code"].tolist()


def test_rounding_halves_go_up():
    meta = OutputMeta("o", ("province_code",), "persons", ("persons",))
    released = pd.DataFrame(
        {"province_code": list("abcdefg"), "persons": [0, 2, 3, 12, 15, 25, None]}, dtype=object
    )
    assert round_counts(released, meta, 10)["persons"].tolist() == [0, 0, 0, 10, 20, 30, None]
    assert round_counts(released, meta, 5)["persons"].tolist() == [0, 0, 5, 10, 15, 25, None]


def test_largest_contributions_keeps_absolute_values_and_counts_negatives(spark_session):
    from pooling.outputs.runs import largest_contributions

    contributions = spark_session.createDataFrame(
        [
            ("10", "area_rai", 60.0),
            ("10", "area_rai", -50.0),
            ("10", "area_rai", 5.0),
            ("10", "area_rai", -1.0),
            ("11", "area_rai", 7.0),
        ],
        "province_code string, measure string, value double",
    )
    rows = {
        r["province_code"]: r.asDict()
        for r in largest_contributions(contributions, ["province_code"], 2).collect()
    }
    assert rows["10"] | {"largest": list(rows["10"]["largest"])} == {
        "province_code": "10",
        "measure": "area_rai",
        "contributors": 4,
        "total": 14.0,
        "abs_total": 116.0,
        "negatives": 2,
        "largest": [60.0, 50.0],
    }
    assert (rows["11"]["total"], rows["11"]["abs_total"], rows["11"]["negatives"]) == (7.0, 7.0, 0)
    assert list(rows["11"]["largest"]) == [7.0]


def test_differencing_against_a_coarser_output_of_the_same_people():
    fine = pd.DataFrame(
        {
            "province_code": ["10", "10", "11", "11"],
            "sex": ["F", "M", "F", "M"],
            "persons": [4, 60, 30, 30],
            "screened": [0, 10, 10, 10],
            "mean_bmi": [1.0] * 4,
        }
    )
    coarse_meta = OutputMeta("by_province", ("province_code",), "persons", ("persons",))
    coarse = pd.DataFrame({"province_code": ["10", "11"], "persons": [64, 60]})
    found = coarser_outputs(META, fine, [(coarse_meta, coarse), (META, fine)])
    assert [m.name for m, _ in found] == ["by_province"]
    checks = {c.name: c for c in run_checks(fine, META, S, coarser=found)}
    assert _by(checks["differencing"]) == {("10", None, "persons")}
    sup = suppress(fine, META, list(checks.values()), coarser=[("province_code",)])
    # The small cell and a partner in its province (whose total is published elsewhere).
    assert sup.hidden["persons"].tolist()[:2] == [True, True]
    after = {c.name: c for c in run_checks(fine, META, S, coarser=found, hidden=sup.hidden)}
    assert after["differencing"].passed and after["threshold"].passed
    # Totals that differ are not the same people: no differencing pair.
    other = coarse.assign(persons=[65, 60])
    assert coarser_outputs(META, fine, [(coarse_meta, other)]) == []


def test_pseudonym_shaped_values_and_per_person_rows_fail_the_aggregate_check():
    df = pd.DataFrame(
        {
            "province_code": ["a3" * 32, "11"],
            "sex": ["F", "F"],
            "persons": [1, 1],
            "screened": [0, 1],
            "mean_bmi": [20.0, 21.0],
        }
    )
    aggregate = next(c for c in run_checks(df, META, S) if c.name == "aggregate")
    details = {c["detail"] for c in aggregate.cells}
    assert details == {"values shaped like pseudonyms", "every row counts one person"}


# --------------------------------------------------------------------------- provable protection

META3 = OutputMeta("o3", ("province_code", "sex", "age_band"), "persons", ("persons",))
LEVEL = S.protection_percent / 100 * S.min_cell_count  # ±5 for a threshold of 10


def _width(x: float) -> float:
    """How wide a hidden count's interval must be: that of [x - 5, x + 5], cut at 0 (sliding:
    it may lie anywhere around x)."""
    return x + LEVEL - max(0, x - LEVEL)


def _published_lines(df: pd.DataFrame, dims, column: str) -> list[KnownTotals]:
    """What the test takes a reader to know: every line along each dimension and the whole
    table, less totals the threshold would not let anyone publish (1..9)."""
    known = []
    for t in line_totals(dims):
        parts = df.groupby(list(t.dims)) if t.dims else [((), df)]
        keys = [
            k if isinstance(k, tuple) else (k,) for k, p in parts if not 0 < p[column].sum() < 10
        ]
        known.append(KnownTotals(t.dims, frozenset(keys)))
    return known


def _table3(seed: int) -> pd.DataFrame:
    rng = random.Random(seed)
    rows = [
        (p, s, a, rng.choice([0, 1, 2, 4, 7, 12, 15, 20, 30, 45, 60]))
        for p in ("10", "11", "12", "13")
        for s in ("F", "M", "X")
        for a in ("0-14", "15-64", "65+")
    ]
    return pd.DataFrame(rows, columns=["province_code", "sex", "age_band", "persons"])


@pytest.mark.parametrize("seed", range(30))
def test_after_suppression_no_primary_cell_is_narrower_than_the_protection_level(seed):
    """Sliding protection: each primary count's interval is as wide as [x - 5, x + 5] (cut at
    0), unless no suppression at all could make it so."""
    df = _table3(seed)
    sup = suppress(df, META3, run_checks(df, META3, S), settings=S)
    hidden = sup.hidden["persons"]
    primary = {
        (c["province_code"], c["sex"], c["age_band"])
        for c in sup.cells
        if c["reason"].startswith("primary")
    }
    assert primary  # small cells were planted
    exposed = {(c["province_code"], c["sex"], c["age_band"]) for c in sup.exposed}
    # A fresh LP over what the release shows: every primary cell not reported exposed is safe.
    lines = _published_lines(df, META3.dims, "persons")
    bounds = intervals(df, META3.dims, "persons", hidden, lines)
    for i, (lo, hi) in bounds.iterrows():
        key = tuple(df.loc[i, list(META3.dims)])
        if key in primary and key not in exposed:
            assert hi - lo >= _width(df.at[i, "persons"]) - 1e-6, (key, lo, hi)
    # A cell reported exposed is one no suppression protects: not even hiding every cell.
    everything = pd.Series(True, index=df.index)
    all_hidden = intervals(df, META3.dims, "persons", everything, lines)
    for i in all_hidden.index:
        key = tuple(df.loc[i, list(META3.dims)])
        if key in exposed:
            lo, hi = all_hidden.loc[i]
            assert hi - lo < _width(df.at[i, "persons"]) - 1e-6, (key, lo, hi)
    # Published cells are the table's own; the protection check lists exactly the exposed.
    shown = ~hidden
    assert (sup.released.loc[shown, "persons"] == df.loc[shown, "persons"]).all()
    assert len(protection_check(sup, S).cells) == len(exposed)


STRICT = DisclosureSettings(protect_secondary_cells=True)


@pytest.mark.parametrize("seed", range(10))
def test_the_strict_setting_holds_every_hidden_cell_to_the_protection_level(seed):
    """protect_secondary_cells: the secondary cells need their level too. Every hidden cell not
    reported exposed is as wide as [x - 5, x + 5]; the strict run refuses at least whatever
    the primary-only run refuses, and hides at least as much."""
    df = _table3(seed)
    checks = run_checks(df, META3, S)
    strict = suppress(df, META3, checks, settings=STRICT)
    loose = suppress(df, META3, checks, settings=S)
    hidden = strict.hidden["persons"]
    key = list(META3.dims)
    exposed = {tuple(c[d] for d in key) for c in strict.exposed}
    lines = _published_lines(df, META3.dims, "persons")
    for i, (lo, hi) in intervals(df, META3.dims, "persons", hidden, lines).iterrows():
        if tuple(df.loc[i, key]) not in exposed:
            assert hi - lo >= _width(df.at[i, "persons"]) - 1e-6, (tuple(df.loc[i, key]), lo, hi)
    assert {tuple(c[d] for d in key) for c in loose.exposed} <= exposed
    assert len(protection_check(strict, STRICT).cells) == len(exposed)


def test_a_narrow_secondary_cell_refuses_the_release_only_under_the_strict_setting():
    """A 2 x 2 table of incomes, every total published, with the 50 dominated: the per-line
    rule hides all four cells, and a reader can move them only together, by -50..+60. That is
    wide enough for the 50 (it needs 10 %: a width of 10) but not for the 1000 and the 900
    hidden with it (widths of 200 and 180)."""
    rows = [("a", "1", 50.0), ("a", "2", 1000.0), ("c", "1", 60.0), ("c", "2", 900.0)]
    df = pd.DataFrame(rows, columns=["r", "c", "income"])
    meta = OutputMeta("s", ("r", "c"), None, ())
    cell = {"r": "a", "c": "1", "column": "income", "detail": "p"}
    checks = [Check("dominance", "dominated", "fail", [cell])]
    loose = suppress(df, meta, checks, additive=["income"], settings=S)
    assert loose.hidden["income"].all() and not loose.exposed
    strict = suppress(df, meta, checks, additive=["income"], settings=STRICT)
    exposed = {(c["r"], c["c"]): c["detail"] for c in strict.exposed}
    assert sorted(exposed) == [("a", "2"), ("c", "2")]  # the 1000 and the 900
    assert "narrow it to [940, 1050]" in exposed[("a", "2")]
    assert not protection_check(loose, S).cells and protection_check(strict, STRICT).cells


def _bridge() -> tuple[pd.DataFrame, list[dict]]:
    """Rows a..d × columns 1..4: hidden blocks {a, b} × {1, 2} and {c, d} × {3, 4}, joined by
    (a, 3). Every line hides 0 or at least 2 cells, yet (a, 3) is exact from the totals."""
    small = {
        ("a", "1"),
        ("a", "2"),
        ("b", "1"),
        ("b", "2"),
        ("c", "3"),
        ("c", "4"),
        ("d", "3"),
        ("d", "4"),
        ("a", "3"),
    }
    rows = [(r, c, 3 if (r, c) in small else 40) for r in "abcd" for c in "1234"]
    df = pd.DataFrame(rows, columns=["r", "c", "n"])
    cells = [{"r": r, "c": c, "column": "n", "detail": "3 < 10"} for r, c in sorted(small)]
    return df, cells


def test_the_bridge_that_the_per_line_rule_misses_is_caught_and_closed():
    meta = OutputMeta("b", ("r", "c"), "n", ("n",))
    df, cells = _bridge()
    checks = [Check("threshold", "small", "fail", cells)]
    lines = _published_lines(df, meta.dims, "n")
    # The per-line rule alone (no settings) adds nothing, and leaves (a, 3) exact.
    old = suppress(df, meta, checks)
    assert old.hidden["n"].sum() == len(cells)
    bounds = intervals(df, meta.dims, "n", old.hidden["n"], lines)
    bridge = df.index[(df.r == "a") & (df.c == "3")][0]
    assert bounds.at[bridge, "lo"] == pytest.approx(3) and bounds.at[bridge, "hi"] == pytest.approx(
        3
    )
    # With the LP, further cells are hidden until every primary cell's interval is wide enough.
    new = suppress(df, meta, checks, settings=S)
    assert new.hidden["n"].sum() > len(cells) and not new.exposed
    bounds = intervals(df, meta.dims, "n", new.hidden["n"], lines)
    primary = bounds.loc[old.hidden["n"][old.hidden["n"]].index]
    assert (primary["hi"] - primary["lo"] >= _width(3) - 1e-6).all()
    added = [c for c in new.cells if c["reason"].startswith("secondary: widens")]
    assert added and all("interval" in c for c in new.cells)
    # A release lists the hidden cells without the check's detail (the hidden value).
    assert all("3 < 10" not in str(c) and "interval" not in c for c in new.public_cells())
