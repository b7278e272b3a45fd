"""The commit log read by the driver gives what Delta's history gives: versions, write metrics, userMetadata."""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest
from delta.tables import DeltaTable
from pyspark.sql import SparkSession
from pyspark.sql import functions as F
from pyspark.testing import assertDataFrameEqual

from footfall import commit_log, lakehouse
from footfall import schemas as S
from footfall.lakehouse import (
    GOLD_TABLES,
    PUBLICATIONS,
    commit_metadatas,
    ensure_table,
    partition_dates,
    read_rows,
    read_table,
    table_version,
    write,
)
from footfall.publish.publications import publication_df

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


def _spark_files(spark: SparkSession, path: str) -> set[str]:
    """The data files Spark reads for the table's current version, relative to the table."""
    root = Path(path).resolve()
    return {
        str(Path(unquote(urlparse(f).path)).relative_to(root))
        for f in spark.read.format("delta").load(path).inputFiles()
    }


def test_the_log_replay_lists_the_files_and_partitions_spark_reads_also_past_a_checkpoint(
    spark: SparkSession, tmp_path: Path
) -> None:
    path = DEMOGRAPHICS.path(tmp_path)
    assert commit_log.partition_values(path, S.DATE) == set()  # no table yet
    write(_rows(spark, DAYS[0], 3), DEMOGRAPHICS, tmp_path, values=[DAYS[0]])
    spark.sql(f"ALTER TABLE delta.`{path}` SET TBLPROPERTIES ('delta.checkpointInterval' = '3')")
    third = dt.date(2026, 3, 12)
    for day, n in ((DAYS[1], 2), (DAYS[0], 1), (third, 4), (DAYS[1], 1)):  # replacements remove files
        write(_rows(spark, day, n), DEMOGRAPHICS, tmp_path, values=[day])
    log = Path(path) / commit_log.LOG
    assert any(n.endswith(".checkpoint.parquet") for n in os.listdir(log)), "the replay must start from one"

    found = commit_log.snapshot(path)
    assert found is not None and found.version == table_version(spark, path)
    assert set(map(unquote, found.files)) == _spark_files(spark, path)
    spark_days = {r[S.DATE] for r in spark.read.format("delta").load(path).select(S.DATE).distinct().collect()}
    assert partition_dates(spark, path, S.DATE) == spark_days == {DAYS[0], DAYS[1], third}
    assert commit_log.partition_values(path, S.ZONE_ID) is None  # a column of the rows, not of the files

    write(_rows(spark, third, 0), DEMOGRAPHICS, tmp_path, values=[third])  # replaced by nothing
    assert partition_dates(spark, path, S.DATE) == {DAYS[0], DAYS[1]}


def test_a_small_table_read_by_the_driver_gives_sparks_rows(spark: SparkSession, tmp_path: Path) -> None:
    path = PUBLICATIONS.path(tmp_path)
    assert read_rows(spark, path) == []
    for sequence in (1, 2):
        row = publication_df(
            spark,
            sequence=sequence,
            run_id=f"run{sequence}",
            published_at=dt.datetime(2026, 3, 10, 4, 5, 6, 789000),
            dates=["2026-03-09", "2026-03-08"],
            weeks=[],
            inputs="abc",
            config_hash="h",
            code_version="0",
            table_versions={"zone_footfall_hourly": 3 + sequence, "zones": 1},
            rewritten=["zone_footfall_hourly"] if sequence == 2 else [],
        )
        write(row, PUBLICATIONS, tmp_path, append=True)

    ours = sorted(read_rows(spark, path), key=lambda r: r[S.SEQUENCE])
    theirs = sorted((r.asDict(recursive=True) for r in read_table(spark, path).collect()), key=lambda r: r[S.SEQUENCE])
    assert ours == theirs
    assert ours[1][S.TABLE_VERSIONS] == {"zone_footfall_hourly": 5, "zones": 1}
    assert ours[1][S.PUBLISHED_AT] == dt.datetime(2026, 3, 10, 4, 5, 6, 789000)
    assert sorted(r[S.SEQUENCE] for r in read_rows(spark, path, columns=[S.SEQUENCE])) == [1, 2]
    assert {k for r in read_rows(spark, path, columns=[S.SEQUENCE]) for k in r} == {S.SEQUENCE}
    # a partitioned table is left to Spark (partition values live in the log, typed by the table's schema)
    write(_rows(spark, DAYS[0], 2), DEMOGRAPHICS, tmp_path, values=[DAYS[0]])
    assert commit_log.read_small(DEMOGRAPHICS.path(tmp_path)) is None


