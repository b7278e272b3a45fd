"""Gold's Delta log keeps no per-file column statistics: no min or max can name a cell, before or after a rewrite."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from pyspark.sql import SparkSession
from pyspark.testing import assertDataFrameEqual

from footfall import schemas as S
from footfall.lakehouse import (
    GOLD_TABLES,
    SILVER_TABLES,
    gold_path,
    maintenance_properties,
    read_table,
    table_properties,
    vacuum_now,
)
from footfall.publish.gold import write_gold

HOURLY = S.GOLD_ZONE_FOOTFALL_HOURLY_TABLE
DAY1, DAY2 = dt.date(2026, 3, 10), dt.date(2026, 3, 11)


def _row(zone: str, day: dt.date, hour: int, visitors: int) -> tuple:
    start = dt.datetime.combine(day, dt.time(hour - 1))  # UTC, Berlin in winter
    return (zone, day, hour, start, visitors, visitors + 5, 30, 120.0, 300.0, 600.0, visitors * 40)


def _log_actions(path: str) -> list[dict]:
    """Return every action of every commit and checksum file in the table's _delta_log (one JSON per line)."""
    log = Path(path) / "_delta_log"
    files = sorted(f for f in [*log.glob("*.json"), *log.glob("*.crc")] if not f.name.startswith("."))  # not Hadoop's
    assert files and not list(log.glob("*.checkpoint*.parquet"))  # a checkpoint would copy stats out of the JSON
    return [json.loads(line) for f in files for line in f.read_text().splitlines() if line.strip()]


def test_gold_files_carry_row_counts_only_also_after_a_rewrite_drops_a_cell(
    spark: SparkSession, tmp_path: Path
) -> None:
    first = [_row("Z1", DAY1, 9, 25), _row("Z2", DAY1, 9, 40), _row("Z1", DAY2, 10, 31)]
    rewrite = [_row("Z1", DAY1, 9, 24)]  # Z2's cell of DAY1 is withheld now
    meta = {"run_id": "test"}
    write_gold(
        spark.createDataFrame(first, S.GOLD_ZONE_FOOTFALL_HOURLY),
        table=HOURLY,
        lakehouse=tmp_path,
        values=[DAY1.isoformat(), DAY2.isoformat()],
        user_metadata=meta,
    )
    rewritten = write_gold(
        spark.createDataFrame(rewrite, S.GOLD_ZONE_FOOTFALL_HOURLY),
        table=HOURLY,
        lakehouse=tmp_path,
        values=[DAY1.isoformat()],
        user_metadata=meta,
    )
    path = gold_path(tmp_path, HOURLY)
    vacuum_now(spark, path)  # what publish does after a rewrite, once the publication landed

    assert rewritten
    assertDataFrameEqual(
        read_table(spark, path), spark.createDataFrame([*rewrite, first[2]], S.GOLD_ZONE_FOOTFALL_HOURLY)
    )
    actions = _log_actions(path)
    files = [a.get("add") or a.get("remove") for a in actions if "add" in a or "remove" in a]
    files += [f for a in actions for f in (a.get("allFiles") or [])]  # a checksum may list the table's files
    assert any("remove" in a for a in actions)  # the rewrite is in the log: what it removed must not say what
    for file in files:
        stats = json.loads(file.get("stats") or "{}")
        assert set(stats) <= {"numRecords", "tightBounds"}, file
    assert sum(json.loads(a["add"]["stats"])["numRecords"] for a in actions if "add" in a) == len(first) + 1


def test_gold_tables_collect_no_column_stats_and_silver_keeps_its_own() -> None:
    for table in GOLD_TABLES.values():
        assert table_properties(table) == {
            "delta.enableDeletionVectors": "false",
            "delta.dataSkippingNumIndexedCols": "0",
            **maintenance_properties(table),  # no statistics setting among them
        }
    stays = table_properties(SILVER_TABLES[S.SILVER_STAYS_TABLE])
    assert S.PSEUDO_ID not in stays["delta.dataSkippingStatsColumns"].split(",")
    assert S.ZONE_ID in stays["delta.dataSkippingStatsColumns"].split(",")
