"""A tiny landing area written by hand to the contract, shared by the ingest tests; plus checks of the fixture."""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import hmac
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from footfall import schemas as S
from footfall.config import Config, parse_config
from footfall.ingest.contract import check_events_contract
from footfall.ingest.pseudonym import ENV_KEY, MasterKey, load_master_key

KEY = "test-master-key-0f1e2d3c4b5a69788796a5b4c3d2e1f0"  # 48 bytes, only ever used by tests
DAY = dt.date(2026, 3, 2)  # a Monday, mid-period: period 732 runs from 2026-02-16 to 2026-03-15
PERIOD_DAYS = 28
PERIOD_EPOCH = dt.date(1970, 1, 5)  # the Monday pseudonym periods count from

ADULT_F = "4915550000001"
ADULT_M = "4915550000002"
OBJECTOR = "4915550000003"  # objected before the first run
MINOR = "4915550000004"  # born 2012: 14 in 2026
NO_AGE = "4915550000005"  # no birth year, gender x, no home district
LATE_OBJECTOR = "4915550000006"  # objects only after the first run
STRANGER = "4915559999999"  # not in subscribers.csv
MSISDNS = (ADULT_F, ADULT_M, OBJECTOR, MINOR, NO_AGE, LATE_OBJECTOR, STRANGER)

CELLS_HEADER = [
    "cell_id", "site_id", "lat", "lon", "azimuth_deg", "beamwidth_deg", "range_m", "technology", "valid_from",
    "valid_to",
]  # fmt: skip
CELLS: list[tuple[Any, ...]] = [
    ("C1", "S1", 52.52, 13.40, 90.0, 65.0, 800.0, "LTE", "2020-01-01T00:00:00Z", None),
    ("C2", "S1", 52.52, 13.40, 210.0, 65.0, 800.0, "LTE", "2020-01-01T00:00:00Z", "2026-03-02T12:00:00Z"),
    # C3 is off between 06:00 and 09:00 (two validity periods)
    ("C3", "S2", 52.53, 13.41, None, 360.0, 150.0, "LTE-small", "2020-01-01T00:00:00Z", "2026-03-02T06:00:00Z"),
    ("C3", "S2", 52.53, 13.41, None, 360.0, 150.0, "LTE-small", "2026-03-02T09:00:00Z", None),
]
SUBSCRIBERS_HEADER = ["msisdn", "birth_year", "gender", "home_district_id", "opted_out", "opted_out_at"]
SUBSCRIBERS: list[tuple[Any, ...]] = [
    (ADULT_F, 1980, "f", "D1", "false", None),
    (ADULT_M, 1990, "m", "D2", "false", None),
    (OBJECTOR, 1975, "f", "D1", "true", "2026-02-01T10:00:00Z"),
    (MINOR, 2012, "m", "D2", "false", None),
    (NO_AGE, None, "x", None, "false", None),
    (LATE_OBJECTOR, 2000, "f", "D2", "false", None),
]

