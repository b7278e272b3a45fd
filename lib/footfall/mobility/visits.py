"""Repeat visits and flows between zones, from stays that are visits."""

from __future__ import annotations

from collections.abc import Sequence

from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql.window import Window

from footfall import schemas as S
from footfall.mobility.calendar import with_iso_week
from footfall.mobility.stays import DEVICE, IS_VISIT

VISIT_DAYS = "visit_days"
FROM_ZONE_ID, TO_ZONE_ID = "from_zone_id", "to_zone_id"
GAP_S = "gap_s"


def agg_repeat_visits(stays_df: DataFrame, *, tz: str) -> DataFrame:
    """Return per device, zone and ISO week the number of distinct local days with a visit (by entry date)."""
    visits = stays_df.where(F.col(IS_VISIT)).withColumn(S.DATE, F.to_date(F.from_utc_timestamp(S.ENTERED_AT, tz)))
    return (
        visits.transform(with_iso_week)
        .groupBy(S.PSEUDO_ID, S.ZONE_ID, "week")
        .agg(F.countDistinct(S.DATE).alias(VISIT_DAYS))
    )


def agg_transitions(stays_df: DataFrame, *, max_transition_s: int, device_cols: Sequence[str] = DEVICE) -> DataFrame:
    """Return visit-to-visit moves: a visit in A followed by the device's next visit, in B != A, within the limit.

    The gap is next entry minus this exit; it can be negative when ping-pong makes two stays overlap.
    """
    visits = stays_df.where(F.col(IS_VISIT))
    by_device = Window.partitionBy(*device_cols).orderBy(S.ENTERED_AT, S.ZONE_ID)
    nxt = visits.withColumns(
        {"_next_zone": F.lead(S.ZONE_ID).over(by_device), "_next_entered": F.lead(S.ENTERED_AT).over(by_device)}
    )
    gap = F.unix_timestamp("_next_entered") - F.unix_timestamp(S.LEFT_AT)
    return (
        nxt.where(F.col("_next_zone").isNotNull() & (F.col("_next_zone") != F.col(S.ZONE_ID)))
        .select(
            *device_cols,
            F.col(S.ZONE_ID).alias(FROM_ZONE_ID),
            F.col("_next_zone").alias(TO_ZONE_ID),
            F.col(S.LEFT_AT).alias("left_from_at"),
            F.col("_next_entered").alias("entered_to_at"),
            gap.alias(GAP_S),
        )
        .where(F.col(GAP_S) <= max_transition_s)
    )
