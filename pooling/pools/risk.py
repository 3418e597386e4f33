"""Re-identification risk of a pool as analysts see it, row by row (issue #19).

A member's **signature** in a person-level table is, for every quasi-identifier (QI) of the
table, the sorted set of the values its rows hold (``array_sort(collect_set(...))``; no value at
all is null, as is absence from the table: presence alone is not a QI). The pool-wide signature
joins every table's on the pool pseudonym. Members with equal signatures form an **equivalence
class**; the figures follow ARX's ``RiskModelSampleSummary`` with threshold ``t = 1/k``:

- prosecutor: rA = share of records in classes with 1/size > t, rB = 1/min size, rC =
  classes/records;
- journalist (a population table declared): F = the size of the matching population class on
  the QIs the scope shares with it; rA = share of matched records with 1/F > t, rB = 1/min F,
  rC = max(classes/ΣF, mean of 1/F).

Everything is a few group-bys and joins; only the figures and the class-size histogram (a few
rows) reach the driver. The I/O edge (:func:`measure_pool`) reads the last build and writes the
figures to the secretariat's ``risk`` zone with a Markdown report and a bar chart.
"""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from functools import reduce

from pyspark.sql import Column, DataFrame, Row, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from pooling.core import tables
from pooling.core.config import Conf, ProjectSpec, RiskSettings
from pooling.core.rows import local_rows
from pooling.core.storage import Storage
from pooling.core.zones import Zones
from pseudonymize.standard import POOL_PSEUDONYM, Standard

log = logging.getLogger("pooling.pools")
POOL = "pool"  # the scope of the pool-wide figures
DEFAULT_K = 5  # a project without a ``risk:`` block is measured (not enforced) at this k
SIZE = "_size"
NO_PEOPLE = "no person-level table, no one to single out"


def settings(spec: ProjectSpec) -> RiskSettings:
    return spec.risk or RiskSettings(k=DEFAULT_K)


def quasi_identifiers(standard: Standard, risk: RiskSettings, columns: Sequence[str]) -> list[str]:
    """The QIs among a pool table's columns, in table order."""
    qis = standard.quasi_identifiers | set(risk.quasi_identifiers)
    return [c for c in columns if c in qis]


def person_tables(frames: Mapping[str, DataFrame]) -> dict[str, DataFrame]:
    return {t: df for t, df in frames.items() if POOL_PSEUDONYM in df.columns}


def qi_column(table: str, column: str) -> str:
    return f"{table}__{column}"


def sensitive_column(attribute: str) -> str:
    return f"_sensitive__{attribute}"


def _value_set(col: str) -> Column:
    values = F.array_sort(F.collect_set(F.col(col)))
    return F.when(F.size(values) > 0, values)  # no value is null, as absence is


def signature(df: DataFrame, table: str, qis: Sequence[str], sensitive: Sequence[str]) -> DataFrame:
    """One row per member: its value set per QI (``<table>__<qi>``) and per sensitive attribute."""
    return df.groupBy(POOL_PSEUDONYM).agg(
        *[_value_set(q).alias(qi_column(table, q)) for q in qis],
        *[_value_set(s).alias(sensitive_column(s)) for s in sensitive if s in df.columns],
        F.lit(1).alias("_one"),  # agg needs one column even for a table without QIs
    )


def pool_signature(signatures: Mapping[str, DataFrame], sensitive: Sequence[str]) -> DataFrame:
    """Every member of the pool: the tables' signatures full-outer-joined on the pseudonym; a
    sensitive attribute held in several tables has the union of their sets."""
    parts: dict[str, list[str]] = {s: [] for s in sensitive}
    renamed = []
    for i, sig in enumerate(signatures.values()):
        cols = []
        for c in sig.columns:
            if c.startswith("_sensitive__"):
                parts[c.removeprefix("_sensitive__")].append(f"{c}_{i}")
                cols.append(F.col(c).alias(f"{c}_{i}"))
            elif c != "_one":
                cols.append(F.col(c))
        renamed.append(sig.select(*cols))
    joined = reduce(lambda a, b: a.join(b, POOL_PSEUDONYM, "full_outer"), renamed)
    merged = []
    for s, cols in parts.items():
        if cols:
            union = reduce(F.array_union, [F.coalesce(F.col(c), F.array()) for c in cols])
            merged.append(F.when(F.size(union) > 0, F.array_sort(union)).alias(sensitive_column(s)))
    qis = [c for c in joined.columns if not c.startswith("_sensitive__")]
    return joined.select(*qis, *merged)


