"""A tiny lakehouse for `footfall report` tests, written with delta-rs in a second (no Spark).

Three zones: Z01 publishes, Z02 is resolvable but withheld (no gold row), Z03 is not resolvable (score 0.06).
Two publications: the newest (sequence 2) names zone_footfall_hourly version 1; version 0 (sequence 1) and
version 2 (written after, named by no publication) hold numbers the report must never show.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa
from deltalake import CommitProperties, write_deltalake
from pyspark.sql import types as T
from pyspark.sql.pandas.types import to_arrow_schema
from shapely.geometry import MultiPolygon, Polygon, box

from footfall import schemas as S

K = 20
OLD_K = 25  # the k of sequence 1's commit: the header must show K
DATES = ("2026-03-07", "2026-03-08")
WEEK = "2026-W10"
PUBLISHED, WITHHELD, UNRESOLVABLE = "Z01", "Z02", "Z03"
ZONE_IDS = (PUBLISHED, WITHHELD, UNRESOLVABLE)
DISTRICT_IDS = ("D01", "D02")
UNRESOLVABLE_SCORE = 0.06
PEAK = 173  # Z01's visitors on 2026-03-07 at 12:00, the largest published hourly number
OLD_PEAK = 137  # the same cell in hourly version 0 (publication 1)
UNPUBLISHED = 999  # Z02's visitors in hourly version 2, which no publication names
MISSING_HOUR = ("2026-03-07", 13)  # no row: withheld (suppression_mode delete)
NULL_HOUR = ("2026-03-08", 14)  # a row with null values: withheld (suppression_mode null)
PUBLISHED_HOURS = range(9, 19)
RUN_ID = "run-newest"


def _metadata(*, k: int, run_id: str) -> CommitProperties:
    meta = {"run_id": run_id, "config_hash": "cafe0123", "k": k, "suppression_mode": "delete", "noise": "none"}
    meta |= {"code_version": "0.1.0", "input_versions": {S.SILVER_ZONES_TABLE: 0}}
    return CommitProperties(custom_metadata={"userMetadata": json.dumps(meta)})


def _write(
    path: Path,
    rows: Sequence[dict[str, Any]],
    schema: T.StructType,
    *,
    partition: str | None = None,
    mode: str = "overwrite",
    k: int = K,
    run_id: str = RUN_ID,
) -> None:
    table = pa.Table.from_pylist(list(rows), schema=to_arrow_schema(schema))
    write_deltalake(
        path,
        table,
        mode=mode,  # type: ignore[arg-type]
        partition_by=[partition] if partition else None,
        commit_properties=_metadata(k=k, run_id=run_id),
    )


def _day(iso: str) -> dt.date:
    return dt.date.fromisoformat(iso)


def hourly_rows(*, peak: int) -> list[dict[str, Any]]:
    """Return Z01's hourly rows: 9-18 h on both dates but MISSING_HOUR, NULL_HOUR with nulls, `peak` at 12 h."""
    rows = []
    for d, date in enumerate(DATES):
        for hour in PUBLISHED_HOURS:
            if (date, hour) == MISSING_HOUR:
                continue
            visitors = None if (date, hour) == NULL_HOUR else 20 + 7 * hour - 10 * d
            if (date, hour) == ("2026-03-07", 12):
                visitors = peak
            start = dt.datetime.combine(_day(date), dt.time(hour), tzinfo=dt.UTC) - dt.timedelta(hours=1)  # CET
            dwell = None if visitors is None else 600.0 + 60 * hour
            rows.append(
                {
                    S.ZONE_ID: PUBLISHED,
                    S.DATE: _day(date),
                    S.HOUR: hour,
                    S.HOUR_START_UTC: start,
                    S.VISITORS: visitors,
                    S.VISITS: None if visitors is None else visitors // 2,
                    S.PASSERS_BY: None,
                    S.DWELL_P25_S: None if dwell is None else dwell / 2,
                    S.DWELL_MEDIAN_S: dwell,
                    S.DWELL_P75_S: None if dwell is None else dwell * 2,
                    S.VISITORS_EXTRAPOLATED: None if visitors is None else visitors * 10,
                }
            )
    return rows


