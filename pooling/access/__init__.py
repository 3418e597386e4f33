"""Analysts' SQL access: the Spark Thrift server (``pooling serve``) and ``pooling sql --as``.

``pooling serve`` is two processes. The **endpoint** (the Thrift server, its own Spark driver)
holds no key and can read only the pools: started as root, ``pooling serve`` lays the zones out
with file modes, then starts the endpoint as the unprivileged service user of ``conf/access.yaml``
with a scrubbed environment, and the endpoint itself refuses to run as root, with the master key
in its environment, or where it can read the key file or any zone but ``pools/``. The
**supervisor** (the process that was started) holds no key either: it rewrites the grants file
when ``conf/projects/*.yaml`` changes and moves the endpoint's audit spool into the Delta audit
table, which the endpoint may not write.

In the endpoint, the access rule ``pooling.authz.PoolingAuthz`` (a Spark session extension,
compiled from ``build/authz`` at set-up) checks every statement of an analyst against two
allow-lists, before and after analysis (``build/authz/src/pooling/authz/allowed.txt``); grants come
from ``analysts:`` in ``conf/projects/*.yaml``; analysts authenticate against LDAP; every statement
is recorded, redacted, in the spool before it runs; a statement over the time limit is cancelled
and at most ``max_result_rows`` rows are returned.
"""

from __future__ import annotations

import getpass
import json
import logging
import os
import pwd
import secrets
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from pydantic import Field
from pyspark.sql import SparkSession

from pooling.core import audit, redact, tables
from pooling.core.config import Conf, Profile, Strict, expand_env, load_model
from pooling.core.errors import AccessDenied, PoolingError
from pooling.core.session import build_session, delta_jars
from pooling.core.zones import Zones, resolve_path

log = logging.getLogger(__name__)

AUTHZ_EXTENSION = "pooling.authz.PoolingAuthz"
ROW_CAP = "the result has more than "  # the rule's error past max_result_rows (Guard.ROW_CAP)
# Zones the endpoint must not be able to open: everything but the pools.
CLOSED_ZONES = ("landing", "linkage", "deidentified", "outputs", "released", "audit", "risk")
# The only environment the endpoint process gets: no key, no credentials it does not need.
_ENV_NAMES = ("PATH", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "JAVA_HOME", "TMPDIR")
_ENV_PREFIXES = ("SPARK_", "PYSPARK_", "HADOOP_", "POOLING_")


class AccessSettings(Strict):
    """``conf/access.yaml``: who the endpoint runs as and what one statement may use."""

    service_user: str = Field(pattern=r"^[a-z_][a-z0-9_-]*$")
    statement_timeout_s: int = Field(gt=0)
    max_result_rows: int = Field(gt=0)
    max_result_bytes: str = Field(pattern=r"^[0-9]+[kmg]$")
    reload_interval_s: float = Field(gt=0)
    # The embedded endpoint's executor JVM (see executor_isolation) and how long a cancelled task
    # may run on before that JVM is replaced.
    executor_memory: str = Field(default="2g", pattern=r"^[0-9]+[mg]$")
    kill_timeout_s: int = Field(default=10, gt=0)
    # A local folder on the endpoint's host for its grants, spool and home. By default `_access/`
    # beside a local audit zone; required when the zones are on HDFS or S3.
    runtime_dir: str | None = None


def load_settings(conf: Conf) -> AccessSettings:
    return load_model(conf.root / "access.yaml", AccessSettings)


@dataclass(frozen=True)
class LdapSettings:
    url: str
    base_dn: str  # analysts bind as uid=<name>,<base_dn>


