"""The ingest job: contract check, row checks, pseudonymisation, reconciliation, then the silver writes."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping, Sequence
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
from footfall.ingest.guards import check_quarantine
from footfall.ingest.plan import STAGE, ingest_fingerprints
from footfall.ingest.pseudonym import MasterKey, period_keys_df, period_start, periods_of_utc_dates, with_pseudo_id
from footfall.ingest.subscribers import with_subscriber_dimension
from footfall.lakehouse import SILVER_TABLES, Table
from footfall.session import size_shuffle
from footfall.stage import Built, Output, run_stage, sign_off_metadata


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


@dataclass(frozen=True)
class IngestInputs:
    """What an ingest run reads: the landing files as frames, the rows read per date, and the period keys."""

    subscribers_df: DataFrame
    cells_df: DataFrame
    raw_df: DataFrame
    read_counts_df: DataFrame  # (event_date, rows_read) for every date of the run
    keys_df: DataFrame
    period_starts: list[dt.date]


def read_ingest(
    spark: SparkSession, config: Config, *, dates: Sequence[dt.date], key: MasterKey, files: Sequence[EventFile]
) -> IngestInputs:
    """Return the landing inputs of `dates`; the keys and the subscriber dimension cover every period those dates'
    local dates fall in (an event's period is that of its local date, maybe a day off its UTC partition)."""
    # a local session raises its shuffle partitions for a large input (a cluster keeps its own)
    size_shuffle(spark, events=sum(f.rows for f in files))
    raw_df = read_landing_events(spark, files)
    period_days = config.privacy.pseudonym_period_days
    periods = periods_of_utc_dates(dates, period_days=period_days)
    return IngestInputs(
        subscribers_df=read_subscribers(spark, config.landing),
        cells_df=read_cells(spark, config.landing),
        raw_df=raw_df,
        read_counts_df=_read_counts(spark, raw_df, dates),
        keys_df=period_keys_df(spark, key=key, periods=periods),
        period_starts=[period_start(p, period_days=period_days) for p in periods],
    )


def build_ingest(
    inputs: IngestInputs, config: Config, *, run_id: str, run_at: dt.datetime
) -> tuple[dict[Table, DataFrame], DataFrame]:
    """Return the silver tables of the run (events, quarantine, the subscriber dimension, the audit rows) and the
    checked rows events and quarantine derive from, persisted on disk until they are written.

    The audit is materialised, so what the reconciliation checks is what is written; no msisdn is persisted: only
    rows after pseudonymisation are.
    """
    spark = inputs.raw_df.sparkSession
    privacy = config.privacy
    period_days = privacy.pseudonym_period_days
    # On disk only: held in memory, 100 M checked rows crowd out the sorts that write them (docs/scale.md).
    checked_df = (
        inputs.raw_df.transform(
            with_reason,
            subscribers_df=inputs.subscribers_df,
            cell_validity_df=agg_cell_validity(inputs.cells_df),
            period_days=period_days,
            min_age=privacy.age_bands[0],
            timezone=config.timezone,
            max_events_per_device_day=config.ingest.max_events_per_device_day,
        )
        .transform(with_pseudo_id, keys_df=inputs.keys_df, period_days=period_days, date_col=LOCAL_DATE)
        .persist(StorageLevel.DISK_ONLY)
    )
    audit_df = agg_ingest_audit(
        checked_df, read_counts_df=inputs.read_counts_df, run_id=run_id, run_at=run_at
    ).localCheckpoint()
    period_starts_df = spark.createDataFrame(
        [(start,) for start in inputs.period_starts],
        T.StructType([T.StructField(S.PERIOD_START, T.DateType(), False)]),
    )
    dimension_df = inputs.subscribers_df.transform(
        with_subscriber_dimension,
        period_starts_df=period_starts_df,
        keys_df=inputs.keys_df,
        period_days=period_days,
        age_bands=privacy.age_bands,
    )
    return {
        SILVER_TABLES[S.SILVER_SUBSCRIBERS_TABLE]: dimension_df,
        SILVER_TABLES[S.SILVER_QUARANTINE_TABLE]: filter_quarantine(checked_df, run_id=run_id),
        SILVER_TABLES[S.SILVER_EVENTS_TABLE]: filter_silver_events(checked_df),
        SILVER_TABLES[S.SILVER_INGEST_AUDIT_TABLE]: audit_df,
    }, checked_df


def with_accepted_breaches(audit_df: DataFrame, accepted: Mapping[dt.date, str]) -> DataFrame:
    """Return the audit rows with accepted_breach: what the guards stopped on that date and an operator accepted
    (`--accept-quarantine`), else null."""
    breach = F.lit(None).cast(T.StringType())
    for day, text in sorted(accepted.items()):
        breach = F.when(F.col(S.EVENT_DATE) == F.lit(day), F.lit(text)).otherwise(breach)
    return audit_df.withColumn(S.ACCEPTED_BREACH, breach)


def check_reconciled(audit_df: DataFrame, *, run_id: str) -> None:
    """Raise ReconciliationError naming the first date whose rows read are not all placed somewhere."""
    unreconciled = filter_unreconciled(audit_df).orderBy(S.EVENT_DATE).collect()
    if unreconciled:
        first = unreconciled[0]
        raise ReconciliationError(
            f"ingest run {run_id}: {first[S.EVENT_DATE]} read {first[S.ROWS_READ]} rows but placed "
            f"{first[S.ROWS_SILVER]} in silver, {first[S.ROWS_QUARANTINED]} in quarantine and dropped "
            f"{first[S.ROWS_OPTED_OUT]} (objection) + {first[S.ROWS_MINOR]} (minor); nothing was written"
        )


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
    Always writes: which dates need ingesting is the plan's call (plan_ingest, on the runner's built_fingerprints).
    """
    dates = sorted(set(dates))
    checked_files = check_events_contract(config.landing, dates) if files is None else files
    run_id = run_id or uuid.uuid4().hex
    run_at = dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)
    audit_table = STAGE.marker

    accepted: dict[dt.date, str] = {}  # the guards' breaches an operator accepted, per date (validate fills it)

    def built(inputs: IngestInputs) -> Built[dict[Table, DataFrame]]:
        frames, checked_df = build_ingest(inputs, config, run_id=run_id, run_at=run_at)
        # the dimension replaces exactly the periods it was built for; other periods keep their rows
        values = {SILVER_TABLES[S.SILVER_SUBSCRIBERS_TABLE]: inputs.period_starts}
        return Built(
            outputs={t: Output(df, values.get(t, dates)) for t, df in frames.items() if t != audit_table},
            marker=lambda _metrics: Output(with_accepted_breaches(frames[audit_table], accepted), append=True),
            info=frames,
            held=[checked_df],
        )

    def validate(b: Built[dict[Table, DataFrame]]) -> None:
        audit_df = b.info[audit_table]
        check_reconciled(audit_df, run_id=run_id)
        accepted.update(check_quarantine([r.asDict() for r in audit_df.collect()], guards=config.guards))

    result = run_stage(
        spark,
        STAGE,
        config.lakehouse,
        run_id=run_id,
        fingerprints=lambda: ingest_fingerprints(config, dates, key=key),
        force=True,
        metadata=sign_off_metadata(config),
        read=lambda: read_ingest(spark, config, dates=dates, key=key, files=checked_files),
        build=built,
        validate=validate,
        report=lambda b, _metrics: [
            {**r.asDict(recursive=True), S.ACCEPTED_BREACH: accepted.get(r[S.EVENT_DATE])}
            for r in b.info[audit_table].orderBy(S.EVENT_DATE).collect()
        ],
    )
    assert result.report is not None
    return IngestReport(run_id=run_id, audit=result.report)
