"""Objections are honoured everywhere: never ingested, and deleted from every readable version after `forget`."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from delta.tables import DeltaTable
from pyspark.sql import SparkSession
from pyspark.sql import functions as F
from pyspark.testing import assertDataFrameEqual

from footfall import schemas as S
from footfall.config import Config
from footfall.ingest import forget, run_forget, run_ingest
from footfall.lakehouse import PSEUDONYMISED, RETENTION_CHECK, silver_path
from test_ingest_fixtures import (
    ADULT_F,
    DAY,
    EVENTS,
    LATE_OBJECTOR,
    OBJECTOR,
    SUBSCRIBERS,
    SUBSCRIBERS_HEADER,
    copy_of,
    make_landing,
    master_key,
    pseudo,
    write_csv,
)


@pytest.fixture(scope="module")
def ingested(spark: SparkSession, tmp_path_factory: pytest.TempPathFactory) -> Config:
    """Return the config of the hand-made landing after one ingest of DAY, built once for the file. Read-only: a test
    works on its own copy (copy_of)."""
    config = make_landing(tmp_path_factory.mktemp("forget"))
    run_ingest(spark, config, dates=[DAY], key=master_key())
    return config


def _pseudo_ids_by_version(spark: SparkSession, path: str) -> dict[int, set[str] | None]:
    """Return each version's pseudonyms, or None where VACUUM removed the files that version needs."""
    versions = [r["version"] for r in DeltaTable.forPath(spark, path).history().select("version").collect()]
    out: dict[int, set[str] | None] = {}
    for version in sorted(versions):
        try:
            rows = spark.read.format("delta").option("versionAsOf", version).load(path).select(S.PSEUDO_ID).collect()
        except Exception as exc:
            assert "FILE_NOT_EXIST" in str(exc) or "does not exist" in str(exc), exc
            out[version] = None
            continue
        out[version] = {r[S.PSEUDO_ID] for r in rows}
    return out


def _readable_holding(spark: SparkSession, config: Config, msisdns: list[str]) -> dict[str, dict[str, list[int]]]:
    """Return {msisdn: {table: readable versions holding a row of theirs}}, reading each version once."""
    found: dict[str, dict[str, list[int]]] = {m: {} for m in msisdns}
    for table in PSEUDONYMISED:
        for version, seen in _pseudo_ids_by_version(spark, silver_path(config.lakehouse, table)).items():
            for m in msisdns:
                if seen is not None and pseudo(m, DAY) in seen:
                    found[m].setdefault(table, []).append(version)
    return found


def _object(config: Config, msisdn: str, at: str) -> None:
    rows = [(*r[:4], "true", at) if r[0] == msisdn else r for r in SUBSCRIBERS]
    write_csv(config.landing / "subscribers.csv", SUBSCRIBERS_HEADER, rows)


def test_objectors_are_in_no_readable_version_after_ingest_and_forget(
    spark: SparkSession, ingested: Config, tmp_path: Path
) -> None:
    config = copy_of(ingested, tmp_path)
    key = master_key()
    run_ingest(spark, config, dates=[DAY], key=key)  # a re-run leaves an older version behind
    holding = _readable_holding(spark, config, [OBJECTOR, LATE_OBJECTOR])
    assert holding[OBJECTOR] == {}
    # The late objector is in events, quarantine and the dimension until they object: the check can fail.
    assert set(holding[LATE_OBJECTOR]) == set(PSEUDONYMISED)
    events_path = silver_path(config.lakehouse, S.SILVER_EVENTS_TABLE)
    kept = spark.read.format("delta").load(events_path).where(F.col(S.PSEUDO_ID) != pseudo(LATE_OBJECTOR, DAY))
    kept = kept.localCheckpoint()

    _object(config, LATE_OBJECTOR, "2026-03-03T09:00:00Z")
    before = spark.conf.get(RETENTION_CHECK)
    report = run_forget(spark, config, key=key)

    assert _readable_holding(spark, config, [OBJECTOR, LATE_OBJECTOR]) == {OBJECTOR: {}, LATE_OBJECTOR: {}}
    assertDataFrameEqual(spark.read.format("delta").load(events_path), kept)  # everyone else is still there
    assert spark.conf.get(RETENTION_CHECK) == before == "true"  # the override was only for the VACUUM
    assert report.affected_dates == []  # no mobility table holds them yet: no gold read their rows
    assert report.rows_deleted == {
        S.SILVER_EVENTS_TABLE: 1,
        S.SILVER_QUARANTINE_TABLE: 1,
        S.SILVER_SUBSCRIBERS_TABLE: 1,
    }
    audit = spark.read.format("delta").load(silver_path(config.lakehouse, S.SILVER_FORGET_AUDIT_TABLE)).collect()
    assert len(audit) == 1
    row = audit[0].asDict()
    # The first forget applies every objection on file: the early objector (no rows) and the late one.
    assert (row[S.OBJECTIONS_APPLIED], row[S.AFFECTED_DATES], row[S.OBJECTIONS_THROUGH]) == (
        2,
        [],
        dt.datetime(2026, 3, 3, 9, 0),
    )
    assert not any(pseudo(m, DAY) in repr(row) or m in repr(row) for m in (OBJECTOR, LATE_OBJECTOR))


