"""The one place that builds a SparkSession with Delta Lake for a profile.

Only ``jobs/`` and the CLI call :func:`build_session`; library code receives the session.
Delta's jars are resolved from Maven Central at set-up (``make jars``) into a local folder, so a
session starts with no network at all.
"""

from __future__ import annotations

import logging
import os
import re
import sys
from pathlib import Path

from pyspark.sql import SparkSession

from pooling.core.config import Profile, expand_env
from pooling.core.errors import ConfigError
from pooling.core.zones import resolve_path

log = logging.getLogger("pooling.session")  # the name it had before the layout: logs are read by it

# Must match delta-spark in requirements.lock and DELTA_ARTIFACT in the Makefile.
DELTA_PACKAGE = "io.delta:delta-spark_4.1_2.13:4.3.1"
# Read only when the driver JVM starts: spark-submit's flags (--driver-memory ...) set them.
_DRIVER_LAUNCH = (
    "spark.driver.memory",
    "spark.driver.extraJavaOptions",
    "spark.driver.extraClassPath",
)
_VERSIONED_JAR = re.compile(r"^(?P<artifact>.+?)-\d[\w.\-]*\.jar$")


def _artifact(jar: Path) -> str:
    m = _VERSIONED_JAR.match(jar.name)
    return m.group("artifact") if m else jar.stem


def delta_jars(jars_dir: Path) -> list[Path]:
    """Delta's runtime jars from ``jars_dir``, minus the libraries PySpark already ships.

    Maven resolves Delta's transitive dependencies too (Jackson, Parquet, Hadoop client ...); Spark
    must keep its own versions of those, so only artifacts Spark does not have are put on the
    class path.
    """
    import pyspark

    jars = sorted(jars_dir.glob("*.jar")) if jars_dir.is_dir() else []
    if not any(j.name.startswith("delta-spark_") for j in jars):
        raise ConfigError(
            f"Delta Lake jars not found in {jars_dir}. Run `make jars` (part of `make demo` and "
            "`make test`) to fetch them from Maven Central."
        )
    spark_jars = Path(pyspark.__file__).parent / "jars"
    shipped = {_artifact(j) for j in spark_jars.glob("*.jar")}
    return [j for j in jars if _artifact(j) not in shipped]


def s3_jars(jars_dir: Path) -> list[Path]:
    """Hadoop's S3A connector and the AWS SDK it needs (``make s3jars``), minus what Spark ships."""
    import pyspark

    jars = sorted(jars_dir.glob("*.jar")) if jars_dir.is_dir() else []
    if not any(j.name.startswith("hadoop-aws-") for j in jars):
        raise ConfigError(
            f"a zone is on s3a:// but the S3A connector is not in {jars_dir}. Run `make s3jars` "
            "to fetch hadoop-aws and the AWS SDK bundle from Maven Central."
        )
    shipped = {_artifact(j) for j in (Path(pyspark.__file__).parent / "jars").glob("*.jar")}
    return [j for j in jars if _artifact(j) not in shipped]


def _on_s3(profile: Profile) -> bool:
    uris = [profile.storage.root, *profile.storage.zones.values()]
    return any(expand_env(u).startswith("s3a://") for u in uris)


def submitted_conf() -> dict[str, str]:
    """The settings ``spark-submit`` gave this driver (``--master``, ``--conf``, its
    ``spark-defaults.conf``), or nothing when Python started on its own.

    Under ``spark-submit`` the JVM is up before Python runs and PySpark finds it through
    ``PYSPARK_GATEWAY_PORT``; reading its configuration then starts nothing new.
    """
    if "PYSPARK_GATEWAY_PORT" not in os.environ:
        return {}
    from pyspark import SparkConf, SparkContext

    SparkContext._ensure_initialized()  # connects to spark-submit's JVM; without it SparkConf
    return dict(SparkConf().getAll())  # would be an empty Python-side dict


