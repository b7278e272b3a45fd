"""`footfall evaluate` on hand-made truth and estimates with known answers.

Six adults visit mall M from 10:00 to 11:00 UTC; a seventh, an objector, too (truth leaves him out, as the pipeline
must). The estimate holds the six true mall visits, and in street S one true visit and one device that was never
there. So the mall's hourly error is 0 and every estimated visitor-hour is real (measured resolution 1); half of the
street's are (0.5).
"""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import shapely
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from footfall import schemas as S
from footfall.config import Config
from footfall.ingest.pseudonym import MasterKey, period_index, period_keys_df, with_pseudo_id
from footfall.lakehouse import SILVER_TABLES, write
from footfall.mobility.evaluate import EST, TRUE, agg_error_figures, agg_error_figures_at_k, run_evaluate

DAY = dt.date(2026, 3, 7)
T10, T11 = dt.datetime(2026, 3, 7, 10, 0), dt.datetime(2026, 3, 7, 11, 0)
KEY = MasterKey(b"k" * 32, source="test")
PEOPLE = [f"4917000000{i:02d}" for i in range(8)]  # 0-5 visit the mall, 6 the street, 7 objected


def _landing(tmp_path: Path) -> Path:
    landing = tmp_path / "landing"
    (landing / "truth").mkdir(parents=True)
    subs = ["msisdn,birth_year,gender,home_district_id,opted_out,opted_out_at"]
    subs += [f"{m},1980,f,D1,{'true' if i == 7 else 'false'}," for i, m in enumerate(PEOPLE)]
    (landing / "subscribers.csv").write_text("\n".join(subs) + "\n")
    (landing / "truth" / "homes.csv").write_text("msisdn,home_district_id\n" + "".join(f"{m},D1\n" for m in PEOPLE))
    visits = [(m, "M", T10, T11, "N") for m in PEOPLE[:6] + PEOPLE[7:]] + [(PEOPLE[6], "S", T10, T11, "S")]
    pd.DataFrame(visits, columns=[S.MSISDN, S.ZONE_ID, S.ENTERED_AT, S.LEFT_AT, S.ARRIVAL_DIRECTION]).to_parquet(
        landing / "truth" / "visits.parquet", coerce_timestamps="us", allow_truncated_timestamps=False
    )
    return landing


def _square_wkb(lon: float, lat: float) -> bytes:
    side = 0.0005  # about 37 x 56 m
    return shapely.to_wkb(shapely.box(lon, lat, lon + side, lat + side))


def _lakehouse(spark: SparkSession, config: Config) -> None:
    silver_zones = spark.createDataFrame(
        [
            ("M", "mall", "mall", 1e4, False, None, _square_wkb(10.0, 48.0)),
            ("S", "street", "shopping_street", 1e4, False, None, _square_wkb(10.0, 48.01)),  # 1.1 km north
        ],
        S.SILVER_ZONES,
    )
    write(silver_zones, SILVER_TABLES[S.SILVER_ZONES_TABLE], config.lakehouse)
    zones = spark.createDataFrame(
        [("M", "mall", 1e4, 2, 0.9, 0.8, False), ("S", "shopping_street", 1e4, 2, 0.1, 0.05, True)],
        S.SILVER_ZONE_RESOLUTION,
    )
    write(zones, SILVER_TABLES[S.SILVER_ZONE_RESOLUTION_TABLE], config.lakehouse)
    period = config.privacy.pseudonym_period_days
    keys = period_keys_df(spark, key=KEY, periods={period_index(DAY, period_days=period)})
    estimated = [(m, "M") for m in PEOPLE[:6]] + [(PEOPLE[6], "S"), ("491700000099", "S")]  # 99: never there
    stays = (
        spark.createDataFrame(estimated, f"{S.MSISDN} STRING, {S.ZONE_ID} STRING")
        .withColumn(S.DATE, F.lit(DAY))
        .transform(with_pseudo_id, keys_df=keys, period_days=period, date_col=S.DATE)
        .select(
            S.PSEUDO_ID,
            S.ZONE_ID,
            F.lit(T10).alias(S.ENTERED_AT),
            F.lit(T11).alias(S.LEFT_AT),
            F.lit(3600).cast("long").alias(S.DWELL_S),
            F.lit(True).alias(S.IS_VISIT),
            F.lit("N").alias(S.ARRIVAL_DIRECTION),
            F.lit(None).cast("string").alias(S.PREVIOUS_ZONE_ID),
            F.lit(1.0).alias(S.PRESENCE_WEIGHT),
            F.lit(False).alias(S.IS_RESIDENT),
            S.DATE,
        )
    )
    write(stays, SILVER_TABLES[S.SILVER_STAYS_TABLE], config.lakehouse, values=[DAY])
    homes = stays.select(
        S.PSEUDO_ID, F.lit("D1").alias(S.HOME_DISTRICT_ID), F.lit(3).cast("long").alias(S.NIGHTS), S.DATE
    )
    write(homes.distinct(), SILVER_TABLES[S.SILVER_DEVICE_HOME_TABLE], config.lakehouse, values=[DAY])


