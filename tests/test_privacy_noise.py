"""Noise on counts: contribution bound, scales by hand, noise statistics, rounding, and the privacy ledger."""

from __future__ import annotations

import datetime as dt

import pytest
from pyspark.sql import SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T
from pyspark.testing import assertDataFrameEqual

from footfall import schemas as S
from footfall.privacy.noise import (
    agg_privacy_ledger,
    filter_bounded_contributions,
    noise_scale,
    with_noise,
    with_rounded_clamped,
)

CONTRIBUTIONS = "pseudo_id STRING, zone_id STRING, date STRING"
RUN_AT = dt.datetime(2026, 3, 7, 4, 30)


def _rows(device: str, date: str, zones: int) -> list[tuple[str, str, str]]:
    return [(device, f"Z{z:02d}", date) for z in range(zones)]


def test_bound_keeps_min_of_rows_and_bound_per_device_and_partition(spark: SparkSession) -> None:
    # bound 3: A has bound + 1 cells on d1 and one on d2, B exactly bound, C bound - 1
    rows = _rows("A", "d1", 4) + _rows("A", "d2", 1) + _rows("B", "d1", 3) + _rows("C", "d1", 2)
    contributions = spark.createDataFrame(rows, CONTRIBUTIONS)
    kept = filter_bounded_contributions(contributions, bound=3, per=["date"], salt="s1")

    assert kept.schema == contributions.schema
    assert kept.join(contributions, on=kept.columns, how="left_anti").count() == 0  # only input rows survive
    per_device = kept.groupBy("pseudo_id", "date").agg(F.count(F.lit(1)).alias("n"))
    expected = spark.createDataFrame(
        [("A", "d1", 3), ("A", "d2", 1), ("B", "d1", 3), ("C", "d1", 2)], "pseudo_id STRING, date STRING, n LONG"
    )
    assertDataFrameEqual(per_device, expected)


def test_bound_is_deterministic_per_salt_and_differs_across_salts(spark: SparkSession) -> None:
    # 5 of 40 cells: two salts keep the same five with probability 1 / C(40, 5), about 1.5e-6
    contributions = spark.createDataFrame(_rows("A", "d1", 40), CONTRIBUTIONS)
    first = filter_bounded_contributions(contributions, bound=5, per=["date"], salt="s1")
    again = filter_bounded_contributions(
        contributions.select("date", "zone_id", "pseudo_id"), bound=5, per=["date"], salt="s1"
    )
    other = filter_bounded_contributions(contributions, bound=5, per=["date"], salt="s2")

    first_zones = {r.zone_id for r in first.collect()}
    assert len(first_zones) == 5
    assert {r.zone_id for r in again.collect()} == first_zones  # column order does not change the choice
    assert {r.zone_id for r in other.collect()} != first_zones


def test_bound_does_not_favour_the_first_cells(spark: SparkSession) -> None:
    # 30 devices in the same 10 zones, one kept each: all 30 in Z00 (or any one zone) would be a sort, not a hash
    rows = [row for d in range(30) for row in _rows(f"P{d:02d}", "d1", 10)]
    kept = filter_bounded_contributions(spark.createDataFrame(rows, CONTRIBUTIONS), bound=1, per=["date"], salt="s")
    assert len({r.zone_id for r in kept.collect()}) >= 4


def test_noise_scale_laplace_by_hand() -> None:
    # L1 = bound = 4; b = L1 / epsilon = 4 / 0.5 = 8; two columns: epsilon 0.25 each, b = 16
    assert noise_scale(mechanism="laplace", epsilon=0.5, delta=1e-5, bound=4) == pytest.approx(8.0)
    assert noise_scale(mechanism="laplace", epsilon=0.5, delta=1e-5, bound=4, values=2) == pytest.approx(16.0)