def signature_columns(sig: DataFrame) -> list[str]:
    """The QI columns (``<table>__<qi>``; the helper columns start with ``_``)."""
    return [c for c in sig.columns if c != POOL_PSEUDONYM and not c.startswith("_")]


def classes(sig: DataFrame, sensitive: Sequence[str]) -> DataFrame:
    """One row per equivalence class: its signature, ``_size`` and distinct-ℓ per sensitive
    attribute (``_l__<attr>``, the distinct values its members hold)."""
    present = [s for s in sensitive if sensitive_column(s) in sig.columns]
    return sig.groupBy(*signature_columns(sig)).agg(
        F.count(F.lit(1)).alias(SIZE),
        *[
            F.size(F.array_distinct(F.flatten(F.collect_list(sensitive_column(s))))).alias(
                f"_l__{s}"
            )
            for s in present
        ],
    )


@dataclass(frozen=True)
class Bucket:
    label: str  # "1", "2", …, "k-1", then "k–2k-1", "2k–4k-1", …
    low: int
    classes: int
    members: int


@dataclass(frozen=True)
class Figures:
    scope: str  # a table name, or "pool"
    k: int
    quasi_identifiers: list[str]
    members: int
    classes: int
    min_class_size: int | None
    below_k: int  # members in classes smaller than k
    sample_uniques: int  # members alone in their class
    l_diversity: dict[str, int | None]  # min over classes holding a value; None: no values
    prosecutor: tuple[float, float, float]  # rA, rB, rC
    journalist: tuple[float, float, float] | None = None
    journalist_matched: int | None = None  # records with a population class (F > 0)
    histogram: list[Bucket] = field(default_factory=list)

    @property
    def below_k_share(self) -> float:
        return self.below_k / self.members if self.members else 0.0

    def summary(self) -> str:
        pa, pb, pc = self.prosecutor
        return (
            f"{self.scope}: {self.members:,} members in {self.classes:,} classes, "
            f"min class {self.min_class_size}, {self.below_k:,} ({self.below_k_share:.1%}) "
            f"below k={self.k}, {self.sample_uniques:,} unique; prosecutor rA {pa:.3f} "
            f"rB {pb:.3f} rC {pc:.3f}"
        )


def _bucket(size: Column, k: int) -> tuple[Column, Column]:
    """A class size's histogram bucket: each size under k, then doubling ranges from k."""
    step = F.floor(F.log2(size / F.lit(k))).cast("int")
    low = F.when(size < k, size).otherwise(F.lit(k) * F.pow(F.lit(2), step).cast("long"))
    high = F.when(size < k, size).otherwise(low * 2 - 1)
    label = F.when(size < k, size.cast("string")).otherwise(
        F.concat(low.cast("string"), F.lit("–"), high.cast("string"))
    )
    return low.cast("long"), label


@dataclass(frozen=True)
class Scope:
    """What one set of figures is computed from: a table's classes (or the pool's), its QIs, and
    for journalist risk the population's signatures with the (class, population) QI pairs."""

    name: str
    classes: DataFrame
    qis: list[str]
    population: DataFrame | None = None
    pairs: Sequence[tuple[str, str]] = ()


def all_figures(scopes: Sequence[Scope], risk: RiskSettings) -> list[Figures]:
    """Every scope's figures, in order, from two Spark jobs in all: the histograms of every scope
    in one, the journalist sums of every scope with a population in the other. A pool of nine
    tables took twenty small jobs, one or two per scope, each mostly fixed cost."""
    if not scopes:
        return []
    ells = sorted({c for s in scopes for c in s.classes.columns if c.startswith("_l__")})
    # Rows are told apart by the scope's position: a table may be named as the pool scope is.
    hist: list[list[Row]] = [[] for _ in scopes]
    for r in _histograms(scopes, ells, risk.k).collect():
        hist[r["_scope"]].append(r)
    matched = any(s.population is not None for s in scopes)
    sums = _journalist_sums(scopes, risk.k).collect() if matched else []
    journalist = {r["_scope"]: r for r in sums}
    return [
        _figures(s, sorted(hist[i], key=lambda r: r["low"]), journalist.get(i), risk.k)
        for i, s in enumerate(scopes)
    ]


