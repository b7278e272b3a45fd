"""Truth per zone and local hour, on hand-made stays around the autumn DST change."""

from __future__ import annotations

import datetime as dt

from pyspark.sql import SparkSession
from pyspark.sql import functions as F
from pyspark.testing import assertDataFrameEqual

from footfall import schemas as S
from footfall.synth.truth import agg_visit_coverage, agg_zone_hourly, slots_frame

UTC = dt.UTC


def _t(h: int, m: int) -> dt.datetime:
    return dt.datetime(2026, 10, 25, h, m, tzinfo=UTC)


def test_repeated_autumn_hour_is_counted_per_slot(spark: SparkSession) -> None:
    # 2026-10-25 in Berlin: 02:00 CEST starts at 00:00Z and 02:00 CET at 01:00Z.
    stays = spark.createDataFrame(
        [
            ("a", "Z1", _t(0, 10), _t(0, 40)),  # 30 min: a visit in the first 02:00 hour
            ("a", "Z1", _t(0, 45), _t(0, 46)),  # the same person passing again: still one visitor
            ("b", "Z1", _t(1, 20), _t(1, 22)),  # 2 min: a passer-by in the second 02:00 hour
            ("c", "Z1", _t(0, 55), _t(1, 5)),  # 10 min across both 02:00 hours: a visitor in each
        ],
        f"{S.MSISDN} STRING, {S.ZONE_ID} STRING, {S.ENTERED_AT} TIMESTAMP, {S.LEFT_AT} TIMESTAMP",
    )
    zones = spark.createDataFrame([("Z1",), ("Z2",)], f"{S.ZONE_ID} STRING")
    slots = slots_frame(spark, [dt.date(2026, 10, 25)], "Europe/Berlin")
    hourly = agg_zone_hourly(stays, slots, zones, min_visit_s=300)

    assert hourly.count() == 2 * 25
    got = hourly.where((F.col(S.ZONE_ID) == "Z1") & ((F.col(S.VISITORS) > 0) | (F.col(S.PASSERS_BY) > 0)))
    expected = spark.createDataFrame(
        [
            ("Z1", dt.date(2026, 10, 25), 2, _t(0, 0), 2, 0),
            ("Z1", dt.date(2026, 10, 25), 2, _t(1, 0), 1, 1),
        ],
        S.TRUTH_ZONE_HOURLY,
    )
    assertDataFrameEqual(got, expected)


def test_visit_threshold_is_inclusive(spark: SparkSession) -> None:
    day = dt.date(2026, 3, 2)  # CET: local 10:00 = 09:00Z
    at = dt.datetime(2026, 3, 2, 9, 10, tzinfo=UTC)
    stays = spark.createDataFrame(
        [("exact", "Z1", at, at + dt.timedelta(seconds=300)), ("short", "Z1", at, at + dt.timedelta(seconds=299))],
        f"{S.MSISDN} STRING, {S.ZONE_ID} STRING, {S.ENTERED_AT} TIMESTAMP, {S.LEFT_AT} TIMESTAMP",
    )
    zones = spark.createDataFrame([("Z1",)], f"{S.ZONE_ID} STRING")
    hourly = agg_zone_hourly(stays, slots_frame(spark, [day], "Europe/Berlin"), zones, min_visit_s=300)
    row = hourly.where(F.col(S.HOUR) == 10).first()
    assert row is not None
    assert (row[S.VISITORS], row[S.PASSERS_BY]) == (1, 1)


def test_visit_coverage_needs_an_event_on_an_overlapping_cell_during_the_visit(spark: SparkSession) -> None:
    at = dt.datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    minutes = lambda m: at + dt.timedelta(minutes=m)  # noqa: E731
    visits = spark.createDataFrame(
        [
            ("a", "Z1", "mall", at, minutes(20)),
            ("b", "Z1", "mall", at, minutes(20)),
            ("c", "Z1", "mall", at, minutes(2)),
        ],
        f"{S.MSISDN} STRING, {S.ZONE_ID} STRING, {S.CATEGORY} STRING, {S.ENTERED_AT} TIMESTAMP, {S.LEFT_AT} TIMESTAMP",
    )
    events = spark.createDataFrame(
        [("a", minutes(5), "C1"), ("b", minutes(5), "C9"), ("b", minutes(30), "C1"), ("c", minutes(1), "C1")],
        f"{S.MSISDN} STRING, ts TIMESTAMP, {S.CELL_ID} STRING",
    )
    overlap = spark.createDataFrame([("C1", "Z1")], f"{S.CELL_ID} STRING, {S.ZONE_ID} STRING")
    row = agg_visit_coverage(visits, events, overlap, min_visit_s=300).first()
    assert row is not None
    # c's stay is too short to be a visit; b's only event on C1 comes after the visit
    assert (row["visits"], row["visits_seen"], row["share_seen"]) == (2, 1, 0.5)
