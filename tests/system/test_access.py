"""Analysts' SQL access, tried the way an attacker would: beeline against `pooling serve` (the
Spark Thrift server) with LDAP authentication by a real OpenLDAP.

Runs on the pools the shared demo fixture built, with a copy of conf/ whose access.yaml has a
short time limit and a small row cap, so those limits can be shown to hold. The server runs as
the unprivileged service user with no key (the test suite runs as root, as CI does). Each class
of attack is one beeline run of many statements; every refusal is asserted from the audit, where
the rule's own reason is recorded per statement, and from the client, which must have been told
by the rule (never "table not found"). Every class has a positive control: the same shape of
statement, where it is allowed, works.
"""

import json
import os
import pwd
import re
import secrets
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pyspark
import pytest
import yaml

from tests.system.directory import directory, free_port

REPO = Path(__file__).resolve().parents[2]
BEELINE = Path(pyspark.__file__).parent / "bin" / "beeline"
POOLING = Path(sys.executable).parent / "pooling"
SERVICE_USER = yaml.safe_load((REPO / "conf" / "access.yaml").read_text())["service_user"]
TIMEOUT_S = 20
MAX_ROWS = 50
KILL_TIMEOUT_S = 5  # a cancelled task still running after this loses its executor
IDLE_CORES = 0.3
RULE = "not allowed for "  # every refusal of the rule starts so; Spark's own errors never do

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the endpoint's OS user needs root")


_free_port = free_port


def _let_service_user_through(path: Path) -> None:
    """pytest's temporary folders are 0700: let the service user pass (x only) down to path,
    adding an ACL only where it cannot pass already (an entry for the user would otherwise
    override what "others" may do there, such as writing to /tmp)."""
    current = Path("/")
    for part in path.resolve().parts[1:]:
        current = current / part
        can = subprocess.run(["runuser", "-u", SERVICE_USER, "--", "test", "-x", current])
        if can.returncode != 0:
            subprocess.run(["setfacl", "-m", f"u:{SERVICE_USER}:x", current], check=True)


@pytest.fixture(scope="module")
def ldap(tmp_path_factory):
    """Two analysts and a directory user with no grant at all."""
    users = ("fpo_analyst", "oae_analyst", "stranger")
    with directory(tmp_path_factory.mktemp("ldap"), users) as d:
        yield d


@pytest.fixture(scope="module")
def site(demo, tmp_path_factory):
    """A copy of conf/ with test limits, and a master key file as a deployment has one."""
    _, zones, data = demo
    d = tmp_path_factory.mktemp("site")
    conf = d / "conf"
    shutil.copytree(REPO / "conf", conf)
    (d / ".cache").symlink_to(REPO / ".cache")  # the jars and the rule, beside conf/ as in a repo
    settings = yaml.safe_load((conf / "access.yaml").read_text())
    settings |= {
        "statement_timeout_s": TIMEOUT_S,
        "max_result_rows": MAX_ROWS,
        "kill_timeout_s": KILL_TIMEOUT_S,
    }
    (conf / "access.yaml").write_text(yaml.safe_dump(settings))
    key = d / "master.key"
    key.write_text(secrets.token_hex(32))
    key.chmod(0o600)
    for path in (data, conf):
        _let_service_user_through(path)
    env = {
        **os.environ,
        "POOLING_DATA_ROOT": str(data),
        "POOLING_KEY_FILE": str(key),
        "POOLING_CONF": str(conf),
    }
    env.pop("POOLING_MASTER_KEY", None)
    return conf, key, zones, data, env


def _serve_cmd(conf, port, ldap_url, *extra):
    return [POOLING, "--conf", conf, "serve", "--port", str(port), "--ldap-url", ldap_url, *extra]


@pytest.fixture(scope="module")
def served(site, ldap, tmp_path_factory):
    conf, key, zones, data, env = site
    url, users = ldap
    # A spool line left by an endpoint that stopped before it was drained.
    spool_dir = data / "_access" / "spool"
    spool_dir.mkdir(parents=True, exist_ok=True)
    left = {
        "ts": "2026-01-01T00:00:00Z",
        "event": "refused",
        "id": "left-at-stop",
        "analyst": "oae_analyst",
        "statement": "SELECT 'left at the last stop'",
        "tables": [],
        "refusal": "left at the last stop",
    }
    (spool_dir / "queries-left.jsonl").write_text(json.dumps(left) + "\n")
    port = _free_port()
    log_path = tmp_path_factory.mktemp("serve") / "serve.log"
    log = log_path.open("w+")
    proc = subprocess.Popen(
        _serve_cmd(conf, port, url, "--stop-after", "1500"),
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=log,
        text=True,
    )
    deadline = time.monotonic() + 240
    line = ""
    while time.monotonic() < deadline and "READY" not in line:
        line = proc.stdout.readline()
        if not line and proc.poll() is not None:
            log.seek(0)
            pytest.fail(f"pooling serve exited: {log.read()[-3000:]}")
    yield port, users, zones, data, proc, log_path
    proc.terminate()
    proc.wait(timeout=90)


