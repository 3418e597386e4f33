"""The secretariat's automatic output checks and suppression, on small pandas tables."""

import random

import pandas as pd
import pytest

from pooling.core.config import DisclosureSettings
from pooling.review.disclosure import (
    OutputMeta,
    coarser_outputs,
    dominance_flags,
    run_checks,
    suppress,
)

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
    assert reasons[("F", "persons")].startswith("primary: threshold")
    assert reasons[("X", "persons")].startswith("secondary")


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
    assert _by(zeros) == {("10", "F", "screened")}  # the empty cell's zero says nothing


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