def build_session(
    profile: Profile,
    *,
    base_dir: Path,
    jars_dir: Path | None = None,
    extra_conf: dict[str, str] | None = None,
    s3: bool | None = None,
) -> SparkSession:
    """A Delta-enabled SparkSession for ``profile``.

    ``base_dir`` is the folder relative profile paths are resolved against (the parent of
    ``conf/``). Settings come from the profile; ``extra_conf`` is for tests and benchmarks. Under
    ``spark-submit``, what the command line set wins over the profile (Spark's own order: flags
    before defaults), so the same job runs unchanged on any cluster, sized by whoever submits it.

    The S3A connector is added when a zone is on ``s3a://`` (``s3`` forces it on or off): its SDK
    bundle is large, and executors would fetch it for nothing.
    """
    jars_dir = jars_dir or base_dir / ".cache" / "jars"
    submitted = submitted_conf()
    jars = [j for j in submitted.get("spark.jars", "").split(",") if j]
    if not submitted:
        jars = [str(j) for j in delta_jars(jars_dir)]
        if _on_s3(profile) if s3 is None else s3:
            jars += [str(j) for j in s3_jars(base_dir / ".cache" / "jars-s3")]
    elif not any("delta-spark" in j for j in [*jars, submitted.get("spark.jars.packages", "")]):
        # The driver JVM is already running: jars set from here would reach the executors only.
        raise ConfigError(
            "spark-submit was given no Delta Lake jars: add --jars with the jars of "
            f"{jars_dir} (see the README) or --packages {DELTA_PACKAGE}"
        )
    log4j = base_dir / "conf" / "log4j2.properties"
    settings = {
        "spark.master": expand_env(profile.spark.master),
        "spark.app.name": profile.spark.app_name,
        "spark.driver.memory": profile.spark.driver_memory,
        "spark.sql.shuffle.partitions": str(profile.spark.shuffle_partitions),
        "spark.sql.session.timeZone": "UTC",
        # Spark 4 reads CSV only in Unicode or Latin-1 unless told to allow every JDK charset:
        # Thai agencies' legacy systems export TIS-620 / CP874 (a contract's 'encoding').
        "spark.sql.legacy.javaCharsets": "true",
        # A broadcast join's hash table takes at least one page of this size, held until the
        # context cleaner drops the broadcast. Spark sizes pages from the heap (64 MB on a 6 GiB
        # driver): a 50-row table then cost 64 MB, and two stores' whole jobs side by side filled
        # the driver's heap with them (CI: "Not enough memory to build and broadcast"). Sorts and
        # aggregates take more, smaller pages; a profile may set its own.
        "spark.buffer.pageSize": "4m",
        # Analysts and jobs address tables through the catalog and the zones, never raw paths.
        "spark.sql.warehouse.dir": resolve_path(profile.storage.root, base_dir) + "/_warehouse",
        **profile.spark.conf,
    }
    if log4j.is_file():  # after the profile's own driver options (local.yaml: its collector)
        own = settings.get("spark.driver.extraJavaOptions", "")
        log4j_option = f"-Dlog4j2.configurationFile=file:{log4j}"
        settings["spark.driver.extraJavaOptions"] = f"{own} {log4j_option}".strip()
    if submitted:  # the driver JVM is running: settings for its launch would only mislead
        settings = {k: v for k, v in settings.items() if k not in _DRIVER_LAUNCH}
    settings = {k: v for k, v in settings.items() if k not in submitted}
    # Delta is not optional, whoever submits; the analysts' endpoint adds its rule (extra_conf).
    if jars:
        settings["spark.jars"] = ",".join(jars)
    settings["spark.sql.extensions"] = "io.delta.sql.DeltaSparkSessionExtension"
    settings["spark.sql.catalog.spark_catalog"] = "org.apache.spark.sql.delta.catalog.DeltaCatalog"
    settings.update(extra_conf or {})
    master = submitted.get("spark.master", settings.get("spark.master", ""))
    if master.startswith("local"):
        # Python workers must run this interpreter (the venv with pyarrow and pandas), not
        # whatever `python3` is first on PATH. PySpark reads the variable when the context starts.
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
        # Embedded mode listens on loopback only: nothing of the driver is reachable from outside.
        os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    builder = SparkSession.builder
    for key, value in settings.items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    if submitted:  # which build of the code this job runs: the shipped zip, or an install
        import pooling

        log.info("pooling code from %s", Path(pooling.__file__).parent)
    conf = spark.sparkContext.getConf()
    log.info(
        "Spark %s session up: master=%s, driver memory %s, %s shuffle partitions%s",
        spark.version,
        conf.get("spark.master"),
        conf.get("spark.driver.memory", "1g"),
        spark.conf.get("spark.sql.shuffle.partitions"),
        " (settings from spark-submit kept)" if submitted else "",
    )
    return spark
