"""footfall maintain: compaction and the reader-safe VACUUM change no row, move no fingerprint (so the next run
rebuilds nothing), keep the newest publication readable, and delete the orphan files of killed writes."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pytest
from delta.tables import DeltaTable
from pyspark.sql import SparkSession
from pyspark.testing import assertDataFrameEqual
from tests.daily import DAYS, TEST_KEY, daily_config

from footfall import schemas as S
from footfall.ingest.pseudonym import ENV_KEY
from footfall.lakehouse import GOLD_TABLES, data_version, silver_path, table_version
from footfall.maintenance import run_maintain
from footfall.mobility.job import mobility_fingerprints
from footfall.publish.job import publish_fingerprint
from footfall.publish.publications import latest_publication, read_published

DAY = 24 * 3600


def test_a_data_version_skips_the_commits_that_change_no_row(spark: SparkSession, tmp_path: Path) -> None:
    path = str(tmp_path / "t")
    for first in (0, 10, 20):  # versions 0, 1, 2: three files
        spark.range(first, first + 10).write.format("delta").mode("append").save(path)
    DeltaTable.forPath(spark, path).optimize().executeCompaction()  # 3
    spark.sql(f"ALTER TABLE delta.`{path}` SET TBLPROPERTIES ('delta.checkpointInterval' = '10')")  # 4
    assert (table_version(spark, path), data_version(spark, path)) == (4, 2)
    spark.range(3).write.format("delta").mode("append").save(path)  # 5
    assert (table_version(spark, path), data_version(spark, path)) == (5, 5)
    assert data_version(spark, str(tmp_path / "none")) is None


def _parquet_files(table: Path) -> int:
    return sum(1 for p in table.rglob("*.parquet") if "_delta_log" not in p.parts)


def _split_files(spark: SparkSession, path: str) -> None:
    """Rewrite an unpartitioned table as several files, as a day of small appends leaves it."""
    df = spark.read.format("delta").load(path)
    rows = df.collect()
    spark.createDataFrame(rows, df.schema).repartition(3).write.format("delta").mode("overwrite").save(path)


@pytest.mark.integration
@pytest.mark.pipeline
def test_maintain_compacts_and_deletes_orphans_and_the_next_run_rebuilds_nothing(
    spark: SparkSession,
    daily_landing: Path,
    daily_friday: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(ENV_KEY, TEST_KEY)
    lake = tmp_path / "lakehouse"
    shutil.copytree(daily_friday, lake)  # the city's Friday alone, published (conftest.py)
    config = daily_config(daily_landing, lake)
    zones = GOLD_TABLES[S.GOLD_ZONES_TABLE].path(lake)
    _split_files(spark, zones)  # gold with a table of several small files, republished as they are
    before = latest_publication(spark, lake)
    assert before is not None
    versions = dict(before[S.TABLE_VERSIONS])
    versions[S.GOLD_ZONES_TABLE] = int(table_version(spark, zones) or 0)
    from footfall.publish.publications import append_publication, publication_df

    append_publication(
        publication_df(
            spark,
            sequence=int(before[S.SEQUENCE]) + 1,
            run_id="split",
            published_at=before[S.PUBLISHED_AT],
            dates=[],
            weeks=[],
            inputs=before[S.INPUTS],
            config_hash=before[S.CONFIG_HASH],
            code_version=before[S.CODE_VERSION],
            table_versions=versions,
            rewritten=[],
        ),
        lakehouse=lake,
    )
    published = latest_publication(spark, lake)
    assert published is not None
    gold_before = {t: read_published(spark, lake, t).collect() for t in published[S.TABLE_VERSIONS]}  # type: ignore[union-attr]
    stays = Path(silver_path(lake, S.SILVER_STAYS_TABLE))
    old_orphan, new_orphan = (
        stays / "part-00000-killed-write-old.parquet",
        stays / "part-00000-killed-write-new.parquet",
    )
    for orphan in (old_orphan, new_orphan):
        orphan.write_bytes(b"PAR1 a killed write's file, never committed")
    os.utime(old_orphan, (time.time() - 8 * DAY, time.time() - 8 * DAY))
    fingerprints = (mobility_fingerprints(spark, config, dates=[DAYS[0]]), publish_fingerprint(spark, config))
    events = Path(silver_path(lake, S.SILVER_EVENTS_TABLE))
    files_before = _parquet_files(events) - 0

    report = run_maintain(spark, config, run_id="maintain-1")

    assert not old_orphan.exists() and new_orphan.exists()  # an orphan goes once it is older than the 7 days
    assert report.files_removed > report.files_added > 0
    assert report.compacted[f"{S.GOLD}/{S.GOLD_ZONES_TABLE}"][0] == 3
    # the files compaction replaced stay for readers of older versions: 7 days
    assert _parquet_files(events) >= files_before
    # nothing a run reads to decide what to rebuild moved
    assert (mobility_fingerprints(spark, config, dates=[DAYS[0]]), publish_fingerprint(spark, config)) == fingerprints
    # the newest publication names the compacted gold, and reads the same rows
    after = latest_publication(spark, lake)
    assert after is not None and after[S.SEQUENCE] == published[S.SEQUENCE] + 1
    assert after[S.TABLE_VERSIONS][S.GOLD_ZONES_TABLE] == table_version(spark, zones) > versions[S.GOLD_ZONES_TABLE]
    for table, rows in gold_before.items():
        got = read_published(spark, lake, table)
        assert got is not None
        assertDataFrameEqual(got, rows, checkRowOrder=False)
    # a second maintenance finds nothing to compact and publishes nothing
    again = run_maintain(spark, config, run_id="maintain-2")
    assert (again.files_removed, again.publication) == (0, None)
    assert latest_publication(spark, lake)[S.SEQUENCE] == after[S.SEQUENCE]  # type: ignore[index]
