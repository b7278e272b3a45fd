"""From devices to people: weights by the operator's market share in each device's home district.

A device living where the operator has a share s stands for 1/s residents. Extrapolated numbers are estimates
and are rounded to a multiple (PublishConfig.extrapolation_rounding) so they do not look more precise than they
are; k always applies to the device counts behind them, never to the extrapolated value.
"""

from __future__ import annotations

from pathlib import Path

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from footfall import schemas as S
from footfall.ingest.contract import InputContractError, read_landing_csv

MARKET_SHARE_FILE = "market_share.csv"


def _check_market_share_ranges(market_share_df: DataFrame, *, path: Path) -> None:
    """Raise InputContractError naming `path` and the column when a typed value is out of its range."""
    residents, subscribers, share = F.col(S.RESIDENTS), F.col(S.SUBSCRIBERS), F.col(S.MARKET_SHARE)
    # (column, problem, bad-row condition); nulls and bad types were refused by read_landing_csv already
    checks: list[tuple[str, str, Column]] = [
        (S.RESIDENTS, "values that are not above 0", ~(residents > 0)),
        # a district where the operator has no customer is possible (share 0): its devices cannot exist, and
        # the weight falls back to the overall inverse share should one ever appear
        (S.SUBSCRIBERS, "values outside [0, residents]", ~((subscribers >= 0) & (subscribers <= residents))),
        # NaN sorts above every number in Spark, so `<= 1` refuses it as well as infinity
        (S.MARKET_SHARE, "values outside [0, 1]", ~((share >= 0) & (share <= 1))),
    ]
    aggs = [F.count(F.lit(1)).alias("rows")]
    for i, (name, _, bad) in enumerate(checks):
        aggs.append(F.count(F.when(bad, 1)).alias(f"n{i}"))
        aggs.append(F.first(F.when(bad, F.col(name)), ignorenulls=True).alias(f"e{i}"))
    result = market_share_df.agg(*aggs).first()
    assert result is not None
    if not result["rows"]:
        raise InputContractError(f"{path}: file has no rows; every district needs its market share")
    for i, (name, problem, _) in enumerate(checks):
        if result[f"n{i}"]:
            example = result[f"e{i}"]
            raise InputContractError(f"{path}: column '{name}' has {result[f'n{i}']} {problem} (e.g. {example!r})")


def read_market_share(spark: SparkSession, landing: Path) -> DataFrame:
    """Return market_share.csv typed as LANDING_MARKET_SHARE, after the contract and range checks."""
    path = landing / MARKET_SHARE_FILE
    market_share_df = read_landing_csv(spark, path, S.LANDING_MARKET_SHARE, unique=S.DISTRICT_ID)
    _check_market_share_ranges(market_share_df, path=path)
    return market_share_df


def agg_device_weights(home_df: DataFrame, *, market_share_df: DataFrame) -> DataFrame:
    """Return pseudo_id and weight: 1 / market share of the device's home district, else the overall inverse share.

    The overall inverse share, sum(residents) / sum(subscribers), stands in for a device whose home is unknown or
    whose district the market-share file does not list.
    """
    inverse_df = market_share_df.select(
        F.col(S.DISTRICT_ID).alias(S.HOME_DISTRICT_ID),
        F.when(F.col(S.MARKET_SHARE) > 0, F.lit(1.0) / F.col(S.MARKET_SHARE)).alias("_inverse"),
    )
    overall_df = market_share_df.agg((F.sum(S.RESIDENTS) / F.sum(S.SUBSCRIBERS)).alias("_overall"))
    is_known = F.col(S.HOME_DISTRICT_ID) != S.HOME_UNKNOWN
    return (
        home_df.join(F.broadcast(inverse_df), on=S.HOME_DISTRICT_ID, how="left")
        .crossJoin(F.broadcast(overall_df))
        .select(
            S.PSEUDO_ID,
            F.coalesce(F.when(is_known, F.col("_inverse")), F.col("_overall")).cast(T.DoubleType()).alias(S.WEIGHT),
        )
    )


def with_rounded_to(df: DataFrame, *, col: str, multiple: int) -> DataFrame:
    """Return the frame with `col` rounded to the nearest multiple of `multiple`, half to even, as long."""
    if multiple < 1:
        raise ValueError(f"multiple must be at least 1, got {multiple}")
    # half to even, like the noisy counts: exact halves (25 -> 20, 35 -> 40) do not all drift upwards
    steps = F.bround(F.col(col) / F.lit(multiple), 0).cast(T.LongType())
    return df.withColumn(col, steps * F.lit(multiple).cast(T.LongType()))