def _gold(root: Path) -> dict[str, int]:
    """Write the gold tables; return the versions the newest publication names."""
    gold = root / S.GOLD
    d1, d2 = (_day(d) for d in DATES)
    zones = [
        (PUBLISHED, "Galerie", "mall", 0.82, True),
        (WITHHELD, "Arkaden", "mall", 0.71, True),
        (UNRESOLVABLE, "Hauptstraße", "shopping_street", UNRESOLVABLE_SCORE, False),
    ]
    zone_rows = [
        {S.ZONE_ID: z, S.NAME: n, S.CATEGORY: c, S.AREA_M2: 20000.0, S.RESOLUTION_SCORE: s, S.IS_RESOLVABLE: r}
        for z, n, c, s, r in zones
    ]
    _write(gold / S.GOLD_ZONES_TABLE, zone_rows, S.GOLD_ZONES)
    hourly = gold / S.GOLD_ZONE_FOOTFALL_HOURLY_TABLE
    _write(hourly, hourly_rows(peak=OLD_PEAK), S.GOLD_ZONE_FOOTFALL_HOURLY, partition=S.DATE, k=OLD_K, run_id="old")
    _write(hourly, hourly_rows(peak=PEAK), S.GOLD_ZONE_FOOTFALL_HOURLY, partition=S.DATE)
    demographics = [("25-34", "f", 24, d1), ("35-44", "m", 31, d1), ("25-34", "f", 22, d2)]
    _write(
        gold / S.GOLD_ZONE_DEMOGRAPHICS_DAILY_TABLE,
        [{S.ZONE_ID: PUBLISHED, S.DATE: d, S.AGE_BAND: a, S.GENDER: g, S.VISITORS: v} for a, g, v, d in demographics],
        S.GOLD_ZONE_DEMOGRAPHICS_DAILY,
        partition=S.DATE,
    )
    directions = [("N", 40, d1), ("SW", 25, d1), ("unknown", 60, d1), ("N", 35, d2)]
    _write(
        gold / S.GOLD_ZONE_ARRIVAL_DIRECTION_DAILY_TABLE,
        [{S.ZONE_ID: PUBLISHED, S.DATE: d, S.DIRECTION: r, S.VISITORS: v} for r, v, d in directions],
        S.GOLD_ZONE_ARRIVAL_DIRECTION_DAILY,
        partition=S.DATE,
    )
    catchment = [("D01", True, 45), ("D02", False, 28), (S.HOME_UNKNOWN, False, 30)]
    _write(
        gold / S.GOLD_ZONE_CATCHMENT_DAILY_TABLE,
        [
            {S.ZONE_ID: PUBLISHED, S.DATE: d1, S.HOME_DISTRICT_ID: h, S.IS_RESIDENT: r, S.VISITORS: v}
            for h, r, v in catchment
        ],
        S.GOLD_ZONE_CATCHMENT_DAILY,
        partition=S.DATE,
    )
    _write(
        gold / S.GOLD_ZONE_REPEAT_VISITS_WEEKLY_TABLE,
        [{S.ZONE_ID: PUBLISHED, S.WEEK: WEEK, S.VISIT_DAYS: b, S.VISITORS: v} for b, v in (("1", 210), ("2", 26))],
        S.GOLD_ZONE_REPEAT_VISITS_WEEKLY,
        partition=S.WEEK,
    )
    _write(gold / S.GOLD_ZONE_FLOWS_DAILY_TABLE, [], S.GOLD_ZONE_FLOWS_DAILY, partition=S.DATE)
    _write(
        gold / S.GOLD_ZONE_VISITORS_EXPECTED_HOURLY_TABLE,
        [],
        S.GOLD_ZONE_VISITORS_EXPECTED_HOURLY,
        partition=S.DATE,
    )
    versions = {t: 0 for t in S.GOLD_TABLES}
    versions[S.GOLD_ZONE_FOOTFALL_HOURLY_TABLE] = 1
    return versions


def publication_row(sequence: int, run_id: str, table_versions: dict[str, int]) -> dict[str, Any]:
    """Return a gold/_publications row of the fixture's dates naming `table_versions`."""
    return {
        S.SEQUENCE: sequence,
        S.RUN_ID: run_id,
        S.PUBLISHED_AT: dt.datetime(2026, 3, 9, 4, sequence, tzinfo=dt.UTC),
        S.DATES: list(DATES),
        S.WEEKS: [WEEK],
        S.INPUTS: "inputs",
        S.CONFIG_HASH: "cafe0123",
        S.CODE_VERSION: "0.1.0",
        S.TABLE_VERSIONS: list(table_versions.items()),
        S.REWRITTEN: [],
        S.HISTORY_DROPPED: True,
    }


