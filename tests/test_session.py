"""The session factory: what it adds to an existing configuration, and what the live session has."""

from __future__ import annotations

from pathlib import Path

import pytest
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from footfall.config import CatalogConfig
from footfall.jars import repo_root
from footfall.session import (
    DELTA_EXTENSION,
    LOG4J2_ENV,
    SEDONA_EXTENSION,
    SEDONA_PROBE_FUNCTION,
    catalog_settings,
    derby_java_option,
    get_spark,
    java_options,
    log4j2_config,
    merged_extensions,
    read_spark_defaults,
    session_settings,
    shuffle_partitions_for,
    size_shuffle,
)


def test_extensions_are_merged_not_replaced() -> None:
    assert merged_extensions("com.acme.Ext") == f"com.acme.Ext,{DELTA_EXTENSION},{SEDONA_EXTENSION}"
    assert merged_extensions(f"{SEDONA_EXTENSION}") == f"{SEDONA_EXTENSION},{DELTA_EXTENSION}"


def test_cluster_settings_only_add_what_is_missing() -> None:
    existing = {"spark.serializer": "com.acme.Serializer", "spark.master": "yarn"}
    settings = session_settings(existing, local=False, jars=[])
    assert "spark.serializer" not in settings  # the cluster's choice stays
    assert "spark.jars" not in settings and "spark.ui.enabled" not in settings
    assert settings["spark.sql.catalog.spark_catalog"].endswith("DeltaCatalog")


def test_live_session_has_delta_sedona_utc_and_local_jars(spark: SparkSession) -> None:
    conf = spark.sparkContext.getConf()
    assert DELTA_EXTENSION in conf.get("spark.sql.extensions", "")
    assert SEDONA_EXTENSION in conf.get("spark.sql.extensions", "")
    assert spark.conf.get("spark.sql.session.timeZone") == "UTC"
    assert conf.get("spark.ui.enabled") == "false"
    jars = conf.get("spark.jars", "").split(",")
    assert any("sedona-spark-shaded" in j for j in jars) and any("delta-spark_" in j for j in jars)


