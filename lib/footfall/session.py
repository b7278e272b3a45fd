"""The one session factory: Spark with Delta and Sedona, locally or on the session spark-submit made."""

from __future__ import annotations

import logging
import os
import re
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from pyspark import SparkConf
from pyspark.sql import SparkSession

from footfall.config import CatalogConfig
from footfall.jars import local_jar_paths, repo_root

DELTA_EXTENSION = "io.delta.sql.DeltaSparkSessionExtension"
SEDONA_EXTENSION = "org.apache.sedona.sql.SedonaSqlExtensions"
DELTA_CATALOG = "org.apache.spark.sql.delta.catalog.DeltaCatalog"
KRYO = "org.apache.spark.serializer.KryoSerializer"
SEDONA_KRYO_REGISTRATOR = "org.apache.sedona.core.serde.SedonaKryoRegistrator"
# A function Sedona registers: present means Sedona's SQL functions are in the session already.
SEDONA_PROBE_FUNCTION = "ST_Point"
LOG4J2_ENV = "FOOTFALL_LOG4J2"
# JVM options every local JVM needs, whatever else it is tuned for: timestamps read in UTC.
JVM_BASE = "-Duser.timezone=UTC"

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
    # read_table gives Spark a local table's files by name: past 32 of them Spark lists them with a job of its own,
    # a listing the driver does in milliseconds here.
    "spark.sql.sources.parallelPartitionDiscovery.threshold": "4096",
    # Delta checks retention on VACUUM; only `footfall forget` overrides it, per call.
    "spark.databricks.delta.retentionDurationCheck.enabled": "true",
    # ParallelGC: a batch job wants throughput, not G1's short pauses; G1's concurrent threads took a tenth of the
    # JVM's CPU on a small run (issue 28: one day of the test city, 2 cores, 62-75 CPU-s warm with G1, 58-66 without).
    "spark.driver.extraJavaOptions": f"{JVM_BASE} -XX:+UseParallelGC",
    "spark.executor.extraJavaOptions": f"{JVM_BASE} -XX:+UseParallelGC",
    # Spark keeps 100 compiled query classes; a run makes several hundred, so it compiled them again, and the JIT
    # compiled them again after it: JIT compilation was 40 % of the JVM's CPU on a small run (C2 alone 92 of 280 s).
    # With 2000 and ParallelGC one day of the test city took 36-41 s warm instead of 44-55 (issue 28, docs/scale.md).
    "spark.sql.codegen.cache.maxEntries": "2000",
}


# Runtime SQL settings that suit one machine. A local session gets them from _LOCAL; a spark-submit to a local
# master (Airflow on one host, for example) gets them after start-up, unless the submit set them itself. Without
# them VACUUM lists files with 10,000 tasks, and every Delta log read uses 50 partitions.
_SINGLE_HOST_SQL = (
    "spark.sql.shuffle.partitions",
    "spark.databricks.delta.snapshotPartitions",
    "spark.sql.sources.parallelPartitionDiscovery.parallelism",
    "spark.sql.sources.parallelPartitionDiscovery.threshold",
)


def tune_single_host(spark: SparkSession, *, submitted: Mapping[str, str]) -> None:
    """On a local master, set the single-host SQL settings of _LOCAL that the submit did not set itself."""
    if not (spark.sparkContext.master or "").startswith("local"):
        return
    for key in _SINGLE_HOST_SQL:
        if key not in submitted:
            spark.conf.set(key, _LOCAL[key])


# A local run raises spark.sql.shuffle.partitions to one partition per this many input events: a fixed 8 puts 12 M
# rows of a 100 M-event run into each sort task, more than a local driver's heap holds (docs/scale.md). AQE merges
# partitions that turn out small, but cannot split large ones.
EVENTS_PER_SHUFFLE_PARTITION = 1_500_000