def test_noise_scale_gaussian_by_hand() -> None:
    # L2 = sqrt(4) = 2. ln(1.25 / 1e-5) = ln 1.25 + 5 ln 10 = 0.22314 + 11.51293 = 11.73607;
    # sigma = sqrt(2 * 11.73607) * 2 / 0.5 = 4.84481 * 4 = 19.3792.
    # Two columns: delta 5e-6, epsilon 0.25; ln(250000) = 12.42922; sqrt(24.85844) * 2 / 0.25 = 4.98582 * 8 = 39.8866
    assert noise_scale(mechanism="gaussian", epsilon=0.5, delta=1e-5, bound=4) == pytest.approx(19.3792, abs=1e-3)
    assert noise_scale(mechanism="gaussian", epsilon=0.5, delta=1e-5, bound=4, values=2) == pytest.approx(
        39.8866, abs=1e-3
    )


@pytest.mark.parametrize(
    ("mechanism", "delta", "message"),
    [("none", 1e-6, "adds no noise"), ("gaussian", 0.0, "needs 0 < delta < 1")],
)
def test_noise_scale_refuses_what_it_cannot_calibrate(mechanism: str, delta: float, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        noise_scale(mechanism=mechanism, epsilon=1.0, delta=delta, bound=1)


def test_noise_has_mean_zero_and_the_expected_spread(spark: SparkSession) -> None:
    # Laplace b = 2: variance 2 b^2 = 8. Gaussian sigma = 3. With 20000 draws the standard error of the mean is
    # 0.02, of the Laplace variance about 0.13 (sqrt(20 b^4 / n)), of the Gaussian sd about 0.015: the bounds
    # below are 5 or more standard errors wide.
    cells = spark.range(20000).select(F.lit(0).alias("lap"), F.lit(0).alias("gau"))
    noisy = cells.transform(with_noise, value_cols=["lap"], mechanism="laplace", scale=2.0, seed=11).transform(
        with_noise, value_cols=["gau"], mechanism="gaussian", scale=3.0, seed=11
    )
    assert noisy.schema["lap"].dataType == T.DoubleType()
    stats = noisy.agg(
        F.avg("lap").alias("lap_mean"),
        F.var_pop("lap").alias("lap_var"),
        F.avg("gau").alias("gau_mean"),
        F.stddev_pop("gau").alias("gau_sd"),
    ).first()
    assert stats is not None
    assert abs(stats.lap_mean) < 0.1
    assert stats.lap_var == pytest.approx(8.0, rel=0.1)
    assert abs(stats.gau_mean) < 0.15
    assert stats.gau_sd == pytest.approx(3.0, rel=0.05)


def test_each_column_draws_its_own_noise(spark: SparkSession) -> None:
    # four partitions: seeds one apart per column would replay one column's draws in another column's partition
    cells = spark.range(0, 200, 1, 4).select(F.lit(10).alias("a"), F.lit(10).alias("b"))
    noisy = with_noise(cells, value_cols=["a", "b"], mechanism="laplace", scale=1.0, seed=5)
    assert noisy.select(F.col("a").alias("v")).intersect(noisy.select(F.col("b").alias("v"))).count() == 0
    assertDataFrameEqual(noisy, with_noise(cells, value_cols=["a", "b"], mechanism="laplace", scale=1.0, seed=5))


def test_rounding_is_half_to_even_and_clamped_at_zero(spark: SparkSession) -> None:
    values = [-3.2, -0.5, 0.5, 1.5, 2.5, 2.4999, 7.6, None]
    expected_values = [0, 0, 0, 2, 2, 2, 8, None]
    df = spark.createDataFrame([(i, v) for i, v in enumerate(values)], "i INT, visitors DOUBLE")
    expected = spark.createDataFrame([(i, v) for i, v in enumerate(expected_values)], "i INT, visitors LONG")
    assertDataFrameEqual(with_rounded_clamped(df, value_cols=["visitors"]), expected)


def test_ledger_has_one_row_per_period(spark: SparkSession) -> None:
    cells = spark.createDataFrame(
        [("Z1", dt.date(2026, 3, 6), 30.4), ("Z2", dt.date(2026, 3, 6), 41.0), ("Z1", dt.date(2026, 3, 7), 25.9)],
        "zone_id STRING, date DATE, visitors DOUBLE",
    )
    ledger = agg_privacy_ledger(
        cells, table="zone_demographics_daily", period_col="date", mechanism="gaussian", epsilon=1.0,
        delta=1e-6, bound=8, run_id="r1", run_at=RUN_AT,
    )  # fmt: skip
    expected = spark.createDataFrame(
        [
            ("r1", RUN_AT, "zone_demographics_daily", "2026-03-06", "gaussian", 1.0, 1e-6, 8),
            ("r1", RUN_AT, "zone_demographics_daily", "2026-03-07", "gaussian", 1.0, 1e-6, 8),
        ],
        S.QUALITY_PRIVACY_LEDGER,
    )
    assertDataFrameEqual(ledger, expected)


def test_ledger_of_laplace_spends_no_delta_and_takes_weeks(spark: SparkSession) -> None:
    cells = spark.createDataFrame([("Z1", "2026-W10"), ("Z2", "2026-W10")], "zone_id STRING, week STRING")
    ledger = agg_privacy_ledger(
        cells, table="zone_repeat_visits_weekly", period_col="week", mechanism="laplace", epsilon=0.5,
        delta=1e-6, bound=3, run_id="r2", run_at=RUN_AT,
    )  # fmt: skip
    expected = spark.createDataFrame(
        [("r2", RUN_AT, "zone_repeat_visits_weekly", "2026-W10", "laplace", 0.5, 0.0, 3)], S.QUALITY_PRIVACY_LEDGER
    )
    assertDataFrameEqual(ledger, expected)
    with pytest.raises(ValueError, match="spends no budget"):
        agg_privacy_ledger(
            cells, table="t", period_col="week", mechanism="none", epsilon=1.0, delta=0.0, bound=1, run_id="r",
            run_at=RUN_AT,
        )  # fmt: skip


def test_noise_sits_on_top_of_k_which_is_why_it_is_not_differential_privacy(spark: SparkSession) -> None:
    """The guarantee footfall claims with noise on: every published count has a true device count of at least k
    and a noisy count of at least k. What it does not claim is DP: 100 flows of k - 1 travellers never publish,
    while flows of exactly k publish or not as the noise falls, so the true count decides publication."""
    from footfall.config import PublishConfig
    from footfall.privacy.suppression import IS_SUPPRESSED
    from footfall.publish.staging import stage_flows

    k, day = 5, dt.date(2026, 3, 7)
    moved_at = dt.datetime(2026, 3, 7, 10)
    rows = [
        (f"{size}-{pair}-{i}", f"A{size}-{pair}", "B", moved_at, moved_at, 0, day)
        for size in (k - 1, k, k + 3)
        for pair in range(100)
        for i in range(size)
    ]
    publish = PublishConfig.model_validate({"k": k, "noise": {"mechanism": "laplace", "epsilon": 1.0}})
    marked = stage_flows(spark.createDataFrame(rows, S.SILVER_ZONE_TRANSITIONS), publish=publish, salt="t", seed=3)
    published = marked.where(~F.col(IS_SUPPRESSED)).select(S.TRAVELLERS, f"{S.TRAVELLERS}_true").collect()
    by_size: dict[int, int] = {}
    for row in published:
        assert row[S.TRAVELLERS] >= k and row[f"{S.TRAVELLERS}_true"] >= k, row
        by_size[row[f"{S.TRAVELLERS}_true"]] = by_size.get(row[f"{S.TRAVELLERS}_true"], 0) + 1
    assert k - 1 not in by_size  # never, whatever the noise
    assert 0 < by_size.get(k, 0) < 100  # the noise decides at exactly k
    assert by_size.get(k + 3, 0) > by_size.get(k, 0)