def test_a_coverage_table_read_by_the_driver_gives_sparks_arrow_table(spark: SparkSession, tmp_path: Path) -> None:
    """read_arrow (the coverage models mobility loads whole) gives what Spark's toArrow gives, in two files too."""
    from footfall.lakehouse import SILVER_TABLES, read_arrow

    table = SILVER_TABLES[S.SILVER_COVERAGE_TABLE]
    rows = [("C1", 7, 0.5), ("C1", 8, 0.25), ("C2", 8, 1.0)]
    df = spark.createDataFrame(rows, table.schema).repartition(2)
    write(df, table, tmp_path)
    path = table.path(tmp_path)
    assert len(commit_log.snapshot(path).files) == 2  # type: ignore[union-attr]
    ours = read_arrow(spark, path)
    theirs = read_table(spark, path).toArrow()
    assert [(f.name, f.type) for f in ours.schema] == [(f.name, f.type) for f in theirs.schema]
    order = [(S.CELL_ID, "ascending"), (S.TILE_ID, "ascending")]
    assert ours.sort_by(order).to_pylist() == theirs.sort_by(order).to_pylist() and ours.num_rows == len(rows)
    assert read_arrow(spark, path, columns=[S.TILE_ID]).column_names == [S.TILE_ID]


def test_a_table_whose_first_commits_delta_cleaned_up_exists_without_a_snapshot_load(
    spark: SparkSession, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Gold keeps 7 days of log: Delta then deletes the first commit file, and a table must still be known to exist
    without createIfNotExists loading its snapshot before every write (the soak's run 20 onwards)."""
    path = DEMOGRAPHICS.path(tmp_path)
    assert commit_log.has_commit(path) is False  # no log yet
    write(_rows(spark, DAYS[0], 3), DEMOGRAPHICS, tmp_path, values=[DAYS[0]])
    spark.sql(f"ALTER TABLE delta.`{path}` SET TBLPROPERTIES ('delta.checkpointInterval' = '3')")
    log = Path(path) / commit_log.LOG
    for name in os.listdir(log):  # ten days old, as after ten daily runs: older than the log retention of 7 days
        stat = (log / name).stat()
        os.utime(log / name, (stat.st_atime - 10 * 86400, stat.st_mtime - 10 * 86400))
    # versions 0-2 (create, write, properties) are old: the write of version 3 checkpoints, and Delta cleans up
    write(_rows(spark, DAYS[1], 2), DEMOGRAPHICS, tmp_path, values=[DAYS[1]])
    assert commit_log.versions(path) == [3], "Delta cleaned up the commits its checkpoint covers"

    def snapshot_load(_spark: SparkSession) -> None:
        raise AssertionError("ensure_table loaded the snapshot of a table that exists")

    monkeypatch.setattr(lakehouse.DeltaTable, "createIfNotExists", snapshot_load)
    assert commit_log.has_commit(path) is True
    ensure_table(spark, DEMOGRAPHICS, tmp_path)
    assert commit_log.has_commit(str(tmp_path / "no-table")) is False
    assert commit_log.has_commit("s3a://bucket/gold/t") is None  # left to Delta


def _delta_read(spark: SparkSession, path: str):
    return spark.read.format("delta").load(path)


def test_a_local_table_reads_as_parquet_with_deltas_rows_and_schema(spark: SparkSession, tmp_path: Path) -> None:
    """read_table gives Spark the files the log lists: the same rows and schema as Delta's read, after a replaced
    partition too (the replaced files are still on disk and must not be read), and with no Delta scan to plan."""
    path = DEMOGRAPHICS.path(tmp_path)
    write(_rows(spark, DAYS[0], 3), DEMOGRAPHICS, tmp_path, values=[DAYS[0]])
    write(_rows(spark, DAYS[1], 2), DEMOGRAPHICS, tmp_path, values=[DAYS[1]])
    write(_rows(spark, DAYS[0], 1), DEMOGRAPHICS, tmp_path, values=[DAYS[0]])  # replaces the first day's 3 rows

    ours = read_table(spark, path)
    assert "delta" not in ours._jdf.queryExecution().optimizedPlan().toString().lower()
    # names and types as Delta's; Parquet read with a schema makes every column nullable, and the writes check NOT
    # NULL against the table, not the frame
    assert [(f.name, f.dataType) for f in ours.schema] == [
        (f.name, f.dataType) for f in _delta_read(spark, path).schema
    ]
    assertDataFrameEqual(ours, _delta_read(spark, path))
    assertDataFrameEqual(ours, _rows(spark, DAYS[0], 1).unionByName(_rows(spark, DAYS[1], 2)))
    # a date filter prunes partitions as Delta's read does
    assertDataFrameEqual(ours.where(F.col(S.DATE) == F.lit(DAYS[1])), _rows(spark, DAYS[1], 2))


def test_a_table_with_deletion_vectors_is_read_through_delta(spark: SparkSession, tmp_path: Path) -> None:
    """A deletion vector hides rows its Parquet file still holds: only Delta reads such a table right."""
    path = str(tmp_path / "with_vectors")
    spark.range(6).write.format("delta").option("delta.enableDeletionVectors", "true").save(path)
    DeltaTable.forPath(spark, path).delete("id < 2")
    assert commit_log.parquet_snapshot(path) is None
    assertDataFrameEqual(read_table(spark, path), spark.range(2, 6))
