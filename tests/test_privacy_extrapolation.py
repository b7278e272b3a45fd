"""Extrapolation: the market-share contract, device weights by home district, rounding to a multiple."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from pyspark.sql import SparkSession
from pyspark.testing import assertDataFrameEqual

from footfall import schemas as S
from footfall.ingest.contract import InputContractError
from footfall.ingest.market_share import read_market_share
from footfall.privacy.extrapolation import agg_device_weights, with_rounded_to

HEADER = "district_id,residents,subscribers,market_share"
# D1: 100 of 400 residents (0.25); D2: 300 of 600 (0.5); overall 400 of 1000, an inverse share of 2.5
GOOD = ["D1,400,100,0.25", "D2,600,300,0.5"]


def _landing(tmp_path: Path, lines: list[str], header: str = HEADER) -> Path:
    (tmp_path / "market_share.csv").write_text("\n".join([header, *lines]) + "\n")
    return tmp_path


def test_market_share_is_read_typed(spark: SparkSession, tmp_path: Path) -> None:
    got = read_market_share(spark, _landing(tmp_path, GOOD))
    expected = spark.createDataFrame([("D1", 400, 100, 0.25), ("D2", 600, 300, 0.5)], S.LANDING_MARKET_SHARE)
    assertDataFrameEqual(got, expected)


@pytest.mark.parametrize(
    ("header", "lines", "message"),
    [
        ("district_id,residents,subscribers", ["D1,400,100"], "column 'market_share' is missing"),
        (HEADER, ["D1,400,100,0.25", "D2,600,300,1.5"], r"column 'market_share' has 1 values outside \[0, 1\]"),
        (HEADER, ["D1,400,100,0.25", "D1,600,300,0.5"], "column 'district_id' has 1 repeated values"),
        (HEADER, ["D1,400,500,0.25"], r"column 'subscribers' has 1 values outside \[0, residents\]"),
        (HEADER, ["D1,0,0,0.25"], "column 'residents' has 1 values that are not above 0"),
        (HEADER, ["D1,400,,0.25"], "column 'subscribers' has 1 empty values"),
    ],
)
def test_market_share_contract_errors_name_file_and_column(
    spark: SparkSession, tmp_path: Path, header: str, lines: list[str], message: str
) -> None:
    with pytest.raises(InputContractError, match=message) as info:
        read_market_share(spark, _landing(tmp_path, lines, header))
    assert str(tmp_path / "market_share.csv") in str(info.value)


def test_device_weights_by_home_district(spark: SparkSession, tmp_path: Path) -> None:
    market_share = spark.createDataFrame(
        [("D1", 400, 100, 0.25), ("D2", 600, 300, 0.5), ("D3", 100, 0, 0.0)], S.LANDING_MARKET_SHARE
    )
    d1, d2 = dt.date(2026, 3, 6), dt.date(2026, 3, 7)
    homes = spark.createDataFrame(
        [
            ("p1", "D1", 5, d1),
            ("p1", "D2", 6, d2),  # homes are per date: p1 moved
            ("p2", "D2", 3, d1),
            ("p3", S.HOME_UNKNOWN, 0, d1),
            ("p4", "D9", 2, d1),
            ("p5", "D3", 1, d1),
        ],
        S.SILVER_DEVICE_HOME,
    )
    # p1: 1 / 0.25, then 1 / 0.5; p2: 1 / 0.5; unknown home (p3), a district the file lacks (p4) and one where the
    # operator has no customers (p5, share 0): the overall 1100 / 400
    expected = spark.createDataFrame(
        [("p1", d1, 4.0), ("p1", d2, 2.0), ("p2", d1, 2.0), ("p3", d1, 2.75), ("p4", d1, 2.75), ("p5", d1, 2.75)],
        f"{S.PSEUDO_ID} STRING, {S.DATE} DATE, {S.WEIGHT} DOUBLE",
    )
    assertDataFrameEqual(agg_device_weights(homes, market_share_df=market_share), expected)


def test_rounding_to_a_multiple(spark: SparkSession) -> None:
    # half to even on the multiple: 5 -> 0, 15 -> 20, 25 -> 20
    values = [4.0, 5.0, 15.0, 25.0, 26.1, 1234.9, None]
    expected_values = [0, 0, 20, 20, 30, 1230, None]
    df = spark.createDataFrame(list(enumerate(values)), "i INT, visitors_extrapolated DOUBLE")
    expected = spark.createDataFrame(list(enumerate(expected_values)), "i INT, visitors_extrapolated LONG")
    assertDataFrameEqual(with_rounded_to(df, col="visitors_extrapolated", multiple=10), expected)

    ones = spark.createDataFrame([(0, 2.5), (1, 3.5), (2, 7.2)], "i INT, v DOUBLE")
    assertDataFrameEqual(
        with_rounded_to(ones, col="v", multiple=1), spark.createDataFrame([(0, 2), (1, 4), (2, 7)], "i INT, v LONG")
    )
    with pytest.raises(ValueError, match="multiple must be at least 1"):
        with_rounded_to(ones, col="v", multiple=0)
