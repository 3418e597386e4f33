"""Pools: per-project Delta tables keyed by the project's own pseudonym.

``pool_pseudonym = HMAC-SHA256(pool_key(project), linkage_pseudonym)`` with the pool key derived by
HKDF from the master key. Only the columns the project's spec allows enter the pool
(minimisation). Pseudonyms are equal across the tables of one pool and unlinkable between pools.

A build is atomic as a whole: its tables are written one by one, then the build marker
``pools/<project>/_build.json`` (replaced in one step) names the version of each. Project runs
read the tables at those versions, never "the latest", so a build that dies between two tables
leaves the pool as the previous build made it.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime

from pyspark.sql import DataFrame, SparkSession

from pooling.core import audit, failpoints, parallel, tables
from pooling.core.config import Conf, PoolSource, ProjectSpec
from pooling.core.constraints import as_properties, contract_constraints, pool_constraints
from pooling.core.errors import ContractError
from pooling.core.storage import Storage
from pooling.core.zones import Zones
from pooling.pools import risk
from pooling.pools.enforce import Enforcement, enforce
from pooling.pools.risk import Figures
from pseudonymize import SecretKey, derive_pool_key, hmac_sha256
from pseudonymize.standard import (
    LINKAGE_PSEUDONYM,
    POOL_PSEUDONYM,
    is_linkage_column,
    pool_column,
)

log = logging.getLogger("pooling.pools")  # the name it had before the layout: logs are read by it
BUILD_MARKER = "_build.json"


def to_pool(
    df: DataFrame, columns: list[str], pool_key: SecretKey, *, pseudonym: bool = True
) -> DataFrame:
    """Replace the linkage pseudonym by the pool pseudonym and keep only ``columns``; a listed
    pseudonym of another role (``mother_linkage_pseudonym``) becomes that role's pool pseudonym
    (``mother_pool_pseudonym``) under the same pool key, so it joins the pool's subjects.

    A place-and-time table (no linkage pseudonym), or one taken with ``pseudonym=False``, just
    keeps ``columns``: nothing in it can be linked to a person.
    """
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise ContractError(f"columns {missing} are not in the de-identified table {df.columns}")
    linked = [c for c in columns if is_linkage_column(c)]
    if linked and not pseudonym:
        raise ContractError(f"columns {linked} are pseudonyms, in a table taken without them")
    subject = pseudonym and LINKAGE_PSEUDONYM in df.columns
    out = hmac_sha256(df, LINKAGE_PSEUDONYM, pool_key, POOL_PSEUDONYM) if subject else df
    for c in linked:
        out = hmac_sha256(out, c, pool_key, pool_column(c))
    return out.select(
        *([POOL_PSEUDONYM] if subject else []),
        *[pool_column(c) if c in linked else c for c in columns],
    )


@dataclass
class PoolReport:
    project: str
    key_id: str
    key_version: int
    tables: dict[str, tables.Written] = field(default_factory=dict)
    sources: dict[str, dict[str, object]] = field(default_factory=dict)  # table → read version
    risk: list[Figures] = field(default_factory=list)  # of the tables as written
    enforcement: Enforcement | None = None  # what k-anonymity took (projects with risk: only)

    def summary(self) -> str:
        parts = ", ".join(f"{t} {w.rows:,} rows" for t, w in self.tables.items())
        return f"pool {self.project} (key {self.key_id}, v{self.key_version}): {parts}"

    def risk_summary(self) -> str:
        pool = next((f for f in self.risk if f.scope == risk.POOL), None)
        if pool is None:
            return f"pool {self.project}: {risk.NO_PEOPLE}"
        e = self.enforcement
        done = (
            f"; enforced: coarsened {len(e.coarsened)} step(s), suppressed "
            f"{e.suppressed_members:,} members ({e.suppressed_share:.2%})"
            if e
            else ""
        )
        return f"pool {self.project} {pool.summary()}{done}"


def build_pool(
    spark: SparkSession,
    conf: Conf,
    zones: Zones,
    master_key: SecretKey,
    project: str,
    *,
    actor: str | None = None,
    workers: int = parallel.DEFAULT_WORKERS,
) -> PoolReport:
    """Every table of the project's pool, from the current de-identified tables (``workers``
    written at a time), then the audit event."""
    spec: ProjectSpec = conf.project(project)
    pool_key = derive_pool_key(master_key, project, spec.pool_key_version)
    report = PoolReport(project, pool_key.key_id, spec.pool_key_version)
    now = datetime.now(UTC).isoformat(timespec="seconds")
    build = _Build(spark, conf, zones, master_key, spec, pool_key, report, now)
    frames = {t: _read_table(build, t, src) for t, src in spec.pool.items()}
    if spec.risk is not None:  # before any write: a refused pool leaves the last build as it was
        frames, report.enforcement = enforce(frames, conf.standard, spec.risk, project)

    def write(_: SparkSession, table: str) -> tuple[tables.Written, DataFrame]:
        built = _build_table(build, table, spec.pool[table], frames[table])
        failpoints.reached("pool.table_built")
        # The risk is measured on what was committed, read back here: listing the new
        # version's files makes Delta rebuild its state (two small jobs, ~0.6 s), which then
        # overlaps the other table's write instead of queueing in the measure.
        committed = tables.read_version(spark, built.path, built.version)
        committed.inputFiles()
        return built, committed

    # Each table its own commit, ``workers`` at a time (a small table's write is mostly driver
    # time); the build is complete only with its marker, written after the last of them.
    done = parallel.each(spark, list(spec.pool), write, workers=workers)
    report.tables = {t: w for t, ((w, _), _) in zip(spec.pool, done, strict=True)}
    written = {t: df for t, ((_, df), _) in zip(spec.pool, done, strict=True)}
    report.risk = risk.measure(written, conf.standard, risk.settings(spec))
    marker = {
        "project": project,
        "built_at": now,
        "key_id": pool_key.key_id,
        "key_version": spec.pool_key_version,
        "tables": {t: {"path": w.path, "version": w.version} for t, w in report.tables.items()},
    }
    Storage(spark).write_text(build_marker(zones, project), json.dumps(marker, indent=1) + "\n")
    audit.record(
        spark,
        zones.audit,
        action="pool_build",
        subject=project,
        actor=actor,
        details={
            "key_id": pool_key.key_id,
            "key_version": spec.pool_key_version,
            "tables": {
                t: {"path": w.path, "version": w.version, "rows": w.rows, "from": report.sources[t]}
                for t, w in report.tables.items()
            },
            "risk": {
                "figures": risk.as_details(report.risk),
                "enforcement": report.enforcement.details() if report.enforcement else None,
            },
        },
    )
    log.info(report.summary())
    log.info("risk %s", report.risk_summary())
    return report


@dataclass(frozen=True)
class _Build:
    """What every table of one pool build works from."""

    spark: SparkSession
    conf: Conf
    zones: Zones
    master_key: SecretKey
    spec: ProjectSpec
    pool_key: SecretKey
    report: PoolReport
    now: str


def _read_table(b: _Build, table: str, src: PoolSource) -> DataFrame:
    """One pool table as read from its de-identified source (which must be under the current
    key); the source's version recorded in the report."""
    spark, zones, master_key, report = b.spark, b.zones, b.master_key, b.report
    project = b.spec.name
    source = zones.deidentified(src.agency, src.dataset)
    if not tables.exists(spark, source):
        raise ContractError(
            f"pool {project}: table {table} needs {src.agency}.{src.dataset}, which has not "
            f"been ingested ({source} is not a Delta table). Run `pooling ingest` first."
        )
    version = tables.current_version(spark, source)
    report.sources[table] = {"table": source, "version": version}
    src_props = tables.properties(spark, source)
    if src_props.get("key_id") != master_key.key_id:
        raise ContractError(
            f"pool {project}: {src.agency}.{src.dataset} was pseudonymised under key "
            f"{src_props.get('key_id')}, not the current master key {master_key.key_id}; "
            "re-ingest it first"
        )
    return to_pool(
        tables.read_version(spark, source, version),
        src.columns,
        b.pool_key,
        pseudonym=src.pseudonym,
    )


