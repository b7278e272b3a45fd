"""Local time for everything reported: which local dates and hours a stay covers.

Rules (docs/mobility.md): a stay counts on every local date and in every local hour its interval
[entered_at, left_at) overlaps, so a stay across midnight counts on both days. Hours are identified by the UTC
instant they start (`hour_start_utc`) plus the local date and wall-clock hour, which keeps the two 02:00 hours
of the autumn DST day apart and gives the spring day 23 hours. Zones must use a whole-hour UTC offset
(all of Europe does); a half-hour zone would need slot starts computed from the zone rules instead.
"""

from __future__ import annotations

import datetime as dt

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from footfall import schemas as S

_LAST_INSTANT = "_last_instant"


def _last_instant(df: DataFrame) -> DataFrame:
    # [entered, left): a stay that ends exactly at midnight does not count on the next day
    return df.withColumn(
        _LAST_INSTANT,
        F.when(F.col(S.LEFT_AT) > F.col(S.ENTERED_AT), F.col(S.LEFT_AT) - F.expr("INTERVAL 1 SECOND")).otherwise(
            F.col(S.ENTERED_AT)
        ),
    )


def with_local_dates(stays_df: DataFrame, *, tz: str) -> DataFrame:
    """Return one row per stay and local date it overlaps, with `date`."""
    first = F.to_date(F.from_utc_timestamp(S.ENTERED_AT, tz))
    last = F.to_date(F.from_utc_timestamp(_LAST_INSTANT, tz))
    return (
        stays_df.transform(_last_instant)
        .withColumn(S.DATE, F.explode(F.sequence(first, last, F.expr("INTERVAL 1 DAY"))))
        .drop(_LAST_INSTANT)
    )


def with_local_hours(stays_df: DataFrame, *, tz: str) -> DataFrame:
    """Return one row per stay and hour it overlaps, with `hour_start_utc`, local `date` and wall-clock `hour`."""
    first = F.date_trunc("hour", S.ENTERED_AT)
    last = F.date_trunc("hour", _LAST_INSTANT)
    local = F.from_utc_timestamp(S.HOUR_START_UTC, tz)
    return (
        stays_df.transform(_last_instant)
        .withColumn(S.HOUR_START_UTC, F.explode(F.sequence(first, last, F.expr("INTERVAL 1 HOUR"))))
        .withColumns({S.DATE: F.to_date(local), S.HOUR: F.hour(local)})
        .drop(_LAST_INSTANT)
    )


def with_iso_week(df: DataFrame, *, date_col: str = S.DATE) -> DataFrame:
    """Add `week` as an ISO week label such as 2026-W10 (the ISO year, which can differ from the date's year)."""
    year = F.extract(F.lit("YEAROFWEEK"), F.col(date_col))
    week = F.weekofyear(date_col)
    return df.withColumn("week", F.format_string("%04d-W%02d", year, week))


def iso_week(day: dt.date) -> str:
    """Return the ISO week label of a date, e.g. 2026-W10 (the label `with_iso_week` writes)."""
    year, week, _ = day.isocalendar()
    return f"{year:04d}-W{week:02d}"


def iso_week_dates(week: str) -> list[dt.date]:
    """Return the seven dates, Monday to Sunday, of an ISO week label such as 2026-W10."""
    year, number = week.split("-W")
    monday = dt.date.fromisocalendar(int(year), int(number), 1)
    return [monday + dt.timedelta(days=i) for i in range(7)]
