"""Daily and weekly breakdowns: one cell per device and zone-day, cells that add up, hand-counted devices."""

from __future__ import annotations

import datetime as dt

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.testing import assertDataFrameEqual

from footfall import schemas as S
from footfall.publish.contributions import (
    ARRIVAL_DIRECTION_KEYS,
    CATCHMENT_KEYS,
    DEMOGRAPHICS_KEYS,
    FLOWS_KEYS,
    REPEAT_VISITS_KEYS,
    agg_distinct_devices,
    contributions_arrival_direction,
    contributions_catchment,
    contributions_demographics,
    contributions_flows,
    contributions_repeat_visits,
    device_zone_days,
)
from footfall.publish.zones import agg_gold_zones

TZ = "Europe/Berlin"  # UTC+1 in early March 2026
D5, D6 = dt.date(2026, 3, 5), dt.date(2026, 3, 6)
DEVICE_DAYS = (
    f"{S.PSEUDO_ID} STRING, {S.ZONE_ID} STRING, {S.DATE} DATE, {S.ARRIVAL_DIRECTION} STRING, {S.IS_RESIDENT} BOOLEAN"
)


def _utc(day: int, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime(2026, 3, day, hour, minute)


def _stay(
    device: str,
    zone: str,
    entered: dt.datetime,
    left: dt.datetime,
    *,
    direction: str = "N",
    is_visit: bool = True,
    is_resident: bool = False,
) -> tuple:
    dwell = int((left - entered).total_seconds())
    entry_date = (entered + dt.timedelta(hours=1)).date()  # local (UTC+1) date of entry
    return (device, zone, entered, left, dwell, is_visit, direction, None, 1.0, is_resident, entry_date)


def _stays(spark: SparkSession, rows: list[tuple]) -> DataFrame:
    return spark.createDataFrame(rows, S.SILVER_STAYS)


def _with_pseudo_id(schema: str) -> str:
    return f"{S.PSEUDO_ID} STRING, {schema}"


def test_visit_across_local_midnight_counts_on_both_dates(spark: SparkSession) -> None:
    stays = _stays(
        spark,
        [
            _stay("a", "Z1", _utc(5, 22, 30), _utc(5, 23, 30)),  # local 23:30-00:30: both dates
            _stay("b", "Z1", _utc(5, 21, 0), _utc(5, 23, 0)),  # local 22:00-00:00: ends at midnight, one date
        ],
    )
    expected = spark.createDataFrame(
        [("a", "Z1", D5, "N", False), ("a", "Z1", D6, "N", False), ("b", "Z1", D5, "N", False)], DEVICE_DAYS
    )
    assertDataFrameEqual(device_zone_days(stays, tz=TZ), expected)


def test_device_counts_once_per_zone_day_with_first_visits_direction(spark: SparkSession) -> None:
    stays = _stays(
        spark,
        [
            _stay("a", "Z1", _utc(6, 10), _utc(6, 11), direction="S"),
            _stay("a", "Z1", _utc(6, 7), _utc(6, 8), direction="E", is_visit=False),  # a pass-by: ignored
            _stay("a", "Z1", _utc(6, 8), _utc(6, 9), direction="N", is_resident=True),  # first visit
            # b enters twice at the same instant: the shorter stay is first
            _stay("b", "Z1", _utc(6, 8), _utc(6, 10), direction="W"),
            _stay("b", "Z1", _utc(6, 8), _utc(6, 9), direction="SW"),
            _stay("c", "Z1", _utc(6, 8), _utc(6, 9), is_visit=False),  # only a pass-by: no row at all
            # the day's first visit to Z2 began the evening before (local 23:00 on the 5th)
            _stay("a", "Z2", _utc(6, 12), _utc(6, 13), direction="NE"),
            _stay("a", "Z2", _utc(5, 22), _utc(5, 23, 30), direction="unknown"),
        ],
    )
    expected = spark.createDataFrame(
        [
            ("a", "Z1", D6, "N", True),
            ("b", "Z1", D6, "SW", False),
            ("a", "Z2", D5, "unknown", False),
            ("a", "Z2", D6, "unknown", False),
        ],
        DEVICE_DAYS,
    )
    got = device_zone_days(stays, tz=TZ)
    assertDataFrameEqual(got, expected)
    assertDataFrameEqual(
        agg_distinct_devices(got, keys=[S.ZONE_ID, S.DATE]),
        spark.createDataFrame(
            [("Z1", D6, 2), ("Z2", D5, 1), ("Z2", D6, 1)], f"{S.ZONE_ID} STRING, {S.DATE} DATE, {S.VISITORS} LONG"
        ),
    )


def test_demographics_fills_unknown_gender_and_missing_subscriber(spark: SparkSession) -> None:
    days = spark.createDataFrame(
        [("a", "Z1", D6, "N", False), ("b", "Z1", D6, "N", False), ("d", "Z1", D6, "N", False)], DEVICE_DAYS
    )
    subscribers = spark.createDataFrame(
        [
            ("a", "25-34", "f", "D9", dt.date(2026, 3, 1)),
            ("b", "65+", None, "D9", dt.date(2026, 3, 1)),  # null gender
            ("x", "18-24", "m", "D9", dt.date(2026, 3, 1)),  # no visit: no row
        ],
        S.SILVER_SUBSCRIBERS,
    )  # d is not a subscriber row at all
    expected = spark.createDataFrame(
        [("a", "Z1", D6, "25-34", "f"), ("b", "Z1", D6, "65+", "unknown"), ("d", "Z1", D6, "unknown", "unknown")],
        _with_pseudo_id(f"{S.ZONE_ID} STRING, {S.DATE} DATE, {S.AGE_BAND} STRING, {S.GENDER} STRING"),
    )
    assertDataFrameEqual(contributions_demographics(days, subscribers_df=subscribers), expected)


def test_catchment_fills_missing_home_and_keeps_residency(spark: SparkSession) -> None:
    days = spark.createDataFrame(
        [("a", "Z1", D6, "N", True), ("b", "Z1", D6, "N", False), ("c", "Z1", D6, "N", False)], DEVICE_DAYS
    )
    # c has no row; a's home of another date does not count on the 6th
    homes = spark.createDataFrame(
        [("a", "D1", 5, D6), ("a", "D2", 6, D6 + dt.timedelta(days=1)), ("b", "unknown", 0, D6)], S.SILVER_DEVICE_HOME
    )
    expected = spark.createDataFrame(
        [("a", "Z1", D6, "D1", True), ("b", "Z1", D6, "unknown", False), ("c", "Z1", D6, "unknown", False)],
        _with_pseudo_id(f"{S.ZONE_ID} STRING, {S.DATE} DATE, {S.HOME_DISTRICT_ID} STRING, {S.IS_RESIDENT} BOOLEAN"),
    )
    assertDataFrameEqual(contributions_catchment(days, home_df=homes), expected)


def test_daily_breakdowns_partition_the_zone_day_visitors(spark: SparkSession) -> None:
    stays = _stays(
        spark,
        [
            _stay("a", "Z1", _utc(6, 8), _utc(6, 9), direction="N", is_resident=True),
            _stay("a", "Z1", _utc(6, 15), _utc(6, 16), direction="S", is_resident=True),
            _stay("b", "Z1", _utc(6, 9), _utc(6, 10), direction="N", is_resident=True),
            _stay("c", "Z1", _utc(6, 9), _utc(6, 10), direction="unknown"),
            _stay("d", "Z1", _utc(6, 11), _utc(6, 12), direction="SE"),
            _stay("e", "Z1", _utc(6, 11), _utc(6, 11, 2), direction="W", is_visit=False),
            _stay("a", "Z2", _utc(6, 12), _utc(6, 13), direction="W"),
        ],
    )
    subscribers = spark.createDataFrame(
        [
            ("a", "25-34", "f", "D1", dt.date(2026, 3, 1)),
            ("b", "25-34", None, "D1", dt.date(2026, 3, 1)),
            ("c", "65+", "m", "D2", dt.date(2026, 3, 1)),
            ("e", "18-24", "x", "D1", dt.date(2026, 3, 1)),
        ],
        S.SILVER_SUBSCRIBERS,
    )
    homes = spark.createDataFrame([("a", "D1", 4, D6), ("b", "D1", 3, D6), ("c", "D2", 6, D6)], S.SILVER_DEVICE_HOME)
    days = device_zone_days(stays, tz=TZ).cache()
    # Z1 on the 6th: visitors a, b, c, d (e only passed by); Z2: a
    demographics = agg_distinct_devices(
        contributions_demographics(days, subscribers_df=subscribers), keys=DEMOGRAPHICS_KEYS
    )
    directions = agg_distinct_devices(contributions_arrival_direction(days), keys=ARRIVAL_DIRECTION_KEYS)
    catchment = agg_distinct_devices(contributions_catchment(days, home_df=homes), keys=CATCHMENT_KEYS)
    assertDataFrameEqual(
        demographics,
        spark.createDataFrame(
            [
                ("Z1", D6, "25-34", "f", 1),
                ("Z1", D6, "25-34", "unknown", 1),
                ("Z1", D6, "65+", "m", 1),
                ("Z1", D6, "unknown", "unknown", 1),
                ("Z2", D6, "25-34", "f", 1),
            ],
            S.GOLD_ZONE_DEMOGRAPHICS_DAILY,
        ),
    )
    assertDataFrameEqual(
        directions,
        spark.createDataFrame(
            [("Z1", D6, "N", 2), ("Z1", D6, "unknown", 1), ("Z1", D6, "SE", 1), ("Z2", D6, "W", 1)],
            S.GOLD_ZONE_ARRIVAL_DIRECTION_DAILY,
        ),
    )
    assertDataFrameEqual(
        catchment,
        spark.createDataFrame(
            [
                ("Z1", D6, "D1", True, 2),
                ("Z1", D6, "D2", False, 1),
                ("Z1", D6, "unknown", False, 1),
                ("Z2", D6, "D1", False, 1),
            ],
            S.GOLD_ZONE_CATCHMENT_DAILY,
        ),
    )
    visitors = spark.createDataFrame(
        [("Z1", D6, 4), ("Z2", D6, 1)], f"{S.ZONE_ID} STRING, {S.DATE} DATE, {S.VISITORS} LONG"
    )
    for cells in (demographics, directions, catchment):
        totals = cells.groupBy(S.ZONE_ID, S.DATE).agg(F.sum(S.VISITORS).cast("long").alias(S.VISITORS))
        assertDataFrameEqual(totals, visitors)
    days.unpersist()


def test_repeat_visits_buckets_four_and_more(spark: SparkSession) -> None:
    repeat = spark.createDataFrame(
        [
            ("a", "Z1", "2026-W10", 1),
            ("b", "Z1", "2026-W10", 3),
            ("c", "Z1", "2026-W10", 4),
            ("d", "Z1", "2026-W10", 5),
            ("e", "Z1", "2026-W10", 7),
            ("a", "Z1", "2026-W11", 2),
        ],
        S.SILVER_REPEAT_VISITS,
    )
    contributions = contributions_repeat_visits(repeat)
    assertDataFrameEqual(
        contributions,
        spark.createDataFrame(
            [
                ("a", "Z1", "2026-W10", "1"),
                ("b", "Z1", "2026-W10", "3"),
                ("c", "Z1", "2026-W10", "4+"),
                ("d", "Z1", "2026-W10", "4+"),
                ("e", "Z1", "2026-W10", "4+"),
                ("a", "Z1", "2026-W11", "2"),
            ],
            _with_pseudo_id(f"{S.ZONE_ID} STRING, {S.WEEK} STRING, {S.VISIT_DAYS} STRING"),
        ),
    )
    assertDataFrameEqual(
        agg_distinct_devices(contributions, keys=REPEAT_VISITS_KEYS),
        spark.createDataFrame(
            [
                ("Z1", "2026-W10", "1", 1),
                ("Z1", "2026-W10", "3", 1),
                ("Z1", "2026-W10", "4+", 3),
                ("Z1", "2026-W11", "2", 1),
            ],
            S.GOLD_ZONE_REPEAT_VISITS_WEEKLY,
        ),
    )


def test_flows_count_a_device_once_per_trip_and_date(spark: SparkSession) -> None:
    def trip(device: str, a: str, b: str, day: int, hour: int) -> tuple:
        return (device, a, b, _utc(day, hour), _utc(day, hour, 5), 300, dt.date(2026, 3, day))

    transitions = spark.createDataFrame(
        [
            trip("a", "Z1", "Z2", 6, 8),
            trip("a", "Z1", "Z2", 6, 15),  # the same trip again that day: still one traveller
            trip("b", "Z1", "Z2", 6, 9),
            trip("a", "Z2", "Z1", 6, 12),
            trip("a", "Z1", "Z2", 5, 10),
        ],
        S.SILVER_ZONE_TRANSITIONS,
    )
    assertDataFrameEqual(
        agg_distinct_devices(contributions_flows(transitions), keys=FLOWS_KEYS, value_col=S.TRAVELLERS),
        spark.createDataFrame([("Z1", "Z2", D6, 2), ("Z2", "Z1", D6, 1), ("Z1", "Z2", D5, 1)], S.GOLD_ZONE_FLOWS_DAILY),
    )


def test_gold_zones_flag_resolvability_and_zones_missing_from_resolution(spark: SparkSession) -> None:
    def zone(zone_id: str) -> tuple:
        return (zone_id, f"name {zone_id}", "mall", 1_000.0, False, None, bytearray(b"\x01"))

    zones = spark.createDataFrame([zone("Z1"), zone("Z2"), zone("Z3")], S.SILVER_ZONES)
    resolution = spark.createDataFrame(
        [("Z1", "mall", 1_000.0, 3, 0.9, 0.8, False), ("Z2", "mall", 1_000.0, 1, 0.1, 0.05, True)],
        S.SILVER_ZONE_RESOLUTION,
    )  # Z3 has no resolution row
    expected = spark.createDataFrame(
        [
            ("Z1", "name Z1", "mall", 1_000.0, 0.8, True),
            ("Z2", "name Z2", "mall", 1_000.0, 0.05, False),
            ("Z3", "name Z3", "mall", 1_000.0, 0.0, False),
        ],
        S.GOLD_ZONES,
    )
    assertDataFrameEqual(agg_gold_zones(zones, resolution_df=resolution), expected)


def test_gold_zones_publish_the_same_score_for_two_builds_that_differ_in_the_last_bit(spark: SparkSession) -> None:
    """A score is a sum of doubles in shuffle order: 0.1 + 0.2 in one build, 0.3 in another. Gold must not change."""
    zones = spark.createDataFrame([("Z1", "name Z1", "mall", 1_000.0, False, None, bytearray(b"\x01"))], S.SILVER_ZONES)

    def gold(score: float) -> DataFrame:
        resolution = spark.createDataFrame([("Z1", "mall", 1_000.0, 3, 0.9, score, False)], S.SILVER_ZONE_RESOLUTION)
        return agg_gold_zones(zones, resolution_df=resolution)

    assert 0.1 + 0.2 != 0.3
    assertDataFrameEqual(gold(0.1 + 0.2), gold(0.3), rtol=0.0, atol=0.0)
