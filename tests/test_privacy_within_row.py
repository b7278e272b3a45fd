"""Values inside one row of zone_footfall_hourly (issue 30): visits nest in the visitors of their hour, a withheld
visitors count takes the visits that bound it, an extrapolated sum one person dominates is withheld, and dwell
quartiles are whole minutes. Each test plants a group of fewer than k people that the old rules gave away."""

from __future__ import annotations

import datetime as dt

from pyspark.sql import DataFrame, SparkSession

from footfall import schemas as S
from footfall.config import PublishConfig
from footfall.publish.staging import SilverInputs, select_publishable, stage_gold

K = 5
SATURDAY = dt.date(2026, 3, 7)
TZ = "Europe/Berlin"  # UTC+1 in March: a stay entered at 10:00Z is in the local 11:00 hour
SHARES = {"D1": 0.25, "D2": 0.5, "D3": 0.04}  # inverse shares: weights 4, 2 and 25


def _stay(pid: str, utc: tuple[int, int], minutes: int) -> tuple[object, ...]:
    entered = dt.datetime.combine(SATURDAY, dt.time(*utc))
    left = entered + dt.timedelta(minutes=minutes)
    return (pid, "Z1", entered, left, minutes * 60, minutes >= 5, "N", None, 1.0, False, SATURDAY)


def _gold(
    spark: SparkSession, stays: list[tuple[object, ...]], *, homes: dict[str, str] | None = None, **publish: object
) -> dict[str, DataFrame]:
    devices = sorted({str(s[0]) for s in stays})
    homes = homes or {}
    inputs = SilverInputs(
        stays_df=spark.createDataFrame(stays, S.SILVER_STAYS),
        subscribers_df=spark.createDataFrame(
            [(d, "25-34", "f", "D1", dt.date(2026, 3, 2)) for d in devices], S.SILVER_SUBSCRIBERS
        ),
        home_df=spark.createDataFrame([(d, homes.get(d, "D2"), 1, SATURDAY) for d in devices], S.SILVER_DEVICE_HOME),
        repeat_df=spark.createDataFrame([(d, "Z1", "2026-W10", 1) for d in devices], S.SILVER_REPEAT_VISITS),
        transitions_df=spark.createDataFrame([], S.SILVER_ZONE_TRANSITIONS),
        zones_df=spark.createDataFrame([("Z1", "zone Z1", "mall", 1000.0, False, None, b"\x00")], S.SILVER_ZONES),
        resolution_df=spark.createDataFrame([("Z1", "mall", 1000.0, 3, 0.9, 0.9, False)], S.SILVER_ZONE_RESOLUTION),
        market_share_df=spark.createDataFrame(
            [(d, 10_000, int(10_000 * s), s) for d, s in SHARES.items()], S.LANDING_MARKET_SHARE
        ),
        expected_visits_df=spark.createDataFrame([], S.SILVER_EXPECTED_VISITS),
    )
    config = PublishConfig.model_validate({"k": K, **publish})
    staged = stage_gold(
        inputs, publish=config, tz=TZ, dates=[SATURDAY.isoformat()], weeks=["2026-W10"], published_zone_ids=["Z1"],
        salt="test",
    )  # fmt: skip
    return {t: select_publishable(t, s.marked_df, mode=config.suppression_mode) for t, s in staged.items()}


def _hours(gold: dict[str, DataFrame]) -> dict[int, tuple[object, ...]]:
    """Return local hour -> (visitors, visits, visitors_extrapolated, dwell_median_s) of the published rows."""
    rows = gold[S.GOLD_ZONE_FOOTFALL_HOURLY_TABLE].collect()
    return {r[S.HOUR]: (r[S.VISITORS], r[S.VISITS], r[S.VISITORS_EXTRAPOLATED], r[S.DWELL_MEDIAN_S]) for r in rows}


def _day_total(gold: dict[str, DataFrame]) -> list[int]:
    return [r[S.VISITORS] for r in gold[S.GOLD_ZONE_ARRIVAL_DIRECTION_DAILY_TABLE].collect()]


def _early_and_late(early: int, late: int) -> list[tuple[object, ...]]:
    """`early` people in the zone from 10:40 local to 11:20, `late` people arriving at 11:00 for 30 minutes, and 6
    more at 14:00 (whose visits, the day's next smallest, secondary suppression withholds when 10:00's are)."""
    return (
        [_stay(f"e{i}", (9, 40), 40) for i in range(early)]
        + [_stay(f"l{i}", (10, 0), 30) for i in range(late)]
        + [_stay(f"a{i}", (13, 0), 30) for i in range(6)]
    )


