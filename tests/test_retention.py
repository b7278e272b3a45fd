"""Retention: pseudonymous silver keeps the newest privacy.retention_days local dates (whole ISO weeks); gold stays."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from pyspark.sql import SparkSession
from pyspark.sql import types as T

from footfall import schemas as S
from footfall.cli import EXIT_RETENTION, exit_code_of
from footfall.config import Config, ConfigError, PrivacyConfig
from footfall.ingest.retention import (
    RetentionError,
    dates_in_retention,
    first_kept,
    iso_week,
    retention_cutoff,
    run_retention,
)
from footfall.lakehouse import DERIVED_PSEUDONYMISED, PSEUDONYMISED, SILVER_TABLES, gold_path, read_table, silver_path
from footfall.lakehouse import write as write_table

SUNDAY = dt.date(2026, 3, 8)
OLD, NEW = "p-old", "p-new"


def test_the_cutoff_is_the_monday_of_the_week_holding_the_oldest_kept_date() -> None:
    # 14 dates back from Sunday 8 March is Monday 23 February; from Monday 9 March, Tuesday 24 February
    assert retention_cutoff(SUNDAY, days=14) == dt.date(2026, 2, 23)
    assert retention_cutoff(SUNDAY + dt.timedelta(days=1), days=14) == dt.date(2026, 2, 23)
    assert retention_cutoff(SUNDAY + dt.timedelta(days=2), days=14) == dt.date(2026, 2, 23)
    for newest in (SUNDAY + dt.timedelta(days=i) for i in range(14)):
        kept = (newest - retention_cutoff(newest, days=90)).days + 1
        assert 90 <= kept <= 96, newest


def test_a_named_date_older_than_the_retention_stops_the_run_and_landing_dates_are_left_out() -> None:
    held = SUNDAY
    cutoff = retention_cutoff(held, days=14)
    old, kept = cutoff - dt.timedelta(days=1), cutoff
    with pytest.raises(RetentionError, match=f"{old} is older than privacy.retention_days \\(14\\)") as caught:
        dates_in_retention([old], newest_held=held, days=14, explicit=True)
    assert exit_code_of(caught.value) == EXIT_RETENTION == 10
    assert dates_in_retention([kept], newest_held=held, days=14, explicit=True) == ([kept], cutoff)
    assert dates_in_retention([old, kept], newest_held=held, days=14, explicit=False) == ([kept], cutoff)
    # the run's own dates count as held: a backfill longer than the retention is refused as a whole
    with pytest.raises(RetentionError):
        dates_in_retention([old - dt.timedelta(days=20), SUNDAY], newest_held=None, days=14, explicit=True)


def test_retention_has_a_floor_and_above_a_quarter_needs_a_sign_off(tmp_path: Path) -> None:
    from footfall.config import load_config

    def config(lines: str) -> Path:
        path = tmp_path / "c.yaml"
        path.write_text(f"landing: {tmp_path}/landing\nlakehouse: {tmp_path}/lake\nprivacy:\n{lines}")
        return path

    with pytest.raises(ConfigError, match=r"privacy\.retention_days.*greater than or equal to 14"):
        load_config(config("  retention_days: 13\n"))
    with pytest.raises(ConfigError, match=r"privacy\.retention_days = 91 is above 90 days"):
        load_config(config("  retention_days: 91\n"))
    signed = load_config(config("  retention_days: 91\n  dpo_approved: [privacy.retention_days]\n"))
    assert signed.privacy.retention_days == 91


def _value(field: T.StructField) -> object:
    kind = field.dataType
    if isinstance(kind, T.StringType):
        return "x"
    if isinstance(kind, T.TimestampType):
        return dt.datetime(2026, 3, 1, 12)
    if isinstance(kind, T.DateType):
        return dt.date(2026, 3, 1)
    if isinstance(kind, T.BooleanType):
        return False
    if isinstance(kind, T.DoubleType):
        return 1.0
    if isinstance(kind, (T.LongType, T.IntegerType)):
        return 1
    raise AssertionError(f"no test value for {field}")


def _pseudo_ids_in_files(folder: Path) -> set[str]:
    """Every pseudo_id in any parquet file under `folder`, current version or not."""
    found: set[str] = set()
    for file in folder.rglob("*.parquet"):
        found |= set(pq.read_table(file, columns=[S.PSEUDO_ID]).column(0).to_pylist())
    return found


def test_pseudonyms_older_than_the_retention_are_in_no_file_and_gold_is_untouched(
    spark: SparkSession, tmp_path: Path
) -> None:
    """Each table holding pseudonyms gets one row in the partition just before the first one kept (OLD) and one in
    the first one kept (NEW). After the retention OLD is in no parquet file, current or not; NEW is in every table;
    gold from that time keeps its files and its log; a second run commits nothing."""
    config = Config(landing=tmp_path / "landing", lakehouse=tmp_path / "lake", privacy=PrivacyConfig())
    cutoff = retention_cutoff(SUNDAY, days=14)
    tables = (*PSEUDONYMISED, *DERIVED_PSEUDONYMISED)
    for name in tables:
        table = SILVER_TABLES[name]
        first = first_kept(name, cutoff=cutoff, period_days=config.privacy.pseudonym_period_days)
        before = iso_week(cutoff - dt.timedelta(days=7)) if isinstance(first, str) else first - dt.timedelta(days=1)
        rows = [
            tuple(
                pseudo if f.name == S.PSEUDO_ID else value if f.name == table.partition else _value(f)
                for f in table.schema.fields
            )
            for pseudo, value in ((OLD, before), (NEW, first))
        ]
        # the delete leaves OLD's file to older versions until the VACUUM
        write_table(spark.createDataFrame(rows, table.schema), table, config.lakehouse, append=True)
    gold = Path(gold_path(config.lakehouse, S.GOLD_ZONES_TABLE))
    spark.createDataFrame([("Z1", "n", "mall", 1.0, 0.5, True)], S.GOLD_ZONES).write.format("delta").save(str(gold))
    gold_files = sorted((p.relative_to(gold), p.stat().st_mtime_ns) for p in gold.rglob("*") if p.is_file())
    assert OLD in _pseudo_ids_in_files(Path(config.lakehouse) / "silver"), "the check below could not fail"

    report = run_retention(spark, config, cutoff=cutoff)

    assert sorted(report.tables) == sorted(tables)
    assert OLD not in _pseudo_ids_in_files(Path(config.lakehouse) / "silver")
    for name in tables:
        ids = {r[S.PSEUDO_ID] for r in read_table(spark, silver_path(config.lakehouse, name)).collect()}
        assert ids == {NEW}, name
    assert sorted((p.relative_to(gold), p.stat().st_mtime_ns) for p in gold.rglob("*") if p.is_file()) == gold_files
    logs = {name: sorted((Path(silver_path(config.lakehouse, name)) / "_delta_log").glob("*.json")) for name in tables}
    assert run_retention(spark, config, cutoff=cutoff).tables == []
    assert {
        name: sorted((Path(silver_path(config.lakehouse, name)) / "_delta_log").glob("*.json")) for name in tables
    } == logs


def test_a_stage_command_on_a_date_older_than_the_retention_exits_10_before_any_write(
    spark: SparkSession, tmp_path: Path
) -> None:
    """`footfall publish` of an expired date would replace its gold with nothing, `footfall mobility` rebuild it from
    deleted silver: both stop at once. The newest date held decides the cut."""
    from footfall.cli import main
    from footfall.lakehouse_format import ensure_format

    lakehouse = tmp_path / "lake"
    ensure_format(lakehouse)
    stays = SILVER_TABLES[S.SILVER_STAYS_TABLE]
    row = tuple(NEW if f.name == S.PSEUDO_ID else SUNDAY if f.name == S.DATE else _value(f) for f in stays.schema)
    write_table(spark.createDataFrame([row], stays.schema), stays, lakehouse, append=True)
    config = tmp_path / "c.yaml"
    config.write_text(f"landing: {tmp_path / 'landing'}\nlakehouse: {lakehouse}\nprivacy:\n  retention_days: 14\n")
    log = sorted((Path(stays.path(lakehouse)) / "_delta_log").iterdir())
    expired = str(retention_cutoff(SUNDAY, days=14) - dt.timedelta(days=1))
    for command in ("mobility", "publish"):
        with pytest.raises(SystemExit) as exited:
            main([command, "--config", str(config), "--start", expired])
        assert exited.value.code == EXIT_RETENTION, command
    assert sorted((Path(stays.path(lakehouse)) / "_delta_log").iterdir()) == log
    assert not (lakehouse / "gold").exists()