def _histograms(scopes: Sequence[Scope], ells: list[str], k: int) -> DataFrame:
    """Per scope and histogram bucket: classes, members, the smallest class and the smallest ℓ
    per sensitive attribute (null where the scope has none); every other figure follows from
    these few rows (buckets under k hold one size each)."""
    size = F.col(SIZE)
    low, label = _bucket(size, k)
    sizes = reduce(
        DataFrame.unionByName,
        [
            s.classes.select(
                F.lit(i).alias("_scope"),
                size,
                *[
                    (F.col(c) if c in s.classes.columns else F.lit(None)).cast("int").alias(c)
                    for c in ells
                ],
            )
            for i, s in enumerate(scopes)
        ],
    )
    return sizes.groupBy("_scope", low.alias("low"), label.alias("label")).agg(
        F.count(F.lit(1)).alias("c"),
        F.sum(size).alias("m"),
        F.min(size).alias("min"),
        *[F.min(F.when(F.col(c) > 0, F.col(c))).alias(c) for c in ells],
    )


def _figures(scope: Scope, hist: list[Row], journalist_row: Row | None, k: int) -> Figures:
    """A scope's figures from its histogram rows and its journalist sums (or None)."""
    ls = [c for c in scope.classes.columns if c.startswith("_l__")]
    members, n_classes = sum(r["m"] for r in hist), sum(r["c"] for r in hist)
    smallest = min((r["min"] for r in hist), default=None)
    below = sum(r["m"] for r in hist if r["low"] < k)
    prosecutor = (below / members, 1 / smallest, n_classes / members) if members else (0, 0, 0)
    ell = {c: min((r[c] for r in hist if r[c] is not None), default=None) for c in ls}
    journalist, matched = None, None
    if scope.population is not None:
        journalist, matched = _journalist(journalist_row)
    return Figures(
        scope=scope.name,
        k=k,
        quasi_identifiers=scope.qis,
        members=members,
        classes=n_classes,
        min_class_size=smallest,
        below_k=below,
        sample_uniques=sum(r["c"] for r in hist if r["low"] == 1),
        l_diversity={c.removeprefix("_l__"): v for c, v in ell.items()},
        prosecutor=prosecutor,
        journalist=journalist,
        journalist_matched=matched,
        histogram=[Bucket(r["label"], r["low"], r["c"], r["m"]) for r in hist],
    )


def _journalist_sums(scopes: Sequence[Scope], k: int) -> DataFrame:
    """Per scope with a population (by its position in ``scopes``), the sums journalist risk
    needs: each sample class's F is the number of population members sharing its values on the
    scope's pairs (every sample class maps to one population class, its columns being a
    superset)."""
    parts = []
    for i, s in enumerate(scopes):
        if s.population is None:
            continue
        pop_cols = [p for _, p in s.pairs]
        pop = s.population.groupBy(*pop_cols).agg(F.count(F.lit(1)).alias("_F"))
        pop = pop.select(*[F.col(p).alias(f"_pop{j}") for j, p in enumerate(pop_cols)], "_F")
        # Null-safe: a null set (no value, or absent) is a value of the signature like any other.
        cond = [F.col(c).eqNullSafe(F.col(f"_pop{j}")) for j, (c, _) in enumerate(s.pairs)]
        joined = s.classes.join(pop, reduce(lambda a, b: a & b, cond), "inner")
        parts.append(joined.select(F.lit(i).alias("_scope"), SIZE, "_F"))
    size, f = F.col(SIZE), F.col("_F")
    return (
        reduce(DataFrame.unionByName, parts)
        .groupBy("_scope")
        .agg(
            F.sum(size).alias("n"),
            F.count(F.lit(1)).alias("classes"),
            F.sum(f).alias("sum_f"),
            F.min(f).alias("min_f"),
            F.sum(F.when(f < k, size)).alias("risky"),  # records with 1/F > t = 1/k
            F.sum(size / f).alias("sum_inv"),
        )
    )


