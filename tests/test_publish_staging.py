"""Disclosure control on whole gold tables, from hand-made silver rows: k-1/k/k+1, differencing, derived values."""

from __future__ import annotations

import datetime as dt

import pytest
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.testing import assertDataFrameEqual

from footfall import schemas as S
from footfall.config import PublishConfig
from footfall.publish.staging import SilverInputs, select_publishable, stage_gold

K = 5
DAY = dt.date(2026, 3, 7)  # a Saturday; Berlin is UTC+1
TZ = "Europe/Berlin"


def _inputs(spark: SparkSession, devices: list[dict[str, object]]) -> SilverInputs:
    """Silver frames for devices that each make one 30-minute visit, 10:00-10:30 UTC (11:00 local)."""
    entered, left = dt.datetime(2026, 3, 7, 10, 0), dt.datetime(2026, 3, 7, 10, 30)
    stays = [
        (
            d["id"],
            d.get("zone", "Z1"),
            entered,
            left,
            1800,
            True,
            d.get("direction", "N"),
            None,
            1.0,
            d.get("resident", False),
            DAY,
        )
        for d in devices
    ]
    subscribers = [(d["id"], d.get("age", "25-34"), d.get("gender", "f"), "D1", dt.date(2026, 3, 1)) for d in devices]
    homes = [(d["id"], d.get("home", "D2"), 1, DAY) for d in devices]
    zones = [(z, f"zone {z}", "mall", 1000.0, False, None, b"\x00") for z in ("Z1", "Z2")]
    resolution = [("Z1", "mall", 1000.0, 3, 0.9, 0.9, False), ("Z2", "mall", 1000.0, 1, 0.1, 0.1, True)]
    return SilverInputs(
        stays_df=spark.createDataFrame(stays, S.SILVER_STAYS),
        subscribers_df=spark.createDataFrame(subscribers, S.SILVER_SUBSCRIBERS),
        home_df=spark.createDataFrame(homes, S.SILVER_DEVICE_HOME),
        repeat_df=spark.createDataFrame(
            [(d["id"], d.get("zone", "Z1"), "2026-W10", 1) for d in devices], S.SILVER_REPEAT_VISITS
        ),
        transitions_df=spark.createDataFrame([], S.SILVER_ZONE_TRANSITIONS),
        zones_df=spark.createDataFrame(zones, S.SILVER_ZONES),
        resolution_df=spark.createDataFrame(resolution, S.SILVER_ZONE_RESOLUTION),
        market_share_df=spark.createDataFrame(
            [("D1", 1000, 250, 0.25), ("D2", 1000, 500, 0.5)], S.LANDING_MARKET_SHARE
        ),
        # every device is also an expected visitor of both zones, surely there: what publishes decides the zones
        expected_visits_df=spark.createDataFrame(
            [(d["id"], z, entered, left, 1800, 1.0, DAY) for d in devices for z in ("Z1", "Z2")],
            S.SILVER_EXPECTED_VISITS,
        ),
    )


def _gold(spark: SparkSession, devices: list[dict[str, object]], **publish: object) -> dict[str, DataFrame]:
    config = PublishConfig.model_validate({"k": K, **publish})
    staged = stage_gold(
        _inputs(spark, devices),
        publish=config,
        tz=TZ,
        dates=[DAY.isoformat()],
        weeks=["2026-W10"],
        published_zone_ids=["Z1", "Z2"] if config.include_low_resolution else ["Z1"],
        expected_zone_ids=[] if config.include_low_resolution else ["Z2"],
        salt="test",
    )
    return {t: select_publishable(t, s.marked_df, mode=config.suppression_mode) for t, s in staged.items()}


def _devices(n: int, **attrs: object) -> list[dict[str, object]]:
    return [{"id": f"{attrs.get('prefix', 'p')}{i:03d}", **attrs} for i in range(n)]


@pytest.mark.parametrize(("n", "published"), [(K - 1, False), (K, True), (K + 1, True)])
def test_hourly_and_daily_counts_publish_from_k_devices(spark: SparkSession, n: int, published: bool) -> None:
    gold = _gold(spark, _devices(n))
    hourly = gold[S.GOLD_ZONE_FOOTFALL_HOURLY_TABLE].collect()
    assert [(r[S.HOUR], r[S.VISITORS], r[S.VISITS]) for r in hourly] == ([(11, n, n)] if published else [])
    if published:  # every device weighs 1 / 0.5 (home D2); 2n rounded to a multiple of 10
        assert hourly[0][S.VISITORS_EXTRAPOLATED] == round(2 * n / 10) * 10
        assert hourly[0][S.DWELL_MEDIAN_S] == 1800.0
    for table in (S.GOLD_ZONE_DEMOGRAPHICS_DAILY_TABLE, S.GOLD_ZONE_ARRIVAL_DIRECTION_DAILY_TABLE):
        assert [r[S.VISITORS] for r in gold[table].collect()] == ([n] if published else [])


def test_null_mode_keeps_the_row_and_withholds_the_value(spark: SparkSession) -> None:
    gold = _gold(spark, _devices(K - 1), suppression_mode="null")
    row = gold[S.GOLD_ZONE_FOOTFALL_HOURLY_TABLE].collect()
    assert [(r[S.VISITORS], r[S.VISITS], r[S.DWELL_MEDIAN_S], r[S.VISITORS_EXTRAPOLATED]) for r in row] == [
        (None, None, None, None)
    ]