def _build_table(b: _Build, table: str, src: PoolSource, df: DataFrame) -> tables.Written:
    """One pool table (``df``, as read and enforced), with the source's constraints that still
    hold and its metadata."""
    spark, conf, zones, spec, pool_key, report, now = (
        b.spark,
        b.conf,
        b.zones,
        b.spec,
        b.pool_key,
        b.report,
        b.now,
    )
    project = spec.name
    source = zones.deidentified(src.agency, src.dataset)
    version = int(report.sources[table]["version"])  # type: ignore[call-overload]
    src_props = tables.properties(spark, source)
    person_level = POOL_PSEUDONYM in df.columns
    contract = conf.dataset(src.agency, src.dataset)
    checks = pool_constraints(contract_constraints(conf.standard, contract.columns), df.columns)
    enforced = report.enforcement
    extra: dict[str, str] = {}
    if enforced is not None and person_level:
        extra["risk_enforcement"] = json.dumps(enforced.details(table))
        if enforced.suppressed_values.get(table):  # a suppressed QI is null, mandatory or not
            qis = set(risk.quasi_identifiers(conf.standard, spec.risk, df.columns))
            checks = [c for c in checks if c.column not in qis]
    default = [POOL_PSEUDONYM] if person_level else []
    # A column that coarsening replaced clusters no more.
    cluster = src.cluster_by if src.cluster_by is not None else default
    cluster_by = [c for c in cluster if c in df.columns]
    return tables.replace_table(
        spark,
        df,
        zones.pool(project, table),
        {
            "kind": "pool",
            "project": project,
            "description": f"{spec.title}: {src.agency}.{src.dataset} "
            f"({src_props.get('description', '')})",
            "data_class": src_props.get("data_class", ""),
            "steward": src_props.get("steward", ""),
            "standard_version": src_props.get("standard_version", ""),
            "key_id": pool_key.key_id,
            "key_version": str(spec.pool_key_version),
            "rows": src_props.get("rows", ""),  # one pool row per de-identified row
            "person_level": str(person_level).lower(),
            "lineage": json.dumps([{"table": source, "version": version}]),
            "built_at": now,
            **extra,
        },
        {
            POOL_PSEUDONYM: f"Pool pseudonym of project {project}, key {pool_key.key_id}",
            **_column_comments(spark, source, src.columns),
            **{
                pool_column(c): f"Pool pseudonym of the {c.removesuffix('_' + LINKAGE_PSEUDONYM)}"
                f" (project {project}, key {pool_key.key_id})"
                for c in src.columns
                if is_linkage_column(c)
            },
        },
        constraints=as_properties(checks),
        cluster_by=cluster_by,
    )


