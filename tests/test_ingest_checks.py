"""Row checks as pure transforms: every reason code, its boundaries, its order, and the reconciliation."""

from __future__ import annotations

import datetime as dt

import pytest
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T
from pyspark.testing import assertDataFrameEqual

from footfall import schemas as S
from footfall.ingest.checks import (
    agg_cell_validity,
    agg_ingest_audit,
    filter_quarantine,
    filter_silver_events,
    filter_unreconciled,
    with_reason,
)
from footfall.ingest.subscribers import age_band_labels
from test_ingest_fixtures import CELLS, DAY, EVENTS, MINOR, SUBSCRIBERS

RUN_AT = dt.datetime(2026, 3, 3, 1, 0, 0)


def _ts(value: str | None) -> dt.datetime | None:
    return None if value is None else dt.datetime.fromisoformat(value.replace("Z", ""))


def _landing_frames(spark: SparkSession) -> tuple[DataFrame, DataFrame, DataFrame]:
    events = spark.createDataFrame(
        [(*row, DAY) for row, _ in EVENTS],
        T.StructType([*S.LANDING_EVENTS.fields, T.StructField(S.EVENT_DATE, T.DateType())]),
    )
    subscribers = spark.createDataFrame(
        [(m, by, g, d, o == "true", _ts(at)) for m, by, g, d, o, at in SUBSCRIBERS], S.LANDING_SUBSCRIBERS
    )
    cells = spark.createDataFrame([(*row[:8], _ts(row[8]), _ts(row[9])) for row in CELLS], S.LANDING_CELLS)
    return events, subscribers, cells


def _checked(spark: SparkSession, *, min_age: int = 18) -> DataFrame:
    events, subscribers, cells = _landing_frames(spark)
    return events.transform(
        with_reason,
        subscribers_df=subscribers,
        cell_validity_df=agg_cell_validity(cells),
        period_days=30,
        min_age=min_age,
    )


def test_every_row_gets_the_first_reason_that_applies(spark: SparkSession) -> None:
    got = _checked(spark).select(S.MSISDN, S.EVENT_TS, S.CELL_ID, S.EVENT_TYPE, S.REASON)
    expected = spark.createDataFrame(
        [(*row, reason) for row, reason in EVENTS],
        "msisdn STRING, event_ts STRING, cell_id STRING, event_type STRING, reason STRING",
    )
    assertDataFrameEqual(got, expected)


def test_min_age_from_config_decides_who_is_a_minor(spark: SparkSession) -> None:
    # The minor is 14 in 2026: with a first band of 14 they are kept, with 15 dropped.
    reasons = {}
    for min_age in (14, 15):
        rows = _checked(spark, min_age=min_age).where(F.col(S.MSISDN) == MINOR).collect()
        reasons[min_age] = {r[S.REASON] for r in rows}
    assert reasons == {14: {None, "unknown_cell"}, 15: {"minor", "unknown_cell"}}


def test_quarantine_keeps_raw_values_and_silver_gets_parsed_timestamps(spark: SparkSession) -> None:
    checked = _checked(spark).withColumn(S.PSEUDO_ID, F.col(S.MSISDN)).drop(S.MSISDN)
    quarantine = filter_quarantine(checked, run_id="r1")
    expected_q = spark.createDataFrame(
        [(*row, DAY, reason, "r1") for row, reason in EVENTS if reason in S.QUARANTINE_REASONS],
        S.SILVER_QUARANTINE_EVENTS,
    )
    assertDataFrameEqual(quarantine, expected_q)
    silver = filter_silver_events(checked)
    expected_s = spark.createDataFrame(
        [(row[0], _ts(row[1]), row[2], row[3], DAY) for row, reason in EVENTS if reason is None], S.SILVER_EVENTS
    )
    assertDataFrameEqual(silver, expected_s)
    assert S.BAD_OPTED_OUT not in {r[S.REASON] for r in quarantine.collect()}


def test_audit_counts_each_outcome_and_reconciles(spark: SparkSession) -> None:
    checked = _checked(spark)
    read = spark.createDataFrame([(DAY, len(EVENTS))], "event_date DATE, rows_read LONG")
    audit = agg_ingest_audit(checked, read_counts_df=read, run_id="r1", run_at=RUN_AT).collect()
    reasons = [reason for _, reason in EVENTS]
    by_reason = {r: reasons.count(r) for r in S.REASONS}
    assert [r.asDict() for r in audit] == [
        {
            S.EVENT_DATE: DAY,
            S.RUN_ID: "r1",
            S.RUN_AT: RUN_AT,
            S.ROWS_READ: len(EVENTS),
            S.ROWS_SILVER: reasons.count(None),
            S.ROWS_QUARANTINED: sum(by_reason[r] for r in S.QUARANTINE_REASONS),
            S.ROWS_OPTED_OUT: by_reason["opted_out"],
            S.ROWS_MINOR: by_reason["minor"],
            S.ROWS_BY_REASON: by_reason,
            S.ACCEPTED_BREACH: None,  # no guard was passed: nothing accepted
        }
    ]
    assert filter_unreconciled(spark.createDataFrame(audit, S.SILVER_INGEST_AUDIT)).count() == 0


@pytest.mark.parametrize(("read", "dates_read"), [(len(EVENTS) + 1, [DAY]), (0, [DAY + dt.timedelta(days=1)])])
def test_a_row_lost_or_a_date_missing_is_unreconciled(
    spark: SparkSession, read: int, dates_read: list[dt.date]
) -> None:
    checked = _checked(spark)
    counts = spark.createDataFrame([(d, read) for d in dates_read], "event_date DATE, rows_read LONG")
    audit = agg_ingest_audit(checked, read_counts_df=counts, run_id="r1", run_at=RUN_AT)
    assert filter_unreconciled(audit).count() >= 1


def test_age_band_labels_follow_the_configured_lower_bounds() -> None:
    assert age_band_labels((18, 25, 35, 45, 55, 65)) == ["18-24", "25-34", "35-44", "45-54", "55-64", "65+"]
    assert age_band_labels((16,)) == ["16+"]
