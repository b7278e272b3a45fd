"""Home area: per date, the district where a device spent most of the nights before it."""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql.window import Window

from footfall import schemas as S
from footfall.mobility.windows import NIGHT

UNKNOWN = "unknown"
NIGHTS = "nights"


def with_night(events_df: DataFrame, *, tz: str, night_start_hour: int, night_end_hour: int) -> DataFrame:
    """Keep the events from `night_start_hour` to `night_end_hour` local time, with `night`: the local date the night
    starts on."""
    local = F.from_utc_timestamp(S.EVENT_TS, tz)
    hour = F.hour(local)
    at_night = (hour >= night_start_hour) | (hour < night_end_hour)
    return events_df.where(at_night).withColumn(NIGHT, F.to_date(local - F.expr(f"INTERVAL {night_end_hour} HOURS")))


def agg_night_votes(
    events_df: DataFrame,
    *,
    district_weights_df: DataFrame,
    tz: str,
    night_start_hour: int,
    night_end_hour: int,
) -> DataFrame:
    """Return pseudo_id, night, district_id: each night's vote.

    A night runs from `night_start_hour` to `night_end_hour` local time and is named by the date it starts on. It
    votes for the district with the largest summed cell-to-district weight of that night's events.
    """
    weights = district_weights_df.select(S.CELL_ID, S.DISTRICT_ID, S.WEIGHT, S.VALID_FROM, S.VALID_TO)
    nightly = (
        with_night(events_df, tz=tz, night_start_hour=night_start_hour, night_end_hour=night_end_hour)
        .join(F.broadcast(weights), on=S.CELL_ID, how="inner")
        .where(
            (F.col(S.EVENT_TS) >= F.col(S.VALID_FROM))
            & (F.col(S.VALID_TO).isNull() | (F.col(S.EVENT_TS) < F.col(S.VALID_TO)))
        )
        .groupBy(S.PSEUDO_ID, NIGHT, S.DISTRICT_ID)
        .agg(F.sum(S.WEIGHT).alias("w"))
    )
    best_of_night = Window.partitionBy(S.PSEUDO_ID, NIGHT).orderBy(F.desc("w"), S.DISTRICT_ID)
    return (
        nightly.withColumn("rank", F.row_number().over(best_of_night))
        .where("rank = 1")
        .select(S.PSEUDO_ID, NIGHT, S.DISTRICT_ID)
    )


def agg_device_home(
    votes_df: DataFrame, *, night_map_df: DataFrame, devices_df: DataFrame, min_nights: int
) -> DataFrame:
    """Return pseudo_id, date, home_district_id (or `unknown`) and the nights behind it.

    `night_map_df` (night, date) says which nights vote for which date's home; `devices_df` (pseudo_id, date) which
    devices need one. The home is the district with most of those nights if it has at least `min_nights`. Pseudonyms
    change per period, so a home never spans a pseudonym rotation.
    """
    counted = (
        votes_df.join(F.broadcast(night_map_df), on=NIGHT, how="inner")
        .groupBy(S.PSEUDO_ID, S.DATE, S.DISTRICT_ID)
        .agg(F.count(F.lit(1)).alias(NIGHTS))
    )
    best = Window.partitionBy(S.PSEUDO_ID, S.DATE).orderBy(F.desc(NIGHTS), S.DISTRICT_ID)
    top = counted.withColumn("rank", F.row_number().over(best)).where("rank = 1")
    return devices_df.join(top, on=[S.PSEUDO_ID, S.DATE], how="left").select(
        S.PSEUDO_ID,
        S.DATE,
        F.when(F.col(NIGHTS) >= min_nights, F.col(S.DISTRICT_ID)).otherwise(F.lit(UNKNOWN)).alias(S.HOME_DISTRICT_ID),
        F.coalesce(F.col(NIGHTS), F.lit(0)).cast("long").alias(NIGHTS),
    )