def _journalist(row: Row | None) -> tuple[tuple[float, float, float] | None, int]:
    """rA, rB, rC and the matched records from a scope's sums; none matched: (None, 0)."""
    n = int(row["n"] or 0) if row is not None else 0
    if not n:
        return None, 0
    rc = max(row["classes"] / row["sum_f"], row["sum_inv"] / n)
    return ((row["risky"] or 0) / n, 1 / row["min_f"], rc), n


# --------------------------------------------------------------------------- a whole pool


def measure(
    frames: Mapping[str, DataFrame], standard: Standard, risk: RiskSettings
) -> list[Figures]:
    """Figures per person-level table, then pool-wide (scope ``pool``); none for a pool of
    place-and-time tables only (no one is in it)."""
    people = person_tables(frames)
    if not people:
        return []
    qis = {t: quasi_identifiers(standard, risk, df.columns) for t, df in people.items()}
    sigs = {t: signature(df, t, qis[t], risk.sensitive).cache() for t, df in people.items()}
    pop = risk.population if risk.population in people else None
    scopes = []
    for t, sig in sigs.items():
        shared = [q for q in qis[t] if pop and q in qis[pop]]
        pairs = [(qi_column(t, q), qi_column(pop, q)) for q in shared] if pop else []
        population = sigs[pop] if pop and shared else None
        scopes.append(Scope(t, classes(sig, risk.sensitive).cache(), qis[t], population, pairs))
    pairs = [(qi_column(pop, q), qi_column(pop, q)) for q in qis[pop]] if pop else []
    all_qis = [qi_column(t, q) for t in people for q in qis[t]]
    pool = classes(pool_signature(sigs, risk.sensitive), risk.sensitive).cache()
    scopes.append(Scope(POOL, pool, all_qis, sigs[pop] if pairs else None, pairs))
    try:  # the classes are cached: both jobs of all_figures read them
        return all_figures(scopes, risk)
    finally:
        for frame in [*sigs.values(), *(s.classes for s in scopes)]:
            frame.unpersist()


def as_details(figs: Sequence[Figures]) -> dict[str, object]:
    """The figures as the audit event's and the table's JSON."""
    return {f.scope: {**asdict(f), "below_k_share": f.below_k_share} for f in figs}


# --------------------------------------------------------------------------- the I/O edge

SCHEMA = T.StructType(
    [
        T.StructField("project", T.StringType(), False),
        T.StructField("scope", T.StringType(), False),
        T.StructField("measured_at", T.TimestampType(), False),
        T.StructField("k", T.IntegerType(), False),
        T.StructField("members", T.LongType(), False),
        T.StructField("classes", T.LongType(), False),
        T.StructField("min_class_size", T.LongType(), True),
        T.StructField("below_k", T.LongType(), False),
        T.StructField("below_k_share", T.DoubleType(), False),
        T.StructField("sample_uniques", T.LongType(), False),
        T.StructField("l_diversity", T.StringType(), False),  # JSON: attribute → ℓ
        T.StructField("prosecutor_a", T.DoubleType(), False),
        T.StructField("prosecutor_b", T.DoubleType(), False),
        T.StructField("prosecutor_c", T.DoubleType(), False),
        T.StructField("journalist_a", T.DoubleType(), True),
        T.StructField("journalist_b", T.DoubleType(), True),
        T.StructField("journalist_c", T.DoubleType(), True),
        T.StructField("journalist_matched", T.LongType(), True),
        T.StructField("histogram", T.StringType(), False),  # JSON: [{label, low, classes, members}]
        T.StructField("quasi_identifiers", T.StringType(), False),  # JSON list
    ]
)


_DDL = ", ".join(
    f"{f.name} {f.dataType.simpleString().upper()}{'' if f.nullable else ' NOT NULL'}"
    for f in SCHEMA.fields
)


@dataclass
class RiskReport:
    project: str
    measured_at: datetime
    figures: list[Figures]
    table: str
    report: str

    def summary(self) -> str:
        pool = next((f.summary() for f in self.figures if f.scope == POOL), NO_PEOPLE)
        return f"risk {self.project}: {pool} -> {self.report}"