@pytest.fixture(scope="module")
def figures(spark: SparkSession, tmp_path_factory: pytest.TempPathFactory) -> dict:  # type: ignore[type-arg]
    tmp_path = tmp_path_factory.mktemp("evaluate")
    config = Config(landing=_landing(tmp_path), lakehouse=tmp_path / "lake")
    _lakehouse(spark, config)
    return run_evaluate(spark, config, truth=config.landing, dates=[DAY], key=KEY, out=None)


def test_a_perfect_estimate_has_no_error(figures: dict) -> None:  # type: ignore[type-arg]
    mall = figures["by_category"]["mall"]["hourly_visitors"]
    assert (mall["zone_hours_compared"], mall["median_abs_rel_error"], mall["share_within_20pct"]) == (1, 0.0, 1.0)
    assert figures["by_category"]["mall"]["dwell_s_quantiles"]["relative_error"] == [0.0, 0.0, 0.0]


def test_measured_resolution_is_the_share_of_estimated_visitor_hours_that_were_real(figures: dict) -> None:  # type: ignore[type-arg]
    assert figures["by_zone"]["M"]["measured_resolution"] == 1.0
    assert figures["by_zone"]["M"]["resolution_score"] == 0.8  # the model's own score, reported beside it


def test_a_device_that_was_never_there_halves_the_street(figures: dict) -> None:  # type: ignore[type-arg]
    # one true visitor and one device that was never there: half the estimated visitor-hours are real
    assert figures["measured_resolution"]["S"] == 0.5


def test_a_zone_no_cell_resolves_is_offered_the_nearest_one_that_is(figures: dict) -> None:  # type: ignore[type-arg]
    nearest = figures["nearest_resolvable_zone"]
    assert set(nearest) == {"S"}  # M is resolvable itself
    assert nearest["S"]["zone_id"] == "M"
    assert nearest["S"]["distance_m"] == pytest.approx(1112, abs=5)  # 0.01 degrees of latitude


def test_the_figures_of_one_aggregation_are_pearsons_r_and_the_busy_hours_median(spark: SparkSession) -> None:
    pairs = [(1.0, 2.0), (2.0, 4.5), (6.0, 5.0), (5.0, 10.0), (0.0, 0.0)]
    compared = spark.createDataFrame(pairs, f"{EST} DOUBLE, {TRUE} DOUBLE")
    got = agg_error_figures(compared, min_truth=5)
    est, true = zip(*pairs, strict=True)
    assert got["correlation"] == pytest.approx(round(float(np.corrcoef(est, true)[0, 1]), 4), abs=1e-4)
    # the busy hours (5 or more true visitors): 6 for 5 (0.2 off) and 5 for 10 (0.5 off)
    assert (got["zone_hours_compared"], got["median_abs_rel_error"], got["share_within_20pct"]) == (2, 0.2, 0.5)


def test_a_zone_never_estimated_has_no_correlation_rather_than_a_division_by_zero(spark: SparkSession) -> None:
    # truth varies, the estimate is 0 in every hour (store fronts under the posterior model): r is undefined, and
    # Spark's corr divided by the estimate's zero standard deviation (ANSI mode raised DIVIDE_BY_ZERO)
    compared = spark.createDataFrame([(0.0, 6.0), (0.0, 8.0), (0.0, 0.0)], f"{EST} DOUBLE, {TRUE} DOUBLE")
    got = agg_error_figures(compared, min_truth=5)
    assert math.isnan(got["correlation"])
    assert (got["zone_hours_compared"], got["median_abs_rel_error"], got["share_within_20pct"]) == (2, 1.0, 0.0)


def test_the_error_at_k_is_taken_over_what_gold_would_publish_and_counts_an_empty_hour_in_full(
    spark: SparkSession,
) -> None:
    # (estimate, truth) at k = 20: 19.9 is withheld whatever its truth; 22 over 20 is 10 % off; 30 over 20 is 50 % off;
    # 20 over an hour nobody was in is published and counts as 20 times off, not dropped for its zero truth
    rows = [(19.9, 40.0), (22.0, 20.0), (30.0, 20.0), (20.0, 0.0), (3.0, 2.0)]
    compared = spark.createDataFrame(rows, f"{EST} DOUBLE, {TRUE} DOUBLE")
    got = agg_error_figures_at_k(compared, k=20)
    assert got["zone_hours_published"] == 3
    assert got["median_abs_rel_error"] == 0.5
    assert got["share_within_20pct"] == pytest.approx(1 / 3, abs=1e-4)
    # of the three hours with at least 20 true visitors, 19.9 is the one gold would withhold
    assert got["busy_published"] == pytest.approx(2 / 3, abs=1e-4)
