"""Disclosure control on counts of distinct devices: k-1, k, k+1; differencing by subtraction; derived values."""

from __future__ import annotations

import pytest
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.testing import assertDataFrameEqual

from footfall.privacy.suppression import apply_suppression, with_primary_suppression, with_suppression

K = 20
CELLS = "zone_id STRING, date STRING, band STRING, devices LONG"


def _publish(spark: SparkSession, rows: list[tuple], *, mode: str = "delete") -> DataFrame:
    cells = spark.createDataFrame(rows, CELLS)
    marked = with_suppression(cells, k=K, breakdown=["zone_id", "date"], cell_keys=["band"], devices_col="devices")
    return apply_suppression(marked, value_cols=["devices"], mode=mode)  # type: ignore[arg-type]


@pytest.mark.parametrize(("devices", "published"), [(K - 1, False), (K, True), (K + 1, True)])
def test_a_single_count_is_published_from_k_devices(spark: SparkSession, devices: int, published: bool) -> None:
    df = spark.createDataFrame([("Z1", devices)], "zone_id STRING, devices LONG")
    marked = with_primary_suppression(df, k=K, devices_col="devices")
    assert (apply_suppression(marked, value_cols=["devices"]).count() == 1) is published


@pytest.mark.parametrize(("small", "published"), [(K - 1, ["c"]), (K, ["a", "b", "c"]), (K + 1, ["a", "b", "c"])])
def test_breakdown_cells_at_k_minus_1_k_and_k_plus_1(spark: SparkSession, small: int, published: list[str]) -> None:
    # b is the cell on the edge; a and c are large. At k-1 b goes, and with it the next smallest (a), so that b
    # cannot be derived from the zone-day total; at k and k+1 nothing goes.
    rows = [("Z1", "d", "a", 40), ("Z1", "d", "b", small), ("Z1", "d", "c", 300)]
    assert sorted(r.band for r in _publish(spark, rows).collect()) == published


def test_naive_threshold_leaks_by_subtraction_and_secondary_suppression_does_not(spark: SparkSession) -> None:
    # The zone-day total of 100 devices is published elsewhere (zone_footfall daily). Age bands: one small cell.
    total = 100
    rows = [("Z1", "d", "18-24", 5), ("Z1", "d", "25-34", 30), ("Z1", "d", "35-44", 25), ("Z1", "d", "45+", 40)]
    naive = spark.createDataFrame(rows, CELLS).where(F.col("devices") >= K)
    leaked = total - sum(r.devices for r in naive.collect())
    assert leaked == 5  # the naive table gives away the 5 people aged 18-24

    published = _publish(spark, rows)
    hidden = total - sum(r.devices for r in published.collect())
    assert published.count() == 2  # 18-24 (primary) and 35-44 (secondary) are withheld
    assert hidden >= K  # what subtraction recovers is the sum of two cells, itself at least k devices
    # and no single withheld cell equals what subtraction gives
    assert hidden not in {5, 25}


def test_visitors_minus_residents_is_checked_as_a_breakdown(spark: SparkSession) -> None:
    # Catchment: residents + visitors = all devices of the zone-day, which is published. Visitors (derived as
    # all - residents) is 12 < k: publishing residents alone would leak it, so both are withheld.
    rows = [("Z1", "d", "residents", 88), ("Z1", "d", "visitors", 12)]
    assert _publish(spark, rows).count() == 0
    # with 25 visitors both are published
    assert _publish(spark, [("Z1", "d", "residents", 75), ("Z1", "d", "visitors", 25)]).count() == 2


def test_breakdowns_are_independent_and_null_mode_keeps_rows(spark: SparkSession) -> None:
    rows = [("Z1", "d1", "a", 3), ("Z1", "d1", "b", 30), ("Z1", "d1", "c", 30), ("Z1", "d2", "a", 50)]
    nulled = _publish(spark, rows, mode="null")
    expected = spark.createDataFrame(
        [("Z1", "d1", "a", None), ("Z1", "d1", "b", None), ("Z1", "d1", "c", 30), ("Z1", "d2", "a", 50)], CELLS
    )
    assertDataFrameEqual(nulled, expected)


def test_k_below_two_is_refused(spark: SparkSession) -> None:
    df = spark.createDataFrame([("Z1", 5)], "zone_id STRING, devices LONG")
    with pytest.raises(ValueError, match="k must be at least 2"):
        with_primary_suppression(df, k=1, devices_col="devices")


def test_noise_before_threshold_a_noisy_count_below_k_is_withheld(spark: SparkSession) -> None:
    """k is checked on the true count and on the noisy one: 25 people whose noisy count came out at 12 are withheld,
    as is 12 people whose noisy count came out at 25."""
    from footfall.privacy.disclosure import select_published, with_cell_suppression

    cells = spark.createDataFrame(
        [("Z1", 12, 25), ("Z2", 25, 12), ("Z3", 26, 24)], "zone_id STRING, visitors LONG, visitors_true LONG"
    )
    marked = with_cell_suppression(cells, k=K, value_col="visitors")
    published = select_published(marked, value_col="visitors", mode="delete", columns=["zone_id", "visitors"])
    assertDataFrameEqual(published, spark.createDataFrame([("Z3", 26)], "zone_id STRING, visitors LONG"))
