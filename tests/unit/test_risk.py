"""Re-identification risk (pooling.pools.risk) against an independent pandas oracle, and
k-anonymity enforcement (pooling.pools.enforce) on small random pools."""

from __future__ import annotations

import hashlib
import math
import random
from collections import Counter
from pathlib import Path

import pandas as pd
import pytest

from pooling.core.config import RiskSettings
from pooling.pools import risk
from pooling.pools.enforce import RiskRefused, enforce

PP = "pool_pseudonym"
PROVINCES = ["10", "11", "12", "13"]
BANDS = ["20-24", "25-29", "30-34", "35-39", "85+"]
DIAGNOSES = ["E11", "I10", "J45", "K21"]


def _pp(i: int) -> str:
    return hashlib.sha256(str(i).encode()).hexdigest()


def random_pool(
    seed: int, members: int = 200, provinces=PROVINCES, bands=BANDS, moved: float = 0.1
) -> dict[str, pd.DataFrame]:
    """Three person-level tables: some members in only some, some with several rows."""
    rnd = random.Random(seed)
    welfare, register, visits = [], [], []
    for i in range(members):
        p = _pp(i)
        prov, band, sex = rnd.choice(provinces), rnd.choice(bands), rnd.choice("MF")
        if rnd.random() < 0.7:
            welfare.append((p, prov, band, sex, rnd.randint(0, 90_000)))
            if rnd.random() < moved:  # a second row, moved province
                welfare.append((p, rnd.choice(provinces), band, sex, rnd.randint(0, 90_000)))
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


# --------------------------------------------------------------------------- enforcement


def _widen(band: str) -> str:
    low = int(band.split("-")[0].rstrip("+"))
    return "80+" if low >= 80 else f"{low // 10 * 10:02d}-{low // 10 * 10 + 9:02d}"


LADDER = {  # the standard's steps, in pandas (birth_year: not in these pools)
    "district_code": ("province_code", lambda v: v[:2]),
    "age_band": ("age_band", _widen),
}


def _pool_classes(pool: dict[str, pd.DataFrame]) -> dict[str, tuple]:
    """member → pool-wide signature (no sensitive attributes), as the oracle computes it."""
    per = {t: oracle_signatures(df) for t, df in pool.items()}
    members = sorted({p for _, sigs in per.values() for p in sigs})
    return {
        p: sum((sigs.get(p, ((None,) * len(q), {}))[0] for q, sigs in per.values()), ())
        for p in members
    }


def oracle_enforce(pool: dict[str, pd.DataFrame], k: int, limit: float):
    """(the ladder's steps taken, the suppressed members, the values they clear per table)."""
    pool = {t: df.copy() for t, df in pool.items()}
    taken = []

    def below():
        sig = _pool_classes(pool)
        size = Counter(sig.values())
        return sig, size, [p for p, s in sig.items() if size[s] < k]

    sig, size, low = below()
    for column, (output, fn) in LADDER.items():
        if len(low) <= limit * len(sig):
            break
        if not any(column in df.columns for df in pool.values()):
            continue
        for t, df in pool.items():
            if column in df.columns:
                if output != column and output in df.columns:
                    pool[t] = df.drop(columns=column)
                else:
                    df[column] = df[column].map(fn, na_action="ignore")
                    pool[t] = df.rename(columns={column: output})
        taken.append(column)
        sig, size, low = below()
    picked = set(low)
    empty = tuple([None] * len(next(iter(sig.values()))))
    nulls = len(low) + (size[empty] if size.get(empty, 0) >= k else 0)
    if low and nulls < k:
        need = k - nulls
        big = [s for s in size if size[s] >= k and s != empty]
        top = min(big, key=lambda s: (-size[s], min(p for p, x in sig.items() if x == s)))
        in_top = sorted(p for p, x in sig.items() if x == top)
        picked |= set(in_top if size[top] - need < k else in_top[:need])
    values = {
        t: int(df[df[PP].isin(picked)][[c for c in df.columns if c in QIS]].notna().sum().sum())
        for t, df in pool.items()
    }
    return taken, picked, values


