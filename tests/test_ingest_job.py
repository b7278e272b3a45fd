"""The ingest job end to end on a hand-written landing area: tables, idempotency, reconciliation, no raw ids."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from delta.tables import DeltaTable
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.testing import assertDataFrameEqual

from footfall import schemas as S
from footfall.config import Config
from footfall.ingest import IngestReport, ReconciliationError, run_forget, run_ingest
from footfall.ingest import job as ingest_job
from footfall.lakehouse import PSEUDONYMISED, silver_path
from test_ingest_fixtures import (
    ADULT_F,
    ADULT_M,
    DAY,
    EVENTS,
    KEY,
    LATE_OBJECTOR,
    MSISDNS,
    NO_AGE,
    PERIOD_DAYS,
    copy_of,
    make_landing,
    master_key,
    period_of,
    pseudo,
)

PERIOD_START = dt.date(2026, 2, 16)  # a Monday, 732 * 28 days after 1970-01-05: the period DAY falls in


def _ts(value: str) -> dt.datetime:
    return dt.datetime.fromisoformat(value.replace("Z", ""))


def _table(spark: SparkSession, lake: Path, table: str, version: int | None = None) -> DataFrame:
    reader = spark.read.format("delta")
    if version is not None:
        reader = reader.option("versionAsOf", version)
    return reader.load(silver_path(lake, table))


@pytest.fixture(scope="module")
def ingested(spark: SparkSession, tmp_path_factory: pytest.TempPathFactory) -> tuple[Config, IngestReport]:
    """Return the config and report of one ingest of DAY (run id run-1), built once for the file. Read-only: a test
    that changes it works on its own copy (copy_of)."""
    config = make_landing(tmp_path_factory.mktemp("ingest"))
    return config, run_ingest(spark, config, dates=[DAY], key=master_key(), run_id="run-1")


def test_ingest_writes_pseudonymised_silver_quarantine_dimension_and_audit(
    spark: SparkSession, ingested: tuple[Config, IngestReport]
) -> None:
    config, report = ingested
    lake = config.lakehouse

    expected_events = spark.createDataFrame(
        [(pseudo(m, DAY), _ts(ts), c, t, DAY) for (m, ts, c, t), reason in EVENTS if reason is None], S.SILVER_EVENTS
    )
    assertDataFrameEqual(_table(spark, lake, S.SILVER_EVENTS_TABLE), expected_events)

    expected_quarantine = spark.createDataFrame(
        [
            (None if m is None else pseudo(m, DAY), ts, c, t, DAY, reason, "run-1")
            for (m, ts, c, t), reason in EVENTS
            if reason in S.QUARANTINE_REASONS
        ],
        S.SILVER_QUARANTINE_EVENTS,
    )
    assertDataFrameEqual(_table(spark, lake, S.SILVER_QUARANTINE_TABLE), expected_quarantine)

    # Objector and minor are left out; ages are reached in 2026, the year the period starts in.
    expected_subscribers = spark.createDataFrame(
        [
            (pseudo(ADULT_F, DAY), "45-54", "f", "D1", PERIOD_START),
            (pseudo(ADULT_M, DAY), "35-44", "m", "D2", PERIOD_START),
            (pseudo(NO_AGE, DAY), "unknown", "x", None, PERIOD_START),
            (pseudo(LATE_OBJECTOR, DAY), "25-34", "f", "D2", PERIOD_START),
        ],
        S.SILVER_SUBSCRIBERS,
    )
    assertDataFrameEqual(_table(spark, lake, S.SILVER_SUBSCRIBERS_TABLE), expected_subscribers)

    reasons = [reason for _, reason in EVENTS]
    audit = _table(spark, lake, S.SILVER_INGEST_AUDIT_TABLE).collect()
    assert len(audit) == 1 and audit[0][S.RUN_ID] == "run-1" and audit[0][S.EVENT_DATE] == DAY
    assert (audit[0][S.ROWS_READ], audit[0][S.ROWS_SILVER], audit[0][S.ROWS_OPTED_OUT], audit[0][S.ROWS_MINOR]) == (
        len(EVENTS),
        reasons.count(None),
        reasons.count("opted_out"),
        reasons.count("minor"),
    )
    assert audit[0][S.ROWS_BY_REASON] == {r: reasons.count(r) for r in S.REASONS}
    assert report.audit[0][S.ROWS_QUARANTINED] == len([r for r in reasons if r in S.QUARANTINE_REASONS])


def test_running_a_day_twice_leaves_identical_tables(
    spark: SparkSession, ingested: tuple[Config, IngestReport], tmp_path: Path
) -> None:
    config = copy_of(ingested[0], tmp_path)  # after the first run (run-1)
    lake = config.lakehouse
    first = {t: _table(spark, lake, t).drop(S.RUN_ID).localCheckpoint() for t in PSEUDONYMISED}
    run_ingest(spark, config, dates=[DAY], key=master_key(), run_id="second")
    for table, before in first.items():
        assertDataFrameEqual(_table(spark, lake, table).drop(S.RUN_ID), before)
    # The second run replaced the day (replaceWhere), it did not append a second copy.
    last = DeltaTable.forPath(spark, silver_path(lake, S.SILVER_EVENTS_TABLE)).history(1).first()
    assert last is not None
    assert (last["operation"], last["operationParameters"]["predicate"]) == ("WRITE", "event_date IN ('2026-03-02')")
    audit = _table(spark, lake, S.SILVER_INGEST_AUDIT_TABLE).drop(S.RUN_ID, S.RUN_AT).collect()
    assert len(audit) == 2 and audit[0] == audit[1]  # one audit row per run, same counts


def test_a_reconciliation_mismatch_fails_and_writes_nothing(
    spark: SparkSession, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = make_landing(tmp_path)
    real = ingest_job.with_reason

    def losing_a_row(df: DataFrame, **kwargs: object) -> DataFrame:
        return real(df, **kwargs).where(F.col(S.EVENT_TS) != "2026-03-02T08:00:00Z")  # type: ignore[arg-type]

    monkeypatch.setattr(ingest_job, "with_reason", losing_a_row)
    with pytest.raises(ReconciliationError, match=f"2026-03-02 read {len(EVENTS)} rows but placed"):
        run_ingest(spark, config, dates=[DAY], key=master_key())
    assert not config.lakehouse.exists()


def test_pseudonyms_change_with_the_period(spark: SparkSession, tmp_path: Path) -> None:
    later = DAY + dt.timedelta(days=PERIOD_DAYS)
    row = (ADULT_F, "T08:00:00Z", "C1", "data")
    config = make_landing(tmp_path, events={d: [(row[0], f"{d}{row[1]}", *row[2:])] for d in (DAY, later)})
    run_ingest(spark, config, dates=[DAY, later], key=master_key())
    got = {r[S.EVENT_DATE]: r[S.PSEUDO_ID] for r in _table(spark, config.lakehouse, S.SILVER_EVENTS_TABLE).collect()}
    assert got == {DAY: pseudo(ADULT_F, DAY), later: pseudo(ADULT_F, later)}
    assert got[DAY] != got[later]
    dimension = _table(spark, config.lakehouse, S.SILVER_SUBSCRIBERS_TABLE).where(F.col(S.AGE_BAND) == "45-54")
    assert {(r[S.PERIOD_START], r[S.PSEUDO_ID]) for r in dimension.collect()} == {
        (PERIOD_START, got[DAY]),
        (PERIOD_START + dt.timedelta(days=PERIOD_DAYS), got[later]),
    }


def _files_containing(root: Path, needles: list[bytes]) -> dict[str, list[str]]:
    """Return {needle: files under root that contain it}, for every needle found anywhere.

    Every file is read as bytes; parquet files (data and Delta checkpoints) are also decoded, because a value
    inside a compressed page need not appear verbatim in the file's bytes.
    """
    found: dict[str, list[str]] = {}
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        data = path.read_bytes()
        if path.suffix == ".parquet":
            rows = pq.read_table(path).to_pylist()
            data += repr(rows).encode() + b"".join(v for r in rows for v in r.values() if isinstance(v, bytes))
        for needle in needles:
            if needle in data:
                found.setdefault(needle.decode(errors="replace"), []).append(str(path.relative_to(root)))
    return found


def test_no_msisdn_or_key_in_any_lakehouse_file(
    spark: SparkSession, ingested: tuple[Config, IngestReport], tmp_path: Path
) -> None:
    config = copy_of(ingested[0], tmp_path)
    key = master_key()
    subscribers = (config.landing / "subscribers.csv").read_text()
    (config.landing / "subscribers.csv").write_text(
        subscribers.replace(f"{LATE_OBJECTOR},2000,f,D2,false,", f"{LATE_OBJECTOR},2000,f,D2,true,2026-03-03T09:00:00Z")
    )
    run_forget(spark, config, key=key)
    period_key = key.period_key(period_of(DAY))
    needles = [m.encode() for m in MSISDNS] + [KEY.encode(), period_key, period_key.hex().encode()]
    files = [p for p in config.lakehouse.rglob("*") if p.is_file()]
    assert any("_delta_log" in p.parts for p in files) and any(p.suffix == ".parquet" for p in files)
    assert _files_containing(config.lakehouse, needles) == {}

    # The scan can fail: the same check finds the msisdns in a Delta table that holds the landing rows.
    leak = tmp_path / "leak"
    landing_df = spark.read.parquet(str(config.landing / "events"))
    landing_df.write.format("delta").save(str(leak))
    assert set(_files_containing(leak, needles)) == set(MSISDNS)
