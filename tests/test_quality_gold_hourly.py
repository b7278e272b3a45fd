"""The hourly gold suite passes a clean staged table and names each broken rule otherwise."""

from __future__ import annotations

import datetime as dt

import pytest
from pyspark.sql import DataFrame, SparkSession

from footfall.quality.gold_hourly import validate_hourly

COLUMNS = (
    "zone_id STRING, date DATE, hour INT, hour_start_utc TIMESTAMP, visitors LONG, visits LONG, passers_by LONG, "
    "dwell_p25_s DOUBLE, dwell_median_s DOUBLE, dwell_p75_s DOUBLE"
)
DAY = dt.date(2026, 10, 25)


def _row(**change: object) -> tuple:
    row = dict(
        zone_id="Z1",
        date=DAY,
        hour=2,
        hour_start_utc=dt.datetime(2026, 10, 25, 0),
        visitors=25,
        visits=30,
        passers_by=4,
        dwell_p25_s=400.0,
        dwell_median_s=900.0,
        dwell_p75_s=1800.0,
    )
    row.update(change)
    return tuple(row.values())


def _df(spark: SparkSession, *rows: tuple) -> DataFrame:
    return spark.createDataFrame(list(rows), COLUMNS)


def test_clean_table_with_both_autumn_02_hours_passes(spark: SparkSession) -> None:
    second_two = _row(hour_start_utc=dt.datetime(2026, 10, 25, 1))
    result = validate_hourly(_df(spark, _row(), second_two), k=20, zone_ids=["Z1", "Z2"])
    assert result.success, result.failed


@pytest.mark.parametrize(
    ("change", "failed"),
    [
        ({"visitors": 19}, "expect_column_values_to_be_between(visitors)"),
        ({"passers_by": -1}, "expect_column_values_to_be_between(passers_by)"),
        ({"hour": 24}, "expect_column_values_to_be_between(hour)"),
        ({"zone_id": "Z9"}, "expect_column_values_to_be_in_set(zone_id)"),
        ({"dwell_median_s": 300.0}, "expect_column_pair_values_a_to_be_greater_than_b()"),
    ],
)
def test_each_broken_rule_fails_the_suite(spark: SparkSession, change: dict, failed: str) -> None:
    result = validate_hourly(_df(spark, _row(**change)), k=20, zone_ids=["Z1", "Z2"])
    assert not result.success
    assert failed in result.failed, result.failed


def test_a_repeated_hour_key_fails(spark: SparkSession) -> None:
    result = validate_hourly(_df(spark, _row(), _row()), k=20, zone_ids=["Z1"])
    assert not result.success
    assert "expect_compound_columns_to_be_unique()" in result.failed
