"""k-anonymity enforced on a pool before it is written (issue #19 part 2).

When a project declares ``risk: {k: ...}``, :func:`enforce` measures the pool-wide equivalence
classes (:mod:`pooling.pools.risk`) and, while too many members are in classes smaller than k,
applies the standard's coarsening ladder (``coarsening:`` in ``conf/standard.yaml``) one step at
a time, re-measuring after each. It stops as soon as the members still below k are few enough to
suppress (``max_suppressed_share``): a coarser column for everyone costs the analysts more than
a few blank rows. Then local suppression: the QIs of the members still below k become null in
every table, which puts them in one class (an all-null signature); if that class is itself
under k, enough further members join it, taken from the largest class, smallest pseudonym first
(deterministic, and the largest class can spare them best). A share over the limit refuses the
build (:class:`RiskRefused`) before anything is written.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from pooling.core.config import RiskSettings
from pooling.core.errors import ContractError
from pooling.pools import risk as R
from pseudonymize.standard import POOL_PSEUDONYM, CoarseningStep, Standard


class RiskRefused(ContractError):
    """A pool whose k-anonymity would need more suppression than its project allows."""


@dataclass
class Enforcement:
    k: int
    members: int = 0
    below_k_before: int = 0  # members in classes below k as the pool came from its sources
    coarsened: list[str] = field(default_factory=list)  # the ladder's steps applied, in order
    suppressed_members: int = 0
    suppressed_values: dict[str, int] = field(default_factory=dict)  # table → values set null

    @property
    def suppressed_share(self) -> float:
        return self.suppressed_members / self.members if self.members else 0.0

    def details(self, table: str | None = None) -> dict[str, object]:
        """For the audit event (the whole pool) or one table's properties."""
        out: dict[str, object] = {
            "k": self.k,
            "members": self.members,
            "below_k_before": self.below_k_before,
            "coarsened": self.coarsened,
            "suppressed_members": self.suppressed_members,
        }
        if table is None:
            out["suppressed_values"] = self.suppressed_values
        else:
            out["suppressed_values"] = self.suppressed_values.get(table, 0)
        return out


def _pool_members(
    people: Mapping[str, DataFrame], standard: Standard, risk: RiskSettings
) -> DataFrame:
    """Each member's pool-wide signature (no sensitive attributes), with its class's size."""
    sigs = {
        t: R.signature(df, t, R.quasi_identifiers(standard, risk, df.columns), [])
        for t, df in people.items()
    }
    sig = R.pool_signature(sigs, [])
    cols = R.signature_columns(sig)
    cls = Window.partitionBy(*cols) if cols else Window.partitionBy(F.lit(1))
    null = F.lit(True)
    for c in cols:
        null = null & F.col(c).isNull()
    return sig.select(
        POOL_PSEUDONYM,
        F.count(F.lit(1)).over(cls).alias("_size"),
        F.min(POOL_PSEUDONYM).over(cls).alias("_class"),  # a class's name: its first member
        F.row_number().over(cls.orderBy(POOL_PSEUDONYM)).alias("_rank"),
        null.alias("_all_null"),
    )


def _below(people: Mapping[str, DataFrame], standard: Standard, risk: RiskSettings) -> tuple:
    row = (
        _pool_members(people, standard, risk)
        .agg(
            F.count(F.lit(1)).alias("m"),
            F.count(F.when(F.col("_size") < risk.k, 1)).alias("b"),
        )
        .first()
    )
    return int(row["m"]), int(row["b"])


def coarsen(df: DataFrame, step: CoarseningStep, reference_date: date) -> DataFrame:
    """``step`` applied to one table, in the column's place; when the table has the step's
    output already, the column is just dropped."""
    if step.column not in df.columns:
        return df
    if step.output != step.column and step.output in df.columns:
        return df.drop(step.column)
    new = step.apply(F.col(step.column), reference_date).alias(step.output)
    return df.select(*[new if c == step.column else F.col(c) for c in df.columns])


def enforce(
    frames: Mapping[str, DataFrame], standard: Standard, risk: RiskSettings, project: str
) -> tuple[dict[str, DataFrame], Enforcement]:
    """The pool's tables made k-anonymous (person-level tables only; the others as they are),
    and what it took. Raises :class:`RiskRefused` when the suppression would exceed the limit."""
    out = dict(frames)
    people = R.person_tables(out)
    done = Enforcement(risk.k)
    if not people:  # places and times only: no one to single out
        return out, done
    members, below = _below(people, standard, risk)
    done.members, done.below_k_before = members, below
    for step in standard.coarsening:
        if below <= risk.max_suppressed_share * members:
            break
        if not any(step.column in df.columns for df in people.values()):
            continue
        people = {t: coarsen(df, step, standard.reference_date) for t, df in people.items()}
        done.coarsened.append(f"{step.column} -> {step.output} ({step.description})")
        members, below = _below(people, standard, risk)
    if below:
        suppressed = _suppressed(people, standard, risk)
        done.suppressed_members = suppressed.count()
        if done.suppressed_share > risk.max_suppressed_share:
            suppressed.unpersist()
            raise RiskRefused(
                f"pool {project}: k = {risk.k} needs the quasi-identifiers of "
                f"{done.suppressed_members:,} of {members:,} members suppressed "
                f"({done.suppressed_share:.2%}), over the project's max_suppressed_share "
                f"{risk.max_suppressed_share:.2%} (after coarsening: "
                f"{', '.join(s.split(' (')[0] for s in done.coarsened) or 'none'}); "
                "nothing was written"
            )
        for t, df in people.items():
            people[t], done.suppressed_values[t] = _suppress(
                df, suppressed, R.quasi_identifiers(standard, risk, df.columns)
            )
    out.update(people)
    return out, done


def _suppressed(people: Mapping[str, DataFrame], standard: Standard, risk: RiskSettings):
    """The pseudonyms whose QIs go: those below k, and, when they and the members with no QI
    value at all are fewer than k, enough more from the largest class."""
    m = _pool_members(people, standard, risk).cache()
    k, size = risk.k, F.col("_size")
    below = m.where(size < k)
    nulls = below.count() + m.where(F.col("_all_null") & (size >= k)).count()
    picked = below
    if 0 < nulls < k:
        need = k - nulls
        largest = m.where((size >= k) & ~F.col("_all_null")).orderBy(F.desc("_size"), "_class")
        top = largest.select("_size", "_class").first()
        if top is not None:  # the whole class when what it keeps would be under k
            whole = top["_size"] - need < k
            more = m.where(F.col("_class") == top["_class"])
            picked = picked.unionByName(more if whole else more.where(F.col("_rank") <= need))
    picked = picked.select(POOL_PSEUDONYM).cache()
    picked.count()  # materialised before the members' cache goes
    m.unpersist()
    return picked


def _suppress(df: DataFrame, suppressed: DataFrame, qis: list[str]) -> tuple[DataFrame, int]:
    """``df`` with the QIs of the suppressed members null, and how many values that cleared."""
    flagged = df.join(suppressed.withColumn("_supp", F.lit(True)), POOL_PSEUDONYM, "left")
    hit = F.col("_supp").isNotNull()
    values = sum((F.col(q).isNotNull().cast("int") for q in qis), F.lit(0))
    cleared = flagged.agg(F.sum(F.when(hit, values))).first()[0] or 0
    kept = [F.when(~hit, F.col(c)).alias(c) if c in qis else F.col(c) for c in df.columns]
    return flagged.select(*kept), int(cleared)