# (msisdn, event_ts, cell_id, event_type) -> the reason ingest must give it (None = silver), for DAY.
EVENTS: list[tuple[tuple[str | None, ...], str | None]] = [
    ((ADULT_F, "2026-03-02T08:00:00Z", "C1", "data"), None),
    ((None, "2026-03-02T08:01:00Z", "C1", "data"), "null_msisdn"),
    ((None, None, None, None), "null_msisdn"),
    ((OBJECTOR, "2026-03-02T08:02:00Z", "C1", "data"), "opted_out"),
    ((OBJECTOR, "garbage", "X9", "data"), "opted_out"),  # an objector's bad row is dropped, never quarantined
    ((ADULT_M, "not-a-timestamp", "C1", "data"), "bad_timestamp"),
    ((ADULT_M, None, "C1", "data"), "bad_timestamp"),
    ((ADULT_M, "2026-03-02 08:00:00", "C1", "data"), "bad_timestamp"),
    ((ADULT_M, "2026-03-01T23:59:59Z", "C1", "data"), "out_of_day"),
    ((ADULT_M, "2026-03-02T00:00:00Z", "C1", "data"), None),  # midnight belongs to its own day
    ((ADULT_M, "2026-03-02T23:59:59Z", "C1", "data"), None),
    ((ADULT_M, "2026-03-03T00:00:00Z", "C1", "data"), "out_of_day"),
    ((ADULT_F, "2026-03-02T08:03:00Z", "X9", "data"), "unknown_cell"),
    ((ADULT_F, "2026-03-02T08:04:00Z", None, "data"), "unknown_cell"),
    ((ADULT_F, "2026-03-02T12:00:00Z", "C2", "data"), "cell_inactive"),  # valid_to is exclusive
    ((ADULT_F, "2026-03-02T11:59:59Z", "C2", "data"), None),
    ((ADULT_F, "2026-03-02T07:00:00Z", "C3", "data"), "cell_inactive"),  # in the gap between periods
    ((ADULT_F, "2026-03-02T09:00:00Z", "C3", "data"), None),  # valid_from is inclusive
    ((NO_AGE, "2026-03-02T10:00:00Z", "C1", "data"), None),
    ((NO_AGE, "2026-03-02T10:00:00Z", "C1", "data"), "duplicate"),
    ((NO_AGE, "2026-03-02T10:00:00Z", "C1", "data"), "duplicate"),
    ((NO_AGE, "not-a-timestamp", "C1", "data"), "bad_timestamp"),
    ((NO_AGE, "not-a-timestamp", "C1", "data"), "bad_timestamp"),  # a copy of a bad row keeps the first reason
    ((STRANGER, "2026-03-02T10:01:00Z", "C1", "data"), "unknown_subscriber"),
    ((ADULT_F, "2026-03-02T10:02:00Z", "C1", "fax"), "bad_event_type"),
    ((MINOR, "2026-03-02T10:03:00Z", "C1", "data"), "minor"),
    ((MINOR, "2026-03-02T10:04:00Z", "X9", "data"), "unknown_cell"),
    ((LATE_OBJECTOR, "2026-03-02T10:05:00Z", "C1", "call_out"), None),
    ((LATE_OBJECTOR, "2026-03-02T10:06:00Z", "X9", "sms_in"), "unknown_cell"),
]


def period_of(local_date: dt.date, *, period_days: int = PERIOD_DAYS) -> int:
    """The reference pseudonym period of a LOCAL date: whole weeks counted from Monday 1970-01-05."""
    return (local_date - PERIOD_EPOCH).days // period_days


def pseudo(msisdn: str, local_date: dt.date, *, key: str = KEY, period_days: int = PERIOD_DAYS) -> str:
    """The reference pseudonym of an event on `local_date`, computed with the standard library's hmac (independent
    of the Spark code)."""
    period = period_of(local_date, period_days=period_days)
    period_key = hmac.new(key.encode(), f"footfall/pseudonym-period/{period}".encode(), hashlib.sha256).digest()
    return hmac.new(period_key, msisdn.encode(), hashlib.sha256).hexdigest()


def master_key() -> MasterKey:
    """The test master key, loaded the way the job loads it from the environment."""
    return load_master_key(key_file=Path("/nonexistent"), environ={ENV_KEY: KEY})


