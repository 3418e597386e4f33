"""Analysts' SQL access: the Spark Thrift server (``pooling serve``) and ``pooling sql --as``.

Both run in their own Spark driver with the access rule ``pooling.authz.PoolingAuthz`` (a Spark
session extension, compiled from ``build/authz`` at set-up) and this configuration:

- one database per project, holding its pool tables, and nothing else in the catalog: the
  de-identified, linkage and landing zones are never registered;
- path-based SQL off (``spark.sql.runSQLOnFiles``), and the rule refuses any path, ``SET``, DDL
  or DML command and reflective function, whatever an analyst sends;
- grants from ``conf/projects/*.yaml`` (``analysts:``): an analyst reads only the databases of
  the projects that name them;
- analysts authenticate against LDAP (``hive.server2.authentication=LDAP``);
- every statement, allowed or refused, goes to a spool file, which the service moves into the
  Delta audit table (action ``query``, the analyst as actor, the project as subject), with
  identifiers in the statement redacted.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from pyspark.sql import SparkSession

from pooling.core import audit, redact, tables
from pooling.core.config import Conf, Profile
from pooling.core.errors import AccessDenied, PoolingError
from pooling.core.session import build_session, delta_jars
from pooling.core.zones import Zones

log = logging.getLogger(__name__)

AUTHZ_EXTENSION = "pooling.authz.PoolingAuthz"


@dataclass(frozen=True)
class LdapSettings:
    url: str
    base_dn: str  # analysts bind as uid=<name>,<base_dn>


def grants(conf: Conf) -> dict[str, list[str]]:
    """analyst → the projects whose ``analysts:`` name them."""
    out: dict[str, list[str]] = {}
    for name, spec in sorted(conf.projects.items()):
        for analyst in spec.analysts:
            out.setdefault(analyst, []).append(name)
    return out


def _runtime(zones: Zones) -> Path:
    folder = Path(zones.roots["audit"]).parent / "_access"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def access_conf(
    conf: Conf, zones: Zones, base_dir: Path, *, ldap: LdapSettings | None, port: int | None
) -> dict[str, str]:
    """Spark settings of an access driver; writes the grants file and hive-site.xml it needs."""
    runtime = _runtime(zones)
    grants_file = runtime / "grants.tsv"
    lines = [
        f"{analyst}\t{project}\t{zones.pool(project, '').rstrip('/')}"
        for analyst, projects in grants(conf).items()
        for project in projects
    ]
    grants_file.write_text("\n".join(lines) + "\n", encoding="utf-8")
    jar = base_dir / ".cache" / "authz" / "pooling-authz.jar"
    if not jar.is_file():
        raise PoolingError(f"the access rule {jar} is missing; run `make authz` (part of set-up)")
    hive_dir = runtime / "hive"
    hive_dir.mkdir(exist_ok=True)
    hive = {"hive.server2.thrift.bind.host": "127.0.0.1"}
    if port is not None:
        hive["hive.server2.thrift.port"] = str(port)
    if ldap:
        hive |= {
            "hive.server2.authentication": "LDAP",
            "hive.server2.authentication.ldap.url": ldap.url,
            "hive.server2.authentication.ldap.baseDN": ldap.base_dn,
        }
    props = "".join(
        f"  <property><name>{k}</name><value>{v}</value></property>\n" for k, v in hive.items()
    )
    (hive_dir / "hive-site.xml").write_text(
        f'<?xml version="1.0"?>\n<configuration>\n{props}</configuration>\n', encoding="utf-8"
    )
    # The Thrift server's threads load classes from the JVM's own class path, not spark.jars.
    classpath = [
        str(hive_dir),
        str(jar),
        *(str(j) for j in delta_jars(base_dir / ".cache" / "jars")),
    ]
    return {
        "spark.driver.extraClassPath": ":".join(classpath),
        "spark.sql.extensions": f"io.delta.sql.DeltaSparkSessionExtension,{AUTHZ_EXTENSION}",
        "spark.sql.catalogImplementation": "in-memory",
        "spark.sql.runSQLOnFiles": "false",
        "spark.pooling.authz.grants": str(grants_file),
        "spark.pooling.authz.audit": str(runtime / "queries.jsonl"),
        "spark.ui.enabled": "false",
    }


def access_session(
    profile: Profile,
    conf: Conf,
    zones: Zones,
    base_dir: Path,
    *,
    ldap: LdapSettings | None = None,
    port: int | None = None,
) -> SparkSession:
    extra = access_conf(conf, zones, base_dir, ldap=ldap, port=port)
    spark = build_session(profile, base_dir=base_dir, extra_conf=extra)
    if AUTHZ_EXTENSION not in spark.conf.get("spark.sql.extensions", ""):
        raise PoolingError(
            "a Spark session without the access rule is already running in this process; "
            "analysts' SQL needs its own driver"
        )
    register_pools(spark, conf, zones)
    return spark


def register_pools(spark: SparkSession, conf: Conf, zones: Zones) -> list[str]:
    """One database per project with its pool tables (those that exist)."""
    registered = []
    for project, spec in sorted(conf.projects.items()):
        spark.sql(f"CREATE DATABASE IF NOT EXISTS `{project}`")
        for table in spec.pool:
            path = zones.pool(project, table)
            if tables.exists(spark, path):
                spark.sql(
                    f"CREATE TABLE IF NOT EXISTS `{project}`.`{table}` USING DELTA "
                    f"LOCATION '{path}'"
                )
                registered.append(f"{project}.{table}")
    return registered


def drain_audit(spark: SparkSession, conf: Conf, zones: Zones) -> int:
    """Move the rule's spool of statements into the Delta audit table; returns how many."""
    spool = _runtime(zones) / "queries.jsonl"
    if not spool.is_file():
        return 0
    taken = spool.with_name(f"queries-{uuid.uuid4().hex}.jsonl")
    spool.rename(taken)  # the rule appends to a fresh file from now on
    n = 0
    for line in taken.read_text(encoding="utf-8").splitlines():
        event = json.loads(line)
        projects = sorted({t.split(".")[0] for t in event["tables"]})
        audit.record(
            spark,
            zones.audit,
            action="query",
            subject=",".join(projects) or "-",
            actor=event["analyst"],
            details={
                "statement": redact.redact(event["statement"]),
                "tables": event["tables"],
                "allowed": event["allowed"],
                "refusal": event["refusal"],
                "at": event["ts"],
                "granted_projects": grants(conf).get(event["analyst"], []),
            },
        )
        n += 1
    taken.unlink()
    return n