def _beeline(port, user, password, sql=None, *, file=None, extra=(), url_suffix="", force=False):
    args = [BEELINE, "-u", f"jdbc:hive2://127.0.0.1:{port}/default{url_suffix}"]
    if user:
        args += ["-n", user, "-p", password]
    args += ["--silent=true", "--outputformat=csv2", *extra]
    if force:
        args += ["--force=true"]
    args += ["-f", str(file)] if file else ["-e", sql]
    return subprocess.run(args, capture_output=True, text=True, timeout=240)


def _audit(spark, zones, *, wait_for=None, timeout=30):
    """The query events in the audit table, once the supervisor has drained what we wait for."""
    deadline = time.monotonic() + timeout
    while True:
        rows = spark.read.format("delta").load(zones.audit).where("action = 'query'").collect()
        events = [{**json.loads(r["details"]), "actor": r["actor"]} for r in rows]
        if wait_for is None or wait_for(events) or time.monotonic() > deadline:
            return events
        time.sleep(1)


def _refused_batch(served, spark, tmp_path, analyst, statements):
    """Send every statement in one beeline run; each must be refused by the rule, recorded with
    the rule's reason, and return nothing. Returns the recorded refusal of each statement."""
    port, users, zones, *_ = served
    batch = tmp_path / "batch.sql"
    batch.write_text("".join(s.rstrip(";") + ";\n" for s, _ in statements))
    out = _beeline(port, analyst, users[analyst], file=batch, force=True)
    client = out.stdout + out.stderr
    assert client.count(RULE + analyst) >= len(statements), client[-3000:]
    assert "TABLE_OR_VIEW_NOT_FOUND" not in client and "SCHEMA_NOT_FOUND" not in client
    texts = {s for s, _ in statements}

    def all_recorded(events):
        seen = {e["statement"] for e in events if e["event"] == "refused"}
        return texts <= seen

    events = _audit(spark, zones, wait_for=all_recorded)
    refusals = {}
    for statement, expected in statements:
        mine = [e for e in events if e["statement"] == statement and e["actor"] == analyst]
        assert mine, f"not audited: {statement}"
        assert not any(e["event"] == "allowed" for e in mine), statement
        refused = [e["refusal"] for e in mine if e["event"] == "refused"]
        assert refused and expected in refused[-1], (statement, refused)
        refusals[statement] = refused[-1]
    return out


def _rows(out):
    """Result lines (header first), without the prompt beeline may print before the header."""
    assert out.returncode == 0, (out.stdout + out.stderr)[-2000:]
    lines = [re.sub(r"^\d+: jdbc:hive2://\S+> ", "", ln) for ln in out.stdout.splitlines()]
    return [ln for ln in lines if ln.strip()]


# --------------------------------------------------------------------------- who gets in


def test_an_analyst_reads_the_pools_of_their_projects(served, demo):
    port, users, *_ = served
    report, _, _ = demo
    rows = (
        next(p for p in report.pools if p.project == "low_income").tables["welfare_registry"].rows
    )
    out = _beeline(
        port,
        "fpo_analyst",
        users["fpo_analyst"],
        "SELECT count(*) AS n FROM low_income.welfare_registry",
    )
    assert _rows(out)[-2:] == ["n", str(rows)]


def test_an_unauthenticated_client_is_refused(served):
    port, users, *_ = served
    assert _beeline(port, "oae_analyst", users["oae_analyst"], "SELECT 1").returncode == 0
    for user, password in (
        (None, None),
        ("fpo_analyst", "wrong-" + users["fpo_analyst"]),
        ("nobody", "x"),
    ):
        out = _beeline(port, user, password, "SELECT 1")
        assert out.returncode != 0
        assert "Error validating" in out.stdout + out.stderr or "Could not open" in (
            out.stdout + out.stderr
        )


def test_a_directory_user_with_no_grant_reads_nothing(served, spark_session, tmp_path):
    port, users, *_ = served
    assert _rows(_beeline(port, "stranger", users["stranger"], "SELECT 1 AS one"))[-1] == "1"
    _refused_batch(
        served,
        spark_session,
        tmp_path,
        "stranger",
        [
            ("SELECT count(*) FROM agriculture.plots", "not in a granted project"),
            ("SHOW TABLES IN agriculture", "not a granted project"),
            ("SELECT TRANSFORM(x) USING 'id' AS (line STRING) FROM (SELECT 1 AS x)", "Script"),
        ],
    )
    out = _beeline(port, "stranger", users["stranger"], "SHOW DATABASES")
    assert _rows(out) == ["namespace"]  # not even the names of the projects


# --------------------------------------------------------------------------- red team, by class


def test_shell_and_script_transformation(served, spark_session, tmp_path):
    port, users, _, data, *_ = served
    marker = tmp_path / "pwned"
    out = _refused_batch(
        served,
        spark_session,
        tmp_path,
        "oae_analyst",
        [
            (
                f"SELECT TRANSFORM(x) USING 'sh -c \"touch {marker}\"' AS (line STRING) "
                "FROM (SELECT 1 AS x)",
                "ScriptTransformation is not allowed",
            ),
            (
                "SELECT TRANSFORM(province_code) USING 'cat /etc/passwd' FROM agriculture.plots",
                "ScriptTransformation is not allowed",
            ),
            (
                "FROM agriculture.plots SELECT TRANSFORM(crop) USING 'env' AS (e STRING)",
                "ScriptTransformation is not allowed",
            ),
            (
                "SELECT * FROM (SELECT TRANSFORM(x) USING 'id' AS (l STRING) "
                "FROM (SELECT 1 AS x)) t",
                "ScriptTransformation is not allowed",
            ),
        ],
    )
    assert not marker.exists()
    assert "uid=" not in out.stdout + out.stderr
    # Positive control: the same subquery without the script runs.
    assert (
        _rows(_beeline(port, "oae_analyst", users["oae_analyst"], "SELECT x FROM (SELECT 1 AS x)"))[
            -1
        ]
        == "1"
    )


