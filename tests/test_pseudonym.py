"""Pseudonymisation: exact HMAC-SHA256 in Spark, per-period keys, and a key that is clear to get wrong."""

from __future__ import annotations

import datetime as dt
import stat
from pathlib import Path

import pytest
from pyspark.sql import SparkSession
from pyspark.sql import functions as F
from pyspark.testing import assertDataFrameEqual

from footfall import schemas as S
from footfall.ingest.pseudonym import (
    ENV_KEY,
    PseudonymKeyError,
    create_dev_key,
    load_master_key,
    period_index,
    period_index_col,
    period_keys_df,
    period_start,
    period_start_col,
    periods_of_utc_dates,
    with_pseudo_id,
)
from test_ingest_fixtures import ADULT_F, DAY, KEY, PERIOD_DAYS, master_key, period_of, pseudo

SAMPLES = ["4915550000001", "1", "", "4915550000001 ", "ünïcødé", "9" * 200]
NEXT_PERIOD = DAY + dt.timedelta(days=PERIOD_DAYS)


def _pseudonymised(spark: SparkSession, rows: list[tuple[str | None, dt.date]]) -> list[tuple[str | None, dt.date]]:
    df = spark.createDataFrame(rows, "msisdn STRING, event_date DATE")
    periods = {period_index(d, period_days=PERIOD_DAYS) for _, d in rows}
    keys = period_keys_df(spark, key=master_key(), periods=periods)
    out = df.transform(with_pseudo_id, keys_df=keys, period_days=PERIOD_DAYS)
    assert out.columns == [S.EVENT_DATE, S.PSEUDO_ID]  # the msisdn is gone, and so are the key columns
    return [(r[S.PSEUDO_ID], r[S.EVENT_DATE]) for r in out.collect()]


def test_spark_hmac_equals_python_hmac_on_samples(spark: SparkSession) -> None:
    rows = [(m, DAY) for m in SAMPLES] + [(None, DAY)]
    got = spark.createDataFrame(_pseudonymised(spark, rows), "pseudo_id STRING, event_date DATE")
    expected = spark.createDataFrame(
        [(pseudo(m, DAY), DAY) for m in SAMPLES] + [(None, DAY)], "pseudo_id STRING, event_date DATE"
    )
    assertDataFrameEqual(got, expected)


def test_same_period_same_pseudonym_next_period_unrelated(spark: SparkSession) -> None:
    last_day = period_start(period_index(DAY, period_days=PERIOD_DAYS) + 1, period_days=PERIOD_DAYS)
    last_day -= dt.timedelta(days=1)
    rows = [(ADULT_F, DAY), (ADULT_F, last_day), (ADULT_F, last_day + dt.timedelta(days=1))]
    got = dict(zip([d for _, d in rows], [p for p, _ in _pseudonymised(spark, rows)], strict=True))
    assert got[DAY] == got[last_day] == pseudo(ADULT_F, DAY)
    assert got[last_day + dt.timedelta(days=1)] == pseudo(ADULT_F, NEXT_PERIOD)
    assert got[last_day + dt.timedelta(days=1)] != got[DAY]


def test_the_key_is_not_in_the_query_plan(spark: SparkSession) -> None:
    df = spark.createDataFrame([(ADULT_F, DAY)], "msisdn STRING, event_date DATE")
    keys = period_keys_df(spark, key=master_key(), periods=[period_index(DAY, period_days=PERIOD_DAYS)])
    out = df.transform(with_pseudo_id, keys_df=keys, period_days=PERIOD_DAYS)
    plan = out._jdf.queryExecution().toString().lower()  # analysed, optimised and physical plans
    key_row = keys.first()
    assert key_row is not None
    secrets = [KEY.lower(), KEY.encode().hex()] + [bytes(v).hex() for v in list(key_row)[1:]]
    assert "sha2" in plan  # the plan is really there
    assert not [s for s in secrets if s in plan]


def test_key_from_environment_wins_over_file(tmp_path: Path) -> None:
    key_file = tmp_path / "key"
    key_file.write_text("f" * 40 + "\n")
    from_file = load_master_key(key_file=key_file, environ={})
    from_env = load_master_key(key_file=key_file, environ={ENV_KEY: KEY})
    assert from_file.source == str(key_file) and from_env.source == f"${ENV_KEY}"
    assert from_file.period_key(1) != from_env.period_key(1)
    assert KEY not in repr(from_env) and "f" * 40 not in repr(from_file)


