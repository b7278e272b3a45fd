"""Expected visitors in gold (publish/staging.py, mobility/expected.py): sums of presence probabilities per zone-hour.

Each device adds its largest probability in the hour, so a sum of at least k covers at least k people, none of them
adding more than 1. The cases sit at k - 1, k and k + 1 in expected people, and below k with many devices.
"""

from __future__ import annotations

import datetime as dt

from pyspark.sql import SparkSession
from pyspark.testing import assertDataFrameEqual

from footfall import schemas as S
from footfall.config import PublishConfig
from footfall.publish.staging import select_publishable, stage_expected_hourly

K = 5
TZ = "Europe/Berlin"  # UTC+1 in March
DAY = dt.date(2026, 3, 7)
HOUR_UTC = dt.datetime(2026, 3, 7, 9)  # 10:00 local


def _visits(zone: str, weights: list[float]) -> list[tuple[object, ...]]:
    entered = HOUR_UTC + dt.timedelta(minutes=10)
    return [
        (f"{zone}-d{i}", zone, entered, entered + dt.timedelta(minutes=20), 1200, w, DAY) for i, w in enumerate(weights)
    ]


def test_expected_visitors_are_published_from_k_expected_people(spark: SparkSession) -> None:
    visits = [
        *_visits("ZA", [1.0] * 4),  # k - 1 people, surely there: withheld
        *_visits("ZB", [1.0] * 5),  # k: published
        *_visits("ZC", [1.0] * 5 + [0.6, 0.4]),  # k + 1 expected people: published, 6
        *_visits("ZD", [0.1] * 40),  # 40 devices but 4 expected people: withheld
        *_visits("ZE", [0.99] * 5),  # 4.95: one hundredth short of k, withheld although it rounds to 5
    ]
    # a device with two expected visits in the hour adds its larger probability, once
    later = HOUR_UTC + dt.timedelta(minutes=40)
    visits.append(("ZB-d0", "ZB", later, later + dt.timedelta(minutes=10), 600, 0.3, DAY))
    expected_df = spark.createDataFrame(visits, S.SILVER_EXPECTED_VISITS)
    marked = stage_expected_hourly(expected_df, publish=PublishConfig(k=K), tz=TZ, salt="s", seed=None)
    got = select_publishable(S.GOLD_ZONE_VISITORS_EXPECTED_HOURLY_TABLE, marked, mode="delete")
    expected = spark.createDataFrame(
        [("ZB", DAY, 10, HOUR_UTC, 5), ("ZC", DAY, 10, HOUR_UTC, 6)], S.GOLD_ZONE_VISITORS_EXPECTED_HOURLY
    )
    assertDataFrameEqual(got, expected)
    nulled = select_publishable(S.GOLD_ZONE_VISITORS_EXPECTED_HOURLY_TABLE, marked, mode="null")
    assert {r[S.ZONE_ID]: r[S.VISITORS_EXPECTED] for r in nulled.collect()} == {
        "ZA": None,
        "ZB": 5,
        "ZC": 6,
        "ZD": None,
        "ZE": None,
    }


def test_noisy_expected_visitors_clear_k_both_true_and_noisy(spark: SparkSession) -> None:
    # With noise on, a published value is never below k: the noisy sum must clear k as well as the true one.
    visits = [*_visits("ZB", [1.0] * 5), *_visits("ZF", [1.0] * 30)]
    publish = PublishConfig(k=K, noise={"mechanism": "laplace", "epsilon": 0.5})
    marked = stage_expected_hourly(
        spark.createDataFrame(visits, S.SILVER_EXPECTED_VISITS), publish=publish, tz=TZ, salt="s", seed=3
    )
    rows = {r[S.ZONE_ID]: r for r in marked.collect()}
    for row in rows.values():
        published = min(row[S.VISITORS_EXPECTED], row[f"{S.VISITORS_EXPECTED}_true"]) >= K
        assert row["is_suppressed"] != published
    assert not rows["ZF"]["is_suppressed"]  # 30 expected people: noise of scale 16 seldom takes it below 5