def _publications(root: Path, versions: dict[str, int]) -> None:
    row = publication_row
    path = root / S.GOLD / S.GOLD_PUBLICATIONS_TABLE
    old = {**versions, S.GOLD_ZONE_FOOTFALL_HOURLY_TABLE: 0}
    _write(path, [row(1, "old", old)], S.GOLD_PUBLICATIONS, mode="append", k=OLD_K, run_id="old")
    _write(path, [row(2, RUN_ID, versions)], S.GOLD_PUBLICATIONS, mode="append")


def zone_shapes() -> dict[str, Polygon | MultiPolygon]:
    """Return the zones' shapes in lon/lat, counter-clockwise as shapely builds them (the report must reorient)."""
    return {
        PUBLISHED: MultiPolygon([box(10.000, 48.000, 10.004, 48.003), box(10.005, 48.000, 10.006, 48.001)]),
        WITHHELD: box(10.010, 48.004, 10.014, 48.007),
        UNRESOLVABLE: box(10.002, 48.008, 10.012, 48.0085),
    }


def _silver(root: Path) -> None:
    silver = root / S.SILVER
    names = {PUBLISHED: "Galerie", WITHHELD: "Arkaden", UNRESOLVABLE: "Hauptstraße"}
    _write(
        silver / S.SILVER_ZONES_TABLE,
        [
            {
                S.ZONE_ID: z,
                S.NAME: names[z],
                S.CATEGORY: "mall",
                S.AREA_M2: 1.0,
                S.IS_REPAIRED: False,
                S.INVALID_REASON: None,
                S.GEOMETRY_WKB: g.wkb,
            }
            for z, g in zone_shapes().items()
        ],
        S.SILVER_ZONES,
    )
    districts = {"D01": box(9.99, 47.99, 10.008, 48.02), "D02": box(10.008, 47.99, 10.03, 48.02)}
    _write(
        silver / S.SILVER_DISTRICTS_TABLE,
        [
            {
                S.DISTRICT_ID: d,
                S.NAME: f"District {d[-1]}",
                S.RESIDENTS: 100,
                S.AREA_M2: 1.0,
                S.IS_REPAIRED: False,
                S.INVALID_REASON: None,
                S.GEOMETRY_WKB: g.wkb,
            }
            for d, g in districts.items()
        ],
        S.SILVER_DISTRICTS,
    )


def build_lakehouse(root: Path) -> Path:
    """Write the tiny lakehouse under `root` and return it."""
    _silver(root)
    versions = _gold(root)
    _publications(root, versions)
    # a later hourly version no publication names (a run killed before its publication): it must stay unseen
    late = hourly_rows(peak=PEAK)[0] | {S.ZONE_ID: WITHHELD, S.VISITORS: UNPUBLISHED}
    _write(
        root / S.GOLD / S.GOLD_ZONE_FOOTFALL_HOURLY_TABLE,
        [late],
        S.GOLD_ZONE_FOOTFALL_HOURLY,
        partition=S.DATE,
        mode="append",
        run_id="killed",
    )
    return root


EXPECTED_PEAK = 61  # Z03's expected visitors on 2026-03-07 at 11:00 in publication 3


def publish_expected_visitors(root: Path) -> None:
    """Publish hourly expected visitors of UNRESOLVABLE (gold version 1) in a third publication."""
    start = dt.datetime(2026, 3, 7, 10, tzinfo=dt.UTC)  # 11:00 CET
    rows = [
        {
            S.ZONE_ID: UNRESOLVABLE,
            S.DATE: _day(DATES[0]),
            S.HOUR: 11 + i,
            S.HOUR_START_UTC: start + dt.timedelta(hours=i),
            S.VISITORS_EXPECTED: v,
        }
        for i, v in enumerate((EXPECTED_PEAK, 44, None))
    ]
    table = root / S.GOLD / S.GOLD_ZONE_VISITORS_EXPECTED_HOURLY_TABLE
    _write(table, rows, S.GOLD_ZONE_VISITORS_EXPECTED_HOURLY, partition=S.DATE, run_id="third")
    versions = {t: 0 for t in S.GOLD_TABLES} | {
        S.GOLD_ZONE_FOOTFALL_HOURLY_TABLE: 1,
        S.GOLD_ZONE_VISITORS_EXPECTED_HOURLY_TABLE: 1,
    }
    path = root / S.GOLD / S.GOLD_PUBLICATIONS_TABLE
    _write(path, [publication_row(3, "third", versions)], S.GOLD_PUBLICATIONS, mode="append", run_id="third")
