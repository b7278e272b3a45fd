"""Which gold dates a forget makes pending: every held date of the ISO weeks of the LOCAL dates of the derived
rows it deletes and of the day after each stays date; and `footfall forget` republishes them or, with
--no-republish, leaves them pending."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from pyspark.sql import SparkSession
from tests.daily import write_config
from typer.testing import CliRunner

from footfall import schemas as S
from footfall.config import Config
from footfall.ingest import run_forget, run_ingest
from footfall.lakehouse import SILVER_TABLES, read_table, silver_path, write
from test_ingest_fixtures import (
    ADULT_F,
    ADULT_M,
    KEY,
    LATE_OBJECTOR,
    SUBSCRIBERS,
    SUBSCRIBERS_HEADER,
    make_landing,
    master_key,
    stays_from_events,
    write_csv,
)

D = dt.date(2026, 3, 2)  # a Monday: local midnight is 2026-03-01T23:00Z (UTC+1 in Berlin until 29 March)
BEFORE, AFTER = D - dt.timedelta(days=1), D + dt.timedelta(days=1)
W09, W10 = "2026-W09", "2026-W10"


def _day(n: int) -> dt.date:
    return dt.date(2026, 3, n)


def test_the_dates_a_deletion_reaches_are_every_held_date_of_their_weeks() -> None:
    from footfall.ingest.forget import affected_gold_dates

    held = {_day(n) for n in range(1, 8)}  # Sunday 1 March (W09) to Saturday 7 March (W10)
    w10 = [_day(n) for n in range(2, 8)]
    assert affected_gold_dates(stays={_day(3)}, dates=set(), weeks={W10}, held=held) == w10
    # the day after the last date silver holds has no gold: its week is the one of the 7th
    assert affected_gold_dates(stays={_day(7)}, dates=set(), weeks=set(), held=held) == w10
    # a Sunday's stays reach the Monday after: two weeks
    assert affected_gold_dates(stays={_day(1)}, dates=set(), weeks=set(), held=held) == [_day(1), *w10]
    assert affected_gold_dates(stays=set(), dates={_day(3)}, weeks={W09, W10}, held=held) == [_day(1), *w10]
    assert affected_gold_dates(stays=set(), dates=set(), weeks={W10}, held={_day(4), _day(5)}) == [_day(4), _day(5)]


def test_two_objectors_active_on_different_days_of_a_week_republish_the_same_dates() -> None:
    """The republished dates are written to _publications, commit metadata and the validation runs: they must not
    tell on which days an objector's phone was in the city, only in which weeks (issue 30). Before, the first
    objector gave Monday and Tuesday, the second Thursday and Friday."""
    from footfall.ingest.forget import affected_gold_dates, republish_dates

    held = {_day(n) for n in range(2, 9)}  # the whole of W10, Monday to Sunday
    monday = affected_gold_dates(stays={_day(2)}, dates={_day(2)}, weeks={W10}, held=held)
    thursday = affected_gold_dates(stays={_day(5)}, dates={_day(5)}, weeks={W10}, held=held)
    homes_only = affected_gold_dates(stays=set(), dates={_day(8)}, weeks=set(), held=held)
    assert monday == thursday == homes_only == sorted(held)
    assert republish_dates(monday, published=held) == republish_dates(thursday, published=held) == sorted(held)


def test_only_pending_dates_gold_holds_are_republished_and_every_pending_week_gets_one() -> None:
    from footfall.ingest.forget import republish_dates

    published = {_day(n) for n in (2, 3, 4, 8)}  # Monday to Wednesday and Sunday of W10
    assert republish_dates([_day(3), _day(4)], published=published) == [_day(3), _day(4)]
    # Sunday 1 March (W09) has no gold: nothing to fix there; never published, it is built without the rows
    assert republish_dates([_day(1)], published=published) == []
    # the 6th has no gold, but its week has: one of the week's published dates rewrites the week
    assert republish_dates([_day(6)], published=published) == [_day(2)]
    assert republish_dates([_day(6), _day(8)], published=published) == [_day(8)]
    assert republish_dates([], published=published) == []


def _object(config: Config, msisdn: str, at: str) -> None:
    rows = [(*r[:4], "true", at) if r[0] == msisdn else r for r in SUBSCRIBERS]
    write_csv(config.landing / "subscribers.csv", SUBSCRIBERS_HEADER, rows)


def _write_stays(spark: SparkSession, config: Config, *, also: dt.date) -> None:
    """Write silver/stays as mobility would: one ten-minute stay per silver event, dated by its LOCAL entry date,
    plus one stay of another device on `also`."""
    events = read_table(spark, silver_path(config.lakehouse, S.SILVER_EVENTS_TABLE))
    stays = stays_from_events(events, minutes=10, tz=config.timezone)
    at = dt.datetime.combine(also, dt.time(9))
    other = spark.createDataFrame(
        [("someone-else", "Z1", at, at, 0, False, "unknown", None, 1.0, False, also)], S.SILVER_STAYS
    )
    held = stays.unionByName(other)
    write(held, SILVER_TABLES[S.SILVER_STAYS_TABLE], config.lakehouse, values=[BEFORE, D, AFTER])


@pytest.fixture
def midnight(spark: SparkSession, tmp_path: Path) -> Config:
    """Return a lakehouse where LATE_OBJECTOR was seen only at local midnight starting D (UTC: the day before), and
    others on the evening before and on D; stays are held for the day before, D and the day after."""
    config = make_landing(
        tmp_path,
        events={
            BEFORE: [
                (ADULT_F, "2026-03-01T12:00:00Z", "C1", "data"),
                (ADULT_M, "2026-03-01T22:59:59Z", "C1", "data"),  # local 23:59:59 on the 1st
                (LATE_OBJECTOR, "2026-03-01T23:00:00Z", "C1", "data"),  # local 00:00:00 on the 2nd
                (LATE_OBJECTOR, "2026-03-01T23:40:00Z", "C1", "data"),
            ],
            D: [(ADULT_F, "2026-03-02T08:00:00Z", "C1", "data")],
        },
        period_days=28,
    )
    run_ingest(spark, config, dates=[BEFORE, D], key=master_key())
    _write_stays(spark, config, also=AFTER)
    return config


def test_an_objector_seen_only_after_local_midnight_affects_that_local_date(
    spark: SparkSession, midnight: Config
) -> None:
    """The objector's events are in the UTC partition of the 1st; their stays, and the gold that read them, are of
    the 2nd and (overnight visits) the 3rd."""
    config = midnight
    _object(config, LATE_OBJECTOR, "2026-03-03T09:00:00Z")
    report = run_forget(spark, config, key=master_key())
    assert report.affected_dates == [D, AFTER]

    from footfall.ingest.forget import read_pending_dates

    assert report.pending_dates == read_pending_dates(spark, config.lakehouse) == [D, AFTER]
    audit = read_table(spark, silver_path(config.lakehouse, S.SILVER_FORGET_AUDIT_TABLE)).collect()
    assert [r[S.AFFECTED_DATES] for r in audit] == [[D, AFTER]]
    stays = read_table(spark, silver_path(config.lakehouse, S.SILVER_STAYS_TABLE))
    assert sorted(r[S.DATE] for r in stays.collect()) == [BEFORE, BEFORE, D, AFTER]  # the others' stays stay


def test_forget_without_republish_leaves_the_dates_pending_and_forget_clears_them(
    spark: SparkSession, midnight: Config, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No gold yet: nothing to republish, so the next `footfall forget` clears what --no-republish left."""
    from footfall.cli import app
    from footfall.ingest.forget import read_pending_dates

    config = midnight
    monkeypatch.setenv("FOOTFALL_PSEUDONYM_KEY", KEY)
    cfg = str(write_config(config, config.lakehouse.parent / "cfg.yaml"))
    _object(config, LATE_OBJECTOR, "2026-03-03T09:00:00Z")

    held = CliRunner().invoke(app, ["forget", "--no-republish", "--config", cfg])
    assert held.exit_code == 0, held.output
    assert "dates affected: 2026-03-02, 2026-03-03" in held.output
    assert "--no-republish: gold of 2026-03-02, 2026-03-03 stays pending" in held.output
    assert read_pending_dates(spark, config.lakehouse) == [D, AFTER]

    done = CliRunner().invoke(app, ["forget", "--config", cfg])
    assert done.exit_code == 0, done.output
    assert "0 new objections" in done.output
    assert "gold republished: none; no longer pending: 2026-03-02, 2026-03-03" in done.output
    assert read_pending_dates(spark, config.lakehouse) == []