def run_sql(spark: SparkSession, conf: Conf, zones: Zones, analyst: str, statement: str):
    """One statement as ``analyst``, under the same rule and audit as the Thrift server."""
    sc = spark.sparkContext
    sc.setLocalProperty("pooling.analyst", analyst)
    sc.setJobGroup(uuid.uuid4().hex, statement)
    try:
        return spark.sql(statement).limit(10_000).toPandas()
    except Exception as e:  # the rule's SecurityException arrives wrapped by py4j
        text = str(e)
        if "java.lang.SecurityException" in text:
            reason = text.split("java.lang.SecurityException:", 1)[1].splitlines()[0].strip()
            raise AccessDenied(reason) from None
        raise
    finally:
        sc.setLocalProperty("pooling.analyst", None)
        drain_audit(spark, conf, zones)


def serve(
    spark: SparkSession, conf: Conf, zones: Zones, *, stop_after: float | None = None
) -> None:
    """Start the Thrift server and move the query spool to the audit table until stopped."""
    jvm = spark._jvm  # noqa: SLF001  (py4j is the only way to start it in this driver)
    jvm.org.apache.spark.sql.hive.thriftserver.HiveThriftServer2.startWithContext(
        spark._jsparkSession.sqlContext()  # noqa: SLF001
    )
    log.info("SQL endpoint up; databases: %s", ", ".join(sorted(conf.projects)))
    print("READY", flush=True)
    started = time.monotonic()
    while stop_after is None or time.monotonic() - started < stop_after:
        time.sleep(2)
        drain_audit(spark, conf, zones)