def test_file_and_path_reads(served, spark_session, conf, tmp_path):
    from pooling.pools.risk import measure_pool

    port, users, zones, data, *_ = served
    deid = zones.deidentified("finance", "welfare_registry")
    # The secretariat's risk figures of a pool the analyst is granted: a real table to aim at.
    measure_pool(spark_session, conf, zones, "agriculture")
    risk_figures = zones.risk("agriculture", "figures")
    _refused_batch(
        served,
        spark_session,
        tmp_path,
        "oae_analyst",
        [
            (f"SELECT * FROM delta.`{deid}`", "not in a granted project"),
            (f"SELECT * FROM parquet.`{zones.landing()}`", "not in a granted project"),
            (f"SELECT * FROM delta.`{risk_figures}`", "not in a granted project"),
            ("SELECT * FROM json.`/etc/passwd`", "not in a granted project"),
            ("SELECT * FROM text.`/etc/shadow`", "not in a granted project"),
            (
                f"SELECT * FROM csv.`{zones.quarantine('finance', 'welfare_registry')}`",
                "not in a granted project",
            ),
            (
                f"SELECT * FROM delta.`{zones.pool('low_income', 'welfare_registry')}`",
                "not in a granted project",
            ),
            (
                f"SELECT * FROM delta.`{zones.pool('agriculture', 'plots')}`",
                "not in a granted project",
            ),  # even a granted pool: by name only
            ("SELECT input_file_name() FROM agriculture.plots", "function input_file_name"),
            (
                "SELECT input_file_block_start() FROM agriculture.plots",
                "function input_file_block_start",
            ),
            ("SELECT _metadata.file_path FROM agriculture.plots", "_metadata"),
            ("SELECT _metadata.* FROM agriculture.plots", "_metadata"),
            ("SELECT * FROM read_files('/etc/passwd')", "table-valued function read_files"),
            ("LIST FILE", "ListFilesCommand"),
            ("ADD FILE /etc/passwd", "AddFilesCommand"),
        ],
    )
    out = _beeline(
        port, "oae_analyst", users["oae_analyst"], "SELECT count(*) AS n FROM agriculture.plots"
    )
    assert int(_rows(out)[-1]) > 0  # positive control: the same table, by its name


def test_reflection_udfs_and_functions_not_listed(served, spark_session, tmp_path):
    port, users, *_ = served
    _refused_batch(
        served,
        spark_session,
        tmp_path,
        "oae_analyst",
        [
            ("SELECT reflect('java.lang.System', 'getenv', 'HOME')", "function reflect"),
            (
                "SELECT java_method('java.lang.System', 'getProperty', 'user.name')",
                "function java_method",
            ),
            ("SELECT try_reflect('java.lang.Runtime', 'getRuntime')", "function try_reflect"),
            ("SELECT xpath('<a>b</a>', 'a')", "function xpath"),
            (
                "SELECT from_protobuf(x, 'm', '/etc/passwd') FROM (SELECT 1 x)",
                "function from_protobuf",
            ),
            ("SELECT aes_decrypt(unhex('00'), 'k')", "function aes_decrypt"),
            ("CREATE TEMPORARY FUNCTION f AS 'java.lang.String'", "CreateFunctionCommand"),
            ("CREATE FUNCTION agriculture.f AS 'java.lang.String'", "CreateFunction"),
            ("SELECT agriculture.f(1)", "function agriculture.f"),
            ("SELECT spark_catalog.default.f(1)", "function spark_catalog.default.f"),
            ("SELECT raise_error('spoofed')", "function raise_error"),
            ("SELECT version()", "function version"),
        ],
    )
    out = _beeline(port, "oae_analyst", users["oae_analyst"], "SELECT upper('a') AS u")
    assert _rows(out)[-1] == "A"  # positive control: a listed function


def test_substitution_is_off(served, spark_session, tmp_path):
    port, users, *_ = served
    out = _refused_batch(
        served,
        spark_session,
        tmp_path,
        "oae_analyst",
        [
            ("SELECT '${env:POOLING_MASTER_KEY}'", "variable substitution"),
            ("SELECT '${env:HOME}'", "variable substitution"),
            ("SELECT '${system:user.name}'", "variable substitution"),
            ("SELECT '${hiveconf:hive.server2.authentication.ldap.url}'", "variable substitution"),
            ("SELECT count(*) FROM ${db}.plots", "variable substitution"),
        ],
    )
    assert "/nonexistent" not in out.stdout and SERVICE_USER not in out.stdout
    out = _beeline(port, "oae_analyst", users["oae_analyst"], "SELECT '$HOME' AS s")
    assert _rows(out)[-1] == "$HOME"  # positive control: a dollar sign is just text


