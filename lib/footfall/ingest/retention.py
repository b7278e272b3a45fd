"""Retention: pseudonymous silver keeps the newest `privacy.retention_days` local dates, no more.

The dates count back from the newest local date the run holds (silver's or the run's own, whichever is later), and
the cut falls on a Monday, so that no ISO week is partly kept: the weekly tables and the week's pseudonym period
stay whole. Older partitions of every table that holds pseudonyms are deleted and vacuumed with retention 0, like
an objection's rows (`forget`), so no old version keeps them. Gold holds no pseudonym and stays.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from delta.tables import DeltaTable
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from footfall import commit_log
from footfall import schemas as S
from footfall.config import Config
from footfall.lakehouse import (
    DERIVED_PSEUDONYMISED,
    PSEUDONYMISED,
    SILVER_TABLES,
    partition_dates,
    read_table,
    run_together,
    silver_path,
    table_exists,
    vacuuming,
)

_log = logging.getLogger("footfall")
# Derived tables partitioned by local date; a gold date reads all of them (docs/outputs.md).
DATED = (
    S.SILVER_STAYS_TABLE,
    S.SILVER_EXPECTED_VISITS_TABLE,
    S.SILVER_DEVICE_HOME_TABLE,
    S.SILVER_ZONE_TRANSITIONS_TABLE,
)


class RetentionError(ValueError):
    """A requested date is older than the retention: its pseudonymous data is gone; nothing was written."""


@dataclass(frozen=True)
class RetentionReport:
    cutoff: dt.date | None  # the first local date kept; None when silver holds no date yet
    tables: list[str]  # the tables that lost partitions, each vacuumed


def iso_week(day: dt.date) -> str:
    # the label mobility writes (mobility.calendar.iso_week); ingest does not import mobility
    year, week, _ = day.isocalendar()
    return f"{year:04d}-W{week:02d}"


def retention_cutoff(newest: dt.date, *, days: int) -> dt.date:
    """Return the first local date kept when `newest` is the newest date held: the Monday of the week that holds
    the first of the `days` newest dates. So between `days` and `days` + 6 dates are kept."""
    first = newest - dt.timedelta(days=days - 1)
    return first - dt.timedelta(days=first.weekday())


def refuse_expired(spark: SparkSession, config: Config, dates: Sequence[dt.date], *, utc: bool = False) -> None:
    """Raise RetentionError when a named date is older than the retention of what silver holds: a stage command
    (`footfall mobility`, `publish`) would rebuild it from deleted silver, and a publish would replace its gold with
    nothing. `utc`: the dates are UTC event dates (`footfall ingest`), kept from the events' first kept date on."""
    if not dates:
        return
    days = config.privacy.retention_days
    cutoff = retention_cutoff(max([*dates, *held_dates(spark, config.lakehouse)]), days=days)
    first = first_kept(S.SILVER_EVENTS_TABLE, cutoff=cutoff, period_days=0) if utc else cutoff
    expired = sorted(d for d in dates if isinstance(first, dt.date) and d < first)
    if expired:
        raise _expired(expired, days=days, first=first, what="UTC event dates" if utc else "local dates")


def first_kept(table: str, *, cutoff: dt.date, period_days: int) -> dt.date | str:
    """Return the oldest partition value of `table` that a run with `cutoff` keeps: every older partition goes.

    Besides the dates from `cutoff` on, silver keeps what gold of `cutoff` reads from before it, so that a
    republication of that date (after an objection) gives what its first publication gave.
    """
    day_before = cutoff - dt.timedelta(days=1)
    first: dict[str, dt.date | str] = {
        # gold of a date counts the visits that began the evening before (docs/outputs.md)
        S.SILVER_STAYS_TABLE: day_before,
        S.SILVER_EXPECTED_VISITS_TABLE: day_before,
        S.SILVER_DEVICE_HOME_TABLE: cutoff,
        S.SILVER_ZONE_TRANSITIONS_TABLE: cutoff,
        S.SILVER_NIGHT_VOTES_TABLE: cutoff,
        S.SILVER_REPEAT_VISITS_TABLE: iso_week(cutoff),  # labels sort as weeks do
        # UTC dates: local midnight of the day before is on the UTC date before that (Europe/Berlin)
        S.SILVER_EVENTS_TABLE: cutoff - dt.timedelta(days=2),
        S.SILVER_QUARANTINE_TABLE: cutoff - dt.timedelta(days=2),
        # a pseudonym period goes once its last date has: the key period is the unit of linkability
        S.SILVER_SUBSCRIBERS_TABLE: cutoff - dt.timedelta(days=period_days - 1),
    }
    return first[table]


