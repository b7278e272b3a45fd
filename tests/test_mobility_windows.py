"""Windows of a local date: which UTC partitions and nights build it, and that a date's stays come from its own
window only, whatever other dates a run covers."""

from __future__ import annotations

import datetime as dt

import pytest
from pyspark.sql import DataFrame, SparkSession
from pyspark.testing import assertDataFrameEqual

from footfall import schemas as S
from footfall.config import MobilityConfig
from footfall.mobility.job import agg_window_stays, filter_entered_in_window, with_window_dates
from footfall.mobility.windows import (
    home_nights,
    input_event_dates,
    night_event_dates,
    stay_dates,
    window_event_dates,
    window_map_df,
)

TZ = "Europe/Berlin"
D = dt.date


@pytest.mark.parametrize(
    ("day", "tz", "expected"),
    [
        # Berlin is ahead of UTC: the first local hour (two in summer) lies in the previous UTC date
        (D(2026, 3, 7), TZ, [D(2026, 3, 6), D(2026, 3, 7)]),
        (D(2026, 3, 29), TZ, [D(2026, 3, 28), D(2026, 3, 29)]),  # spring DST day, 23 hours
        (D(2026, 10, 25), TZ, [D(2026, 10, 24), D(2026, 10, 25)]),  # autumn DST day, 25 hours
        # behind UTC: the evening lies in the next UTC date
        (D(2026, 3, 7), "America/New_York", [D(2026, 3, 7), D(2026, 3, 8)]),
        # at UTC the lookback reaches into the day before
        (D(2026, 3, 7), "UTC", [D(2026, 3, 6), D(2026, 3, 7)]),
    ],
)
def test_a_window_is_every_utc_date_its_local_day_and_lookback_overlap(
    day: dt.date, tz: str, expected: list[dt.date]
) -> None:
    assert window_event_dates(day, tz=tz, lookback_s=1800) == expected


def test_homes_are_voted_by_the_nights_before_the_date() -> None:
    assert home_nights(D(2026, 3, 7), nights=3) == [D(2026, 3, 4), D(2026, 3, 5), D(2026, 3, 6)]
    # 22:00 to 06:00 local is 21:00 to 05:00 UTC in winter: two UTC dates
    assert night_event_dates(D(2026, 3, 6), tz=TZ, night_start_hour=22, night_end_hour=6) == [
        D(2026, 3, 6),
        D(2026, 3, 7),
    ]
    needed = input_event_dates(
        stay_dates([D(2026, 3, 7)]), tz=TZ, lookback_s=1800, nights=2, night_start_hour=22, night_end_hour=6
    )
    # the 6th and 7th (a publication of the 7th reads the stays of the 6th): nights from the 4th, windows to the 7th
    assert needed == [D(2026, 3, 4), D(2026, 3, 5), D(2026, 3, 6), D(2026, 3, 7)]


def _utc(day: int, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime(2026, 3, day, hour, minute)


def _build(spark: SparkSession, events: DataFrame, days: list[dt.date]) -> DataFrame:
    weights = spark.createDataFrame(
        [("A", "Z1", 1.0, _utc(1, 0), None)],
        f"{S.CELL_ID} STRING, {S.ZONE_ID} STRING, {S.WEIGHT} DOUBLE, {S.VALID_FROM} TIMESTAMP, {S.VALID_TO} TIMESTAMP",
    )
    windowed = with_window_dates(events, window_map_df=window_map_df(spark, days, tz=TZ, lookback_s=1800))
    settings = MobilityConfig(presence_model="threshold", min_weight=0.05, max_gap_s=900, min_visit_s=300)
    stays = agg_window_stays(windowed, weights_df=weights, settings=settings)
    return stays.transform(filter_entered_in_window, tz=TZ).select(
        S.PSEUDO_ID, S.ZONE_ID, S.ENTERED_AT, S.LEFT_AT, S.DATE
    )


def test_a_date_gets_the_same_stays_alone_or_in_a_batch_and_owns_the_stays_it_entered(spark: SparkSession) -> None:
    """A stay entered at 23:45 local on the 6th runs past midnight: it is the 6th's, with its exit on the 7th;
    another is entered at 00:20 local on the 7th, which is still the 6th in UTC. Rows tied on (device, second,
    cell), as CDR exports have them, zero neither the entry nor the exit estimate."""
    rows = [
        ("d", _utc(6, 22, 40), "B", D(2026, 3, 6)),  # 23:40 local, outside the zone
        ("d", _utc(6, 22, 50), "A", D(2026, 3, 6)),  # 23:50 local: enters Z1, twice (a tie)
        ("d", _utc(6, 22, 50), "A", D(2026, 3, 6)),
        ("d", _utc(6, 23, 0), "A", D(2026, 3, 6)),
        ("d", _utc(6, 23, 10), "A", D(2026, 3, 6)),  # 00:10 local on the 7th, twice: a tie
        ("d", _utc(6, 23, 10), "A", D(2026, 3, 6)),
        ("d", _utc(6, 23, 20), "B", D(2026, 3, 6)),  # 00:20 local: gone; exit estimated halfway, at 00:15
        ("e", _utc(6, 23, 20), "A", D(2026, 3, 6)),  # 00:20 local on the 7th
        ("e", _utc(6, 23, 30), "A", D(2026, 3, 6)),
    ]
    events = spark.createDataFrame(
        rows, f"{S.PSEUDO_ID} STRING, {S.EVENT_TS} TIMESTAMP, {S.CELL_ID} STRING, {S.EVENT_DATE} DATE"
    )
    batch = _build(spark, events, [D(2026, 3, 6), D(2026, 3, 7)])
    alone = _build(spark, events, [D(2026, 3, 6)]).unionByName(_build(spark, events, [D(2026, 3, 7)]))
    expected = spark.createDataFrame(
        [
            ("d", "Z1", _utc(6, 22, 45), _utc(6, 23, 15), D(2026, 3, 6)),
            ("e", "Z1", _utc(6, 23, 20), _utc(6, 23, 30), D(2026, 3, 7)),
        ],
        f"{S.PSEUDO_ID} STRING, {S.ZONE_ID} STRING, {S.ENTERED_AT} TIMESTAMP, {S.LEFT_AT} TIMESTAMP, {S.DATE} DATE",
    )
    assertDataFrameEqual(batch, expected)
    assertDataFrameEqual(alone, expected)