def _to_pandas(frames) -> dict[str, pd.DataFrame]:
    return {t: df.toPandas().replace({float("nan"): None}) for t, df in frames.items()}


@pytest.mark.parametrize(
    "seed, limit",
    [(4, 1.0), (5, 0.2), (10, 0.1)],  # no step, one step, both steps of the ladder
)
def test_enforcement_makes_every_class_k_and_takes_what_the_oracle_predicts(
    spark, conf, seed, limit
):
    pool = random_pool(seed, provinces=["10", "11"], bands=["30-34", "35-39", "40-44"], moved=0)
    settings = RiskSettings(k=3, max_suppressed_share=limit)
    taken, picked, values = oracle_enforce(pool, 3, limit)
    if len(picked) > limit * len(_pool_classes(pool)):
        pytest.fail(f"seed {seed}: the oracle refuses this pool; pick another")
    out, done = enforce(_frames(spark, pool), conf.standard, settings, "test")
    assert [c.split(" ")[0] for c in done.coarsened] == taken
    assert done.suppressed_members == len(picked)
    assert done.suppressed_values == ({t: v for t, v in values.items()} if picked else {})
    written = _to_pandas(out)
    sizes = Counter(_pool_classes(written).values())
    assert min(sizes.values()) >= 3
    assert ("district_code" in written["visits"].columns) == (not taken)


def test_a_pool_that_needs_too_much_suppression_is_refused_with_the_figures(spark, conf):
    pool = random_pool(6)
    settings = RiskSettings(k=5, max_suppressed_share=0.05)
    with pytest.raises(RiskRefused, match=r"members suppressed \(\d+\.\d\d%\), over .* 5\.00%"):
        enforce(_frames(spark, pool), conf.standard, settings, "test")


def test_a_pool_of_places_and_times_only_has_no_one_to_measure(spark, conf):
    """A pool with no person-level table (the water project's) is measured as empty and left
    as it is, whatever its project's k."""
    rain = spark.createDataFrame(
        [("10", "2025-01", 3.5)], "province_code string, month string, mm double"
    )
    assert risk.measure({"rain": rain}, conf.standard, RiskSettings(k=5)) == []
    out, done = enforce({"rain": rain}, conf.standard, RiskSettings(k=5), "water")
    assert out["rain"] is rain and done.suppressed_members == 0 and done.coarsened == []


def test_a_too_small_suppressed_class_takes_the_first_members_of_the_largest_class(spark, conf):
    # Class X has 5 members, Y 3, and one member is alone: suppressed with it, it makes a class
    # of 1 < k = 3, so the 2 smallest pseudonyms of X (which keeps 3) join it.
    people = [(_pp(i), "10", "30-34", "M") for i in range(5)]
    people += [(_pp(i), "11", "30-34", "M") for i in range(5, 8)]
    people += [(_pp(8), "12", "30-34", "F")]
    frame = spark.createDataFrame(
        people, f"{PP} string, province_code string, age_band string, sex string"
    )
    settings = RiskSettings(k=3, max_suppressed_share=0.5)
    out, done = enforce({"t": frame}, conf.standard, settings, "test")
    first_two = sorted(_pp(i) for i in range(5))[:2]
    blank = {r[PP] for r in out["t"].where("province_code IS NULL").collect()}
    assert blank == {_pp(8), *first_two}
    assert done.suppressed_members == 3 and done.suppressed_values == {"t": 9}
    assert done.coarsened == []  # 1 of 9 below k: within the limit, so no coarsening


def test_age_bands_widen_with_the_standards_own_labels(spark, conf):
    from pyspark.sql import functions as F

    from pseudonymize.standard import birth_year_band, widen_age_band

    bands = spark.createDataFrame(
        [("35-39",), ("00-04",), ("80-84",), ("85+",), (None,)], "b string"
    )
    got = [r[0] for r in bands.select(widen_age_band(F.col("b"), 10, 80)).collect()]
    assert got == ["30-39", "00-09", "80+", "80+", None]
    years = spark.createDataFrame([(1990,), (2020,), (1930,)], "y int")
    reference = conf.standard.reference_date  # 2026-01-01: ages reached in 2026
    got = [r[0] for r in years.select(birth_year_band(F.col("y"), reference, 10, 80)).collect()]
    assert got == ["30-39", "00-09", "80+"]


