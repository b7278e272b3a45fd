"""A forget whose republication did not happen (--no-republish, a failed validation, a crash) leaves its dates
pending; the next run for another date republishes them, and gold equals that of a city without the customer."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import pytest
from pyspark.sql import SparkSession
from pyspark.sql import functions as F
from tests.daily import (
    DAYS,
    TEST_KEY,
    assert_gold_equal,
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


def _busiest_visitor(spark: SparkSession, config: Config) -> str:
    """Return the msisdn of the customer with the most visits on DAYS[1] (the test knows the key)."""
    rows = list(csv.DictReader((Path(config.landing) / "subscribers.csv").open()))
    day, period_days = DAYS[1], config.privacy.pseudonym_period_days
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
    spark: SparkSession, daily_landing: Path, daily_saturday: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Saturday is published; its busiest visitor objects; a forget runs without republishing (the --no-republish
    path, or a republication that crashed) and Saturday leaves landing. Then Sunday runs: it republishes Saturday,
    and gold is that of a city whose landing never held the customer, run for Saturday and Sunday."""
    import time

    landing = tmp_path / "landing"
    shutil.copytree(daily_landing, landing, ignore=shutil.ignore_patterns("truth"))
    saturday = daily_saturday  # the city's Saturday alone, published (conftest.py)
    shutil.copytree(saturday, tmp_path / "lakehouse")
    config = daily_config(landing, tmp_path / "lakehouse")
    objector = _busiest_visitor(spark, config)
    _object(landing, objector, "2026-03-09T08:00:00Z")

    began = time.monotonic()
    forgot = run_forget(spark, config, key=load_master_key(key_file=Path("/nonexistent")))
    assert forgot.objections_applied == 1 and DAYS[1] in forgot.affected_dates
    shutil.rmtree(landing / "events" / f"event_date={DAYS[1].isoformat()}")
    printed = run_days(config, [DAYS[2]])
    forget_and_run = time.monotonic() - began

    began = time.monotonic()
    # the same inventory: the clean city's spatial tables are Saturday's (tests/daily.py, seed_spatial)
    clean = daily_config(tmp_path / "landing-without", seed_spatial(saturday, tmp_path / "lakehouse-without"))
    _without_customer(daily_landing, clean.landing, objector)
    run_days(clean, [DAYS[1], DAYS[2]])
    clean_run = time.monotonic() - began

    rows = assert_gold_equal(spark, config.lakehouse, clean.lakehouse)
    assert "no new objections; gold of 1 dates to republish, pending since an earlier forget" in printed, printed

    from footfall.ingest.forget import read_pending_dates

    assert read_pending_dates(spark, config.lakehouse) == []
    # the customer's visits were in Saturday's gold: without the republication the test could not pass
    before, after = read_gold(spark, saturday), read_gold(spark, config.lakehouse)
    saturday_rows = {t: df.where(F.col(S.DATE) == DAYS[1]) for t, df in before.items() if S.DATE in df.columns}
    changed = [
        t
        for t, df in saturday_rows.items()
        if df.exceptAll(after[t].where(F.col(S.DATE) == DAYS[1])).count()
        + after[t].where(F.col(S.DATE) == DAYS[1]).exceptAll(df).count()
    ]
    assert changed, "the objector changed no published number of Saturday"
    with capsys.disabled():
        print(
            f"\n[forget] pending Saturday republished by Sunday's run: forget + run {forget_and_run:.0f} s, clean run "
            f"{clean_run:.0f} s; {sum(rows.values())} gold rows equal; Saturday changed in {changed}"
        )
