"""The session factory: what it adds to an existing configuration, and what the live session has."""

from __future__ import annotations

from pyspark.sql import SparkSession

from footfall.session import DELTA_EXTENSION, SEDONA_EXTENSION, merged_extensions, session_settings


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
