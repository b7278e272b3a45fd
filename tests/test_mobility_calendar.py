"""Local dates and hours of stays (midnight, both DST days), repeat visits, transitions, home area."""

from __future__ import annotations

import datetime as dt

import pytest
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.testing import assertDataFrameEqual

from footfall import schemas as S
from footfall.mobility.calendar import with_local_dates, with_local_hours
from footfall.mobility.home import agg_device_home, agg_night_votes
from footfall.mobility.visits import agg_repeat_visits, agg_transitions
from footfall.mobility.windows import night_map_df

TZ = "Europe/Berlin"
STAYS = f"{S.PSEUDO_ID} STRING, {S.ZONE_ID} STRING, {S.ENTERED_AT} TIMESTAMP, {S.LEFT_AT} TIMESTAMP, is_visit BOOLEAN"


def _utc(*args: int) -> dt.datetime:
    return dt.datetime(*args)  # naive = UTC: the session and the test process run in UTC


def _stays(spark: SparkSession, rows: list[tuple]) -> DataFrame:
    return spark.createDataFrame(rows, STAYS)


def test_stay_across_local_midnight_counts_on_both_days(spark: SparkSession) -> None:
    # 22:30Z-23:30Z on 2 March is 23:30-00:30 in Berlin (CET)
    stays = _stays(
        spark,
        [
            ("d", "Z1", _utc(2026, 3, 2, 22, 30), _utc(2026, 3, 2, 23, 30), True),
            ("e", "Z1", _utc(2026, 3, 2, 22, 0), _utc(2026, 3, 2, 23, 0), True),
        ],
    )  # ends at midnight
    dates = {(r[S.PSEUDO_ID], str(r[S.DATE])) for r in with_local_dates(stays, tz=TZ).collect()}
    assert dates == {("d", "2026-03-02"), ("d", "2026-03-03"), ("e", "2026-03-02")}


@pytest.mark.parametrize(
    ("enter", "leave", "expected"),
    [
        # spring 2026-03-29: 01:30 CET -> 03:30 CEST, two hours of wall clock but one real hour
        (_utc(2026, 3, 29, 0, 30), _utc(2026, 3, 29, 1, 30), [("2026-03-29", 1, 0), ("2026-03-29", 3, 1)]),
        # autumn 2026-10-25: 02:30 CEST -> 02:30 CET, one wall-clock hour twice
        (_utc(2026, 10, 25, 0, 30), _utc(2026, 10, 25, 1, 30), [("2026-10-25", 2, 0), ("2026-10-25", 2, 1)]),
    ],
)
def test_dst_days_give_the_right_local_hours(
    spark: SparkSession, enter: dt.datetime, leave: dt.datetime, expected: list[tuple[str, int, int]]
) -> None:
    hours = with_local_hours(_stays(spark, [("d", "Z1", enter, leave, True)]), tz=TZ).orderBy(S.HOUR_START_UTC)
    got = [(str(r[S.DATE]), r[S.HOUR], r[S.HOUR_START_UTC].hour) for r in hours.collect()]
    assert got == expected


def test_spring_and_autumn_days_have_23_and_25_distinct_hours(spark: SparkSession) -> None:
    all_day = _stays(
        spark,
        [
            ("spring", "Z1", _utc(2026, 3, 28, 23, 0), _utc(2026, 3, 29, 22, 0), True),
            ("autumn", "Z1", _utc(2026, 10, 24, 22, 0), _utc(2026, 10, 25, 23, 0), True),
        ],
    )
    per_device = (
        with_local_hours(all_day, tz=TZ)
        .groupBy(S.PSEUDO_ID)
        .agg(F.countDistinct(S.HOUR_START_UTC).alias("n"), F.countDistinct(S.DATE).alias("days"))
    )
    assert {(r[S.PSEUDO_ID], r["n"], r["days"]) for r in per_device.collect()} == {("spring", 23, 1), ("autumn", 25, 1)}