def measure_pool(spark: SparkSession, conf: Conf, zones: Zones, project: str) -> RiskReport:
    """Measure the last complete build of ``project``'s pool; append the figures to
    ``risk/<project>/figures`` and write ``risk/<project>/reports/<time>/report.md``."""
    from pooling.pools.build import pool_tables

    spec = conf.project(project)
    frames = {t: df for t, (df, _) in pool_tables(spark, zones, spec).items()}
    figs = measure(frames, conf.standard, settings(spec))
    now = datetime.now(UTC).replace(microsecond=0)
    table = zones.risk(project, "figures")
    if not figs:  # places and times only: nothing to record
        return RiskReport(project, now, figs, table, NO_PEOPLE)
    rows = [_row(project, now, f) for f in figs]
    # Append-only, as the audit register: a measurement is a record, never rewritten.
    tables.ensure_append_only(spark, table, _DDL, f"Re-identification risk of pool {project}")
    local_rows(spark, rows, SCHEMA).write.format("delta").mode("append").save(table)
    folder = zones.risk(project, "reports", now.strftime("%Y%m%dT%H%M%SZ"))
    storage = Storage(spark)
    pool = next(f for f in figs if f.scope == POOL)
    storage.write_bytes(f"{folder}/class_sizes.png", draw_histogram(pool, project))
    storage.write_text(f"{folder}/report.md", render(project, now, figs))
    return RiskReport(project, now, figs, table, f"{folder}/report.md")


def _row(project: str, at: datetime, f: Figures) -> tuple:
    """``f`` as a row of :data:`SCHEMA`."""
    return (
        project,
        f.scope,
        at.replace(tzinfo=None),
        f.k,
        f.members,
        f.classes,
        f.min_class_size,
        f.below_k,
        f.below_k_share,
        f.sample_uniques,
        json.dumps(f.l_diversity, sort_keys=True),
        *map(float, f.prosecutor),
        *(f.journalist or (None, None, None)),
        f.journalist_matched,
        json.dumps([asdict(b) for b in f.histogram], ensure_ascii=False),
        json.dumps(f.quasi_identifiers),
    )


def draw_histogram(f: Figures, project: str) -> bytes:
    from matplotlib.figure import Figure  # not pyplot: builds draw side by side in threads

    fig = Figure(figsize=(8, 4), dpi=100)
    ax = fig.subplots()
    labels = [b.label for b in f.histogram]
    bars = ax.bar(labels, [b.members for b in f.histogram], color="#4a7ab0")
    for b, bar in zip(f.histogram, bars, strict=True):
        if b.low < f.k:
            bar.set_color("#c0504d")  # below k
    ax.set_title(f"{project}: members by equivalence-class size (red: below k={f.k})")
    ax.set_xlabel("class size")
    ax.set_ylabel("members")
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


def render(project: str, at: datetime, figs: Sequence[Figures]) -> str:
    """The Markdown report: a table of every scope's figures, then the pool's histogram."""
    lines = [
        f"# Re-identification risk: pool {project}",
        "",
        f"Measured {at.isoformat()} on the last complete build, at k = {figs[0].k} "
        "(prosecutor threshold t = 1/k). For the secretariat only.",
        "",
        "| scope | members | classes | min class | below k | share | uniques | ℓ | "
        "prosecutor rA / rB / rC | journalist rA / rB / rC |",
        "|---|---:|---:|---:|---:|---:|---:|---|---|---|",
    ]
    for f in figs:
        ell = ", ".join(f"{a} {v}" for a, v in f.l_diversity.items()) or "–"
        j = " / ".join(f"{x:.3f}" for x in f.journalist) if f.journalist else "–"
        lines.append(
            f"| {f.scope} | {f.members:,} | {f.classes:,} | {f.min_class_size} | "
            f"{f.below_k:,} | {f.below_k_share:.1%} | {f.sample_uniques:,} | {ell} | "
            + " / ".join(f"{x:.3f}" for x in f.prosecutor)
            + f" | {j} |"
        )
    pool = next(f for f in figs if f.scope == POOL)
    lines += [
        "",
        "## Pool-wide class sizes",
        "",
        "![members by class size](class_sizes.png)",
        "",
        "| class size | classes | members |",
        "|---|---:|---:|",
        *[f"| {b.label} | {b.classes:,} | {b.members:,} |" for b in pool.histogram],
        "",
        f"Quasi-identifiers: {', '.join(pool.quasi_identifiers) or 'none'}.",
    ]
    return "\n".join(lines) + "\n"