def test_forget_applies_each_objection_once(spark: SparkSession, ingested: Config, tmp_path: Path) -> None:
    config = copy_of(ingested, tmp_path)
    key = master_key()
    first = run_forget(spark, config, key=key)
    again = run_forget(spark, config, key=key)
    _object(config, ADULT_F, "2026-03-04T08:00:00Z")
    later = run_forget(spark, config, key=key)
    assert (first.objections_applied, again.objections_applied, later.objections_applied) == (1, 0, 1)
    assert again.rows_deleted == {} and again.tables_vacuumed == []
    assert later.rows_deleted[S.SILVER_EVENTS_TABLE] == sum(1 for (m, *_), r in EVENTS if m == ADULT_F and r is None)


def test_a_subscribers_file_applied_in_full_is_not_read_again(
    spark: SparkSession, ingested: Config, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A rerun with the subscribers file a forget applied in full runs no Spark read of it; any change to the file
    (here a new objection) is read and applied."""
    config = copy_of(ingested, tmp_path)
    key = master_key()
    assert run_forget(spark, config, key=key).objections_applied == 1
    reads: list[Path] = []
    real = forget.read_unapplied_objections
    monkeypatch.setattr(
        forget, "read_unapplied_objections", lambda s, c, **kw: reads.append(c.landing) or real(s, c, **kw)
    )
    again = run_forget(spark, config, key=key)
    assert (again.objections_applied, reads) == (0, [])
    _object(config, ADULT_F, "2026-03-04T08:00:00Z")
    later = run_forget(spark, config, key=key)
    assert later.objections_applied == 1 and reads[:1] == [config.landing]


def test_a_late_objector_leaves_the_expected_visits_and_their_dates_republish(
    spark: SparkSession, ingested: Config, tmp_path: Path
) -> None:
    """Expected visits (silver/expected_visits) hold pseudonyms like stays: a late objection deletes their rows
    there too, and the dates whose gold read them (the visit's date and, held, the day after) republish."""
    config = copy_of(ingested, tmp_path)
    key = master_key()
    entered = dt.datetime.combine(DAY, dt.time(10))
    rows = [
        (pseudo(who, DAY), "Z01", entered, entered + dt.timedelta(minutes=20), 1200, 0.4, day)
        for who, day in ((LATE_OBJECTOR, DAY), (ADULT_F, DAY), (ADULT_F, DAY + dt.timedelta(days=1)))
    ]
    path = silver_path(config.lakehouse, S.SILVER_EXPECTED_VISITS_TABLE)
    spark.createDataFrame(rows, S.SILVER_EXPECTED_VISITS).write.format("delta").partitionBy(S.DATE).save(path)

    _object(config, LATE_OBJECTOR, "2026-03-03T09:00:00Z")
    report = run_forget(spark, config, key=key)

    left = {(r[S.PSEUDO_ID], r[S.DATE]) for r in spark.read.format("delta").load(path).collect()}
    assert left == {(pseudo(ADULT_F, DAY), DAY), (pseudo(ADULT_F, DAY), DAY + dt.timedelta(days=1))}
    assert report.rows_deleted[S.SILVER_EXPECTED_VISITS_TABLE] == 1
    assert report.affected_dates == [DAY, DAY + dt.timedelta(days=1)]
