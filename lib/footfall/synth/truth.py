"""Ground truth tables computed from the true stays: hourly visitors and passers-by per zone, coverage."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from footfall import schemas as S


def local_day_bounds(day: dt.date, tz: str) -> tuple[dt.datetime, dt.datetime]:
    """Return the UTC instants of local midnight at the start and at the end of a local date."""
    zone = ZoneInfo(tz)
    start = dt.datetime.combine(day, dt.time(), tzinfo=zone).astimezone(dt.UTC)
    end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), tzinfo=zone).astimezone(dt.UTC)
    return start, end


def hour_slots(days: list[dt.date], tz: str) -> list[tuple[dt.date, int, dt.datetime, dt.datetime]]:
    """Return (local date, wall-clock hour, start, end) per hour of each local date: 23, 24 or 25 a day.

    On the autumn DST day the wall-clock hour 2 comes twice; the start instant tells the two apart.
    """
    zone = ZoneInfo(tz)
    slots = []
    for day in days:
        start, end = local_day_bounds(day, tz)
        n = round((end - start).total_seconds() / 3600)
        for h in range(n):
            slot_start = start + dt.timedelta(hours=h)
            slots.append((day, slot_start.astimezone(zone).hour, slot_start, slot_start + dt.timedelta(hours=1)))
    return slots


def agg_zone_hourly(stays_df: DataFrame, slots_df: DataFrame, zones_df: DataFrame, *, min_visit_s: int) -> DataFrame:
    """Return truth zone_hourly: per zone and local hour slot, distinct visitors and distinct passers-by.

    A visitor has a stay of at least `min_visit_s` that overlaps the slot; a passer-by has stays overlapping
    the slot and none of them that long. Every zone gets every slot, with zeros where nobody came.
    """
    stays = stays_df.withColumn(
        "is_visit", (F.unix_timestamp(S.LEFT_AT) - F.unix_timestamp(S.ENTERED_AT)) >= F.lit(min_visit_s)
    )
    overlap = stays.join(
        F.broadcast(slots_df),
        (F.col(S.ENTERED_AT) < F.col("slot_end")) & (F.col(S.LEFT_AT) > F.col("slot_start")),
        how="inner",
    )
    slot: list[Column | str] = [S.ZONE_ID, S.DATE, S.HOUR, F.col("slot_start").alias(S.HOUR_START_UTC)]
    per_person = overlap.groupBy(*slot, S.MSISDN).agg(F.max("is_visit").alias("any_visit"))
    counts = per_person.groupBy(S.ZONE_ID, S.DATE, S.HOUR, S.HOUR_START_UTC).agg(
        F.count(F.when(F.col("any_visit"), 1)).cast("long").alias(S.VISITORS),
        F.count(F.when(~F.col("any_visit"), 1)).cast("long").alias(S.PASSERS_BY),
    )
    grid = zones_df.select(S.ZONE_ID).crossJoin(
        F.broadcast(slots_df.select(S.DATE, S.HOUR, F.col("slot_start").alias(S.HOUR_START_UTC)))
    )
    return (
        grid.join(counts, on=[S.ZONE_ID, S.DATE, S.HOUR, S.HOUR_START_UTC], how="left")
        .fillna(0, subset=[S.VISITORS, S.PASSERS_BY])
        .select(S.ZONE_ID, S.DATE, F.col(S.HOUR).cast("int"), S.HOUR_START_UTC, S.VISITORS, S.PASSERS_BY)
    )


def slots_frame(spark: SparkSession, days: list[dt.date], tz: str) -> DataFrame:
    """Return hour_slots as a DataFrame (date, hour, slot_start, slot_end)."""
    return spark.createDataFrame(
        hour_slots(days, tz), f"{S.DATE} DATE, {S.HOUR} INT, slot_start TIMESTAMP, slot_end TIMESTAMP"
    )


def agg_visit_coverage(
    visits_df: DataFrame, events_df: DataFrame, overlap_df: DataFrame, *, min_visit_s: int
) -> DataFrame:
    """Return, per zone category, the share of true visits with at least one event on a cell overlapping the zone.

    `events_df` holds valid events (msisdn, ts, cell_id); `overlap_df` pairs (cell_id, zone_id) whose nominal
    footprints intersect. This bounds what any cell-based estimate can see.
    """
    visits = visits_df.where(F.unix_timestamp(S.LEFT_AT) - F.unix_timestamp(S.ENTERED_AT) >= min_visit_s)
    seen = (
        visits.join(events_df, on=S.MSISDN, how="inner")
        .where((F.col("ts") >= F.col(S.ENTERED_AT)) & (F.col("ts") <= F.col(S.LEFT_AT)))
        .join(F.broadcast(overlap_df), on=[S.CELL_ID, S.ZONE_ID], how="inner")
        .select(S.MSISDN, S.ZONE_ID, S.ENTERED_AT)
        .distinct()
        .withColumn("is_seen", F.lit(True))
    )
    return (
        visits.join(seen, on=[S.MSISDN, S.ZONE_ID, S.ENTERED_AT], how="left")
        .groupBy(S.CATEGORY)
        .agg(F.count(F.lit(1)).alias("visits"), F.count("is_seen").alias("visits_seen"))
        .withColumn("share_seen", F.col("visits_seen") / F.col("visits"))
        .orderBy(S.CATEGORY)
    )
