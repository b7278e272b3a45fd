"""Daily and weekly breakdowns before disclosure control, in two steps: contributions, then distinct counts.

A contributions frame has one row per device and published cell (pseudo_id plus the cell's key columns), so
the noise module can bound how many cells a device touches before anything is counted; `agg_distinct_devices`
then counts the devices per cell.

Daily tables count the distinct devices with a visit that day: a visit counts on every local date its interval
[entered_at, left_at) overlaps. Each daily breakdown is a partition of the same zone-day visitors: every
device-zone-day falls in exactly one cell, so the cells of a breakdown add up to the zone-day's visitors.
"""

from __future__ import annotations

from collections.abc import Sequence

from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from footfall import schemas as S
from footfall.mobility.calendar import with_local_dates

_VALUE_COLS = (S.VISITORS, S.TRAVELLERS)


def _keys(schema: T.StructType) -> tuple[str, ...]:
    return tuple(f.name for f in schema.fields if f.name not in _VALUE_COLS)


DEVICE_ZONE_DAY_KEYS = (S.PSEUDO_ID, S.ZONE_ID, S.DATE)
DEMOGRAPHICS_KEYS = _keys(S.GOLD_ZONE_DEMOGRAPHICS_DAILY)  # zone_id, date, age_band, gender
ARRIVAL_DIRECTION_KEYS = _keys(S.GOLD_ZONE_ARRIVAL_DIRECTION_DAILY)  # zone_id, date, direction
CATCHMENT_KEYS = _keys(S.GOLD_ZONE_CATCHMENT_DAILY)  # zone_id, date, home_district_id, is_resident
REPEAT_VISITS_KEYS = _keys(S.GOLD_ZONE_REPEAT_VISITS_WEEKLY)  # zone_id, week, visit_days
FLOWS_KEYS = _keys(S.GOLD_ZONE_FLOWS_DAILY)  # from_zone_id, to_zone_id, date


def device_zone_days(stays_df: DataFrame, *, tz: str) -> DataFrame:
    """Return one row per device, zone and local date with a visit: pseudo_id, zone_id, date, arrival_direction
    (of the first visit overlapping that date) and is_resident."""
    # min of a struct orders by entered_at, then left_at, then direction: the first visit, ties broken the
    # same way in every zone, without a window
    first_visit = F.min(F.struct(S.ENTERED_AT, S.LEFT_AT, S.ARRIVAL_DIRECTION))
    return (
        stays_df.where(F.col(S.IS_VISIT))
        .transform(with_local_dates, tz=tz)
        .groupBy(*DEVICE_ZONE_DAY_KEYS)
        .agg(
            first_visit[S.ARRIVAL_DIRECTION].alias(S.ARRIVAL_DIRECTION),
            # a property of the device's home, equal on all its visits; max keeps one value if they ever differ
            F.max(S.IS_RESIDENT).alias(S.IS_RESIDENT),
        )
        .select(*DEVICE_ZONE_DAY_KEYS, S.ARRIVAL_DIRECTION, S.IS_RESIDENT)
    )


def _one_subscriber_row(subscribers_df: DataFrame) -> DataFrame:
    # pseudonyms are per period, so a pseudo_id has one row; should it ever have more, a join would put the
    # device in two cells, so keep the latest period's (ties broken by value, deterministically)
    latest = F.max(F.struct(S.PERIOD_START, S.AGE_BAND, S.GENDER))
    return subscribers_df.groupBy(S.PSEUDO_ID).agg(
        latest[S.AGE_BAND].alias(S.AGE_BAND), latest[S.GENDER].alias(S.GENDER)
    )


def contributions_demographics(device_days_df: DataFrame, *, subscribers_df: DataFrame) -> DataFrame:
    """Return one row per device-zone-day: pseudo_id, zone_id, date, age_band, gender (`unknown` when missing)."""
    return (
        device_days_df.join(_one_subscriber_row(subscribers_df), on=S.PSEUDO_ID, how="left")
        .withColumns(
            {
                S.AGE_BAND: F.coalesce(F.col(S.AGE_BAND), F.lit(S.AGE_UNKNOWN)),
                S.GENDER: F.coalesce(F.col(S.GENDER), F.lit(S.GENDER_UNKNOWN)),
            }
        )
        .select(S.PSEUDO_ID, *DEMOGRAPHICS_KEYS)
    )


def contributions_arrival_direction(device_days_df: DataFrame) -> DataFrame:
    """Return one row per device-zone-day: pseudo_id, zone_id, date, direction (of the day's first visit)."""
    return device_days_df.withColumnRenamed(S.ARRIVAL_DIRECTION, S.DIRECTION).select(
        S.PSEUDO_ID, *ARRIVAL_DIRECTION_KEYS
    )


def contributions_catchment(device_days_df: DataFrame, *, home_df: DataFrame) -> DataFrame:
    """Return one row per device-zone-day: pseudo_id, zone_id, date, home_district_id (`unknown` when missing),
    is_resident."""
    # device_home has one row per pseudo_id and date by construction; guard the join against fan-out all the same
    homes = home_df.groupBy(S.PSEUDO_ID, S.DATE).agg(
        F.max(F.struct(S.NIGHTS, S.HOME_DISTRICT_ID))[S.HOME_DISTRICT_ID].alias(S.HOME_DISTRICT_ID)
    )
    return (
        device_days_df.join(homes, on=[S.PSEUDO_ID, S.DATE], how="left")
        .withColumn(S.HOME_DISTRICT_ID, F.coalesce(F.col(S.HOME_DISTRICT_ID), F.lit(S.HOME_UNKNOWN)))
        .select(S.PSEUDO_ID, *CATCHMENT_KEYS)
    )


def contributions_repeat_visits(repeat_df: DataFrame) -> DataFrame:
    """Return one row per device, zone and week with a visit: pseudo_id, zone_id, week, visit_days as a bucket
    ("1", "2", "3", "4+")."""
    top = len(S.VISIT_DAYS_BUCKETS)  # the last bucket is open: 4 and more
    days = F.col(S.VISIT_DAYS)
    bucket = F.when(days >= top, F.lit(S.VISIT_DAYS_BUCKETS[-1])).otherwise(days.cast("string"))
    return (
        repeat_df.where(days >= 1)
        # one row per device-zone-week by construction; max keeps the device in one bucket if that ever breaks
        .groupBy(S.PSEUDO_ID, S.ZONE_ID, S.WEEK)
        .agg(F.max(S.VISIT_DAYS).alias(S.VISIT_DAYS))
        .withColumn(S.VISIT_DAYS, bucket)
        .select(S.PSEUDO_ID, *REPEAT_VISITS_KEYS)
    )


def contributions_flows(transitions_df: DataFrame) -> DataFrame:
    """Return one row per device, from_zone_id, to_zone_id and date it travelled between them."""
    # a device making the same trip twice a day is still one traveller
    return transitions_df.select(S.PSEUDO_ID, *FLOWS_KEYS).distinct()


def agg_distinct_devices(contributions_df: DataFrame, *, keys: Sequence[str], value_col: str = S.VISITORS) -> DataFrame:
    """Return the keys and `value_col`: the number of distinct pseudo_id per keys, as a long."""
    return (
        contributions_df.groupBy(*keys)
        .agg(F.countDistinct(S.PSEUDO_ID).cast("long").alias(value_col))
        .select(*keys, value_col)
    )
