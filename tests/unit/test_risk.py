"""Re-identification risk (pooling.pools.risk) against an independent pandas oracle, and
k-anonymity enforcement (pooling.pools.enforce) on small random pools."""

from __future__ import annotations

import hashlib
import math
import random
from collections import Counter

import pandas as pd
import pytest

from pooling.core.config import RiskSettings
from pooling.pools import risk

PP = "pool_pseudonym"
PROVINCES = ["10", "11", "12", "13"]
BANDS = ["20-24", "25-29", "30-34", "35-39", "85+"]
DIAGNOSES = ["E11", "I10", "J45", "K21"]


def _pp(i: int) -> str:
    return hashlib.sha256(str(i).encode()).hexdigest()


def random_pool(seed: int, members: int = 200) -> dict[str, pd.DataFrame]:
    """Three person-level tables: some members in only some, some with several rows."""
    rnd = random.Random(seed)
    welfare, register, visits = [], [], []
    for i in range(members):
        p = _pp(i)
        prov, band, sex = rnd.choice(PROVINCES), rnd.choice(BANDS), rnd.choice("MF")
        if rnd.random() < 0.7:
            welfare.append((p, prov, band, sex, rnd.randint(0, 90_000)))
            if rnd.random() < 0.1:  # a second row, moved province
                welfare.append((p, rnd.choice(PROVINCES), band, sex, rnd.randint(0, 90_000)))
        if rnd.random() < 0.9:
            register.append((p, prov, band, sex if rnd.random() < 0.97 else None))
        for _ in range(rnd.choice([0, 0, 1, 1, 2, 3])):
            district = prov + rnd.choice(["01", "02"])
            visits.append((p, district, rnd.choice(DIAGNOSES + [None])))
    return {
        "welfare": pd.DataFrame(
            welfare, columns=[PP, "province_code", "age_band", "sex", "income"]
        ),
        "register": pd.DataFrame(register, columns=[PP, "province_code", "age_band", "sex"]),
        "visits": pd.DataFrame(visits, columns=[PP, "district_code", "diagnosis_icd10"]),
    }


# --------------------------------------------------------------------------- the oracle

QIS = {"province_code", "district_code", "age_band", "birth_year", "sex"}


def _set(values) -> tuple | None:
    s = sorted({v for v in values if v is not None and not (isinstance(v, float) and v != v)})
    return tuple(s) if s else None


def oracle_signatures(df: pd.DataFrame, extra_qis=()) -> tuple[list[str], dict]:
    qis = [c for c in df.columns if c in QIS or c in extra_qis]
    out = {}
    for p, g in df.groupby(PP):
        out[p] = (tuple(_set(g[c]) for c in qis), {c: _set(g[c]) for c in df.columns})
    return qis, out


def oracle_figures(sigs: dict, k: int, sensitive: list[str], population=None) -> dict:
    """sigs: member → (signature tuple, {column: value set}); population: (F per key, key of)."""
    size = Counter(s for s, _ in sigs.values())
    values: dict = {}
    for s, cols in sigs.values():
        for a in sensitive:
            values.setdefault((s, a), set()).update(cols.get(a) or ())
    n = len(sigs)
    out = {
        "members": n,
        "classes": len(size),
        "min": min(size.values()),
        "below": sum(v for v in size.values() if v < k),
        "uniques": sum(1 for v in size.values() if v == 1),
        "l": {
            a: min((len(values[(s, a)]) for s in size if values[(s, a)]), default=None)
            for a in sensitive
        },
        "prosecutor": (
            sum(v for v in size.values() if v < k) / n,
            1 / min(size.values()),
            len(size) / n,
        ),
    }
    hist = Counter()
    for v in size.values():
        low = v if v < k else k * 2 ** int(math.floor(math.log2(v / k)))
        hist[low] += v
    out["hist"] = dict(hist)
    if population is not None:
        f_of, key_of = population
        matched = {s: f_of[key_of(s)] for s in size if f_of.get(key_of(s))}
        m = sum(size[s] for s in matched)
        mean_inverse = sum(size[s] / f for s, f in matched.items()) / m
        out["journalist"] = (
            sum(size[s] for s, f in matched.items() if f < k) / m,
            1 / min(matched.values()),
            max(len(matched) / sum(matched.values()), mean_inverse),
        )
    return out


