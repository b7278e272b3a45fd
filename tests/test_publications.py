"""gold/_publications: readers see whole publications; a rewritten table's history goes only once its row landed."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from pyspark.sql import SparkSession
from pyspark.testing import assertDataFrameEqual

from footfall import schemas as S
from footfall.lakehouse import gold_path, read_table, table_version
from footfall.publish.gold import register_gold, write_gold
from footfall.publish.publications import (
    append_publication,
    finish_history_drop,
    latest_publication,
    next_sequence,
    publication_df,
    published_dates,
    read_published,
)

ZONES = S.GOLD_ZONES_TABLE
HOURLY = S.GOLD_ZONE_FOOTFALL_HOURLY_TABLE
DAY = dt.date(2026, 3, 10)


def _hourly(visitors: int) -> list[tuple]:
    return [("Z1", DAY, 9, dt.datetime(2026, 3, 10, 8), visitors, visitors, 0, 1.0, 2.0, 3.0, visitors * 10)]


def _zones(score: float) -> list[tuple]:
    return [("Z1", "Mall", "mall", 1000.0, score, True)]


def _publish(spark: SparkSession, lake: Path, *, visitors: int, score: float, inputs: str = "fp1") -> dict:
    """Write both tables, then commit their publication (as run_publish does); return the row."""
    replaced = []
    for table, rows, schema, values in (
        (HOURLY, _hourly(visitors), S.GOLD_ZONE_FOOTFALL_HOURLY, [DAY.isoformat()]),
        (ZONES, _zones(score), S.GOLD_ZONES, []),
    ):
        df = spark.createDataFrame(rows, schema)
        if write_gold(df, table=table, lakehouse=lake, values=values, user_metadata={}) and table == HOURLY:
            replaced.append(table)
    versions = {t: table_version(spark, gold_path(lake, t)) for t in (HOURLY, ZONES)}
    append_publication(
        publication_df(
            spark,
            sequence=next_sequence(spark, lake),
            run_id=f"run-{visitors}",
            published_at=dt.datetime(2026, 3, 11, 6),
            dates=[DAY.isoformat()],
            weeks=[],
            inputs=inputs,
            config_hash="c",
            code_version="v",
            table_versions=versions,  # type: ignore[arg-type]
            rewritten=replaced,
        ),
        lakehouse=lake,
    )
    latest = latest_publication(spark, lake)
    assert latest is not None
    return latest


def test_readers_stay_on_the_last_publication_while_a_run_is_half_written(spark: SparkSession, tmp_path: Path) -> None:
    first = _publish(spark, tmp_path, visitors=30, score=0.9)
    assert first[S.SEQUENCE] == 1 and first[S.HISTORY_DROPPED]  # nothing was rewritten
    # a second run writes hourly, then dies before zones and before its publication row
    write_gold(
        spark.createDataFrame(_hourly(31), S.GOLD_ZONE_FOOTFALL_HOURLY),
        table=HOURLY,
        lakehouse=tmp_path,
        values=[DAY.isoformat()],
        user_metadata={},
    )
    assert read_table(spark, gold_path(tmp_path, HOURLY)).first()[S.VISITORS] == 31  # the table itself moved on
    published = read_published(spark, tmp_path, HOURLY)
    assert published is not None
    assertDataFrameEqual(published, spark.createDataFrame(_hourly(30), S.GOLD_ZONE_FOOTFALL_HOURLY))
    assert register_gold(spark, tmp_path) == [f"{S.GOLD_DATABASE}.{HOURLY}", f"{S.GOLD_DATABASE}.{ZONES}"]
    assert spark.table(f"{S.GOLD_DATABASE}.{HOURLY}").first()[S.VISITORS] == 30
    # that half-written table moved past its published version: its history must not be dropped under readers
    assert finish_history_drop(spark, tmp_path) == []


def test_history_of_a_rewritten_table_goes_after_its_publication(spark: SparkSession, tmp_path: Path) -> None:
    _publish(spark, tmp_path, visitors=30, score=0.9)
    second = _publish(spark, tmp_path, visitors=24, score=0.9, inputs="fp2")
    # the row landed; a run killed here left the earlier files readable
    assert second[S.SEQUENCE] == 2 and second[S.REWRITTEN] == [HOURLY] and not second[S.HISTORY_DROPPED]
    path = gold_path(tmp_path, HOURLY)
    old = second[S.TABLE_VERSIONS][HOURLY] - 1
    assert spark.read.format("delta").option("versionAsOf", old).load(path).first()[S.VISITORS] == 30

    assert finish_history_drop(spark, tmp_path) == [HOURLY]  # what the next publish run does first
    latest = latest_publication(spark, tmp_path)
    assert latest is not None and latest[S.HISTORY_DROPPED]
    with pytest.raises(Exception, match=r"(?i)FileNotFound|does not exist|No such file"):
        spark.read.format("delta").option("versionAsOf", old).load(path).collect()
    assert finish_history_drop(spark, tmp_path) == []  # done once
    assert published_dates(spark, tmp_path, fingerprint="fp2") == {DAY.isoformat()}
    assert published_dates(spark, tmp_path, fingerprint="fp3") == set()
