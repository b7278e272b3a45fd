"""zone_footfall_hourly before disclosure control: counts of distinct devices per zone and local hour.

Definitions match the generator's truth (docs/data-contract.md, docs/outputs.md):
- visitors: distinct devices with a visit (dwell >= min_visit_s) overlapping the hour;
- passers_by: distinct devices with a stay overlapping the hour and no visit overlapping it;
- visits: visits that start in the hour, with the dwell quartiles of those visits, rounded to the minute (a
  quartile that falls on an observation would otherwise be one real visit's dwell, to the second);
- visitors_extrapolated: the visitors, each weighted by the inverse market share of its home district;
- devices_*: how many distinct devices stand behind each value, for k (never published).

Counting is split in two, so that noise can bound each device's contribution in between: one row per device and
hour it is present in (`contributions_hourly_presence`), one row per visit start (`contributions_hourly_visits`).
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from footfall import schemas as S
from footfall.mobility.calendar import with_local_hours
from footfall.privacy.disclosure import TOP_WEIGHT, WEIGHT_SUM

DEVICES_PRESENT = S.DEVICES_PRESENT
DEVICES_VISITS = S.DEVICES_VISITS
HAS_VISIT = "has_visit"
HOUR_KEYS = (S.ZONE_ID, S.DATE, S.HOUR, S.HOUR_START_UTC)
DWELL_UNIT_S = 60  # published dwell quartiles are whole minutes (docs/outputs.md)


def contributions_hourly_presence(stays_df: DataFrame, *, tz: str) -> DataFrame:
    """Return one row per device and zone-hour it was present in, with has_visit (a visit overlapped the hour)."""
    return (
        with_local_hours(stays_df, tz=tz)
        .groupBy(S.PSEUDO_ID, *HOUR_KEYS)
        .agg(F.max(S.IS_VISIT).alias(HAS_VISIT))
        .select(S.PSEUDO_ID, *HOUR_KEYS, HAS_VISIT)
    )


def contributions_hourly_visits(stays_df: DataFrame, *, tz: str) -> DataFrame:
    """Return one row per visit, keyed by the zone-hour it started in, with its dwell."""
    local = F.from_utc_timestamp(S.HOUR_START_UTC, tz)
    return (
        stays_df.where(F.col(S.IS_VISIT))
        .withColumn(S.HOUR_START_UTC, F.date_trunc("hour", S.ENTERED_AT))
        .withColumns({S.DATE: F.to_date(local), S.HOUR: F.hour(local)})
        .select(S.PSEUDO_ID, *HOUR_KEYS, S.ENTERED_AT, S.DWELL_S)
    )


def agg_zone_hourly_counts(presence_df: DataFrame, visits_df: DataFrame, *, weights_df: DataFrame) -> DataFrame:
    """Return per zone-hour: visitors, passers_by, visitors_extrapolated (unrounded), visits, dwell quartiles (in
    whole minutes), the distinct devices behind visitors, passers_by and visits, and the largest visitor's weight
    with the sum of the weights (the dominance rule's inputs, privacy/disclosure.py; never published).

    `weights_df` (pseudo_id, date, weight) holds each device's extrapolation weight per date (its home can change
    from one date to the next); a device without one weighs 1.
    """
    weighted = presence_df.join(weights_df, on=[S.PSEUDO_ID, S.DATE], how="left")
    visitor_weight = F.when(F.col(HAS_VISIT), F.coalesce(F.col(S.WEIGHT), F.lit(1.0)))
    per_hour = weighted.groupBy(*HOUR_KEYS).agg(
        F.count(F.when(F.col(HAS_VISIT), 1)).alias(S.VISITORS),
        F.count(F.when(~F.col(HAS_VISIT), 1)).alias(S.PASSERS_BY),
        F.sum(visitor_weight).alias(S.VISITORS_EXTRAPOLATED),
        F.max(visitor_weight).alias(TOP_WEIGHT),
        F.count(F.lit(1)).alias(DEVICES_PRESENT),
    )
    started = visits_df.groupBy(*HOUR_KEYS).agg(
        F.count(F.lit(1)).alias(S.VISITS),
        F.countDistinct(S.PSEUDO_ID).alias(DEVICES_VISITS),
        F.percentile(S.DWELL_S, F.array(F.lit(0.25), F.lit(0.5), F.lit(0.75))).alias("_q"),
    )

    def minutes(quartile: int) -> Column:
        return F.round(F.col("_q")[quartile] / DWELL_UNIT_S) * DWELL_UNIT_S

    return (
        per_hour.join(started, on=list(HOUR_KEYS), how="left")
        .fillna(0, subset=[S.VISITS, DEVICES_VISITS])
        .fillna(0.0, subset=[S.VISITORS_EXTRAPOLATED])
        .select(
            *HOUR_KEYS,
            F.col(S.VISITORS).cast("long"),
            F.col(S.VISITS).cast("long"),
            F.col(S.PASSERS_BY).cast("long"),
            minutes(0).alias(S.DWELL_P25_S),
            minutes(1).alias(S.DWELL_MEDIAN_S),
            minutes(2).alias(S.DWELL_P75_S),
            F.col(S.VISITORS_EXTRAPOLATED).cast("double"),
            F.col(S.VISITORS_EXTRAPOLATED).cast("double").alias(WEIGHT_SUM),
            F.col(TOP_WEIGHT).cast("double"),
            F.col(DEVICES_PRESENT).cast("long"),
            F.col(DEVICES_VISITS).cast("long"),
        )
    )