def test_visits_are_withheld_when_the_visitors_of_their_hour_exceed_them_by_fewer_than_k(spark: SparkSession) -> None:
    """At 11:00, 12 visitors, of whom 10 started their visit in the hour: 12 - 10 would give away the 2 who were
    already there before eleven. Before the rule, visits(11) = 10 was published next to visitors(11) = 12 (the
    10:00 visits were withheld with the 14:00 ones)."""
    gold = _gold(spark, _early_and_late(early=2, late=10), suppression_mode="null")
    hours = _hours(gold)
    assert hours[11][0] == 12 and hours[11][1] is None and hours[11][3] is None  # visitors published, visits not
    for visitors, visits, _, _ in hours.values():
        assert visitors is None or visits is None or not 0 < visitors - visits < K

    # k early people are a cohort of k: visits publish beside the visitors, 15 - 10 = 5
    hours = _hours(_gold(spark, _early_and_late(early=K, late=10), suppression_mode="null"))
    assert hours[11][:2] == (15, 10)
    # k - 1 and k + 1 around the line
    assert _hours(_gold(spark, _early_and_late(early=K - 1, late=10), suppression_mode="null"))[11][:2] == (14, None)
    assert _hours(_gold(spark, _early_and_late(early=K + 1, late=10), suppression_mode="null"))[11][:2] == (16, 10)

    # 3 of the 10 come back at 11:35 for a second visit: 16 visitors, 13 visits. The group before eleven is 6
    # people (16 - 10 devices), but a reader takes 16 - 13 = 3 for one: the published difference counts too
    again = [_stay(f"l{i}", (10, 35), 10) for i in range(3)]
    hours = _hours(_gold(spark, _early_and_late(early=K + 1, late=10) + again, suppression_mode="null"))
    assert hours[11][:2] == (16, None)


def test_a_nested_hour_takes_its_visits_and_dwell_along(spark: SparkSession) -> None:
    """10 people visit at 11:00 and at 16:00, 1 more at 14:00: the day's 11 is public (directions), so both busy
    hours' visitors (11 - 10 = 1) are withheld. Visits of 16:00 were still published (10): with D = 11 known, the
    hidden visitors(16) lay between visits(16) = 10 and D - 1 = 10, that is exactly 10."""
    stays = (
        [_stay(f"a{i}", (10, 0), 30) for i in range(10)]
        + [_stay(f"a{i}", (15, 0), 30) for i in range(10)]
        + [_stay("b0", (13, 0), 30)]
    )
    gold = _gold(spark, stays, suppression_mode="null")
    assert _day_total(gold) == [11]
    hours = _hours(gold)
    assert {h: v[0] for h, v in hours.items() if v[0] is not None} == {}
    assert {h: v[1] for h, v in hours.items() if v[1] is not None} == {}  # no visits left beside a hidden count
    assert {h: v[3] for h, v in hours.items() if v[3] is not None} == {}


def test_an_extrapolated_value_one_person_dominates_is_withheld(spark: SparkSession) -> None:
    """20 visitors from a district of 50 % market share weigh 2 each (40); one more from a district of 4 % weighs
    25, 38 % of the 65. While they stay the figure jumps by 25 and shows them; the dominance rule (one person at
    most publish.extrapolation_max_share = 20 % of the sum) withholds it, and leaves the count of visitors."""
    crowd = [_stay(f"c{i}", (10, 0), 30) for i in range(20)]
    planted = _hours(_gold(spark, [*crowd, _stay("x", (10, 0), 30)], homes={"x": "D3"}))
    assert planted[11][0] == 21 and planted[11][2] is None
    # the same visitor from a district of 25 % weighs 4, 9 % of 44: published (rounded to 10)
    assert _hours(_gold(spark, [*crowd, _stay("x", (10, 0), 30)], homes={"x": "D1"}))[11][2] == 40
    # the share is a setting: at 40 % the planted visitor's 38 % publishes
    assert (
        _hours(_gold(spark, [*crowd, _stay("x", (10, 0), 30)], homes={"x": "D3"}, extrapolation_max_share=0.4))[11][2]
        == 70
    )


def test_dwell_quartiles_are_whole_minutes(spark: SparkSession) -> None:
    """A quartile that falls on an observation was one real visit's dwell, to the second."""
    stays = [
        (f"p{i}", "Z1", dt.datetime(2026, 3, 7, 10, 0), dt.datetime(2026, 3, 7, 10, 0) + dt.timedelta(seconds=s),
         s, True, "N", None, 1.0, False, SATURDAY)
        for i, s in enumerate([1_837, 1_901, 2_222, 2_400, 2_513, 2_790, 3_010])
    ]  # fmt: skip
    rows = gold_rows = _gold(spark, stays)[S.GOLD_ZONE_FOOTFALL_HOURLY_TABLE].collect()
    assert gold_rows, "nothing published: the test could not fail"
    quartiles = [(r[S.DWELL_P25_S], r[S.DWELL_MEDIAN_S], r[S.DWELL_P75_S]) for r in rows if r[S.HOUR] == 11]
    assert quartiles == [(2_040.0, 2_400.0, 2_640.0)]  # 2,061.5 / 2,400 / 2,651.5 s to the nearest minute
