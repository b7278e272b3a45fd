"""Daily operation: runs by date give the same gold however the dates are batched, reruns touch nothing, one run
at a time, and no key file outside the demo path. All on the shared three-day city (tests/daily.py)."""

from __future__ import annotations

import datetime as dt
import io
import json
from pathlib import Path

import pytest
from pyspark.sql import SparkSession
from rich.console import Console
from tests.daily import DAYS, TEST_KEY, assert_gold_equal, daily_config, run_days

from footfall import schemas as S
from footfall.lakehouse import gold_path
from footfall.pipeline import MissingDatesError, run_pipeline

pytestmark = pytest.mark.integration


@pytest.fixture(autouse=True)
def _key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FOOTFALL_PSEUDONYM_KEY", TEST_KEY)


def _delta_versions(lakehouse: Path) -> dict[str, list[str]]:
    """Return, per Delta table under the lakehouse, the commit files of its log (what any write would add to)."""
    return {
        str(log.parent.relative_to(lakehouse)): sorted(p.name for p in log.glob("*.json"))
        for log in lakehouse.rglob("_delta_log")
    }


def test_days_run_in_reverse_give_the_gold_of_one_batch(
    spark: SparkSession, daily_landing: Path, daily_batch: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The hard order: each date runs before the dates it builds on, and before the weeks' other days."""
    config = daily_config(daily_landing, tmp_path / "lakehouse")
    for day in reversed(DAYS):
        run_days(config, [day])
    rows = assert_gold_equal(spark, config.lakehouse, daily_batch)
    with capsys.disabled():
        print(f"\n[daily] reverse order vs one batch: {len(rows)} gold tables, {sum(rows.values())} rows equal: {rows}")
    assert rows[S.GOLD_ZONE_FOOTFALL_HOURLY_TABLE] > 0 and rows[S.GOLD_ZONE_CATCHMENT_DAILY_TABLE] > 0


def test_days_run_in_order_give_the_gold_of_one_batch_and_a_rerun_touches_nothing(
    spark: SparkSession, daily_landing: Path, daily_batch: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = daily_config(daily_landing, tmp_path / "lakehouse")
    weekly = gold_path(config.lakehouse, S.GOLD_ZONE_REPEAT_VISITS_WEEKLY_TABLE)
    for day in DAYS:
        run_days(config, [day])
        # the week (2026-W10) publishes once, when its Sunday has run: a Friday copy against a Saturday copy
        # would give away Saturday's new visitors
        published = spark.read.format("delta").load(weekly).count()
        assert (published > 0) == (day == DAYS[-1]), (day, published)
    rows = assert_gold_equal(spark, config.lakehouse, daily_batch)
    with capsys.disabled():
        print(f"\n[daily] in order vs one batch: {len(rows)} gold tables, {sum(rows.values())} rows equal: {rows}")

    before = _delta_versions(config.lakehouse)
    printed = run_days(config, [DAYS[-1]])
    assert _delta_versions(config.lakehouse) == before
    for stage in ("ingest", "spatial", "mobility", "publish"):
        assert f"{stage}: skipped" in printed, printed
    assert "forget: no new objections" in printed


def test_a_week_is_published_once_its_sunday_hasrun_days() -> None:
    from footfall.publish.job import complete_weeks

    friday, sunday, monday = dt.date(2026, 3, 6), dt.date(2026, 3, 8), dt.date(2026, 3, 9)
    assert complete_weeks([friday], published=set()) == ()
    assert complete_weeks([friday, sunday, monday], published=set()) == ("2026-W10",)
    # a date of a published week run again (an objection, late data) rewrites the whole, complete week
    assert complete_weeks([friday], published={sunday.isoformat()}) == ("2026-W10",)
    assert complete_weeks([monday], published={sunday.isoformat()}) == ()


def test_a_date_without_landing_stops_before_writing(daily_landing: Path, tmp_path: Path) -> None:
    config = daily_config(daily_landing, tmp_path / "lakehouse")
    missing = DAYS[-1] + dt.timedelta(days=1)
    with pytest.raises(MissingDatesError, match=f"no landing partition for {missing}"):
        run_pipeline(config, console=Console(file=io.StringIO()), dates=[DAYS[0], missing])
    assert not (tmp_path / "lakehouse").exists()


def test_only_the_demo_path_creates_a_key(daily_landing: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """With the key in the environment no run writes a key file, demo or not; without a key, a run stops with a
    setup error instead of inventing one."""
    from footfall.ingest import PseudonymKeyError

    config = daily_config(daily_landing, tmp_path / "lakehouse")
    key_file = config.privacy.pseudonym_key_file
    monkeypatch.delenv("FOOTFALL_PSEUDONYM_KEY")
    with pytest.raises(PseudonymKeyError, match="no pseudonym key"):
        run_pipeline(config, console=Console(file=io.StringIO()), dates=[DAYS[0]])
    assert not key_file.exists() and not (tmp_path / "lakehouse").exists()


def test_a_second_run_stops_at_once_while_one_holds_the_lakehouse(daily_landing: Path, tmp_path: Path) -> None:
    """The lock names the holder; it is released when the holder ends, also when it is killed."""
    import os
    import signal
    import subprocess
    import sys

    from footfall.runlock import RunLockedError

    lakehouse = tmp_path / "lakehouse"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from pathlib import Path; from footfall.runlock import run_lock\n"
            f"with run_lock(Path({str(lakehouse)!r}), run_id='holder-run'):\n"
            "    print('held', flush=True); time.sleep(600)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        config = daily_config(daily_landing, lakehouse)
        with pytest.raises(RunLockedError, match=r"run holder-run .* is running on lakehouse"):
            run_pipeline(config, console=Console(file=io.StringIO()), dates=[DAYS[0]])
        assert json.loads((lakehouse / "_footfall.lock").read_text())["run_id"] == "holder-run"
        assert not (lakehouse / S.SILVER).exists()
    finally:
        os.kill(holder.pid, signal.SIGKILL)
        holder.wait()
    from footfall.runlock import run_lock

    with run_lock(lakehouse, run_id="after-crash") as path:  # the killed holder left no stale lock
        assert json.loads(path.read_text())["run_id"] == "after-crash"