@pytest.mark.parametrize(
    ("environ", "file_text", "message"),
    [
        ({}, None, "no pseudonym key: set $FOOTFALL_PSEUDONYM_KEY"),
        ({ENV_KEY: "short-key"}, None, "is 9 bytes long; at least 32 are needed"),
        ({ENV_KEY: ""}, "x" * 40, "is 0 bytes long"),
        ({}, "tooshort\n", "is 8 bytes long"),
    ],
)
def test_missing_or_short_key_is_a_clear_error(
    tmp_path: Path, environ: dict[str, str], file_text: str | None, message: str
) -> None:
    key_file = tmp_path / "key"
    if file_text is not None:
        key_file.write_text(file_text)
    with pytest.raises(PseudonymKeyError, match="pseudonym key") as info:
        load_master_key(key_file=key_file, environ=environ)
    assert message in str(info.value)
    for secret in (environ.get(ENV_KEY) or None, (file_text or "").strip() or None):
        assert secret is None or secret not in str(info.value)


def test_dev_key_is_created_once_private_and_long_enough(tmp_path: Path) -> None:
    key_file = tmp_path / ".dev-pseudonym-key"
    assert create_dev_key(key_file) is True
    first = key_file.read_bytes()
    assert create_dev_key(key_file) is False
    assert key_file.read_bytes() == first
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert len(first.strip()) == 64
    assert load_master_key(key_file=key_file, environ={}).source == str(key_file)


def test_period_numbers_count_from_monday_1970_01_05() -> None:
    assert period_index(dt.date(1970, 1, 4), period_days=28) == -1
    assert period_index(dt.date(1970, 1, 5), period_days=28) == 0
    assert period_index(dt.date(1970, 2, 1), period_days=28) == 0
    assert period_index(dt.date(1970, 2, 2), period_days=28) == 1
    assert period_start(1, period_days=28) == dt.date(1970, 2, 2)
    assert period_start(period_index(DAY, period_days=PERIOD_DAYS), period_days=PERIOD_DAYS) == dt.date(2026, 2, 16)


@pytest.mark.parametrize("period_days", [7, 28, 364])
def test_every_iso_week_lies_in_one_period_that_starts_on_a_monday(period_days: int) -> None:
    monday = dt.date(1969, 12, 29)  # ISO week 1 of 1970: a week before the epoch as well as 60 years after it
    while monday < dt.date(2030, 1, 1):
        week = [monday + dt.timedelta(days=i) for i in range(7)]
        periods = {period_index(d, period_days=period_days) for d in week}
        assert len(periods) == 1, (monday, periods)
        start = period_start(periods.pop(), period_days=period_days)
        assert start.isoweekday() == 1 and start <= monday < start + dt.timedelta(days=period_days), monday
        monday += dt.timedelta(days=7)


def test_a_utc_date_covers_the_periods_of_its_neighbouring_local_dates() -> None:
    # 2026-04-12 is the last Sunday of period 733: its 22:00-24:00 UTC is local Monday 2026-04-13, period 734
    assert periods_of_utc_dates([dt.date(2026, 4, 12)], period_days=28) == [733, 734]
    assert periods_of_utc_dates([dt.date(2026, 4, 13)], period_days=28) == [733, 734]
    assert periods_of_utc_dates([DAY], period_days=28) == [732]


def test_period_columns_agree_with_the_python_rule(spark: SparkSession) -> None:
    first = dt.date(2025, 12, 1)
    days = [first + dt.timedelta(days=i) for i in range(120)]
    df = spark.createDataFrame([(d,) for d in days], "day DATE")
    got = df.select(
        "day",
        period_index_col("day", period_days=PERIOD_DAYS).alias("period"),
        period_start_col(F.col("day"), period_days=PERIOD_DAYS).alias("start"),
    )
    expected = spark.createDataFrame(
        [
            (d, period_index(d, period_days=PERIOD_DAYS), period_start(period_of(d), period_days=PERIOD_DAYS))
            for d in days
        ],
        "day DATE, period INT, start DATE",
    )
    assertDataFrameEqual(got, expected)
