"""The commit log read by the driver gives what Delta's history gives: versions, write metrics, userMetadata."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from delta.tables import DeltaTable
from pyspark.sql import SparkSession

from footfall import commit_log
from footfall import schemas as S
from footfall.lakehouse import GOLD_TABLES, commit_metadatas, table_version, write

DEMOGRAPHICS = GOLD_TABLES[S.GOLD_ZONE_DEMOGRAPHICS_DAILY_TABLE]
DAYS = (dt.date(2026, 3, 10), dt.date(2026, 3, 11))


def _rows(spark: SparkSession, day: dt.date, n: int):
    rows = [(f"Z{i}", day, "25-34", "f", 40 + i) for i in range(n)]
    return spark.createDataFrame(rows, S.GOLD_ZONE_DEMOGRAPHICS_DAILY)


def test_versions_metrics_and_metadata_equal_deltas_history(spark: SparkSession, tmp_path: Path) -> None:
    path = DEMOGRAPHICS.path(tmp_path)
    assert table_version(spark, path) is None and commit_metadatas(spark, path) == []

    metrics = [
        write(_rows(spark, DAYS[0], 3), DEMOGRAPHICS, tmp_path, values=[DAYS[0]], user_metadata={"run": 1}),
        write(_rows(spark, DAYS[1], 2), DEMOGRAPHICS, tmp_path, values=[DAYS[1]], user_metadata={"run": 2}),
        write(_rows(spark, DAYS[0], 1), DEMOGRAPHICS, tmp_path, values=[DAYS[0]], user_metadata={"run": 3}),
    ]

    history = DeltaTable.forPath(spark, path).history().orderBy("version").collect()
    newest_first = history[::-1]
    assert table_version(spark, path) == newest_first[0]["version"] == 3  # CREATE TABLE, then three writes
    assert commit_log.versions(path) == [h["version"] for h in newest_first]
    assert commit_metadatas(spark, path) == [json.loads(h["userMetadata"]) for h in newest_first if h["userMetadata"]]
    # each write's metrics are its own commit's, as history records them: 3 rows, 2 rows, then 1 row replacing 3
    assert metrics == [{k: int(v) for k, v in h["operationMetrics"].items()} for h in history[1:]]
    assert [m["numOutputRows"] for m in metrics] == [3, 2, 1]
    assert metrics[2]["numRemovedFiles"] >= 1


def test_a_table_behind_another_file_system_is_left_to_delta() -> None:
    assert commit_log.local_log("s3a://bucket/lake/gold/t") is None
    assert commit_log.versions("abfss://c@acct.dfs.core.windows.net/lake/t") is None
    assert commit_log.local_log("file:///tmp/lake/t") == Path("/tmp/lake/t/_delta_log")