def test_client_session_settings_and_catalogs(served, spark_session, tmp_path):
    port, users, *_ = served
    derby = tmp_path / "derby-made-by-analyst"
    jdbc = "org.apache.spark.sql.execution.datasources.v2.jdbc.JDBCTableCatalog"
    attempts = [
        dict(extra=["--hiveconf", "spark.sql.runSQLOnFiles=true"]),
        dict(
            extra=[
                "--hiveconf",
                f"spark.sql.catalog.evil={jdbc}",
                "--hiveconf",
                f"spark.sql.catalog.evil.url=jdbc:derby:{derby};create=true",
            ]
        ),
        dict(extra=["--hivevar", "db=low_income"]),
        dict(url_suffix=";?spark.sql.runSQLOnFiles=true"),
        dict(url_suffix=f";?spark.sql.catalog.evil={jdbc}"),
    ]
    for how in attempts:
        out = _beeline(
            port, "oae_analyst", users["oae_analyst"], "SHOW TABLES IN agriculture", **how
        )
        text = out.stdout + out.stderr
        assert out.returncode != 0, how
        assert "was set by the client" in text, (how, text[-1500:])
        assert "plots" not in out.stdout
    assert not derby.exists()
    _refused_batch(
        served,
        spark_session,
        tmp_path,
        "oae_analyst",
        [
            ("SET spark.sql.runSQLOnFiles=true", "SetCommand"),
            ("SET spark.sql.catalog.evil=x", "SetCommand"),
            ("RESET", "ResetCommand"),
            ("SET", "SetCommand"),
            ("SHOW TABLES IN evil.agriculture", "not a granted project"),
            ("SELECT * FROM evil.agriculture.plots", "catalog evil is not served"),
            ("DECLARE VARIABLE v INT DEFAULT 1", "CreateVariable"),
        ],
    )
    # Positive control: the same statement without client settings; the setting is unchanged.
    out = _beeline(port, "oae_analyst", users["oae_analyst"], "SHOW TABLES IN agriculture")
    assert "plots" in out.stdout
    out = _beeline(
        port, "oae_analyst", users["oae_analyst"], "SELECT count(*) FROM agriculture.plots"
    )
    assert out.returncode == 0


def test_metadata_shows_granted_projects_only(served, spark_session, tmp_path):
    port, users, *_ = served
    out = _refused_batch(
        served,
        spark_session,
        tmp_path,
        "oae_analyst",
        [
            ("SHOW TABLES IN low_income", "database low_income is not a granted project"),
            ("SHOW TABLE EXTENDED IN low_income LIKE '*'", "ShowTablesExtended"),
            ("SHOW TABLE EXTENDED IN agriculture LIKE '*'", "ShowTablesExtended"),
            ("DESCRIBE low_income.justice_records", "not in a granted project"),
            ("DESCRIBE EXTENDED agriculture.plots", "DESCRIBE EXTENDED"),
            ("DESCRIBE FORMATTED agriculture.plots", "DESCRIBE EXTENDED"),
            ("DESCRIBE DETAIL agriculture.plots", "DescribeDeltaDetailCommand"),
            ("DESCRIBE HISTORY agriculture.plots", "DescribeDeltaHistory"),
            ("SHOW CREATE TABLE agriculture.plots", "ShowCreateTable"),
            ("SHOW TBLPROPERTIES agriculture.plots", "ShowTableProperties"),
            ("SHOW COLUMNS IN low_income.justice_records", "not in a granted project"),
            ("USE low_income", "not a granted project"),
            ("SELECT record_type FROM low_income.justice_records", "not in a granted project"),
            ("SELECT no_such_column FROM low_income.justice_records", "not in a granted project"),
            ("EXPLAIN SELECT * FROM agriculture.plots", "ExplainCommand"),
            ("SHOW FUNCTIONS", "ShowFunctions"),
        ],
    )
    text = out.stdout + out.stderr
    for leak in ("record_type", "_delta_log", "deidentified", "file:/", "pool_key"):
        assert leak not in text, leak
    # Positive controls: the same commands on a granted project; names of granted ones only.
    ok = _beeline(port, "oae_analyst", users["oae_analyst"], "SHOW DATABASES")
    assert _rows(ok) == ["namespace", "agriculture"]
    ok = _beeline(port, "oae_analyst", users["oae_analyst"], "DESCRIBE agriculture.plots")
    assert "crop" in ok.stdout and "file:" not in ok.stdout
    ok = _beeline(port, "oae_analyst", users["oae_analyst"], "SHOW TABLES IN agriculture")
    assert "plots" in ok.stdout
    ok = _beeline(
        port, "oae_analyst", users["oae_analyst"], "USE agriculture; SELECT count(*) FROM plots"
    )
    assert ok.returncode == 0


