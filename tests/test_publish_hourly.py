"""zone_footfall_hourly aggregates: the truth's definitions, on hand-made stays around the autumn DST change."""

from __future__ import annotations

import datetime as dt

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from footfall import schemas as S
from footfall.publish.hourly import (
    agg_zone_hourly_counts,
    contributions_hourly_presence,
    contributions_hourly_visits,
)

STAYS = (
    f"{S.PSEUDO_ID} STRING, {S.ZONE_ID} STRING, {S.ENTERED_AT} TIMESTAMP, {S.LEFT_AT} TIMESTAMP, "
    f"{S.DWELL_S} LONG, {S.IS_VISIT} BOOLEAN"
)


def _stay(device: str, h0: int, m0: int, h1: int, m1: int) -> tuple:
    a, b = dt.datetime(2026, 10, 25, h0, m0), dt.datetime(2026, 10, 25, h1, m1)
    dwell = int((b - a).total_seconds())
    return (device, "Z1", a, b, dwell, dwell >= 300)


def _hourly(stays: DataFrame) -> DataFrame:
    tz = "Europe/Berlin"
    no_weights = stays.sparkSession.createDataFrame([], f"{S.PSEUDO_ID} STRING, {S.DATE} DATE, {S.WEIGHT} DOUBLE")
    return agg_zone_hourly_counts(
        contributions_hourly_presence(stays, tz=tz), contributions_hourly_visits(stays, tz=tz), weights_df=no_weights
    )


def test_hourly_counts_follow_the_truth_definitions(spark: SparkSession) -> None:
    # 2026-10-25, Berlin: 00:00Z and 01:00Z both start a local 02:00 hour.
    stays = spark.createDataFrame(
        [
            _stay("a", 0, 10, 0, 40),  # visit in the first 02:00 (30 min)
            _stay("a", 0, 45, 0, 46),  # a's pass-by in the same hour: a stays a visitor
            _stay("b", 1, 20, 1, 22),  # pass-by in the second 02:00
            _stay("c", 0, 55, 1, 5),  # 10-min visit across both 02:00 hours; starts in the first
        ],
        STAYS,
    )
    got = {
        (r[S.HOUR], r[S.HOUR_START_UTC].hour): (r[S.VISITORS], r[S.PASSERS_BY], r["visits"], r["dwell_median_s"])
        for r in _hourly(stays).where(F.col(S.ZONE_ID) == "Z1").collect()
    }
    assert got == {
        (2, 0): (2, 0, 2, 1_200.0),  # visitors a, c; visits of a (1800 s) and c (600 s) start here
        (2, 1): (1, 1, 0, None),  # c is still there; b passes by; no visit starts
    }
