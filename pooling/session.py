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

from pooling.config import Profile, expand_env
from pooling.errors import ConfigError

log = logging.getLogger(__name__)

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


def resolve_path(value: str, base_dir: Path) -> str:
    """A profile path: ``${VAR}`` expanded; relative local paths taken from ``base_dir``."""
    value = expand_env(value)
    if "://" in value or value.startswith("file:"):
        return value
    p = Path(value)
    return str(p if p.is_absolute() else (base_dir / p).resolve())


def build_session(
    profile: Profile,
    *,
    base_dir: Path,
    jars_dir: Path | None = None,
    extra_conf: dict[str, str] | None = None,
) -> SparkSession:
    """A Delta-enabled SparkSession for ``profile``.

    ``base_dir`` is the folder relative profile paths are resolved against (the parent of
    ``conf/``). Settings come from the profile; ``extra_conf`` is for tests and benchmarks.
    """
    jars_dir = jars_dir or base_dir / ".cache" / "jars"
    jars = delta_jars(jars_dir)
    log4j = base_dir / "conf" / "log4j2.properties"
    builder = (
        SparkSession.builder.master(expand_env(profile.spark.master))
        .appName(profile.spark.app_name)
        .config("spark.jars", ",".join(str(j) for j in jars))
        .config("spark.sql.extensions", "io.delta.sql.DeltaSparkSessionExtension")
        .config(
            "spark.sql.catalog.spark_catalog", "org.apache.spark.sql.delta.catalog.DeltaCatalog"
        )
        .config("spark.driver.memory", profile.spark.driver_memory)
        .config("spark.sql.shuffle.partitions", str(profile.spark.shuffle_partitions))
        .config("spark.sql.session.timeZone", "UTC")
        # Analysts and jobs address tables through the catalog and the zones, never raw paths.
        .config(
            "spark.sql.warehouse.dir", resolve_path(profile.storage.root, base_dir) + "/_warehouse"
        )
    )
    if expand_env(profile.spark.master).startswith("local"):
        # Python workers must run this interpreter (the venv with pyarrow and pandas), not
        # whatever `python3` is first on PATH. PySpark reads the variable when the context starts.
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
        # Embedded mode listens on loopback only: nothing of the driver is reachable from outside.
        os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    if log4j.is_file():
        opt = f"-Dlog4j2.configurationFile=file:{log4j}"
        builder = builder.config("spark.driver.extraJavaOptions", opt)
    for key, value in {**profile.spark.conf, **(extra_conf or {})}.items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    log.info(
        "Spark %s session up: master=%s, driver memory %s, %s shuffle partitions",
        spark.version,
        profile.spark.master,
        profile.spark.driver_memory,
        profile.spark.shuffle_partitions,
    )
    return spark