@dataclass(frozen=True)
class Runtime:
    """The endpoint's folder beside the zones: the grants (written by the supervisor, read by
    the endpoint), the spool (written by the endpoint) and its home (Hive settings, scratch)."""

    folder: Path

    @classmethod
    def for_zones(cls, zones: Zones, settings: AccessSettings) -> Runtime:
        if settings.runtime_dir:
            return cls(Path(expand_env(settings.runtime_dir)).resolve())
        audit_root = zones.roots["audit"]
        if "://" in audit_root:
            raise PoolingError(
                f"the SQL endpoint keeps its grants and spool on its own disk, by default beside "
                f"the audit zone, which is {audit_root}: set runtime_dir in conf/access.yaml to "
                "a local folder"
            )
        return cls(Path(audit_root.removeprefix("file:")).parent / "_access")

    @property
    def grants(self) -> Path:
        return self.folder / "grants.tsv"

    @property
    def spool_dir(self) -> Path:
        return self.folder / "spool"

    @property
    def spool(self) -> Path:
        return self.spool_dir / "queries.jsonl"

    @property
    def home(self) -> Path:
        return self.folder / "home"


def grants(conf: Conf) -> dict[str, list[str]]:
    """analyst → the projects whose ``analysts:`` name them."""
    out: dict[str, list[str]] = {}
    for name, spec in sorted(conf.projects.items()):
        for analyst in spec.analysts:
            out.setdefault(analyst, []).append(name)
    return out


def write_grants(conf: Conf, zones: Zones, path: Path) -> None:
    """The grants file the rule reads (again whenever it changes), replaced atomically."""
    lines = [
        f"{analyst}\t{project}\t{zones.pool(project, '').rstrip('/')}"
        for analyst, projects in grants(conf).items()
        for project in projects
    ]
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}")
    tmp.write_text("\n".join(lines) + "\n", encoding="utf-8")
    tmp.chmod(0o644)
    tmp.replace(path)


def access_conf(
    conf: Conf,
    zones: Zones,
    base_dir: Path,
    settings: AccessSettings,
    *,
    spool: Path,
    grants_file: Path,
    home: Path,
    ldap: LdapSettings | None,
    port: int | None,
) -> dict[str, str]:
    """Spark settings of an access driver; writes the hive-site.xml it needs."""
    jar = base_dir / ".cache" / "authz" / "pooling-authz.jar"
    if not jar.is_file():
        raise PoolingError(f"the access rule {jar} is missing; run `make authz` (part of set-up)")
    hive_dir = home / "hive-conf"
    hive_dir.mkdir(parents=True, exist_ok=True)
    hive = {
        "hive.server2.thrift.bind.host": "127.0.0.1",
        # Hive's scratch and log folders default to /tmp/<user>: keep them in the home.
        "hive.exec.scratchdir": str(home / "hive-scratch"),
        "hive.exec.local.scratchdir": str(home / "hive-local"),
        "hive.downloaded.resources.dir": str(home / "hive-resources"),
        "hive.server2.logging.operation.log.location": str(home / "hive-operation-logs"),
    }
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
    tmp = home / "tmp"  # the endpoint's user may have no /tmp of its own
    tmp.mkdir(parents=True, exist_ok=True)
    java_options = [f"-Djava.io.tmpdir={tmp}"]
    log4j = base_dir / "conf" / "log4j2.properties"
    if log4j.is_file():
        java_options.insert(0, f"-Dlog4j2.configurationFile=file:{log4j}")
    return {
        "spark.driver.extraClassPath": ":".join(classpath),
        "spark.driver.extraJavaOptions": " ".join(java_options),
        "spark.local.dir": str(tmp),
        "spark.sql.extensions": f"io.delta.sql.DeltaSparkSessionExtension,{AUTHZ_EXTENSION}",
        "spark.sql.catalogImplementation": "in-memory",
        "spark.sql.warehouse.dir": str(home / "warehouse"),
        "spark.sql.runSQLOnFiles": "false",
        # ${...} in a statement is text, never the server's environment or settings.
        "spark.sql.variable.substitute": "false",
        "spark.sql.thriftServer.queryTimeout": f"{settings.statement_timeout_s}s",
        "spark.sql.thriftServer.interruptOnCancel": "true",
        "spark.driver.maxResultSize": settings.max_result_bytes,
        "spark.pooling.authz.grants": str(grants_file),
        "spark.pooling.authz.audit": str(spool),
        "spark.pooling.authz.maxRows": str(settings.max_result_rows),
        "spark.pooling.authz.timeoutSeconds": str(settings.statement_timeout_s),
        "spark.pooling.authz.serve": "true" if port is not None else "false",
        "spark.ui.enabled": "false",
    }