def test_get_spark_does_not_register_sedona_again_on_a_session_that_has_it(
    spark: SparkSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sedona.spark import SedonaContext

    calls: list[SparkSession] = []
    monkeypatch.setattr(SedonaContext, "create", classmethod(lambda cls, s: calls.append(s) or s))
    assert get_spark() is not None and get_spark() is not None
    assert calls == []  # SedonaSqlExtensions registered it when the session was built
    assert spark.catalog.functionExists(SEDONA_PROBE_FUNCTION)


def test_sedona_python_functions_work_without_sedona_context_create(spark: SparkSession) -> None:
    from sedona.spark.sql import st_constructors as STC
    from sedona.spark.sql import st_functions as STF

    row = spark.range(1).select(STF.ST_AsText(STC.ST_Point(F.lit(1.0), F.lit(2.0))).alias("wkt")).first()
    assert row is not None and row["wkt"] == "POINT (1 2)"


def test_local_driver_gets_the_log4j2_file_next_to_utc(tmp_path: Path) -> None:
    conf = tmp_path / "log4j2.properties"
    settings = session_settings({}, local=True, jars=[], log4j2=conf)
    base = "-Duser.timezone=UTC -XX:+UseParallelGC"
    assert settings["spark.driver.extraJavaOptions"] == f"{base} -Dlog4j2.configurationFile={conf}"
    assert session_settings({}, local=True, jars=[])["spark.driver.extraJavaOptions"] == base
    # A cluster keeps its own logging.
    assert "spark.driver.extraJavaOptions" not in session_settings({}, local=False, jars=[], log4j2=conf)


def test_java_options_quote_a_path_with_spaces() -> None:
    spaced = java_options("-Da=1", log4j2=Path("/x y/l.properties"))
    assert spaced == '-Da=1 -Dlog4j2.configurationFile="/x y/l.properties"'
    assert java_options("-Da=1", log4j2=None) == "-Da=1"


def test_log4j2_file_from_env_else_the_checkout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    mine = tmp_path / "mine.properties"
    mine.write_text("rootLogger.level = info\n")
    monkeypatch.setenv(LOG4J2_ENV, str(mine))
    assert log4j2_config() == mine.resolve()
    monkeypatch.setenv(LOG4J2_ENV, "")  # empty: Spark's own defaults
    assert log4j2_config() is None
    monkeypatch.setenv(LOG4J2_ENV, str(tmp_path / "missing.properties"))
    assert log4j2_config() is None
    monkeypatch.delenv(LOG4J2_ENV)
    assert log4j2_config() == repo_root() / "conf" / "log4j2.properties"


def test_shipped_log4j2_file_keeps_errors_and_silences_to_error_only() -> None:
    lines = (repo_root() / "conf" / "log4j2.properties").read_text().splitlines()
    levels = {line.split("=")[1].strip() for line in lines if ".level" in line and not line.startswith("#")}
    assert levels <= {"warn", "error"}  # nothing is turned off: errors always show
    assert "rootLogger.level = warn" in lines


def test_live_local_driver_was_started_with_the_log4j2_file(spark: SparkSession) -> None:
    """The session of this test process was built by the factory with the checkout's file (conftest clears
    $FOOTFALL_LOG4J2 before the JVM starts)."""
    options = spark.sparkContext.getConf().get("spark.driver.extraJavaOptions", "")
    conf = repo_root() / "conf" / "log4j2.properties"
    assert f"-Dlog4j2.configurationFile={conf}" in options and "-Duser.timezone=UTC" in options


def test_a_submit_to_a_local_master_gets_single_host_sql_settings_it_did_not_set(spark: SparkSession) -> None:
    """Airflow on one host submits to local[n]: VACUUM and Delta log reads must not use cluster-sized task counts;
    a value the submit set itself wins."""
    from footfall.session import tune_single_host

    key, kept = "spark.sql.sources.parallelPartitionDiscovery.parallelism", "spark.sql.shuffle.partitions"
    before = {k: spark.conf.get(k) for k in (key, kept)}
    try:
        spark.conf.set(key, "10000")
        spark.conf.set(kept, "7")
        tune_single_host(spark, submitted={kept: "7"})
        assert spark.conf.get(key) == "4" and spark.conf.get(kept) == "7"
    finally:
        for k, v in before.items():
            spark.conf.set(k, v)


def test_shuffle_partitions_grow_with_the_input_and_never_shrink() -> None:
    """One partition per 1.5 M events: 100 M events get 66 instead of the local 8 (which ran out of memory)."""
    assert shuffle_partitions_for(98_567_931, current=8) == 66
    assert shuffle_partitions_for(9_871_541, current=8) == 8  # what make bench measured at 10 M stays as it was
    assert shuffle_partitions_for(12_000_001, current=8) == 9
    assert shuffle_partitions_for(98_567_931, current=200) == 200  # a larger setting is kept
    assert shuffle_partitions_for(0, current=2) == 2


def test_a_local_session_sizes_its_shuffle_by_the_events(spark: SparkSession) -> None:
    key = "spark.sql.shuffle.partitions"
    before = spark.conf.get(key)
    try:
        spark.conf.set(key, "8")
        assert size_shuffle(spark, events=30_000_000) == 20 and spark.conf.get(key) == "20"
        assert size_shuffle(spark, events=1_000) == 20  # a later small input does not lower it
    finally:
        spark.conf.set(key, before)


def test_spark_defaults_win_over_the_local_defaults(tmp_path: Path) -> None:
    """A data team raises the local driver's memory in spark-defaults.conf, as spark-submit reads it."""
    conf = tmp_path / "spark-defaults.conf"
    conf.write_text(
        "# comment\n\nspark.driver.memory   16g\nspark.eventLog.enabled=true\nspark.eventLog.dir : file:///tmp/x\n"
    )
    defaults = read_spark_defaults(conf)
    assert defaults == {
        "spark.driver.memory": "16g",
        "spark.eventLog.enabled": "true",
        "spark.eventLog.dir": "file:///tmp/x",
    }
    settings = session_settings(defaults, local=True, jars=["a.jar"])
    assert "spark.driver.memory" not in settings  # spark-submit's 16g stays
    assert session_settings({}, local=True, jars=["a.jar"])["spark.driver.memory"] == "4g"
    assert read_spark_defaults(None) == {}


def test_the_session_catalog_adds_nothing_and_hive_gets_absolute_derby_paths(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Embedded Derby's database, warehouse and log go under metastore_dir, never into the working folder."""
    assert catalog_settings(None) == {} and catalog_settings(CatalogConfig()) == {}
    assert derby_java_option(CatalogConfig()) == ""
    monkeypatch.chdir(tmp_path)
    hive = catalog_settings(CatalogConfig(kind="hive", metastore_dir=Path("ms")))
    assert hive == {
        "spark.sql.catalogImplementation": "hive",
        "spark.sql.warehouse.dir": str(tmp_path / "ms" / "warehouse"),
        "spark.hadoop.javax.jdo.option.ConnectionURL": f"jdbc:derby:;databaseName={tmp_path / 'ms' / 'metastore_db'};"
        "create=true",
    }
    assert derby_java_option(CatalogConfig(kind="hive", metastore_dir=Path("ms"))).endswith(f"{tmp_path}/ms/derby.log")


def test_a_shared_metastore_service_replaces_derby() -> None:
    catalog = CatalogConfig(kind="hive", metastore_uri="thrift://metastore:9083")
    assert catalog_settings(catalog) == {
        "spark.sql.catalogImplementation": "hive",
        "spark.hadoop.hive.metastore.uris": "thrift://metastore:9083",
    }
    assert derby_java_option(catalog) == ""


def test_a_local_jvm_prints_on_stderr_so_stdout_holds_footfalls_lines_only(tmp_path: Path) -> None:
    """Delta's VACUUM prints "Deleted N files and directories ..." with the JVM's println, in the middle of a run's
    progress lines: a local session's JVM starts with stderr as its stdout (session.jvm_stdout_to_stderr). Checked
    with the JVM's own System.out, file descriptor 1 of the JVM as Delta's println uses it: a VACUUM in a cold JVM
    takes a minute of the suite."""
    import subprocess
    import sys

    script = (
        "from footfall.session import get_spark\n"
        "spark = get_spark('footfall-test-stdout')\n"
        "out = spark.sparkContext._jvm.java.lang.System.out\n"
        "out.println('Deleted 1 files and directories in a total of 1 directories.')\n"
        "out.flush()\n"
        "print('footfall: done', flush=True)\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.splitlines() == ["footfall: done"], done.stdout
    # the JVM did print it: on stderr, so the check above could fail
    assert "Deleted 1 files and directories in a total of 1 directories." in done.stderr.splitlines(), done.stderr
