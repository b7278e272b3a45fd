"""The operator's market share per district (landing `market_share.csv`): typed, range-checked, then kept in
silver by the spatial stage with the rest of the inventory, so that publish never reads landing."""

from __future__ import annotations

from pathlib import Path

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

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
