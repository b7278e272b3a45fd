"""The ingest job: contract check, row checks, pseudonymisation, reconciliation, then the silver writes."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pyspark import StorageLevel
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from footfall import schemas as S
from footfall.config import Config
from footfall.ingest.checks import (
    LOCAL_DATE,
    ReconciliationError,
    agg_cell_validity,
    agg_ingest_audit,
    filter_quarantine,
    filter_silver_events,
    filter_unreconciled,
    with_reason,
)
from footfall.ingest.contract import (
    EventFile,
    check_events_contract,
    read_cells,
    read_landing_events,
    read_subscribers,
)
from footfall.ingest.plan import STAGE, ingest_fingerprints
from footfall.ingest.pseudonym import MasterKey, period_keys_df, period_start, periods_of_utc_dates, with_pseudo_id
from footfall.ingest.subscribers import with_subscriber_dimension
from footfall.lakehouse import SILVER_TABLES, Write, commit_metadata, write, write_together
from footfall.session import size_shuffle


@dataclass(frozen=True)
class IngestReport:
    """What one ingest run did: its id and the audit row of each date."""

    run_id: str
    audit: list[dict[str, Any]]


def date_range(start: dt.date, end: dt.date) -> list[dt.date]:
    """Return the dates from `start` to `end`, both included."""
    if end < start:
        raise ValueError(f"--end {end} is before --start {start}")
    return [start + dt.timedelta(days=i) for i in range((end - start).days + 1)]


def _read_counts(spark: SparkSession, raw_df: DataFrame, dates: Sequence[dt.date]) -> DataFrame:
    """Return (event_date, rows_read) for every requested date, zero for an empty partition."""
    counts = raw_df.groupBy(S.EVENT_DATE).agg(F.count(F.lit(1)).alias("n")).collect()
    counted = {r[S.EVENT_DATE]: r["n"] for r in counts}
    schema = T.StructType([T.StructField(S.EVENT_DATE, T.DateType()), T.StructField(S.ROWS_READ, T.LongType())])
    return spark.createDataFrame([(d, int(counted.get(d, 0))) for d in dates], schema)


def run_ingest(
    spark: SparkSession,
    config: Config,
    *,
    dates: Sequence[dt.date],
    key: MasterKey,
    files: Sequence[EventFile] | None = None,
    run_id: str | None = None,
) -> IngestReport:
    """Ingest the landing partitions of `dates` into silver; raise before writing anything when a check fails.

    `files` is the result of `check_events_contract` when the caller ran it already (the CLI does, before Spark).
    """
    dates = sorted(set(dates))
    files = check_events_contract(config.landing, dates) if files is None else files
    privacy = config.privacy
    run_id = run_id or uuid.uuid4().hex
    run_at = dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)

    # a local session raises its shuffle partitions for a large input (a cluster keeps its own)
    size_shuffle(spark, events=sum(f.rows for f in files))
    subscribers_df = read_subscribers(spark, config.landing)
    cells_df = read_cells(spark, config.landing)
    raw_df = read_landing_events(spark, files)

    # An event's period is that of its local date, which may be the day before or after its UTC partition: the
    # keys and the subscriber dimension cover every period those dates fall in.
    period_days = privacy.pseudonym_period_days
    periods = periods_of_utc_dates(dates, period_days=period_days)
    starts = [period_start(p, period_days=period_days) for p in periods]
    keys_df = period_keys_df(spark, key=key, periods=periods)
    # Persisted only after pseudonymisation: no msisdn ever reaches Spark's block store or spill files. On disk only:
    # held in memory, 100 M checked rows crowd out the sorts that write them (docs/scale.md).
    checked_df = (
        raw_df.transform(
            with_reason,
            subscribers_df=subscribers_df,
            cell_validity_df=agg_cell_validity(cells_df),
            period_days=period_days,
            min_age=privacy.age_bands[0],
            timezone=config.timezone,
            max_events_per_device_day=config.ingest.max_events_per_device_day,
        )
        .transform(with_pseudo_id, keys_df=keys_df, period_days=period_days, date_col=LOCAL_DATE)
        .persist(StorageLevel.DISK_ONLY)
    )
    try:
        audit_df = agg_ingest_audit(
            checked_df, read_counts_df=_read_counts(spark, raw_df, dates), run_id=run_id, run_at=run_at
        ).localCheckpoint()
        unreconciled = filter_unreconciled(audit_df).orderBy(S.EVENT_DATE).collect()
        if unreconciled:
            first = unreconciled[0]
            raise ReconciliationError(
                f"ingest run {run_id}: {first[S.EVENT_DATE]} read {first[S.ROWS_READ]} rows but placed "
                f"{first[S.ROWS_SILVER]} in silver, {first[S.ROWS_QUARANTINED]} in quarantine and dropped "
                f"{first[S.ROWS_OPTED_OUT]} (objection) + {first[S.ROWS_MINOR]} (minor); nothing was written"
            )
        period_starts_df = spark.createDataFrame(
            [(start,) for start in starts], T.StructType([T.StructField(S.PERIOD_START, T.DateType(), False)])
        )
        dimension_df = subscribers_df.transform(
            with_subscriber_dimension,
            period_starts_df=period_starts_df,
            keys_df=keys_df,
            period_days=period_days,
            age_bands=privacy.age_bands,
        )
        # every commit says which run wrote it; the audit's also carries the fingerprints a rerun compares
        metadata = {"stage": STAGE, "run_id": run_id, "fingerprints": ingest_fingerprints(config, dates, key=key)}
        with commit_metadata(spark, metadata):
            _write_silver(config, checked_df, dimension_df, audit_df, dates=dates, period_starts=starts, run_id=run_id)
        audit = [r.asDict(recursive=True) for r in audit_df.orderBy(S.EVENT_DATE).collect()]
    finally:
        checked_df.unpersist()
    return IngestReport(run_id=run_id, audit=audit)


def _write_silver(
    config: Config,
    checked_df: DataFrame,
    dimension_df: DataFrame,
    audit_df: DataFrame,
    *,
    dates: Sequence[dt.date],
    period_starts: Sequence[dt.date],
    run_id: str,
) -> None:
    """Write the run's silver partitions, then its audit rows last: their presence says the writes committed.

    The dimension replaces exactly the periods it was built for (`period_starts`); other periods keep their rows.
    """
    lake = config.lakehouse
    write_together(
        lake,
        {
            S.SILVER_SUBSCRIBERS_TABLE: Write(dimension_df, SILVER_TABLES[S.SILVER_SUBSCRIBERS_TABLE], period_starts),
            S.SILVER_QUARANTINE_TABLE: Write(
                filter_quarantine(checked_df, run_id=run_id), SILVER_TABLES[S.SILVER_QUARANTINE_TABLE], dates
            ),
            S.SILVER_EVENTS_TABLE: Write(filter_silver_events(checked_df), SILVER_TABLES[S.SILVER_EVENTS_TABLE], dates),
        },
    )
    write(audit_df, SILVER_TABLES[S.SILVER_INGEST_AUDIT_TABLE], lake, append=True)