def executor_isolation(settings: AccessSettings, home: Path) -> dict[str, str]:
    """Analysts' tasks in an executor JVM of their own, on the embedded default.

    A cancelled task stops only where it next checks for it: a join that multiplies rows
    between two reads of its input (an equi-join on a low-cardinality column) keeps both cores
    busy long after its statement timed out or its client left. In one local-mode JVM nothing can
    stop it. With a separate executor (Spark's ``local-cluster`` master: the master and worker
    in the driver, the executor a child process of it), Spark's task reaper kills the executor
    JVM when a cancelled task is still running after ``kill_timeout_s``, and the worker starts a
    fresh one. A real cluster has separate executors already.
    """
    size, unit = settings.executor_memory[:-1], settings.executor_memory[-1]
    memory_mb = int(size) * (1024 if unit == "g" else 1)
    cores = os.cpu_count() or 1
    _private_spark_home(home / "spark-home")
    return {
        "spark.master": f"local-cluster[1,{cores},{memory_mb}]",
        "spark.executor.memory": f"{memory_mb}m",
        # A task fails again the same way: no retries (local mode's default, kept).
        "spark.task.maxFailures": "1",
        "spark.task.reaper.enabled": "true",
        "spark.task.reaper.pollingInterval": "1s",
        "spark.task.reaper.killTimeout": f"{settings.kill_timeout_s}s",
        # Only this driver's executors may talk to its in-process master and block manager.
        "spark.authenticate": "true",
        "spark.authenticate.secret": secrets.token_hex(32),
    }


def _private_spark_home(folder: Path) -> None:
    """A SPARK_HOME of the service user's own: PySpark's ``bin`` and ``jars``, and the ``work``
    folder where the in-process worker keeps its executors' files (it uses SPARK_HOME/work, and
    the installed PySpark is not the service user's to write)."""
    import pyspark

    installed = Path(pyspark.__file__).parent
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "work").mkdir(exist_ok=True)
    for name in ("bin", "jars"):
        link = folder / name
        if not link.is_symlink():
            link.symlink_to(installed / name)
    os.environ["SPARK_HOME"] = str(folder)  # read when PySpark starts the driver JVM


def access_session(
    profile: Profile,
    conf: Conf,
    zones: Zones,
    base_dir: Path,
    settings: AccessSettings,
    *,
    spool: Path,
    grants_file: Path,
    home: Path,
    ldap: LdapSettings | None = None,
    port: int | None = None,
) -> SparkSession:
    extra = access_conf(
        conf,
        zones,
        base_dir,
        settings,
        spool=spool,
        grants_file=grants_file,
        home=home,
        ldap=ldap,
        port=port,
    )
    if port is not None and expand_env(profile.spark.master).startswith("local"):
        extra |= executor_isolation(settings, home)
        extra["spark.executor.extraJavaOptions"] = extra["spark.driver.extraJavaOptions"]
    spark = build_session(profile, base_dir=base_dir, extra_conf=extra)
    if AUTHZ_EXTENSION not in spark.conf.get("spark.sql.extensions", ""):
        raise PoolingError(
            "a Spark session without the access rule is already running in this process; "
            "analysts' SQL needs its own driver"
        )
    sc = spark.sparkContext
    sc.setLocalProperty("pooling.service", "setup")  # the rule lets the service register pools
    try:
        registered = register_pools(spark, conf, zones)
        if port is not None:  # a long-lived endpoint, not `pooling sql`'s one statement
            warm_up(spark, registered)
    finally:
        sc.setLocalProperty("pooling.service", None)
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


