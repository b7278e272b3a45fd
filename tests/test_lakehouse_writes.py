"""write_together: a stage's independent writes run at once, each commit keeping its own metadata and job group."""

from __future__ import annotations

import datetime as dt
import json
from functools import partial
from pathlib import Path

import pytest
from delta.tables import DeltaTable
from pyspark.sql import SparkSession
from pyspark.sql import functions as F
from pyspark.testing import assertDataFrameEqual

from footfall import schemas as S
from footfall.lakehouse import GOLD_TABLES, Write, commit_metadata, read_table, write, write_together
from footfall.publish.gold import write_gold_tables

HOURLY, DEMOGRAPHICS = S.GOLD_ZONE_FOOTFALL_HOURLY_TABLE, S.GOLD_ZONE_DEMOGRAPHICS_DAILY_TABLE
DAY = dt.date(2026, 3, 10)


def _hourly(spark: SparkSession, visitors: int):
    start = dt.datetime.combine(DAY, dt.time(8))
    row = ("Z1", DAY, 9, start, visitors, visitors + 5, 30, 120.0, 300.0, 600.0, visitors * 40)
    return spark.createDataFrame([row], S.GOLD_ZONE_FOOTFALL_HOURLY)


def _demographics(spark: SparkSession):
    return spark.createDataFrame([("Z1", DAY, "25-34", "f", 40)], S.GOLD_ZONE_DEMOGRAPHICS_DAILY)


def _metadatas(spark: SparkSession, path: str) -> list[dict]:
    history = DeltaTable.forPath(spark, path).history().orderBy("version").collect()
    return [json.loads(h["userMetadata"]) for h in history]


def test_tables_written_together_keep_their_rows_and_each_commit_its_own_metadata(
    spark: SparkSession, tmp_path: Path
) -> None:
    hourly, demographics = _hourly(spark, 25), _demographics(spark)
    frames = {HOURLY: (hourly, [DAY.isoformat()]), DEMOGRAPHICS: (demographics, [DAY.isoformat()])}

    assert write_gold_tables(tmp_path, frames, user_metadata={"run_id": "r1"}) == []  # nothing was there before
    rewritten = write_gold_tables(
        tmp_path, {HOURLY: (_hourly(spark, 26), [DAY.isoformat()])}, user_metadata={"run_id": "r2"}
    )

    assert rewritten == [HOURLY]
    assertDataFrameEqual(read_table(spark, GOLD_TABLES[HOURLY].path(tmp_path)), _hourly(spark, 26))
    assertDataFrameEqual(read_table(spark, GOLD_TABLES[DEMOGRAPHICS].path(tmp_path)), demographics)
    # CREATE (the run's metadata), then each write with its own partitions
    assert _metadatas(spark, GOLD_TABLES[HOURLY].path(tmp_path)) == [
        {"run_id": "r1"},
        {"run_id": "r1", "partitions": ["2026-03-10"]},
        {"run_id": "r2", "partitions": ["2026-03-10"]},
    ]
    assert _metadatas(spark, GOLD_TABLES[DEMOGRAPHICS].path(tmp_path))[-1] == {
        "run_id": "r1",
        "partitions": ["2026-03-10"],
    }


def test_writes_in_threads_run_in_the_callers_job_group(spark: SparkSession, tmp_path: Path) -> None:
    """The stage progress and the bench's per-stage job counts read the job group: the threads must keep it."""
    sc = spark.sparkContext
    sc.setJobGroup("test-write-together", "writes in threads")
    try:
        write_together(
            tmp_path,
            {
                "a": Write(_hourly(spark, 25), GOLD_TABLES[HOURLY], [DAY.isoformat()]),
                "b": Write(_demographics(spark), GOLD_TABLES[DEMOGRAPHICS], [DAY.isoformat()]),
            },
        )
    finally:  # the group and its description: a later test in this process must not inherit either
        sc.setLocalProperty("spark.jobGroup.id", None)  # type: ignore[arg-type]
        sc.setLocalProperty("spark.job.description", None)  # type: ignore[arg-type]
    jobs = sc.statusTracker().getJobIdsForGroup("test-write-together")
    assert len(jobs) >= 2  # at least one write job per table


def test_a_failing_write_is_raised_after_the_others_committed(spark: SparkSession, tmp_path: Path) -> None:
    bad = _hourly(spark, 25).withColumn(S.VISITORS, F.raise_error(F.lit("boom")).cast("long"))
    with pytest.raises(Exception, match="boom"):
        write_together(
            tmp_path,
            {
                "bad": Write(bad, GOLD_TABLES[HOURLY], [DAY.isoformat()]),
                "good": Write(_demographics(spark), GOLD_TABLES[DEMOGRAPHICS], [DAY.isoformat()]),
            },
        )
    assert read_table(spark, GOLD_TABLES[DEMOGRAPHICS].path(tmp_path)).count() == 1
    assert read_table(spark, GOLD_TABLES[HOURLY].path(tmp_path)).count() == 0  # created, nothing committed


def test_one_table_twice_is_refused(spark: SparkSession, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="each table once"), commit_metadata(spark, {}):
        write_together(
            tmp_path,
            {
                "a": Write(_hourly(spark, 25), GOLD_TABLES[HOURLY], [DAY.isoformat()]),
                "b": Write(_hourly(spark, 26), GOLD_TABLES[HOURLY], [DAY.isoformat()]),
            },
        )


