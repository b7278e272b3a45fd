"""A forget whose republication did not happen (--no-republish, a failed validation, a crash) leaves its dates
pending; the next run for another date republishes them, and their gold equals that of a city without the customer."""

from __future__ import annotations

import csv
import datetime as dt
import shutil
from pathlib import Path

import pytest
from pyspark.sql import SparkSession
from pyspark.sql import functions as F
from tests.daily import (
    DAYS,
    TEST_KEY,
    assert_gold_of_day_equal,
    daily_config,
    read_gold,
    run_days,
    seed_spatial,
)

from footfall import schemas as S
from footfall.config import Config
from footfall.ingest import load_master_key, run_forget
from footfall.ingest.pseudonym import ENV_KEY, period_index, period_keys_df, with_pseudo_id
from footfall.lakehouse import read_table, silver_path
from test_pipeline import _without_customer

pytestmark = [pytest.mark.integration, pytest.mark.pipeline]


@pytest.fixture(autouse=True)
def _key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV_KEY, TEST_KEY)


def _busiest_visitor(spark: SparkSession, config: Config, day: dt.date) -> str:
    """Return the msisdn of the customer with the most visits on `day` (the test knows the key)."""
    rows = list(csv.DictReader((Path(config.landing) / "subscribers.csv").open()))
    period_days = config.privacy.pseudonym_period_days
    keys = period_keys_df(
        spark, key=load_master_key(key_file=Path("/nonexistent")), periods={period_index(day, period_days=period_days)}
    )
    candidates = spark.createDataFrame(
        [(r["msisdn"], r["msisdn"], day) for r in rows if r["opted_out"] == "false"], "m STRING, msisdn STRING, d DATE"
    )
    pseudo = with_pseudo_id(candidates, keys_df=keys, period_days=period_days, date_col="d")
    stays = read_table(spark, silver_path(config.lakehouse, S.SILVER_STAYS_TABLE))
    visits = stays.where(F.col(S.IS_VISIT) & (F.col(S.DATE) == day)).groupBy(S.PSEUDO_ID).count()
    busiest = visits.join(pseudo, on=S.PSEUDO_ID, how="inner").orderBy(F.desc("count"), "m").first()
    assert busiest is not None
    return str(busiest["m"])


def _object(landing: Path, msisdn: str, at: str) -> None:
    path = landing / "subscribers.csv"
    rows = list(csv.DictReader(path.open()))
    for r in rows:
        if r["msisdn"] == msisdn:
            r["opted_out"], r["opted_out_at"] = "true", at
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def test_dates_a_forget_left_pending_are_republished_by_the_nextrun_days(
    spark: SparkSession, daily_landing: Path, daily_friday: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Friday is published; its busiest visitor objects; a forget runs without republishing (the --no-republish
    path, or a republication that crashed) and Friday leaves landing. Then Saturday runs: it republishes Friday,
    and Friday's gold is that of a city whose landing never held the customer, run for Friday alone.

    Friday is the date the objection reached. Saturday was ingested after the forget, so the customer never entered
    it (test_ingest_job.py); what it reads of Friday (a visit that spans midnight counts into the next day) comes
    from the same stays Friday's republication reads, so a stay the forget left behind changes Friday's gold too."""
    import time

    friday, saturday = DAYS[0], DAYS[1]
    landing = tmp_path / "landing"
    shutil.copytree(daily_landing, landing, ignore=shutil.ignore_patterns("truth"))
    shutil.copytree(daily_friday, tmp_path / "lakehouse")  # the city's Friday alone, published (conftest.py)
    config = daily_config(landing, tmp_path / "lakehouse")
    objector = _busiest_visitor(spark, config, friday)
    _object(landing, objector, "2026-03-09T08:00:00Z")

    began = time.monotonic()
    forgot = run_forget(spark, config, key=load_master_key(key_file=Path("/nonexistent")))
    assert forgot.objections_applied == 1 and friday in forgot.affected_dates
    shutil.rmtree(landing / "events" / f"event_date={friday.isoformat()}")
    printed = run_days(config, [saturday])
    forget_and_run = time.monotonic() - began

    began = time.monotonic()
    # the same inventory: the clean city's spatial tables are Friday's (tests/daily.py, seed_spatial)
    clean = daily_config(tmp_path / "landing-without", seed_spatial(daily_friday, tmp_path / "lakehouse-without"))
    _without_customer(daily_landing, clean.landing, objector)
    run_days(clean, [friday])
    clean_run = time.monotonic() - began

    rows = assert_gold_of_day_equal(spark, clean.lakehouse, config.lakehouse, friday)
    assert "no new objections; gold of 1 dates to republish, pending since an earlier forget" in printed, printed

    from footfall.ingest.forget import read_pending_dates

    assert read_pending_dates(spark, config.lakehouse) == []
    # the customer's visits were in Friday's gold: without the republication the test could not pass
    before, after = read_gold(spark, daily_friday), read_gold(spark, config.lakehouse)
    friday_rows = {t: df.where(F.col(S.DATE) == friday) for t, df in before.items() if S.DATE in df.columns}
    changed = [
        t
        for t, df in friday_rows.items()
        if df.exceptAll(after[t].where(F.col(S.DATE) == friday)).count()
        + after[t].where(F.col(S.DATE) == friday).exceptAll(df).count()
    ]
    assert changed, "the objector changed no published number of Friday"
    with capsys.disabled():
        print(
            f"\n[forget] pending Friday republished by Saturday's run: forget + run {forget_and_run:.0f} s, clean run "
            f"{clean_run:.0f} s; {sum(rows.values())} gold rows equal; Friday changed in {changed}"
        )