# --------------------------------------------------------------------------- the pool build

RISKY = """name: risky
title: Risk test
title_th: ทดสอบ
question: Does the build enforce k?
pool_key_version: 1
pool:
  welfare:
    agency: finance
    dataset: welfare_registry
    columns: [province_code, age_band, sex]
  register:
    agency: interior
    dataset: population_register
    columns: [province_code, age_band, sex]
  visits:
    agency: public_health
    dataset: service_records
    columns: [diagnosis_icd10]
analysts: [fpo_analyst]
disclosure:
  min_cell_count: 10
risk: {k: 3, sensitive: [diagnosis_icd10], population: register, max_suppressed_share: LIMIT}
"""
SOURCES = {
    "welfare": ("finance", "welfare_registry"),
    "register": ("interior", "population_register"),
    "visits": ("public_health", "service_records"),
}


def _risky(spark, zones, master_key, tmp_path, limit: float):
    """A conf with project ``risky`` and its three de-identified sources, written directly."""
    import shutil

    from pooling.core import tables
    from pooling.core.config import Conf

    conf_dir = tmp_path / "conf"
    shutil.copytree(risk_repo() / "conf", conf_dir)
    (conf_dir / "projects" / "risky.yaml").write_text(RISKY.replace("LIMIT", str(limit)))
    pool = random_pool(10, provinces=["10", "11"], bands=["30-34", "35-39", "40-44"], moved=0)
    pool["visits"] = pool["visits"][[PP, "diagnosis_icd10"]]
    for t, (agency, dataset) in SOURCES.items():
        df = pool[t].rename(columns={PP: "linkage_pseudonym"})
        frame = _frames(spark, {t: df})[t]
        props = {"key_id": master_key.key_id, "rows": str(len(df)), "description": t}
        tables.replace_table(spark, frame, zones.deidentified(agency, dataset), props)
    return Conf(conf_dir), pool


def risk_repo():
    return Path(__file__).resolve().parents[2]


def _audit_risk(spark, zones) -> list[dict]:
    import json

    rows = spark.read.format("delta").load(zones.audit).where("action = 'pool_build'").collect()
    return [json.loads(r["details"])["risk"] for r in rows]


def test_the_build_writes_a_k_anonymous_pool_and_records_what_it_took(
    spark, zones, master_key, tmp_path
):
    import json

    from pooling.core import tables
    from pooling.pools.build import build_pool

    conf, pool = _risky(spark, zones, master_key, tmp_path, 0.04)
    report = build_pool(spark, conf, zones, master_key, "risky")
    taken, picked, values = oracle_enforce(pool, 3, 0.04)
    e = report.enforcement
    assert [c.split(" ")[0] for c in e.coarsened] == taken == ["age_band"]
    assert e.suppressed_members == len(picked) > 0
    written = {
        t: tables.read_version(spark, w.path, w.version).toPandas()
        for t, w in report.tables.items()
    }
    written = {t: df.astype(object).where(df.notna(), None) for t, df in written.items()}
    assert min(Counter(_pool_classes(written).values()).values()) >= 3
    assert set(written["welfare"]["age_band"].dropna()) <= {"30-39", "40-49"}
    props = json.loads(tables.properties(spark, report.tables["welfare"].path)["risk_enforcement"])
    assert props["suppressed_values"] == values["welfare"] and props["coarsened"] == e.coarsened
    (event,) = _audit_risk(spark, zones)
    assert event["enforcement"]["suppressed_members"] == len(picked)
    assert event["figures"]["pool"]["min_class_size"] >= 3
    assert event["figures"]["pool"]["below_k"] == 0

    # The I/O edge: figures appended to the risk zone, a report and its chart beside them.
    measured = risk.measure_pool(spark, conf, zones, "risky")
    figures = spark.read.format("delta").load(zones.risk("risky", "figures"))
    assert (
        "Re-identification risk"
        in tables.properties(spark, zones.risk("risky", "figures"))["description"]
    )
    assert sorted(r.scope for r in figures.collect()) == ["pool", "register", "visits", "welfare"]
    report_md = measured.report
    assert report_md.startswith(zones.risk("risky", "reports"))
    text = Path(report_md).read_text(encoding="utf-8")
    assert "| pool |" in text and "class_sizes.png" in text
    assert Path(report_md).with_name("class_sizes.png").read_bytes()[:4] == b"\x89PNG"