def test_tables_vacuumed_together_keep_only_their_current_files_and_the_settings_come_back(
    spark: SparkSession, tmp_path: Path
) -> None:
    from footfall.lakehouse import RETENTION_CHECK, run_together, vacuuming

    paths = {t: GOLD_TABLES[t].path(tmp_path) for t in (HOURLY, DEMOGRAPHICS)}
    frames = {HOURLY: (_hourly(spark, 25), [DAY.isoformat()]), DEMOGRAPHICS: (_demographics(spark), [DAY.isoformat()])}
    write_gold_tables(tmp_path, frames, user_metadata={})
    write_gold_tables(tmp_path, frames, user_metadata={})  # the first write's files are history now
    before = spark.conf.get(RETENTION_CHECK, None)

    with vacuuming(spark) as vacuum:
        run_together(spark, {t: partial(vacuum, path) for t, path in paths.items()})

    for path in paths.values():
        files = {p.name for p in Path(path).rglob("*.parquet")}
        current = {Path(f).name for f in spark.read.format("delta").load(path).inputFiles()}
        assert files == current and len(current) == 1
    assert spark.conf.get(RETENTION_CHECK, None) == before


def test_a_silver_table_is_created_by_its_first_write_with_the_registrys_rules(
    spark: SparkSession, tmp_path: Path
) -> None:
    from footfall.lakehouse import SILVER_TABLES, write

    stays = SILVER_TABLES[S.SILVER_STAYS_TABLE]
    start = dt.datetime.combine(DAY, dt.time(9))
    rows = spark.createDataFrame(
        [
            (f"device-{i}", "Z1", start, start + dt.timedelta(minutes=20), 1200, True, "N", None, 1.0, False, DAY)
            for i in range(2)
        ],
        S.SILVER_STAYS,
    )
    write(rows, stays, tmp_path, values=[DAY], user_metadata={"run_id": "r1"})

    path = stays.path(tmp_path)
    log = Path(path) / "_delta_log"
    assert sorted(p.name for p in log.glob("*.json")) == ["00000000000000000000.json"]  # one commit, no CREATE
    actions = [json.loads(line) for line in (log / "00000000000000000000.json").read_text().splitlines()]
    meta = next(a["metaData"] for a in actions if "metaData" in a)
    commit = next(a["commitInfo"] for a in actions if "commitInfo" in a)
    assert meta["partitionColumns"] == [stays.partition]
    assert meta["configuration"]["delta.enableDeletionVectors"] == "false"
    assert S.PSEUDO_ID not in meta["configuration"]["delta.dataSkippingStatsColumns"].split(",")
    assert json.loads(commit["userMetadata"]) == {"run_id": "r1"}
    stats = [json.loads(a["add"]["stats"]) for a in actions if "add" in a]
    assert stats and all(S.PSEUDO_ID not in s.get("minValues", {}) for s in stats)  # already on the first files
    assert all(S.ZONE_ID in s["minValues"] for s in stats)
    assertDataFrameEqual(read_table(spark, path), rows.select(*S.SILVER_STAYS.names))


def _operations(spark: SparkSession, path: str) -> list[tuple[str, str | None]]:
    history = DeltaTable.forPath(spark, path).history().orderBy("version").collect()
    return [(h["operation"], h["operationParameters"].get("mode")) for h in history]


def test_a_new_partition_is_appended_and_an_existing_one_replaced(spark: SparkSession, tmp_path: Path) -> None:
    """Replacing a partition that holds no file costs Delta a replay of the table's state for nothing: the write
    appends instead, with the same table as a result; a partition that holds files is replaced."""
    table = GOLD_TABLES[HOURLY]
    path = table.path(tmp_path)
    day2 = DAY + dt.timedelta(days=1)
    second = _hourly(spark, 30).withColumn(S.DATE, F.lit(day2))
    write(_hourly(spark, 25), table, tmp_path, values=[DAY])  # the table's first rows
    write(second, table, tmp_path, values=[day2])  # a new date
    write(_hourly(spark, 26), table, tmp_path, values=[DAY])  # a rerun of the first date

    assert _operations(spark, path) == [
        ("CREATE TABLE", None),
        ("WRITE", "Append"),
        ("WRITE", "Append"),
        ("WRITE", "Overwrite"),
    ]
    assertDataFrameEqual(read_table(spark, path), _hourly(spark, 26).unionByName(second))


def test_an_appended_row_outside_the_partitions_named_fails_the_write_before_it_commits(
    spark: SparkSession, tmp_path: Path
) -> None:
    """replaceWhere refuses a row outside its partitions; the append that stands in for it must too."""
    table = GOLD_TABLES[HOURLY]
    path = table.path(tmp_path)
    write(_hourly(spark, 25), table, tmp_path, values=[DAY])
    stray = _hourly(spark, 30).withColumn(S.DATE, F.lit(DAY + dt.timedelta(days=2)))
    with pytest.raises(Exception, match="a row outside the partitions written"):
        write(stray, table, tmp_path, values=[DAY + dt.timedelta(days=1)])
    assertDataFrameEqual(read_table(spark, path), _hourly(spark, 25))