def test_jdbc_metadata_calls_show_granted_projects_only(served, site, tmp_path):
    """getSchemas, getTables and getColumns (what a BI tool browses with) do not pass the
    parser; they are narrowed to the analyst's grants all the same (pooling.authz.Metadata)."""
    port, users, *_ = served
    analysts = {
        p.stem: yaml.safe_load(p.read_text())["analysts"]
        for p in (site[0] / "projects").glob("*.yaml")
    }
    projects = set(analysts)
    calls = tmp_path / "metadata.sql"
    calls.write_text(
        "!metadata getSchemas\n"
        "!metadata getSchemas null low%\n"
        "!metadata getSchemas null agri%\n"
        "!metadata getTables null % % null\n"
        "!metadata getColumns null % % %\n"
        "!primarykeys plots\n"
    )
    seen = {}
    for who in ("oae_analyst", "fpo_analyst", "stranger"):
        out = _beeline(port, who, users[who], file=calls, force=True)
        seen[who] = out.stdout
        rows = [line.split(",") for line in out.stdout.splitlines() if "," in line]
        named = {field for row in rows for field in row[:2]} & projects  # schema columns
        assert named == {p for p, names in analysts.items() if who in names}, (who, named)
        assert RULE + f"{who}: getPrimaryKeys is not allowed" in out.stderr
    assert len({"agriculture", "low_income"} & set(seen["fpo_analyst"].split(","))) == 2
    # Positive controls: the granted project's tables and columns are listed, in JDBC's shape.
    assert "agriculture," in seen["oae_analyst"].splitlines()  # getSchemas
    assert ",agriculture,plots,TABLE," in seen["oae_analyst"]  # getTables
    # getColumns lists no column of a Delta table for anyone: Delta keeps the schema in its log,
    # not in the catalog (delta-io/delta#695); its rows, were there any, are checked above.


def test_time_travel(served, spark_session, tmp_path):
    port, users, *_ = served
    _refused_batch(
        served,
        spark_session,
        tmp_path,
        "oae_analyst",
        [
            ("SELECT * FROM agriculture.plots VERSION AS OF 0", "time travel"),
            ("SELECT * FROM agriculture.plots TIMESTAMP AS OF '2020-01-01'", "time travel"),
            ("SELECT * FROM agriculture.plots FOR SYSTEM_TIME AS OF '2020-01-01'", "time travel"),
            ("SELECT * FROM agriculture.plots WITH ('versionAsOf' = '0')", "table options"),
            (
                "SELECT * FROM table_changes('agriculture.plots', 0)",
                "table-valued function table_changes",
            ),
            ("RESTORE TABLE agriculture.plots TO VERSION AS OF 0", "not allowed"),
        ],
    )
    out = _beeline(
        port, "oae_analyst", users["oae_analyst"], "SELECT count(*) FROM agriculture.plots"
    )
    assert out.returncode == 0  # positive control: the pool as it is now


def test_writes_and_ddl(served, spark_session, tmp_path):
    port, users, zones, data, *_ = served
    deid = zones.deidentified("finance", "welfare_registry")
    before = sorted(p.name for p in Path(zones.pool("agriculture", "plots")).rglob("*"))
    _refused_batch(
        served,
        spark_session,
        tmp_path,
        "oae_analyst",
        [
            (f"CREATE TABLE agriculture.copy USING DELTA LOCATION '{deid}'", "CreateTable"),
            (
                "CREATE TABLE agriculture.c2 AS SELECT * FROM agriculture.plots",
                "CreateTableAsSelect",
            ),
            ("CREATE TEMPORARY VIEW v AS SELECT * FROM agriculture.plots", "CreateViewCommand"),
            ("CREATE DATABASE evil", "CreateNamespace"),
            (
                "INSERT INTO agriculture.plots SELECT * FROM agriculture.plots",
                "InsertIntoStatement",
            ),
            (f"INSERT OVERWRITE DIRECTORY '{tmp_path}/out' SELECT 1", "not allowed"),
            ("DELETE FROM agriculture.plots", "DeleteFromTable"),
            ("UPDATE agriculture.plots SET crop = 'x'", "UpdateTable"),
            (
                "MERGE INTO agriculture.plots t USING agriculture.plots s "
                "ON t.pool_pseudonym = s.pool_pseudonym WHEN MATCHED THEN DELETE",
                "MergeIntoTable",
            ),
            ("DROP TABLE agriculture.plots", "DropTable"),
            ("ALTER TABLE agriculture.plots ADD COLUMNS (x INT)", "AddColumns"),
            ("TRUNCATE TABLE agriculture.plots", "TruncateTable"),
            ("VACUUM agriculture.plots", "VacuumTableCommand"),
            ("OPTIMIZE agriculture.plots", "OptimizeTableCommand"),
            ("CACHE TABLE agriculture.plots", "CacheTable"),
            ("REFRESH TABLE agriculture.plots", "RefreshTable"),
            ("ADD JAR /tmp/x.jar", "AddJarsCommand"),
            ("EXECUTE IMMEDIATE 'SELECT 1'", "UnresolvedExecuteImmediate"),
        ],
    )
    after = sorted(p.name for p in Path(zones.pool("agriculture", "plots")).rglob("*"))
    assert before == after and not (tmp_path / "out").exists()
    out = _beeline(
        port,
        "oae_analyst",
        users["oae_analyst"],
        "SELECT crop, count(*) FROM agriculture.plots GROUP BY crop",
    )
    assert out.returncode == 0  # positive control: reading the same table