def test_a_refused_build_writes_nothing_and_says_why(spark, zones, master_key, tmp_path):
    from pooling.core import tables
    from pooling.pools.build import build_marker, build_pool

    conf, pool = _risky(spark, zones, master_key, tmp_path, 0.02)
    _, picked, _ = oracle_enforce(pool, 3, 0.02)
    share = f"{len(picked) / len(_pool_classes(pool)):.2%}"
    with pytest.raises(RiskRefused, match=rf"pool risky: k = 3 .*\({share}\), over .* 2\.00%"):
        build_pool(spark, conf, zones, master_key, "risky")
    assert not any(tables.exists(spark, zones.pool("risky", t)) for t in SOURCES)
    assert not tables.exists(spark, zones.audit)
    assert not Path(build_marker(zones, "risky")).exists()


# --------------------------------------------------------------------------- config, CLI, access


def _conf_with(tmp_path, risk_block: str):
    import shutil

    from pooling.core.config import Conf

    conf_dir = tmp_path / "conf"
    shutil.copytree(risk_repo() / "conf", conf_dir)
    text = RISKY.split("risk: ")[0] + risk_block + "\n"
    (conf_dir / "projects" / "risky.yaml").write_text(text)
    return lambda: Conf(conf_dir)


@pytest.mark.parametrize(
    "block, message",
    [
        ("risk: {k: 5, sensitive: [diagnosis]}", r"risk\.sensitive: project risky: 'diagnosis'"),
        (
            "risk: {k: 5, quasi_identifiers: [income]}",
            r"risk\.quasi_identifiers: project risky: 'income'",
        ),
        ("risk: {k: 5, population: census}", r"risk\.population: project risky: 'census'"),
        ("risk: {k: 1}", r"risk\.k: Input should be greater than or equal to 2"),
        ("risk: {k: 5, kk: 2}", r"risk\.kk: unknown key"),
    ],
)
def test_the_risk_block_names_columns_of_the_pool(tmp_path, block, message):
    from pooling.core.errors import ConfigError

    with pytest.raises(ConfigError, match=message):
        _conf_with(tmp_path, block)()


def test_a_valid_risk_block_loads(tmp_path):
    conf = _conf_with(
        tmp_path, "risk: {k: 5, sensitive: [diagnosis_icd10], population: register}"
    )()
    assert conf.project("risky").risk.max_suppressed_share == 0.05


def test_the_risk_command_is_wired_and_the_risk_zone_is_closed_to_analysts(tmp_path, conf):
    from pooling import access
    from pooling.cli import handlers
    from pooling.cli.parser import build_parser
    from pooling.core.zones import Zones

    args = build_parser().parse_args(["risk", "--all"])
    assert args.handler is handlers.risk and args.all
    assert build_parser().parse_args(["bench", "risk", "--persons", "10"]).handler is (
        handlers.bench_risk
    )
    # The SQL endpoint's user cannot open the zone (file modes), and no grant names it.
    assert "risk" in access.CLOSED_ZONES
    zones = Zones.under(str(tmp_path))
    grants = tmp_path / "grants.tsv"
    access.write_grants(conf, zones, grants)
    assert zones.roots["risk"] not in grants.read_text()


def test_the_risk_benchmark_runs_on_a_tiny_pool(spark, conf):
    from pooling.dev.bench import bench_risk

    out = bench_risk(spark, conf, 300, 1)
    # Seven person-level tables shaped as the low-income pool, each measured, then the pool;
    # every one of the 300 persons is in the register, so the pool has 300 members.
    assert "7 tables" in out and "measured 8 scopes" in out and "pool: 300 members" in out
