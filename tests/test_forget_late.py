"""Every objection is applied once, whatever its date: one dated before an objection already applied (back-dated
paperwork, a corrected master file) is applied too, also to dates that have left landing."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from footfall import schemas as S
from footfall.config import Config
from footfall.ingest import run_forget, run_ingest
from footfall.lakehouse import PSEUDONYMISED, read_table, silver_path
from test_ingest_fixtures import (
    ADULT_F,
    ADULT_M,
    DAY,
    EVENTS,
    LATE_OBJECTOR,
    MSISDNS,
    NO_AGE,
    SUBSCRIBERS,
    SUBSCRIBERS_HEADER,
    make_landing,
    master_key,
    write_csv,
)

NEXT = DAY + dt.timedelta(days=1)


def _objections(config: Config, objections: dict[str, str | None]) -> None:
    """Rewrite subscribers.csv with these objections (msisdn -> opted_out_at, None for an undated one)."""
    rows = [(*r[:4], "true", objections[r[0]]) if r[0] in objections else r for r in SUBSCRIBERS]
    write_csv(config.landing / "subscribers.csv", SUBSCRIBERS_HEADER, rows)


def _rows_of(spark: SparkSession, config: Config, pseudo_ids: set[str]) -> dict[str, int]:
    """Return per pseudonymised table how many current rows belong to `pseudo_ids`."""
    return {
        t: read_table(spark, silver_path(config.lakehouse, t)).where(F.col(S.PSEUDO_ID).isin(*pseudo_ids)).count()
        for t in PSEUDONYMISED
    }


def _delta_logs(lakehouse: Path) -> dict[str, list[str]]:
    return {str(log.parent): sorted(p.name for p in log.glob("*.json")) for log in lakehouse.rglob("_delta_log")}


def test_an_objection_dated_before_one_already_applied_is_applied(spark: SparkSession, tmp_path: Path) -> None:
    config = make_landing(
        tmp_path,
        events={DAY: [row for row, _ in EVENTS], NEXT: [(ADULT_M, "2026-03-03T09:00:00Z", "C1", "data")]},
        period_days=28,
    )
    key = master_key()
    run_ingest(spark, config, dates=[DAY, NEXT], key=key)
    events = read_table(spark, silver_path(config.lakehouse, S.SILVER_EVENTS_TABLE))
    late = {r[S.PSEUDO_ID] for r in events.where(F.col(S.EVENT_TS) == dt.datetime(2026, 3, 2, 10, 5)).collect()}
    assert len(late) == 1  # LATE_OBJECTOR's one silver event
    before = _rows_of(spark, config, late)
    assert before == {S.SILVER_EVENTS_TABLE: 1, S.SILVER_QUARANTINE_TABLE: 1, S.SILVER_SUBSCRIBERS_TABLE: 1}

    # ADULT_F objects on 10 March, NO_AGE without a date; both applied (with the objector on file from the start)
    _objections(config, {ADULT_F: "2026-03-10T08:00:00Z", NO_AGE: None})
    first = run_forget(spark, config, key=key)
    assert first.objections_applied == 3

    # DAY leaves landing; then an objection dated 1 March, before the one applied, arrives
    shutil.rmtree(config.landing / "events" / f"event_date={DAY.isoformat()}")
    _objections(config, {ADULT_F: "2026-03-10T08:00:00Z", NO_AGE: None, LATE_OBJECTOR: "2026-03-01T07:00:00Z"})
    late_one = run_forget(spark, config, key=key)
    assert late_one.objections_applied == 1
    assert _rows_of(spark, config, late) == dict.fromkeys(PSEUDONYMISED, 0)
    assert late_one.rows_deleted[S.SILVER_EVENTS_TABLE] == 1

    # nothing new, the undated objection included: no table gets a commit
    logs = _delta_logs(config.lakehouse)
    again = run_forget(spark, config, key=key)
    assert (again.objections_applied, again.rows_deleted, again.tables_vacuumed) == (0, {}, [])
    assert _delta_logs(config.lakehouse) == logs

    # the record of applied objections holds tokens: no msisdn, no pseudonym, no key
    from footfall.ingest.forget import objection_key

    applied = read_table(spark, silver_path(config.lakehouse, S.SILVER_FORGET_APPLIED_TABLE)).collect()
    assert len(applied) == 4 and len({r[S.OBJECTION_TOKEN] for r in applied}) == 4
    everything = repr(applied)
    secret = objection_key(key)
    assert not [m for m in (*MSISDNS, *late, secret.hex()) if m in everything]


def test_a_new_objection_after_a_withdrawn_one_is_applied_again(spark: SparkSession, tmp_path: Path) -> None:
    """An objection is the pair (customer, date): one withdrawn and made again later is a new objection."""
    config = make_landing(tmp_path, period_days=28)
    key = master_key()
    _objections(config, {ADULT_F: "2026-03-01T08:00:00Z"})
    assert run_forget(spark, config, key=key).objections_applied == 2  # with the objector on file
    _objections(config, {})  # withdrawn: ADULT_F is ingested again
    run_ingest(spark, config, dates=[DAY], key=key)
    _objections(config, {ADULT_F: "2026-04-01T08:00:00Z"})
    again = run_forget(spark, config, key=key)
    assert again.objections_applied == 1 and again.rows_deleted[S.SILVER_EVENTS_TABLE] > 0