def warm_up(spark: SparkSession, names: list[str]) -> None:
    """Read one row of each pool table before the endpoint says READY, as the service.

    An analyst's first statement would otherwise pay for loading each table's Delta log and
    compiling the scan (on a busy 2-core machine, more than the statement time limit).
    """
    t0 = time.monotonic()
    for name in names:
        spark.table(name).limit(1).collect()
    log.info("read one row of each of %d pool tables in %.1f s", len(names), time.monotonic() - t0)


# --------------------------------------------------------------------------- the audit spool


def drain_audit(
    spark: SparkSession, conf: Conf, zones: Zones, spool: Path, *, via: str = "pooling serve"
) -> int:
    """Move the rule's spool into the Delta audit table, in one commit; returns how many events.

    Also drains what a stopped endpoint left (``queries-*.jsonl``, taken but not yet recorded).
    """
    if spool.is_file():
        spool.rename(spool.with_name(f"queries-{uuid.uuid4().hex}.jsonl"))
        time.sleep(0.05)  # a line being appended as the file was taken lands in the taken file
    taken = sorted(spool.parent.glob("queries-*.jsonl"))
    granted = grants(conf)
    events = []
    for path in taken:
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                e = json.loads(line)
            except json.JSONDecodeError:
                log.warning("audit spool %s: an unreadable line was skipped", path.name)
                continue
            events.append(_event(e, granted, via))
    audit.record_many(spark, zones.audit, events)
    for path in taken:
        path.unlink()
    return len(events)


def _event(e: dict, granted: dict[str, list[str]], via: str) -> audit.Event:
    projects = sorted({t.split(".")[0] for t in e.get("tables", [])})
    details = {
        "event": e.get("event", ""),
        "statement_id": e.get("id", ""),
        "statement": redact.redact(e.get("statement", "")),
        "tables": e.get("tables", []),
        "allowed": e.get("event") == "allowed",
        "refusal": redact.redact(e.get("refusal", "")),
        "at": e.get("ts", ""),
        "granted_projects": granted.get(e.get("analyst", ""), []),
        "via": via,
    }
    if via == "pooling sql":
        details["os_user"] = getpass.getuser()
    return audit.Event(
        action="query", subject=",".join(projects) or "-", details=details, actor=e["analyst"]
    )


# --------------------------------------------------------------------------- pooling sql --as


def sql_session(
    profile: Profile, conf: Conf, zones: Zones, base_dir: Path, settings: AccessSettings
) -> tuple[SparkSession, Path]:
    """An in-process access driver for ``pooling sql --as``, with a spool of its own."""
    scratch = Path(tempfile.mkdtemp(prefix="pooling-sql-"))
    grants_file = scratch / "grants.tsv"
    write_grants(conf, zones, grants_file)
    spool = scratch / "spool" / "queries.jsonl"
    spool.parent.mkdir(mode=0o700)
    spark = access_session(
        profile,
        conf,
        zones,
        base_dir,
        settings,
        spool=spool,
        grants_file=grants_file,
        home=scratch / "home",
    )
    return spark, spool


def run_sql(
    spark: SparkSession,
    conf: Conf,
    zones: Zones,
    settings: AccessSettings,
    spool: Path,
    analyst: str,
    statement: str,
):
    """One statement as ``analyst``, under the rule, time limit, row cap and audit of the
    endpoint. For engineers on the service's machine: audited with their OS user."""
    import threading

    sc = spark.sparkContext
    group = uuid.uuid4().hex
    sc.setLocalProperty("pooling.analyst", analyst)
    sc.setJobGroup(group, statement, interruptOnCancel=True)
    timer = threading.Timer(settings.statement_timeout_s, sc.cancelJobGroup, args=(group,))
    timer.start()
    try:
        return spark.sql(statement).toPandas()
    except Exception as e:  # the rule's SecurityException arrives wrapped by py4j
        text = str(e)
        if "java.lang.SecurityException" in text:
            reason = text.split("java.lang.SecurityException:", 1)[1].splitlines()[0].strip()
            raise AccessDenied(reason) from None
        if ROW_CAP in text:
            cut = text.split(ROW_CAP, 1)[1].split("further", 1)[0]
            raise AccessDenied(f"{ROW_CAP}{cut}further") from None
        if not timer.is_alive():
            raise AccessDenied(
                f"the statement ran past the time limit ({settings.statement_timeout_s} s) "
                "and was cancelled"
            ) from None
        raise
    finally:
        timer.cancel()
        sc.setLocalProperty("pooling.analyst", None)
        sc.setLocalProperty("pooling.analyst.job", None)  # the audit's own jobs are not theirs
        drain_audit(spark, conf, zones, spool, via="pooling sql")