def held_dates(spark: SparkSession, lakehouse: Path) -> set[dt.date]:
    """Return the local dates any date-partitioned derived table holds (no Spark job for a local lakehouse: read
    from the Delta logs)."""
    held: set[dt.date] = set()
    for table in DATED:
        held |= partition_dates(spark, silver_path(lakehouse, table), S.DATE)
    return held


def _expired(dates: Sequence[dt.date], *, days: int, first: dt.date | str, what: str) -> RetentionError:
    more = f" (and {len(dates) - 1} more)" if len(dates) > 1 else ""
    return RetentionError(
        f"{dates[0]}{more} is older than privacy.retention_days ({days}): silver keeps {what} from {first} on, older "
        "pseudonymous data is deleted, and its gold stays as published; nothing was written"
    )


def dates_in_retention(
    requested: Sequence[dt.date], *, newest_held: dt.date | None, days: int, explicit: bool
) -> tuple[list[dt.date], dt.date]:
    """Return the requested dates a run may process, and the cutoff: the first local date kept.

    An older date named by the caller (`explicit`, `--start`) stops the run: its events, stays and homes were
    deleted, so footfall cannot rebuild it, and its gold stays as published. Older landing dates a run picked up by
    itself (no dates given) are left out.
    """
    newest = max([*requested, *([newest_held] if newest_held else [])])
    cutoff = retention_cutoff(newest, days=days)
    expired = [d for d in requested if d < cutoff]
    if expired and explicit:
        raise _expired(expired, days=days, first=cutoff, what="local dates")
    kept = [d for d in requested if d >= cutoff]
    if not kept:
        raise RetentionError(f"every landing date is older than {cutoff} (privacy.retention_days {days}): nothing run")
    return kept, cutoff


def _holds_older(spark: SparkSession, lakehouse: Path, table: str, *, first: dt.date | str) -> bool:
    """Return True when `table` holds a partition older than `first` (read from the Delta log when local)."""
    path, partition = silver_path(lakehouse, table), SILVER_TABLES[table].partition
    if partition is None or not table_exists(spark, path):
        return False
    if isinstance(first, str):  # week labels
        labels = commit_log.partition_values(path, partition)
        if labels is None:
            labels = {r[partition] for r in read_table(spark, path).select(partition).distinct().collect()}
        return any(label is not None and label < first for label in labels)
    return any(d < first for d in partition_dates(spark, path, partition))


def run_retention(spark: SparkSession, config: Config, *, cutoff: dt.date) -> RetentionReport:
    """Delete every partition older than `cutoff` from the tables that hold pseudonyms, and VACUUM them with
    retention 0. A table with nothing that old is not touched (no commit)."""
    lake = config.lakehouse
    first = {
        t: first_kept(t, cutoff=cutoff, period_days=config.privacy.pseudonym_period_days)
        for t in (*PSEUDONYMISED, *DERIVED_PSEUDONYMISED)
    }
    tables = [t for t, value in first.items() if _holds_older(spark, lake, t, first=value)]

    def purge(table: str, vacuum: Callable[[str], None]) -> None:
        path = silver_path(lake, table)
        # on the partition column only: Delta drops whole files and reads none
        partition = SILVER_TABLES[table].partition
        assert partition is not None  # _holds_older found a partition older than the first kept
        DeltaTable.forPath(spark, path).delete(F.col(partition) < F.lit(first[table]))
        _log.info("retention: VACUUM of silver/%s started", table)
        vacuum(path)

    if tables:
        with vacuuming(spark) as vacuum:
            run_together(spark, {t: partial(purge, t, vacuum) for t in tables})
    return RetentionReport(cutoff, tables)