def test_repeat_visits_count_distinct_days_per_iso_week(spark: SparkSession) -> None:
    rows = [
        ("d", "Z1", _utc(2026, 3, 2, 9), _utc(2026, 3, 2, 10), True),  # Mon, week 10
        ("d", "Z1", _utc(2026, 3, 2, 15), _utc(2026, 3, 2, 16), True),  # same day again
        ("d", "Z1", _utc(2026, 3, 4, 9), _utc(2026, 3, 4, 10), True),  # Wed
        ("d", "Z1", _utc(2026, 3, 9, 9), _utc(2026, 3, 9, 10), True),  # next Mon, week 11
        ("d", "Z1", _utc(2026, 3, 5, 9), _utc(2026, 3, 5, 9, 2), False),  # a pass-by does not count
    ]
    got = {(r["week"], r["visit_days"]) for r in agg_repeat_visits(_stays(spark, rows), tz=TZ).collect()}
    assert got == {("2026-W10", 2), ("2026-W11", 1)}


@pytest.mark.parametrize(("gap_s", "moves"), [(1800, 1), (1801, 0)])
def test_transition_just_inside_and_just_outside_the_limit(spark: SparkSession, gap_s: int, moves: int) -> None:
    left = _utc(2026, 3, 2, 10)
    rows = [
        ("d", "A", _utc(2026, 3, 2, 9), left, True),
        ("d", "B", left + dt.timedelta(seconds=gap_s), left + dt.timedelta(seconds=gap_s + 900), True),
    ]
    assert agg_transitions(_stays(spark, rows), max_transition_s=1800).count() == moves


def test_home_is_the_district_of_most_nights_or_unknown(spark: SparkSession) -> None:
    # Night 2026-03-02 22:00 to 03-03 06:00 local (CET = UTC+1). d sleeps in D1 twice and in D2 once; e once only.
    events = spark.createDataFrame(
        [
            ("d", _utc(2026, 3, 2, 23, 0), "c1"),
            ("d", _utc(2026, 3, 3, 2, 0), "c1"),
            ("d", _utc(2026, 3, 3, 23, 0), "c1"),
            ("d", _utc(2026, 3, 4, 23, 0), "c2"),
            ("d", _utc(2026, 3, 4, 12, 0), "c2"),  # midday: not a night
            ("e", _utc(2026, 3, 2, 23, 0), "c2"),
        ],
        f"{S.PSEUDO_ID} STRING, {S.EVENT_TS} TIMESTAMP, {S.CELL_ID} STRING",
    )
    weights = spark.createDataFrame(
        [
            ("c1", "D1", 0.8, _utc(2020, 1, 1), None),
            ("c1", "D2", 0.2, _utc(2020, 1, 1), None),
            ("c2", "D2", 1.0, _utc(2020, 1, 1), None),
        ],
        f"{S.CELL_ID} STRING, {S.DISTRICT_ID} STRING, {S.WEIGHT} DOUBLE, "
        f"{S.VALID_FROM} TIMESTAMP, {S.VALID_TO} TIMESTAMP",
    )
    votes = agg_night_votes(events, district_weights_df=weights, tz=TZ, night_start_hour=22, night_end_hour=6)
    # the home of 03-05 is voted by the three nights before it (03-02, 03-03 in D1; 03-04 in D2), that of 03-03
    # by the night of 03-02 alone; a device without a date row gets none
    days = [dt.date(2026, 3, 3), dt.date(2026, 3, 5)]
    devices = spark.createDataFrame(
        [("d", days[0]), ("d", days[1]), ("e", days[1])], f"{S.PSEUDO_ID} STRING, {S.DATE} DATE"
    )
    home = agg_device_home(votes, night_map_df=night_map_df(spark, days, nights=3), devices_df=devices, min_nights=2)
    expected = spark.createDataFrame(
        [("d", days[0], "unknown", 1), ("d", days[1], "D1", 2), ("e", days[1], "unknown", 1)],
        f"{S.PSEUDO_ID} STRING, {S.DATE} DATE, {S.HOME_DISTRICT_ID} STRING, nights LONG",
    )
    assertDataFrameEqual(home.select(*expected.columns), expected)