# --------------------------------------------------------------------------- pooling serve


def service_env(profile: Profile) -> dict[str, str]:
    """The endpoint's environment: an allow-list, never the master key."""
    env = {
        k: v
        for k, v in os.environ.items()
        if (k in _ENV_NAMES or k.startswith(_ENV_PREFIXES)) and k != profile.keys.env
    }
    return env


def refuse_key_in_env(profile: Profile) -> None:
    if os.environ.get(profile.keys.env):
        raise PoolingError(
            f"the master key is in this process's environment ({profile.keys.env}); the SQL "
            "endpoint holds no key: start it from an environment without it"
        )


def lay_out_zones(zones: Zones, runtime: Runtime, user: pwd.struct_passwd) -> None:
    """File modes for a local data root: the service user may traverse to ``pools/`` and read
    it, and write only its spool and home; every other zone is the owner's only."""
    for zone in CLOSED_ZONES:
        root = zones.roots[zone]
        if "://" in root:
            continue
        Path(root).mkdir(parents=True, exist_ok=True)
        Path(root).chmod(0o700)
    folders = {runtime.folder.parent}
    if "://" not in zones.roots["pools"]:  # on HDFS or S3: the store's ACLs (see the README)
        pools = Path(zones.roots["pools"])
        pools.mkdir(parents=True, exist_ok=True)
        pools.chmod(0o755)
        folders.add(pools.parent)
    for folder in folders:
        folder.chmod(folder.stat().st_mode | 0o111)  # traverse, not list
    runtime.folder.mkdir(exist_ok=True)
    runtime.folder.chmod(0o755)
    for own in (runtime.spool_dir, runtime.home):
        own.mkdir(exist_ok=True)
        os.chown(own, user.pw_uid, user.pw_gid)
        own.chmod(0o700)


def prepare(conf: Conf, zones: Zones, profile: Profile) -> tuple[Runtime, pwd.struct_passwd | None]:
    """The supervisor's set-up before it starts the endpoint; returns the runtime folder and the
    service user to switch to (None when not started as root)."""
    refuse_key_in_env(profile)
    settings = load_settings(conf)
    runtime = Runtime.for_zones(zones, settings)
    runtime.folder.mkdir(parents=True, exist_ok=True)
    user = None
    if os.geteuid() == 0:
        try:
            user = pwd.getpwnam(settings.service_user)
        except KeyError:
            raise PoolingError(
                f"the SQL endpoint's service user {settings.service_user!r} does not exist; "
                "`make serviceuser` (part of set-up) creates it"
            ) from None
        lay_out_zones(zones, runtime, user)
    else:
        for folder in (runtime.spool_dir, runtime.home):
            folder.mkdir(mode=0o700, exist_ok=True)
    write_grants(conf, zones, runtime.grants)
    return runtime, user


def start_endpoint(
    argv: list[str], profile: Profile, runtime: Runtime, user: pwd.struct_passwd | None
) -> subprocess.Popen:
    """The endpoint as its own process: the service user's, with the scrubbed environment."""
    env = service_env(profile)
    env["HOME"] = str(runtime.home)
    env["TMPDIR"] = str(runtime.home / "tmp")
    kwargs: dict = {}
    if user is not None:
        env["USER"] = env["LOGNAME"] = user.pw_name
        kwargs = {"user": user.pw_uid, "group": user.pw_gid, "extra_groups": []}
    return subprocess.Popen(
        [sys.executable, "-m", "pooling.cli", *argv], env=env, cwd=runtime.home, **kwargs
    )


