"""The lakehouse's format version: a new lakehouse records this release's; another format is refused or migrated."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pyspark.sql import SparkSession

from footfall.cli import EXIT_FORMAT, exit_code_of, main
from footfall.lakehouse_format import FORMAT, FormatError, ensure_format, format_path, migrate, stored_format


def _old_lakehouse(root: Path) -> Path:
    """A lakehouse as a release before formats left it: tables, no format file."""
    lakehouse = root / "lake"
    (lakehouse / "silver" / "events" / "_delta_log").mkdir(parents=True)
    return lakehouse


def test_a_new_lakehouse_records_this_release_format_and_is_then_accepted(tmp_path: Path) -> None:
    lakehouse = tmp_path / "lake"
    assert stored_format(lakehouse) is None
    ensure_format(lakehouse)
    assert json.loads(format_path(lakehouse).read_text()) == {"format": FORMAT}
    ensure_format(lakehouse)  # the same format: accepted, unchanged
    assert stored_format(lakehouse) == FORMAT


def test_an_older_or_a_newer_format_is_refused_in_one_line_with_exit_11(tmp_path: Path) -> None:
    old = _old_lakehouse(tmp_path / "a")
    with pytest.raises(
        FormatError, match=rf"is in format 0, this footfall reads and writes format {FORMAT}: run `footfall migrate"
    ) as caught:
        ensure_format(old)
    assert exit_code_of(caught.value) == EXIT_FORMAT == 11
    assert not format_path(old).exists(), "a refused lakehouse must not be written to"
    newer = tmp_path / "b"
    newer.mkdir()
    format_path(newer).write_text(json.dumps({"format": FORMAT + 1}))
    with pytest.raises(FormatError, match="written by a newer footfall"):
        ensure_format(newer)
    with pytest.raises(FormatError, match="written by a newer footfall"):
        migrate(newer)


def test_migrate_applies_each_step_once_in_order_and_a_killed_migration_goes_on_from_its_last_step(
    tmp_path: Path,
) -> None:
    lakehouse = _old_lakehouse(tmp_path)
    applied: list[int] = []
    fail_at = {3}

    def step(n: int):
        def run(_: Path) -> None:
            if n in fail_at:
                raise RuntimeError(f"killed in step {n}")
            applied.append(n)

        return run

    steps = {n: step(n) for n in (1, 2, 3)}
    with pytest.raises(RuntimeError, match="killed in step 3"):
        migrate(lakehouse, release=3, migrations=steps)
    assert applied == [1, 2] and stored_format(lakehouse) == 2
    fail_at.clear()
    assert migrate(lakehouse, release=3, migrations=steps) == [3]
    assert applied == [1, 2, 3] and stored_format(lakehouse) == 3
    assert migrate(lakehouse, release=3, migrations=steps) == []  # idempotent
    assert applied == [1, 2, 3]


def test_footfall_run_on_an_unmigrated_lakehouse_exits_11_before_spark_starts_and_migrate_lets_it_through(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lakehouse = _old_lakehouse(tmp_path)
    (tmp_path / "landing" / "events" / "event_date=2026-03-07").mkdir(parents=True)
    config = tmp_path / "c.yaml"
    config.write_text(f"landing: {tmp_path / 'landing'}\nlakehouse: {lakehouse}\n")
    monkeypatch.setenv("FOOTFALL_PSEUDONYM_KEY", "k" * 64)
    with pytest.raises(SystemExit) as exited:
        main(["run", "--config", str(config), "--start", "2026-03-07"])
    assert exited.value.code == EXIT_FORMAT
    with pytest.raises(SystemExit) as exited:
        main(["migrate", "--config", str(config)])
    assert exited.value.code == 0
    assert stored_format(lakehouse) == FORMAT


def test_the_threads_of_a_run_record_the_format_of_a_new_lakehouse_at_once(tmp_path: Path) -> None:
    """A run's first writes go in threads, each through lakehouse.write: they all record the format together (each
    renamed one shared temporary file before, and all but the first failed), and none sees a table without it."""
    from concurrent.futures import ThreadPoolExecutor

    for attempt in range(20):
        lakehouse = tmp_path / f"lake{attempt}"

        def first_write(n: int, lakehouse: Path = lakehouse) -> None:
            ensure_format(lakehouse)
            (lakehouse / "silver" / f"t{n}" / "_delta_log").mkdir(parents=True)

        with ThreadPoolExecutor(max_workers=8) as pool:
            list(pool.map(first_write, range(8)))
        assert stored_format(lakehouse) == FORMAT
        assert [p.name for p in lakehouse.iterdir() if p.is_file()] == [format_path(lakehouse).name]


# A lakehouse written by the release of format 1 (6f17c91): `footfall generate --subscribers 250 --days 1 --start
# 2026-03-06 --seed 11`, then `footfall run` with tests/daily.py's config and these settings (coarse coverage tiles
# keep it at 2.5 MB) under the test key. GX's HTML data docs were left out; every table is as that release wrote it.
FIXTURE = Path(__file__).parent / "fixtures" / "lakehouse-format-1"
FIXTURE_DAY = "2026-03-06"
FIXTURE_SETTINGS = {"spatial": {"coverage": {"tile_m": 250, "margin_m": 250, "home_tile_m": 1000}}}


@pytest.mark.integration
def test_a_lakehouse_of_format_1_migrates_to_this_format_with_the_same_gold_and_nothing_to_rebuild(
    spark: SparkSession, tmp_path: Path
) -> None:
    import datetime as dt
    import shutil

    from delta.tables import DeltaTable
    from pyspark.testing import assertDataFrameEqual
    from tests.daily import daily_config, read_gold

    from footfall.lakehouse import ALL_TABLES, maintenance_properties
    from footfall.mobility.job import mobility_fingerprints
    from footfall.publish.job import publish_fingerprint

    lake = tmp_path / "lakehouse"
    shutil.copytree(FIXTURE, lake)
    config = daily_config(tmp_path / "landing", lake, **FIXTURE_SETTINGS)
    day = dt.date.fromisoformat(FIXTURE_DAY)
    assert stored_format(lake) == 1
    with pytest.raises(FormatError, match="footfall migrate"):
        ensure_format(lake)
    gold = {t: (df.schema, df.collect()) for t, df in read_gold(spark, lake).items()}
    assert sum(len(rows) for _, rows in gold.values()) > len(gold), "the fixture publishes rows beyond its zones"
    fingerprints = (mobility_fingerprints(spark, config, dates=[day]), publish_fingerprint(spark, config))

    assert migrate(lake) == list(range(2, FORMAT + 1))

    assert stored_format(lake) == FORMAT
    ensure_format(lake)  # accepted now
    present = [t for t in ALL_TABLES if (Path(t.path(lake)) / "_delta_log").is_dir()]
    assert len(present) > 30
    for table in present:
        detail = DeltaTable.forPath(spark, table.path(lake)).detail().first()
        assert detail is not None
        assert maintenance_properties(table).items() <= detail["properties"].items(), table.name
    for table, df in read_gold(spark, lake).items():
        schema, rows = gold[table]
        assertDataFrameEqual(df, spark.createDataFrame(rows, schema), checkRowOrder=False)
    # a property commit changes no row: the next run finds every stage built from what it reads now
    assert (mobility_fingerprints(spark, config, dates=[day]), publish_fingerprint(spark, config)) == fingerprints
    assert migrate(lake) == []