def write_csv(path: Path, header: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """Write a contract CSV: header line, comma-separated, empty field for None."""
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows([["" if v is None else v for v in row] for row in rows])


def write_events(landing: Path, day: dt.date, rows: Sequence[Sequence[Any]], *, table: pa.Table | None = None) -> Path:
    """Write one events partition file (all columns strings unless `table` is given)."""
    folder = landing / "events" / f"event_date={day.isoformat()}"
    folder.mkdir(parents=True, exist_ok=True)
    if table is None:
        names = ["msisdn", "event_ts", "cell_id", "event_type"]
        table = pa.table({n: pa.array([r[i] for r in rows], pa.string()) for i, n in enumerate(names)})
    path = folder / "part-00000.parquet"
    pq.write_table(table, path)
    return path


def make_landing(
    tmp_path: Path,
    *,
    events: dict[dt.date, Sequence[Sequence[Any]]] | None = None,
    subscribers: Sequence[Sequence[Any]] = SUBSCRIBERS,
    cells: Sequence[Sequence[Any]] = CELLS,
    period_days: int = PERIOD_DAYS,
) -> Config:
    """Write a landing area under tmp_path and return a config whose lakehouse is tmp_path/lakehouse."""
    landing = tmp_path / "landing"
    landing.mkdir(parents=True, exist_ok=True)
    write_csv(landing / "cells.csv", CELLS_HEADER, cells)
    write_csv(landing / "subscribers.csv", SUBSCRIBERS_HEADER, subscribers)
    for day, rows in (events if events is not None else {DAY: [row for row, _ in EVENTS]}).items():
        write_events(landing, day, rows)
    return parse_config(
        {
            "landing": str(landing),
            "lakehouse": str(tmp_path / "lakehouse"),
            "privacy": {"pseudonym_key_file": str(tmp_path / "no-key-file"), "pseudonym_period_days": period_days},
            # EVENTS is a catalogue of bad rows, one or two of each kind among few good ones: far past any guard.
            # The guards are tested on their own (test_ingest_guards.py); here they are off.
            "guards": {"max_dropped_share": 1.0, "max_reason_share": 1.0, "max_minor_share": 1.0},
        },
        source="test",
    )


def copy_of(config: Config, to: Path) -> Config:
    """Return `config` on copies of its landing and lakehouse under `to`: a test that changes a lakehouse a module
    fixture built once (an ingest is 5-10 s of fixed cost on 2 cores, whatever the size) changes its own copy."""
    import shutil

    landing, lakehouse = to / config.landing.name, to / config.lakehouse.name
    shutil.copytree(config.landing, landing)
    shutil.copytree(config.lakehouse, lakehouse)
    return config.model_copy(update={"landing": landing, "lakehouse": lakehouse})


def test_fixture_landing_passes_the_events_contract(tmp_path: Path) -> None:
    config = make_landing(tmp_path)
    files = check_events_contract(config.landing, [DAY])
    assert [(f.path.name, f.event_date) for f in files] == [("part-00000.parquet", DAY)]
    assert pq.read_table(files[0].path).num_rows == len(EVENTS)


def stays_from_events(events_df: DataFrame, *, minutes: int, tz: str) -> DataFrame:
    """Return one visit to zone Z1 of `minutes` per silver event, dated by its local entry date, as S.SILVER_STAYS
    (a stand-in for mobility where a test needs stays of known pseudonyms)."""
    local = F.to_date(F.from_utc_timestamp(S.EVENT_TS, tz))
    rows = events_df.select(
        S.PSEUDO_ID,
        F.lit("Z1").alias(S.ZONE_ID),
        F.col(S.EVENT_TS).alias(S.ENTERED_AT),
        (F.col(S.EVENT_TS) + F.make_interval(mins=F.lit(minutes))).alias(S.LEFT_AT),
        F.lit(minutes * 60).cast("long").alias(S.DWELL_S),
        F.lit(True).alias(S.IS_VISIT),
        F.lit("unknown").alias(S.ARRIVAL_DIRECTION),
        F.lit(None).cast("string").alias(S.PREVIOUS_ZONE_ID),
        F.lit(1.0).alias(S.PRESENCE_WEIGHT),
        F.lit(False).alias(S.IS_RESIDENT),
        local.alias(S.DATE),
    )
    return events_df.sparkSession.createDataFrame(rows.rdd, S.SILVER_STAYS)  # the contract's nullability
