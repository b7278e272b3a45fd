"""Which events a local date is built from: its window of UTC partitions, and the nights behind its homes.

Batch invariance (docs/mobility.md): everything mobility writes for a local date is a function of the events of
that date's own window, never of the other dates a run happens to cover. A run of several dates therefore tags
each event with every date whose window holds it (an event near midnight belongs to two windows) and computes
per (device, window date), exactly as a run of each date alone would.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from zoneinfo import ZoneInfo

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import types as T

from footfall import schemas as S

WINDOW_DATE = "window_date"
NIGHT = S.NIGHT


def local_day_utc(day: dt.date, *, tz: str) -> tuple[dt.datetime, dt.datetime]:
    """Return the UTC instants [start, end) of a local date (23 or 25 hours long on DST days)."""
    zone = ZoneInfo(tz)
    start = dt.datetime.combine(day, dt.time(), tzinfo=zone).astimezone(dt.UTC)
    end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), tzinfo=zone).astimezone(dt.UTC)
    return start, end


def _utc_dates(start: dt.datetime, end: dt.datetime) -> list[dt.date]:
    last = (end - dt.timedelta(microseconds=1)).date()
    return [start.date() + dt.timedelta(days=i) for i in range((last - start.date()).days + 1)]


def window_event_dates(day: dt.date, *, tz: str, lookback_s: int) -> list[dt.date]:
    """Return the UTC event dates a local date's stays are built from.

    Every UTC partition that overlaps [local start - lookback, local end): the lookback covers the rules that
    look before a stay's first event (the gap that starts a stay, the entry estimate, the arrival direction).
    Whole partitions are read, so a stay entered late in the evening is followed to the end of the last one.
    """
    start, end = local_day_utc(day, tz=tz)
    return _utc_dates(start - dt.timedelta(seconds=lookback_s), end)


def home_nights(day: dt.date, *, nights: int) -> list[dt.date]:
    """Return the nights (named by the local date they start on) a date's homes are voted from: the `nights`
    nights that end on the morning of `day` or earlier."""
    return [day - dt.timedelta(days=i) for i in range(nights, 0, -1)]


def night_event_dates(night: dt.date, *, tz: str, night_start_hour: int, night_end_hour: int) -> list[dt.date]:
    """Return the UTC event dates a night (local `night_start_hour` to `night_end_hour` next morning) spans."""
    zone = ZoneInfo(tz)
    start = dt.datetime.combine(night, dt.time(night_start_hour), tzinfo=zone).astimezone(dt.UTC)
    end = dt.datetime.combine(night + dt.timedelta(days=1), dt.time(night_end_hour), tzinfo=zone).astimezone(dt.UTC)
    return _utc_dates(start, end)


def windows_event_dates(days: Iterable[dt.date], *, tz: str, lookback_s: int) -> list[dt.date]:
    """Return the UTC event dates the windows of `days` span together."""
    return sorted({u for day in days for u in window_event_dates(day, tz=tz, lookback_s=lookback_s)})


def nights_event_dates(
    days: Iterable[dt.date], *, tz: str, nights: int, night_start_hour: int, night_end_hour: int
) -> list[dt.date]:
    """Return the UTC event dates the home nights of `days` span together."""
    return sorted(
        {
            u
            for day in days
            for night in home_nights(day, nights=nights)
            for u in night_event_dates(night, tz=tz, night_start_hour=night_start_hour, night_end_hour=night_end_hour)
        }
    )


def input_event_dates(
    days: Iterable[dt.date],
    *,
    tz: str,
    lookback_s: int,
    nights: int,
    night_start_hour: int,
    night_end_hour: int,
) -> list[dt.date]:
    """Return every UTC event date that mobility needs in silver to build `days`: windows and home nights."""
    days = list(days)
    hours = {"night_start_hour": night_start_hour, "night_end_hour": night_end_hour}
    windows = windows_event_dates(days, tz=tz, lookback_s=lookback_s)
    return sorted({*windows, *nights_event_dates(days, tz=tz, nights=nights, **hours)})


def stay_dates(days: Iterable[dt.date]) -> list[dt.date]:
    """Return the dates whose stays a publication of `days` reads: each date and the one before it (a stay
    entered the evening before counts on the next day too)."""
    return sorted({d for day in days for d in (day - dt.timedelta(days=1), day)})


def window_map_df(spark: SparkSession, days: Sequence[dt.date], *, tz: str, lookback_s: int) -> DataFrame:
    """Return (event_date, window_date): which local dates' windows each UTC event date belongs to."""
    rows = [(u, day) for day in sorted(set(days)) for u in window_event_dates(day, tz=tz, lookback_s=lookback_s)]
    schema = T.StructType(
        [T.StructField(S.EVENT_DATE, T.DateType(), False), T.StructField(WINDOW_DATE, T.DateType(), False)]
    )
    return spark.createDataFrame(rows, schema)


def night_map_df(spark: SparkSession, days: Sequence[dt.date], *, nights: int) -> DataFrame:
    """Return (night, date): which dates' homes each night votes for."""
    rows = [(night, day) for day in sorted(set(days)) for night in home_nights(day, nights=nights)]
    schema = T.StructType([T.StructField(NIGHT, T.DateType(), False), T.StructField(S.DATE, T.DateType(), False)])
    return spark.createDataFrame(rows, schema)
