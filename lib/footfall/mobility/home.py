"""Home area: the district where a device spends most nights, per pseudonym period."""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql.window import Window

from footfall import schemas as S

UNKNOWN = "unknown"
NIGHTS = "nights"
NIGHT = "night"


def agg_device_home(
    events_df: DataFrame,
    *,
    district_weights_df: DataFrame,
    tz: str,
    night_start_hour: int,
    night_end_hour: int,
    min_nights: int,
) -> DataFrame:
    """Return pseudo_id, home_district_id (or `unknown`) and the nights behind it.

    A night runs from `night_start_hour` to `night_end_hour` local time and is named by the date it starts on.
    Each night votes for the district with the largest summed cell-to-district weight of that night's events;
    the home is the district with most nights if it has at least `min_nights`. Pseudonyms change per period, so
    this is per period by construction.
    """
    local = F.from_utc_timestamp(S.EVENT_TS, tz)
    hour = F.hour(local)
    at_night = (hour >= night_start_hour) | (hour < night_end_hour)
    night = F.to_date(local - F.expr(f"INTERVAL {night_end_hour} HOURS"))
    weights = district_weights_df.select(S.CELL_ID, S.DISTRICT_ID, S.WEIGHT, S.VALID_FROM, S.VALID_TO)
    nightly = (
        events_df.where(at_night)
        .withColumn(NIGHT, night)
        .join(F.broadcast(weights), on=S.CELL_ID, how="inner")
        .where(
            (F.col(S.EVENT_TS) >= F.col(S.VALID_FROM))
            & (F.col(S.VALID_TO).isNull() | (F.col(S.EVENT_TS) < F.col(S.VALID_TO)))
        )
        .groupBy(S.PSEUDO_ID, NIGHT, S.DISTRICT_ID)
        .agg(F.sum(S.WEIGHT).alias("w"))
    )
    best_of_night = Window.partitionBy(S.PSEUDO_ID, NIGHT).orderBy(F.desc("w"), S.DISTRICT_ID)
    votes = (
        nightly.withColumn("rank", F.row_number().over(best_of_night))
        .where("rank = 1")
        .groupBy(S.PSEUDO_ID, S.DISTRICT_ID)
        .agg(F.count(F.lit(1)).alias(NIGHTS))
    )
    best = Window.partitionBy(S.PSEUDO_ID).orderBy(F.desc(NIGHTS), S.DISTRICT_ID)
    devices = events_df.select(S.PSEUDO_ID).distinct()
    top = votes.withColumn("rank", F.row_number().over(best)).where("rank = 1")
    return devices.join(top, on=S.PSEUDO_ID, how="left").select(
        S.PSEUDO_ID,
        F.when(F.col(NIGHTS) >= min_nights, F.col(S.DISTRICT_ID)).otherwise(F.lit(UNKNOWN)).alias(S.HOME_DISTRICT_ID),
        F.coalesce(F.col(NIGHTS), F.lit(0)).cast("long").alias(NIGHTS),
    )