def test_resource_exhaustion(served, spark_session, tmp_path):
    port, users, zones, *_ = served
    _refused_batch(
        served,
        spark_session,
        tmp_path,
        "oae_analyst",
        [
            (
                "SELECT count(*) FROM agriculture.plots a CROSS JOIN agriculture.plots b "
                "CROSS JOIN agriculture.plots c",
                "without an equality",
            ),
            (
                "SELECT count(*) FROM agriculture.plots a, agriculture.plots b",
                "without an equality",
            ),
            (
                "SELECT count(*) FROM agriculture.plots a JOIN agriculture.plots b "
                "ON a.area_rai < b.area_rai",
                "without an equality",
            ),
            (
                "SELECT count(*) FROM agriculture.plots a JOIN agriculture.plots b ON 1 = 1",
                "without an equality",
            ),
            ("SELECT * FROM range(100000000000)", "table-valued function range"),
            ("SELECT explode(sequence(1, 1000000000))", "function sequence"),
            ("SELECT repeat('x', 2000000000)", "function repeat"),
            ("SELECT array_repeat(1, 2000000000)", "function array_repeat"),
            ("SELECT /*+ REPARTITION(100000) */ * FROM agriculture.plots", "hint REPARTITION"),
        ],
    )
    # Positive controls: an equi-join, a join to a one-row aggregate.
    out = _beeline(
        port,
        "oae_analyst",
        users["oae_analyst"],
        "SELECT count(*) FROM agriculture.plots p JOIN agriculture.farmer_registry f "
        "ON p.pool_pseudonym = f.pool_pseudonym",
    )
    assert int(_rows(out)[-1]) > 0
    out = _beeline(
        port,
        "oae_analyst",
        users["oae_analyst"],
        "SELECT count(*) FROM agriculture.plots p CROSS JOIN "
        "(SELECT max(area_rai) AS m FROM agriculture.plots) x WHERE p.area_rai <= x.m",
    )
    assert int(_rows(out)[-1]) > 0
    # The row cap: up to it a result comes whole and in order; past it, an error, not a cut.
    capped = (
        f"SELECT pool_pseudonym FROM agriculture.plots ORDER BY pool_pseudonym LIMIT {MAX_ROWS}"
    )
    out = _beeline(port, "oae_analyst", users["oae_analyst"], capped)
    rows = _rows(out)[1:]
    assert len(rows) == MAX_ROWS and rows == sorted(rows), out.stderr[-1500:]
    over = f"SELECT pool_pseudonym FROM agriculture.plots LIMIT {MAX_ROWS + 1}"
    out = _beeline(port, "oae_analyst", users["oae_analyst"], over)
    assert out.returncode != 0
    message = f"the result has more than {MAX_ROWS} rows (the row cap)"
    assert message in out.stdout + out.stderr and "pool_pseudonym" not in out.stdout
    events = _audit(
        spark_session,
        zones,
        wait_for=lambda ev: any(e["statement"] == over and e["event"] == "cancelled" for e in ev),
    )
    assert any(
        e["statement"] == over and e["event"] == "cancelled" and message in e["refusal"]
        for e in events
    )


def test_audit_evasion(served, spark_session, tmp_path):
    port, users, zones, data, *_ = served
    _refused_batch(
        served,
        spark_session,
        tmp_path,
        "oae_analyst",
        [
            ("select * from LOW_INCOME.Welfare_Registry", "not in a granted project"),
            ("SELECT * FROM `low_income`.`welfare_registry`", "not in a granted project"),
            (
                "SELECT /* agriculture.plots */ * FROM low_income.welfare_registry",
                "not in a granted project",
            ),
            (
                "WITH plots AS (SELECT * FROM low_income.welfare_registry) SELECT * FROM plots",
                "not in a granted project",
            ),
            (
                "SELECT * FROM agriculture.plots WHERE pool_pseudonym IN "
                "(SELECT pool_pseudonym FROM low_income.justice_records)",
                "not in a granted project",
            ),
            (
                "SELECT (SELECT max(annual_income_baht) FROM low_income.welfare_registry)",
                "not in a granted project",
            ),
            (
                "SELECT TRANSFORM(x) USING 'rm -f spool/queries.jsonl' AS (l STRING) "
                "FROM (SELECT 1 x)",
                "ScriptTransformation",
            ),
        ],
    )
    # A citizen ID typed in any form is redacted before the statement reaches the disk.
    raw = ["1101700207030", "1-1017-00207-03-0", "１１０１７００２０７０３０", "๑๑๐๑๗๐๐๒๐๗๐๓๐"]
    sql = "SELECT count(*) FROM agriculture.plots WHERE crop NOT IN ({})".format(
        ", ".join(f"'{r}'" for r in raw)
    )
    assert _beeline(port, "fpo_analyst", users["fpo_analyst"], sql).returncode == 0
    events = _audit(
        spark_session,
        zones,
        wait_for=lambda ev: any(
            e["actor"] == "fpo_analyst" and "NOT IN" in e["statement"] for e in ev
        ),
    )
    spool = data / "_access" / "spool"
    on_disk = json.dumps(events, ensure_ascii=False) + "".join(
        p.read_text(encoding="utf-8") for p in spool.glob("*.jsonl")
    )
    redacted = "NOT IN ('<redacted>', '<redacted>', '<redacted>', '<redacted>')"
    assert any(redacted in e["statement"] for e in events)
    for r in raw:
        assert r not in on_disk
    # The spool is the service user's alone.
    assert spool.stat().st_uid == pwd.getpwnam(SERVICE_USER).pw_uid
    assert spool.stat().st_mode & 0o777 == 0o700
    for f in spool.glob("*.jsonl"):
        assert f.stat().st_mode & 0o777 == 0o600
    # What a stopped endpoint left in the spool was drained at this start.
    assert any(e["statement_id"] == "left-at-stop" for e in events)
    # Every statement is recorded with its (redacted) text when it arrives or is refused.
    assert all(e["statement"] for e in events if e["event"] in ("received", "refused"))


