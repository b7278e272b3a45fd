"""The circuit breaker on quarantine (issue 34, docs/ingest.md "Guards"): a landing date that loses most of its rows
to the checks stops the run with one line and exit 9 before anything is written, unless an operator accepts it."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
import yaml
from pyspark.sql import SparkSession
from typer.testing import CliRunner

from footfall import schemas as S
from footfall.config import GuardsConfig
from footfall.ingest.guards import QuarantineGuardError, check_quarantine, quarantine_breaches
from footfall.lakehouse import read_table, silver_path, table_version
from test_ingest_fixtures import ADULT_F, ADULT_M, DAY, KEY, make_landing

GUARDS = GuardsConfig()  # the defaults: 25 % in all, 10 % for one quarantine reason, 25 % minors


def _audit(*, silver: int, read: int = 100, opted_out: int = 0, minor: int = 0, **reasons: int) -> dict[str, Any]:
    by_reason = {r: 0 for r in S.REASONS} | {S.BAD_OPTED_OUT: opted_out, S.REASON_MINOR: minor} | reasons
    return {
        S.EVENT_DATE: DAY,
        S.ROWS_READ: read,
        S.ROWS_SILVER: silver,
        S.ROWS_QUARANTINED: sum(reasons.values()),
        S.ROWS_OPTED_OUT: opted_out,
        S.ROWS_MINOR: minor,
        S.ROWS_BY_REASON: by_reason,
    }


def _what(row: dict[str, Any]) -> list[tuple[str, float]]:
    return [(b.what, round(b.share, 2)) for b in quarantine_breaches([row], guards=GUARDS)]


def test_each_threshold_trips_just_above_its_share_and_objections_never() -> None:
    assert _what(_audit(silver=91, unknown_cell=9)) == []
    assert _what(_audit(silver=90, unknown_cell=10)) == []  # at the line: not above it
    assert _what(_audit(silver=89, unknown_cell=11)) == [("unknown_cell", 0.11)]
    assert _what(_audit(silver=75, minor=25)) == []
    assert _what(_audit(silver=74, minor=26)) == [("all", 0.26), ("minor", 0.26)]
    # every reason below its own line, together above the total's: 5 of each of five reasons
    five = {r: 5 for r in ("duplicate", "unknown_cell", "bad_timestamp", "out_of_day", "cell_inactive")}
    assert _what(_audit(silver=75, **five)) == []
    assert _what(_audit(silver=74, minor=1, **five)) == [("all", 0.26)]
    # 93 % dropped as objections is the product working, not a fault
    assert _what(_audit(silver=7, opted_out=93)) == []
    assert _what(_audit(silver=0, read=0)) == []  # an empty partition has no share


def test_a_breach_stops_in_one_line_unless_accepted() -> None:
    row = _audit(silver=7, minor=93)  # issue 34: a pseudonym period of 35,000 days makes almost everyone a minor
    with pytest.raises(QuarantineGuardError) as stopped:
        check_quarantine([row], guards=GUARDS)
    message = str(stopped.value)
    assert "\n" not in message
    assert "2026-03-02: 93.0% of 100 rows read quarantined or dropped (most: minor 93), above" in message
    assert "guards.max_dropped_share 25%" in message
    assert "(and 1 more)" in message and "--accept-quarantine" in message
    accepted = check_quarantine([row], guards=GUARDS.model_copy(update={"accept_quarantine": True}))
    assert list(accepted) == [DAY] and "minor" in accepted[DAY] and "max_minor_share" in accepted[DAY]


def _two_dates(tmp_path: Path) -> tuple[Path, dt.date]:
    """A landing of two dates: DAY is a normal day, the next one has 9 of its 10 rows on a cell the inventory does not
    hold (a new inventory that lacks most cells). Returns the YAML config with the guards on (make_landing turns
    them off for its catalogue of bad rows) and the bad date."""
    bad = DAY + dt.timedelta(days=1)
    good_rows = [(ADULT_F, f"2026-03-02T08:{m:02d}:00Z", "C1", "data") for m in range(10)]
    bad_rows = [(ADULT_M, f"2026-03-03T09:{m:02d}:00Z", "C404", "data") for m in range(9)]
    config = make_landing(
        tmp_path, events={DAY: good_rows, bad: [*bad_rows, (ADULT_F, "2026-03-03T10:00:00Z", "C1", "data")]}
    )
    raw = config.model_dump(mode="json")
    raw["guards"] = GuardsConfig().model_dump(mode="json")
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path, bad


def test_a_bad_date_in_a_multi_date_run_stops_it_before_any_write(
    spark: SparkSession, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Exit 9 with one line naming the date, the reason and the share; the good date is not written either. With
    --accept-quarantine the same command ingests both dates and the bad date's audit row records the breach."""
    from footfall.cli import app
    from footfall.ingest.pseudonym import ENV_KEY

    monkeypatch.setenv(ENV_KEY, KEY)
    config_file, bad = _two_dates(tmp_path)
    lakehouse = tmp_path / "lakehouse"
    args = ["ingest", "--start", DAY.isoformat(), "--end", bad.isoformat(), "--config", str(config_file)]
    stopped = CliRunner().invoke(app, args)
    assert stopped.exit_code == 9, stopped.output
    lines = [line for line in stopped.output.splitlines() if line.strip()]
    assert len(lines) == 1 and "2026-03-03: 90.0% of 10 rows read" in lines[0] and "unknown_cell" in lines[0], lines
    events = silver_path(lakehouse, S.SILVER_EVENTS_TABLE)
    assert not Path(events).exists() and not Path(silver_path(lakehouse, S.SILVER_INGEST_AUDIT_TABLE)).exists()

    accepted = CliRunner().invoke(app, [*args, "--accept-quarantine"])
    assert accepted.exit_code == 0, accepted.output
    assert table_version(spark, events) is not None
    audit = read_table(spark, silver_path(lakehouse, S.SILVER_INGEST_AUDIT_TABLE)).collect()
    breaches = {r[S.EVENT_DATE]: r[S.ACCEPTED_BREACH] for r in audit}
    assert breaches[DAY] is None and "unknown_cell" in breaches[bad] and "90.0%" in breaches[bad]
