"""Daily operation, the daily order: the dates of the shared three-day city run one by one in order give the gold
of one batch run, the week publishes once with its Sunday, and a rerun with nothing new writes nothing.

A file of its own beside test_daily_runs.py (the out-of-order runs), so that make test's two processes run both at once;
both compare with the one batch run of the city (conftest.py, `daily_batch`, built once per test run)."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pytest
from pyspark.sql import SparkSession
from tests.daily import DAYS, TEST_KEY, assert_gold_equal, daily_config, run_days

from footfall import schemas as S
from footfall.lakehouse import commit_metadatas, gold_path, silver_path
from footfall.mobility.job import NIGHTS_BUILT
from footfall.mobility.job import STAGE as MOBILITY

pytestmark = [pytest.mark.integration, pytest.mark.pipeline]


@pytest.fixture(autouse=True)
def _key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FOOTFALL_PSEUDONYM_KEY", TEST_KEY)


def _delta_versions(lakehouse: Path) -> dict[str, list[str]]:
    """Return, per Delta table under the lakehouse, the commit files of its log (what any write would add to)."""
    return {
        str(log.parent.relative_to(lakehouse)): sorted(p.name for p in log.glob("*.json"))
        for log in lakehouse.rglob("_delta_log")
    }


def test_days_run_in_order_give_the_gold_of_one_batch_and_a_rerun_touches_nothing(
    spark: SparkSession, daily_landing: Path, daily_friday: Path, daily_batch: Path, tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    """Friday alone (the shared run, conftest.py), then Saturday, then Sunday, each run of its own."""
    shutil.copytree(daily_friday, tmp_path / "lakehouse")
    config = daily_config(daily_landing, tmp_path / "lakehouse")
    weekly = gold_path(config.lakehouse, S.GOLD_ZONE_REPEAT_VISITS_WEEKLY_TABLE)
    # the week (2026-W10) publishes once, when its Sunday has run: a Friday copy against a Saturday copy would give
    # away Saturday's new visitors
    assert spark.read.format("delta").load(weekly).count() == 0, "Friday alone published the week"
    marker = MOBILITY.marker.path(config.lakehouse)
    votes = silver_path(config.lakehouse, S.SILVER_NIGHT_VOTES_TABLE)
    for day in DAYS[1:]:
        run_days(config, [day])
        published = spark.read.format("delta").load(weekly).count()
        assert (published > 0) == (day == DAYS[-1]), (day, published)
        # mobility built the new date only: the day before, which its publication reads too, was built the night
        # before from the same partitions (mobility_fingerprints)
        assert set(commit_metadatas(spark, marker)[0]["fingerprints"]) == {day.isoformat()}
        # and voted on one night: the one that ended on its morning; silver held the votes of the nights before
        assert set(commit_metadatas(spark, votes)[0][NIGHTS_BUILT]) == {(day - dt.timedelta(days=1)).isoformat()}
    rows = assert_gold_equal(spark, config.lakehouse, daily_batch)
    with capsys.disabled():
        print(f"\n[daily] in order vs one batch: {len(rows)} gold tables, {sum(rows.values())} rows equal: {rows}")

    before = _delta_versions(config.lakehouse)
    printed = run_days(config, [DAYS[-1]])
    assert _delta_versions(config.lakehouse) == before
    for stage in ("ingest", "spatial", "mobility", "publish"):
        assert f"{stage}: skipped" in printed, printed
    assert "forget: no new objections" in printed