def oracle(pool: dict[str, pd.DataFrame], k: int, sensitive: list[str], population: str) -> dict:
    per = {t: oracle_signatures(df) for t, df in pool.items()}
    pop_qis, pop_sigs = per[population]
    out = {}
    for t, (qis, sigs) in per.items():
        shared = [q for q in qis if q in pop_qis]
        key = lambda s, qis=qis, shared=shared: tuple(s[qis.index(q)] for q in shared)  # noqa: E731
        f_of = Counter(tuple(s[pop_qis.index(q)] for q in shared) for s, _ in pop_sigs.values())
        out[t] = oracle_figures(sigs, k, sensitive, (f_of, key) if shared else None)
    # Pool-wide: each table's signature part (None per QI where absent), sets united.
    members = sorted({p for _, sigs in per.values() for p in sigs})
    pool_sigs = {}
    for p in members:
        sig, cols = (), {}
        for _t, (qis, sigs) in per.items():
            s, c = sigs.get(p, ((None,) * len(qis), {}))
            sig += s
            for a in sensitive:
                cols[a] = tuple(sorted(set(cols.get(a) or ()) | set(c.get(a) or ()))) or None
        pool_sigs[p] = (sig, cols)
    start = sum(len(per[t][0]) for t in list(per)[: list(per).index(population)])
    span = slice(start, start + len(pop_qis))
    f_of = Counter(s for s, _ in pop_sigs.values())
    out["pool"] = oracle_figures(pool_sigs, k, sensitive, (f_of, lambda s: s[span]))
    return out


# --------------------------------------------------------------------------- measuring


def _frames(spark, pool: dict[str, pd.DataFrame]):
    out = {}
    for t, df in pool.items():
        schema = ", ".join(f"{c} {'bigint' if c == 'income' else 'string'}" for c in df.columns)
        rows = [tuple(None if pd.isna(v) else v for v in r) for r in df.itertuples(index=False)]
        out[t] = spark.createDataFrame(rows, schema)
    return out


def _check(fig: risk.Figures, want: dict) -> None:
    assert (fig.members, fig.classes, fig.min_class_size) == (
        want["members"],
        want["classes"],
        want["min"],
    ), fig.scope
    assert (fig.below_k, fig.sample_uniques) == (want["below"], want["uniques"]), fig.scope
    assert fig.l_diversity == {a: v for a, v in want["l"].items() if a in fig.l_diversity}
    assert fig.prosecutor == pytest.approx(want["prosecutor"]), fig.scope
    assert {b.low: b.members for b in fig.histogram} == want["hist"], fig.scope
    if "journalist" in want:
        assert fig.journalist == pytest.approx(want["journalist"]), fig.scope
    else:
        assert fig.journalist is None, fig.scope


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_every_figure_matches_the_pandas_oracle(spark, conf, seed):
    pool = random_pool(seed)
    settings = RiskSettings(k=3, sensitive=["diagnosis_icd10"], population="register")
    figs = {f.scope: f for f in risk.measure(_frames(spark, pool), conf.standard, settings)}
    want = oracle(pool, 3, ["diagnosis_icd10"], "register")
    assert set(figs) == {"welfare", "register", "visits", "pool"}
    for scope, w in want.items():
        _check(figs[scope], w)
    assert figs["visits"].l_diversity["diagnosis_icd10"] is not None
    assert figs["pool"].k == 3 and figs["pool"].below_k > 0  # a pool this small is not 3-anonymous