def shuffle_partitions_for(events: int, *, current: int) -> int:
    """Return the shuffle partitions for a run over `events` input events: never fewer than `current`."""
    return max(current, -(-events // EVENTS_PER_SHUFFLE_PARTITION))


def size_shuffle(spark: SparkSession, *, events: int) -> int:
    """On a local master, raise spark.sql.shuffle.partitions to what `events` need; return the setting in force.

    A cluster keeps what its data team set (docs/scale.md sizes a national day).
    """
    current = int(spark.conf.get("spark.sql.shuffle.partitions") or 200)
    if not (spark.sparkContext.master or "").startswith("local"):
        return current
    wanted = shuffle_partitions_for(events, current=current)
    if wanted != current:
        spark.conf.set("spark.sql.shuffle.partitions", str(wanted))
    return wanted


def spark_defaults_file() -> Path | None:
    """Return the spark-defaults.conf spark-submit reads: $SPARK_CONF_DIR's, else $SPARK_HOME/conf's, else None."""
    folder = os.environ.get("SPARK_CONF_DIR") or (
        str(Path(os.environ["SPARK_HOME"]) / "conf") if os.environ.get("SPARK_HOME") else None
    )
    path = Path(folder) / "spark-defaults.conf" if folder else None
    return path if path is not None and path.is_file() else None


def read_spark_defaults(path: Path | None) -> dict[str, str]:
    """Return the settings of a spark-defaults.conf (KEY VALUE or KEY=VALUE per line, # comments), {} for None."""
    settings: dict[str, str] = {}
    for line in path.read_text().splitlines() if path is not None else []:
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        # Java properties syntax, as spark-submit reads it: the key ends at the first blank, '=' or ':'
        parts = re.split(r"\s*[=:]\s*|\s+", line, maxsplit=1)
        settings[parts[0]] = parts[1].strip() if len(parts) > 1 else ""
    return settings


def merged_extensions(existing: str | None) -> str:
    """Return spark.sql.extensions with Delta and Sedona added to whatever was configured already."""
    names = [e.strip() for e in (existing or "").split(",") if e.strip()]
    for ext in (DELTA_EXTENSION, SEDONA_EXTENSION):
        if ext not in names:
            names.append(ext)
    return ",".join(names)


def log4j2_config() -> Path | None:
    """Return the log4j2 file for a local driver: $FOOTFALL_LOG4J2 (empty: none), else the checkout's, else None."""
    if (env := os.environ.get(LOG4J2_ENV)) is not None:
        if not env.strip():
            return None
        if not Path(env).is_file():
            logging.getLogger("footfall").warning("$%s=%s is not a file: Spark logs with its defaults", LOG4J2_ENV, env)
            return None
        return Path(env).resolve()
    path = repo_root() / "conf" / "log4j2.properties"
    return path if path.is_file() else None


def java_options(base: str, *, log4j2: Path | None) -> str:
    """Return JVM options `base` plus -Dlog4j2.configurationFile when a log4j2 file is given."""
    if log4j2 is None:
        return base
    # Spark's launcher splits these options like a shell would: quote a path with spaces.
    path = f'"{log4j2}"' if any(c.isspace() for c in str(log4j2)) else str(log4j2)
    return f"{base} -Dlog4j2.configurationFile={path}".strip()


def session_settings(
    existing: Mapping[str, str],
    *,
    local: bool,
    jars: list[str],
    overrides: Mapping[str, str] | None = None,
    log4j2: Path | None = None,
) -> dict[str, str]:
    """Return the settings to add on top of `existing`: only what is missing, plus local defaults when local."""
    wanted = dict(_REQUIRED)
    if local:
        wanted |= _LOCAL
        wanted["spark.jars"] = ",".join(jars)
        # The driver JVM starts with these options, so the file applies from its first log line on.
        wanted["spark.driver.extraJavaOptions"] = java_options(_LOCAL["spark.driver.extraJavaOptions"], log4j2=log4j2)
    wanted |= dict(overrides or {})
    settings = {key: value for key, value in wanted.items() if key not in existing or key in (overrides or {})}
    settings["spark.sql.extensions"] = merged_extensions(existing.get("spark.sql.extensions"))
    return settings


def catalog_settings(catalog: CatalogConfig | None) -> dict[str, str]:
    """Return the static settings of the configured catalog: none for the session catalog, Hive support otherwise."""
    if catalog is None or catalog.kind == "session":
        return {}
    settings = {"spark.sql.catalogImplementation": "hive"}
    if catalog.metastore_uri is not None:
        # A shared metastore service keeps its own warehouse; footfall registers views over absolute Delta paths.
        return settings | {"spark.hadoop.hive.metastore.uris": catalog.metastore_uri}
    # Embedded Derby (pyspark ships it and Hive 2.3's client): absolute paths, or metastore_db/ and
    # spark-warehouse/ would land in whatever folder the job happens to start in.
    home = Path(catalog.metastore_dir).resolve()
    return settings | {
        "spark.sql.warehouse.dir": str(home / "warehouse"),
        "spark.hadoop.javax.jdo.option.ConnectionURL": f"jdbc:derby:;databaseName={home / 'metastore_db'};create=true",
    }


def derby_java_option(catalog: CatalogConfig | None) -> str:
    """Return the JVM option that puts Derby's log beside its database (empty when Derby is not used)."""
    if catalog is None or catalog.kind == "session" or catalog.metastore_uri is not None:
        return ""
    return f"-Dderby.stream.error.file={Path(catalog.metastore_dir).resolve() / 'derby.log'}"


def launched_by_spark_submit() -> bool:
    """Return True when a JVM gateway already exists (spark-submit, pyspark shell, a notebook kernel)."""
    return "PYSPARK_GATEWAY_PORT" in os.environ


@contextmanager
def jvm_stdout_to_stderr() -> Iterator[None]:
    """Start the local JVM inside this block with stderr as its stdout, so footfall's stdout holds footfall's lines
    only: Delta's VACUUM prints "Deleted N files and directories ..." with println, in the middle of a run's
    progress lines, and Spark and Sedona print to it too. The JVM inherits the file descriptors at its start; the
    Python process gets its stdout back when the block ends."""
    if sys.stdout is not None:
        sys.stdout.flush()
    try:
        saved = os.dup(1)
    except OSError:  # no stdout to speak of (a daemon): nothing to keep apart
        yield
        return
    try:
        os.dup2(2, 1)
        yield
    finally:
        os.dup2(saved, 1)
        os.close(saved)


def get_spark(
    app_name: str = "footfall",
    *,
    master: str = "local[*]",
    overrides: Mapping[str, str] | None = None,
    catalog: CatalogConfig | None = None,
) -> SparkSession:
    """Return the SparkSession with Delta and Sedona registered, building a local one when none exists; with a
    `catalog` of kind hive, its tables and views outlive the session."""
    # pandas-on-Spark (used by pyspark.testing and toPandas) wants this set before the JVM starts.
    os.environ.setdefault("PYARROW_IGNORE_TIMEZONE", "1")
    active = SparkSession.getActiveSession()
    if active is not None:
        # A notebook or a caller made it: static settings can no longer change, so only make sure of Sedona.
        return ensure_sedona(active)

    builder = SparkSession.builder.appName(app_name)
    overrides = catalog_settings(catalog) | dict(overrides or {})
    if launched_by_spark_submit():
        existing = dict(SparkConf().getAll())
        settings = session_settings(existing, local=False, jars=[], overrides=overrides)
    else:
        # Python workers must run the interpreter that has footfall installed, not whatever python3 is on PATH.
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
        jars = [str(p) for p in local_jar_paths()]
        # spark-submit, which starts the local JVM, reads spark-defaults.conf too; what it sets there (the driver's
        # memory, say) wins over the factory's local defaults, as it would on a cluster.
        existing = read_spark_defaults(spark_defaults_file())
        settings = session_settings(existing, local=True, jars=jars, overrides=overrides, log4j2=log4j2_config())
        if derby := derby_java_option(catalog):
            key = "spark.driver.extraJavaOptions"
            settings[key] = f"{settings.get(key, existing.get(key, ''))} {derby}".strip()
        builder = builder.master(master)
    for key, value in settings.items():
        builder = builder.config(key, value)
    if launched_by_spark_submit():
        spark = builder.getOrCreate()
    else:
        with jvm_stdout_to_stderr():
            spark = builder.getOrCreate()
    if launched_by_spark_submit():
        tune_single_host(spark, submitted=existing)
    return ensure_sedona(spark)


def ensure_sedona(spark: SparkSession) -> SparkSession:
    """Return `spark` with Sedona's SQL functions registered (once) and its Python functions bound to the JVM."""
    # Imported here: sedona pulls in its JVM bindings on import, which needs pyspark set up first.
    from sedona.spark import SedonaContext
    from sedona.spark.register.geo_registrator import PackageImporter

    # What SedonaContext.create does on the Python side: java_import the classes st_functions & co. call into.
    PackageImporter.import_jvm_lib(spark._jvm)
    # SedonaSqlExtensions registers Sedona in a session when its analyzer is built, and analysing any query builds
    # it (no job runs). Calling SedonaContext.create as well would register everything a second time, with a
    # warning per function; only a session made without the extension needs it.
    spark.sql("SELECT 1")
    if not spark.catalog.functionExists(SEDONA_PROBE_FUNCTION):
        SedonaContext.create(spark)
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