def preflight(profile: Profile, zones: Zones, base_dir: Path) -> None:
    """The endpoint's own checks, as the user it runs as: it holds no secret and can read only
    the pools. It refuses to start otherwise."""
    if os.geteuid() == 0:
        raise PoolingError("the SQL endpoint never serves as root")
    refuse_key_in_env(profile)
    if profile.keys.file:
        key_file = Path(resolve_path(profile.keys.file, base_dir))
        if os.access(key_file, os.R_OK):  # False also where a folder on the way is closed
            raise PoolingError(
                f"the SQL endpoint's user can read the master key file {key_file}: make it "
                "readable by the jobs' user only (mode 0600)"
            )
    for zone in CLOSED_ZONES:
        root = zones.roots[zone]
        if "://" not in root and (os.access(root, os.R_OK) or os.access(root, os.X_OK)):
            raise PoolingError(
                f"the SQL endpoint's user can open the {zone} zone ({root}); start "
                "`pooling serve` as root so it lays out the zones (see the README)"
            )
    pools = zones.roots["pools"]
    if "://" not in pools and not os.access(pools, os.R_OK | os.X_OK):
        raise PoolingError(f"the SQL endpoint's user cannot read the pools ({pools})")


def serve_endpoint(spark: SparkSession, conf: Conf, *, stop_after: float | None) -> None:
    """Start the Thrift server in this driver and keep it up until stopped."""

    def stop(signum, frame):  # noqa: ARG001  (the supervisor stops us with SIGTERM)
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    jvm = spark._jvm  # noqa: SLF001  (py4j is the only way to start it in this driver)
    server = jvm.org.apache.spark.sql.hive.thriftserver.HiveThriftServer2.startWithContext(
        spark._jsparkSession.sqlContext()  # noqa: SLF001
    )
    # JDBC metadata calls bypass the parser: limit them to grants before a client connects.
    jvm.pooling.authz.Metadata.install(server, spark.conf.get("spark.pooling.authz.grants"))
    log.info("SQL endpoint up as %s; databases: %s", getpass.getuser(), ", ".join(conf.projects))
    print("READY", flush=True)
    started = time.monotonic()
    try:
        while stop_after is None or time.monotonic() - started < stop_after:
            time.sleep(1)
    except KeyboardInterrupt:
        log.info("SQL endpoint stopping")


def supervise(
    spark: SparkSession,
    conf_dir: Path,
    zones: Zones,
    runtime: Runtime,
    endpoint: subprocess.Popen,
    settings: AccessSettings,
) -> int:
    """Drain the spool and reload the grants until the endpoint stops (or this process is
    told to stop, when it stops the endpoint first); returns the endpoint's exit code."""

    def stop(signum, frame):  # noqa: ARG001
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    conf = Conf(conf_dir)
    drain_audit(spark, conf, zones, runtime.spool)  # what a stopped endpoint left
    seen = _projects_mtime(conf_dir)
    try:
        while endpoint.poll() is None:
            time.sleep(settings.reload_interval_s)
            mtime = _projects_mtime(conf_dir)
            if mtime != seen:
                try:
                    conf = Conf(conf_dir)
                    write_grants(conf, zones, runtime.grants)
                    log.info("grants reloaded from %s/projects", conf_dir)
                    seen = mtime
                except PoolingError as e:  # keep serving on the last good grants
                    log.error("grants not reloaded: %s", e)
            drain_audit(spark, conf, zones, runtime.spool)
    except KeyboardInterrupt:
        endpoint.terminate()
    finally:
        try:
            endpoint.wait(timeout=60)
        except subprocess.TimeoutExpired:
            endpoint.kill()
        drain_audit(spark, conf, zones, runtime.spool)
    return endpoint.returncode or 0


def _projects_mtime(conf_dir: Path) -> tuple:
    return tuple(sorted((p.name, p.stat().st_mtime_ns) for p in (conf_dir / "projects").glob("*")))
