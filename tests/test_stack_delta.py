"""The real Delta jar works in our session: write, append, time travel."""

from __future__ import annotations

from pathlib import Path

from pyspark.sql import SparkSession
from pyspark.testing import assertDataFrameEqual


def test_delta_append_then_time_travel_to_version_0(spark: SparkSession, tmp_path: Path) -> None:
    path = str(tmp_path / "t")
    first = spark.createDataFrame([(1, "a"), (2, "b")], "id INT, v STRING")
    second = spark.createDataFrame([(3, "c")], "id INT, v STRING")
    first.write.format("delta").save(path)
    second.write.format("delta").mode("append").save(path)

    assertDataFrameEqual(spark.read.format("delta").load(path), first.unionByName(second))
    assertDataFrameEqual(spark.read.format("delta").option("versionAsOf", 0).load(path), first)

    from delta.tables import DeltaTable

    history = DeltaTable.forPath(spark, path).history().select("version", "operation").orderBy("version").collect()
    assert [(r.version, r.operation) for r in history] == [(0, "WRITE"), (1, "WRITE")]
