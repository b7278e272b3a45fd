"""From devices to people: weights by the operator's market share in each device's home district.

A device living where the operator has a share s stands for 1/s residents. Extrapolated numbers are estimates
and are rounded to a multiple (PublishConfig.extrapolation_rounding) so they do not look more precise than they
are; k always applies to the device counts behind them, never to the extrapolated value.
"""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from footfall import schemas as S


def agg_device_weights(home_df: DataFrame, *, market_share_df: DataFrame) -> DataFrame:
    """Return pseudo_id, date and weight: 1 / market share of the device's home district that date, else the
    overall inverse share.

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
            S.DATE,
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