def _column_comments(spark: SparkSession, source: str, columns: list[str]) -> dict[str, str]:
    """The de-identified table's column comments, carried over to the pool."""
    schema = tables.read_version(spark, source).schema
    return {
        f.name: f.metadata["comment"]
        for f in schema.fields
        if f.name in columns and "comment" in f.metadata
    }


def build_marker(zones: Zones, project: str) -> str:
    return zones.pool(project, BUILD_MARKER)


def built_versions(spark: SparkSession, zones: Zones, project: str) -> dict[str, int]:
    """The version of each pool table that the last complete build committed."""
    storage, marker = Storage(spark), build_marker(zones, project)
    if not storage.exists(marker):
        raise ContractError(
            f"pool {project} has no complete build ({marker} is missing); run `pooling pool "
            f"--project {project}` first"
        )
    built = json.loads(storage.read_text(marker))
    return {t: int(v["version"]) for t, v in built["tables"].items()}


def pool_tables(
    spark: SparkSession, zones: Zones, spec: ProjectSpec
) -> dict[str, tuple[DataFrame, int]]:
    """The pool's tables at the versions of its last complete build, for a project run."""
    built = built_versions(spark, zones, spec.name)
    missing = sorted(set(spec.pool) - set(built))
    if missing:
        raise ContractError(
            f"pool {spec.name}: the last build has no table {', '.join(missing)} (the project "
            f"now takes more); run `pooling pool --project {spec.name}` again"
        )
    return {
        t: (tables.read_version(spark, zones.pool(spec.name, t), built[t]), built[t])
        for t in spec.pool
    }
