"""The one session factory: Spark with Delta and Sedona, locally or on the session spark-submit made."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

from pyspark import SparkConf
from pyspark.sql import SparkSession

from footfall.jars import local_jar_paths

DELTA_EXTENSION = "io.delta.sql.DeltaSparkSessionExtension"
SEDONA_EXTENSION = "org.apache.sedona.sql.SedonaSqlExtensions"
DELTA_CATALOG = "org.apache.spark.sql.delta.catalog.DeltaCatalog"
KRYO = "org.apache.spark.serializer.KryoSerializer"
SEDONA_KRYO_REGISTRATOR = "org.apache.sedona.core.serde.SedonaKryoRegistrator"

# Settings every footfall session needs, wherever it runs. Extensions are merged, the rest only set when absent.
_REQUIRED: dict[str, str] = {
    "spark.sql.catalog.spark_catalog": DELTA_CATALOG,
    "spark.serializer": KRYO,
    "spark.kryo.registrator": SEDONA_KRYO_REGISTRATOR,
    "spark.sql.session.timeZone": "UTC",
}

# Only for a session we build ourselves on this machine.
_LOCAL: dict[str, str] = {
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    "spark.sql.shuffle.partitions": "8",
    "spark.driver.memory": "4g",
    "spark.sql.adaptive.enabled": "true",
    # Delta reads its log with 50 partitions by default; on one machine with small tables that is mostly overhead.
    "spark.databricks.delta.snapshotPartitions": "2",
    # VACUUM lists files with this many tasks (Spark's default is 10,000): 40 s for a small table on 2 cores, 2.5 s
    # with 4. A cluster keeps its own setting.
    "spark.sql.sources.parallelPartitionDiscovery.parallelism": "4",
    # Delta checks retention on VACUUM; only `footfall forget` overrides it, per call.
    "spark.databricks.delta.retentionDurationCheck.enabled": "true",
    "spark.driver.extraJavaOptions": "-Duser.timezone=UTC",
    "spark.executor.extraJavaOptions": "-Duser.timezone=UTC",
}


def merged_extensions(existing: str | None) -> str:
    """Return spark.sql.extensions with Delta and Sedona added to whatever was configured already."""
    names = [e.strip() for e in (existing or "").split(",") if e.strip()]
    for ext in (DELTA_EXTENSION, SEDONA_EXTENSION):
        if ext not in names:
            names.append(ext)
    return ",".join(names)


def session_settings(
    existing: Mapping[str, str], *, local: bool, jars: list[str], overrides: Mapping[str, str] | None = None
) -> dict[str, str]:
    """Return the settings to add on top of `existing`: only what is missing, plus local defaults when local."""
    wanted = dict(_REQUIRED)
    if local:
        wanted |= _LOCAL
        wanted["spark.jars"] = ",".join(jars)
    wanted |= dict(overrides or {})
    settings = {key: value for key, value in wanted.items() if key not in existing or key in (overrides or {})}
    settings["spark.sql.extensions"] = merged_extensions(existing.get("spark.sql.extensions"))
    return settings


def launched_by_spark_submit() -> bool:
    """Return True when a JVM gateway already exists (spark-submit, pyspark shell, a notebook kernel)."""
    return "PYSPARK_GATEWAY_PORT" in os.environ


def get_spark(
    app_name: str = "footfall",
    *,
    master: str = "local[*]",
    overrides: Mapping[str, str] | None = None,
) -> SparkSession:
    """Return the SparkSession with Delta and Sedona registered, building a local one when none exists."""
    # Imported here: sedona pulls in its JVM bindings on import, which needs pyspark set up first.
    from sedona.spark import SedonaContext

    # pandas-on-Spark (used by pyspark.testing and toPandas) wants this set before the JVM starts.
    os.environ.setdefault("PYARROW_IGNORE_TIMEZONE", "1")
    active = SparkSession.getActiveSession()
    if active is not None:
        # A notebook or a caller made it: static settings can no longer change, so only register Sedona's functions.
        return SedonaContext.create(active)

    builder = SparkSession.builder.appName(app_name)
    if launched_by_spark_submit():
        existing = dict(SparkConf().getAll())
        settings = session_settings(existing, local=False, jars=[], overrides=overrides)
    else:
        # Python workers must run the interpreter that has footfall installed, not whatever python3 is on PATH.
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
        jars = [str(p) for p in local_jar_paths()]
        settings = session_settings({}, local=True, jars=jars, overrides=overrides)
        builder = builder.master(master)
    for key, value in settings.items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    # With SedonaSqlExtensions set, SedonaContext.create re-registers the same functions and warns about each.
    spark.sparkContext.setLogLevel("ERROR")
    spark = SedonaContext.create(spark)
    spark.sparkContext.setLogLevel("WARN")
    return spark


@contextmanager
def conf_set(spark: SparkSession, key: str, value: str) -> Iterator[None]:
    """Set a session conf for the duration of the block, then restore it exactly (unset if it was unset)."""
    before = spark.conf.get(key, None)
    spark.conf.set(key, value)
    try:
        yield
    finally:
        if before is None:
            spark.conf.unset(key)
        else:
            spark.conf.set(key, before)


def stack_versions(spark: SparkSession) -> dict[str, str]:
    """Return the versions of Spark and of the Python sides of Delta, Sedona and GX in this session."""
    from importlib.metadata import version

    return {
        "spark": spark.version,
        "delta-spark": version("delta-spark"),
        "apache-sedona": version("apache-sedona"),
        "great-expectations": version("great-expectations"),
    }


def session_jars(spark: SparkSession) -> list[str]:
    """Return the jars this session was given through spark.jars (empty under --packages)."""
    return [j for j in (spark.conf.get("spark.jars", "") or "").split(",") if j]