def test_a_small_age_band_cannot_be_recovered_by_subtraction(spark: SparkSession) -> None:
    """The zone-day total is published by the directions table; a naive threshold would leak the 2 people aged
    18-24 as total minus the published bands. Secondary suppression withholds the next smallest band too."""
    devices = (
        _devices(2, prefix="a", age="18-24")
        + _devices(6, prefix="b", age="25-34")
        + _devices(7, prefix="c", age="35-44")
        + _devices(10, prefix="d", age="45-54")
    )
    gold = _gold(spark, devices)
    total = gold[S.GOLD_ZONE_ARRIVAL_DIRECTION_DAILY_TABLE].collect()
    assert [r[S.VISITORS] for r in total] == [25]  # everybody came from the north: the total is public

    demographics = gold[S.GOLD_ZONE_DEMOGRAPHICS_DAILY_TABLE]
    expected = demographics.sparkSession.createDataFrame(
        [("Z1", DAY, "35-44", "f", 7), ("Z1", DAY, "45-54", "f", 10)], S.GOLD_ZONE_DEMOGRAPHICS_DAILY
    )
    assertDataFrameEqual(demographics, expected)
    recovered = 25 - sum(r[S.VISITORS] for r in demographics.collect())
    assert recovered == 8 and recovered >= K  # only the sum of two withheld bands, itself a cohort of k


def test_visitors_are_not_derivable_as_total_minus_residents(spark: SparkSession) -> None:
    """22 residents and 3 visitors from D2. Publishing the residents would give the visitors as 25 - 22 (the total
    is public through the directions table), so both catchment cells are withheld."""
    devices = _devices(22, prefix="r", home="D1", resident=True) + _devices(3, prefix="v", home="D2")
    gold = _gold(spark, devices)
    assert [r[S.VISITORS] for r in gold[S.GOLD_ZONE_ARRIVAL_DIRECTION_DAILY_TABLE].collect()] == [25]
    assert gold[S.GOLD_ZONE_CATCHMENT_DAILY_TABLE].count() == 0
    # with 5 visitors both cells clear k and are published, residents flagged
    devices = _devices(20, prefix="r", home="D1", resident=True) + _devices(5, prefix="v", home="D2")
    catchment = _gold(spark, devices)[S.GOLD_ZONE_CATCHMENT_DAILY_TABLE]
    got = sorted((r[S.HOME_DISTRICT_ID], r[S.IS_RESIDENT], r[S.VISITORS]) for r in catchment.collect())
    assert got == [("D1", True, 20), ("D2", False, 5)]


def test_zones_their_cells_cannot_resolve_are_listed_but_not_counted(spark: SparkSession) -> None:
    devices = _devices(K + 1) + _devices(K + 1, prefix="q", zone="Z2")
    gold = _gold(spark, devices)
    for table in (S.GOLD_ZONE_FOOTFALL_HOURLY_TABLE, S.GOLD_ZONE_DEMOGRAPHICS_DAILY_TABLE):
        assert {r[S.ZONE_ID] for r in gold[table].collect()} == {"Z1"}, table
    zones = {r[S.ZONE_ID]: r[S.IS_RESOLVABLE] for r in gold[S.GOLD_ZONES_TABLE].collect()}
    assert zones == {"Z1": True, "Z2": False}
    with_all = _gold(spark, devices, include_low_resolution=True)[S.GOLD_ZONE_FOOTFALL_HOURLY_TABLE]
    assert {r[S.ZONE_ID] for r in with_all.where(F.col(S.VISITORS) == K + 1).collect()} == {"Z1", "Z2"}


def test_a_zone_publishes_counts_or_expected_visitors_never_both(spark: SparkSession) -> None:
    # Z1 publishes counts, Z2 (not resolvable) expected visitors; every device is in both zones' silver rows.
    gold = _gold(spark, _devices(K + 1, zone="Z1") + _devices(K + 1, zone="Z2", prefix="q"))
    expected_zones = {r[S.ZONE_ID] for r in gold[S.GOLD_ZONE_VISITORS_EXPECTED_HOURLY_TABLE].collect()}
    assert expected_zones == {"Z2"}
    counted = [t for t, df in gold.items() if S.ZONE_ID in df.columns]
    counted.remove(S.GOLD_ZONE_VISITORS_EXPECTED_HOURLY_TABLE)
    counted.remove(S.GOLD_ZONES_TABLE)
    assert {t: {r[S.ZONE_ID] for r in gold[t].select(S.ZONE_ID).distinct().collect()} for t in counted} == {
        S.GOLD_ZONE_FOOTFALL_HOURLY_TABLE: {"Z1"},
        S.GOLD_ZONE_DEMOGRAPHICS_DAILY_TABLE: {"Z1"},
        S.GOLD_ZONE_ARRIVAL_DIRECTION_DAILY_TABLE: {"Z1"},
        S.GOLD_ZONE_CATCHMENT_DAILY_TABLE: {"Z1"},
        S.GOLD_ZONE_REPEAT_VISITS_WEEKLY_TABLE: {"Z1"},
    }