def test_the_server_log_holds_no_raw_id(served):
    *_, log_path = served
    text = log_path.read_text(encoding="utf-8", errors="replace")
    for r in ("1101700207030", "1-1017-00207-03-0", "１１０１７００２０７０３０"):
        assert r not in text


# --------------------------------------------------------------------------- the process


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError:
        return b""


def _ppid(proc_dir: Path) -> str:
    stat = _read(proc_dir / "stat").decode()  # empty if the process has gone meanwhile
    return stat.rsplit(")", 1)[1].split()[1] if stat else ""


def test_the_endpoint_runs_as_the_service_user_and_cannot_open_other_zones(served, site):
    _, key, zones, data, _ = site
    *_, proc, _ = served
    endpoints = [
        p
        for p in Path("/proc").glob("[0-9]*")
        if b"--endpoint" in _read(p / "cmdline") and str(proc.pid) == _ppid(p)
    ]
    assert endpoints, "no endpoint process under pooling serve"
    assert pwd.getpwuid(endpoints[0].stat().st_uid).pw_name == SERVICE_USER
    environ = _read(endpoints[0] / "environ").split(b"\0")
    assert not any(e.startswith(b"POOLING_MASTER_KEY=") for e in environ)
    probe = (
        "import os, sys\n"
        "for path in sys.argv[1:]:\n"
        "    try:\n"
        "        (os.listdir if os.path.isdir(path) else (lambda p: open(p).read()))(path)\n"
        "        print('OPENED', path)\n"
        "    except PermissionError:\n"
        "        print('DENIED', path)\n"
    )
    closed = [
        key,
        zones.landing(),
        zones.roots["linkage"],
        zones.roots["deidentified"],
        zones.roots["audit"],
        zones.roots["outputs"],
        zones.roots["released"],
    ]
    pools = zones.pool("agriculture", "plots")
    done = subprocess.run(
        [sys.executable, "-c", probe, *map(str, closed), pools],
        user=SERVICE_USER,
        capture_output=True,
        text=True,
        cwd="/",
        check=True,
    )
    lines = done.stdout.splitlines()
    assert lines[:-1] == [f"DENIED {p}" for p in closed]
    assert lines[-1] == f"OPENED {pools}"  # positive control: the pools are readable


