"""zone_footfall_hourly before disclosure control: counts of distinct devices per zone and local hour.

Definitions match the generator's truth (docs/data-contract.md):
- visitors: distinct devices with a visit (dwell >= min_visit_s) overlapping the hour;
- passers_by: distinct devices with a stay overlapping the hour and no visit overlapping it;
- visits: visits that start in the hour, with the dwell quartiles of those visits;
- devices_*: how many distinct devices stand behind each value, for k (never published).
"""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from footfall import schemas as S
from footfall.mobility.calendar import with_local_hours

VISITS = "visits"
DWELL_P25_S, DWELL_MEDIAN_S, DWELL_P75_S = "dwell_p25_s", "dwell_median_s", "dwell_p75_s"
DEVICES_PRESENT = "devices_present"
DEVICES_VISITS = "devices_behind_visits"
HOUR_KEYS = (S.ZONE_ID, S.DATE, S.HOUR, S.HOUR_START_UTC)


def agg_zone_hourly(stays_df: DataFrame, *, tz: str) -> DataFrame:
    """Return per zone and local hour: visitors, passers_by, visits, dwell quartiles and the device counts behind."""
    per_device = (
        with_local_hours(stays_df, tz=tz)
        .groupBy(*HOUR_KEYS, S.PSEUDO_ID)
        .agg(F.max(S.IS_VISIT).alias("_any_visit"))
        .groupBy(*HOUR_KEYS)
        .agg(
            F.count(F.when(F.col("_any_visit"), 1)).alias(S.VISITORS),
            F.count(F.when(~F.col("_any_visit"), 1)).alias(S.PASSERS_BY),
            F.count(F.lit(1)).alias(DEVICES_PRESENT),
        )
    )
    started = (
        stays_df.where(F.col(S.IS_VISIT))
        .withColumn(S.HOUR_START_UTC, F.date_trunc("hour", S.ENTERED_AT))
        .withColumn("_local", F.from_utc_timestamp(S.HOUR_START_UTC, tz))
        .withColumns({S.DATE: F.to_date("_local"), S.HOUR: F.hour("_local")})
        .groupBy(*HOUR_KEYS)
        .agg(
            F.count(F.lit(1)).alias(VISITS),
            F.countDistinct(S.PSEUDO_ID).alias(DEVICES_VISITS),
            F.percentile(S.DWELL_S, F.array(F.lit(0.25), F.lit(0.5), F.lit(0.75))).alias("_q"),
        )
    )
    return (
        per_device.join(started, on=list(HOUR_KEYS), how="left")
        .fillna(0, subset=[VISITS, DEVICES_VISITS])
        .select(
            *HOUR_KEYS,
            F.col(S.VISITORS).cast("long"),
            F.col(VISITS).cast("long"),
            F.col(S.PASSERS_BY).cast("long"),
            F.col("_q")[0].alias(DWELL_P25_S),
            F.col("_q")[1].alias(DWELL_MEDIAN_S),
            F.col("_q")[2].alias(DWELL_P75_S),
            F.col(DEVICES_PRESENT).cast("long"),
            F.col(DEVICES_VISITS).cast("long"),
        )
    )