def test_the_endpoint_refuses_a_key_in_its_environment(site, ldap):
    conf, key, zones, data, env = site
    out = subprocess.run(
        _serve_cmd(conf, _free_port(), ldap[0]),
        cwd=REPO,
        env={**env, "POOLING_MASTER_KEY": secrets.token_hex(32)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 2
    assert "the master key is in this process's environment" in out.stderr


def test_the_endpoint_refuses_a_key_file_it_can_read(site, ldap, tmp_path):
    conf, key, zones, data, env = site
    readable = tmp_path / "readable.key"
    readable.write_text(secrets.token_hex(32))
    readable.chmod(0o644)
    _let_service_user_through(tmp_path)
    # Its own data root: the running endpoint's spool is not this one's to drain.
    out = subprocess.run(
        _serve_cmd(conf, _free_port(), ldap[0]),
        cwd=REPO,
        env={**env, "POOLING_KEY_FILE": str(readable), "POOLING_DATA_ROOT": str(tmp_path / "d")},
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert out.returncode == 2
    assert f"can read the master key file {readable}" in out.stderr


def test_a_revoked_analyst_is_refused_without_a_restart(served, site, spark_session):
    port, users, *_ = served
    conf = site[0]
    project = conf / "projects" / "agriculture.yaml"
    original = project.read_text()
    sql = "SELECT count(*) FROM agriculture.plots"
    assert _beeline(port, "oae_analyst", users["oae_analyst"], sql).returncode == 0
    spec = yaml.safe_load(original)
    spec["analysts"] = [a for a in spec["analysts"] if a != "oae_analyst"]
    project.write_text(yaml.safe_dump(spec, allow_unicode=True, sort_keys=False))
    try:
        time.sleep(2 * yaml.safe_load((conf / "access.yaml").read_text())["reload_interval_s"] + 1)
        out = _beeline(port, "oae_analyst", users["oae_analyst"], sql)
        assert out.returncode != 0
        assert RULE + "oae_analyst: table agriculture.plots is not in a granted project" in (
            out.stdout + out.stderr
        )
        ok = _beeline(port, "fpo_analyst", users["fpo_analyst"], sql)
        assert ok.returncode == 0  # positive control: the other analyst keeps the grant
    finally:
        project.write_text(original)
        deadline = time.monotonic() + 30  # the grant is back within the reload interval too
        while _beeline(port, "oae_analyst", users["oae_analyst"], sql).returncode != 0:
            assert time.monotonic() < deadline, "the restored grant was not reloaded"
            time.sleep(1)


# --------------------------------------------------------------------------- limits (last: they
# leave the endpoint busy for a moment)


HEAVY = (
    "SELECT count(*) FROM agriculture.plots a JOIN agriculture.plots b ON a.crop = b.crop "
    "JOIN agriculture.plots c ON b.crop = c.crop JOIN agriculture.plots d ON c.crop = d.crop"
)


def _endpoint_tree(proc) -> set[str]:
    """The endpoint's processes: its Python, its driver JVM and the executor JVM under it."""
    procs = {p.name: p for p in Path("/proc").glob("[0-9]*")}
    tree = {n for n, p in procs.items() if b"--endpoint" in _read(p / "cmdline")}
    tree = {n for n in tree if _ppid(procs[n]) == str(proc.pid)}
    grown = True
    while grown:
        grown = False
        for name, p in procs.items():
            if name not in tree and _ppid(p) in tree:
                tree.add(name)
                grown = True
    return tree


def _cpu_seconds(pids) -> dict[str, float]:
    """CPU seconds (user + system) each process has used so far."""
    used = {}
    for pid in pids:
        stat = _read(Path("/proc") / pid / "stat").decode()
        if stat:
            fields = stat.rsplit(")", 1)[1].split()
            used[pid] = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return used


def _cores(proc, window: float = 2.0) -> float:
    """The endpoint's CPU use over one window, in cores. A process that ended meanwhile (the
    executor the task reaper killed) counts for nothing: its last use cannot be read; a window
    in which it ended is therefore not taken as idle."""
    before = _cpu_seconds(_endpoint_tree(proc))
    time.sleep(window)
    after = _cpu_seconds(_endpoint_tree(proc))
    if set(before) - set(after):
        return float("nan")
    return round(sum(t - before.get(pid, 0.0) for pid, t in after.items()) / window, 2)


def _cores_until_idle(proc, *, within: float) -> list[float]:
    """The endpoint's CPU use in consecutive windows, until one is idle or ``within`` seconds
    have passed; the last reading is the idle one if it came."""
    readings: list[float] = []
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        readings.append(_cores(proc))
        if readings[-1] < IDLE_CORES:  # False for nan
            break
    return readings


def _cancelled(events, why: str) -> bool:
    return any(
        e["event"] == "cancelled" and e["statement"] == HEAVY and why in e["refusal"]
        for e in events
    )


@pytest.mark.slow  # a killed statement: waits out the time limit (CI runs it)
def test_a_statement_past_the_time_limit_is_cancelled_and_its_cpu_stops(served, spark_session):
    """The client is told the statement timed out, the statement and its cancelled job are in
    the audit, and the endpoint's CPU falls to idle: the task that would run on (its join
    multiplies rows between two reads of its input) is ended with its executor JVM."""
    port, users, zones, _, proc, _ = served
    start = time.monotonic()
    out = _beeline(port, "oae_analyst", users["oae_analyst"], HEAVY)
    text = (out.stdout + out.stderr).lower()
    assert out.returncode != 0
    assert "timed out" in text, text[-1500:]
    assert time.monotonic() - start < TIMEOUT_S + 60
    readings = _cores_until_idle(proc, within=KILL_TIMEOUT_S + 30)
    assert readings[-1] < IDLE_CORES, f"the endpoint stayed busy: {readings} cores"
    events = _audit(spark_session, zones, wait_for=lambda ev: _cancelled(ev, "time limit"))
    assert any(e["event"] == "allowed" and e["statement"] == HEAVY for e in events)
    assert _cancelled(events, f"the statement ran past the time limit ({TIMEOUT_S} s)")
    # Positive control: the endpoint, with its fresh executor, answers the next statement.
    after = _beeline(
        port, "oae_analyst", users["oae_analyst"], "SELECT count(*) FROM agriculture.plots"
    )
    assert after.returncode == 0, after.stderr[-1500:]


@pytest.mark.slow  # a killed statement: waits out the time limit (CI runs it)
def test_a_disconnected_clients_statement_is_cancelled_and_its_cpu_stops(served, spark_session):
    """Before its time limit: the audit says the client went away, not the limit."""
    port, users, zones, _, proc, _ = served
    args = [BEELINE, "-u", f"jdbc:hive2://127.0.0.1:{port}/default"]
    args += ["-n", "oae_analyst", "-p", users["oae_analyst"], "--silent=true", "-e", HEAVY]
    client = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        busy: list[float] = []  # until the join runs, well before the time limit
        while (not busy or not busy[-1] >= 1.0) and len(busy) < (TIMEOUT_S - 6) // 2:
            busy.append(_cores(proc))
        assert busy[-1] >= 1.0, f"the statement never got busy: {busy} cores"
    finally:
        client.kill()  # the client goes away without closing anything
        client.wait()
    readings = _cores_until_idle(proc, within=KILL_TIMEOUT_S + 30)
    assert readings[-1] < IDLE_CORES, f"the endpoint stayed busy: {readings} cores"
    client_gone = "the statement was closed or its client went away"
    events = _audit(spark_session, zones, wait_for=lambda ev: _cancelled(ev, client_gone))
    assert _cancelled(events, client_gone)
