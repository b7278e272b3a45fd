"""Row checks: give every landing event a reason code (or none), then split, count and reconcile."""

from __future__ import annotations

import datetime as dt

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T
from pyspark.sql.window import Window

from footfall import schemas as S
from footfall.ingest.pseudonym import period_start_col

PARSED_TS = "event_ts_parsed"  # event_ts as a timestamp, null when it does not parse
# The event's date in the config's time zone: it picks the pseudonym period. event_date when event_ts does not
# parse or lies outside its UTC partition (quarantined rows), so it is always event_date - 1, itself or + 1.
LOCAL_DATE = "event_local_date"
_PERIODS = "_validity"
_KNOWN = "_is_known_subscriber"
_COPY = "_copy_number"
_BUSY = "_device_over_daily_limit"
EVENT_TYPES = (*S.EVENT_TYPES_XDR, *S.EVENT_TYPES_CDR)


class ReconciliationError(RuntimeError):
    """Rows read do not equal rows kept, quarantined and dropped: something lost or invented rows."""


def agg_cell_validity(cells_df: DataFrame) -> DataFrame:
    """Return one row per cell_id with the array of its (valid_from, valid_to) periods."""
    period = F.struct(F.col(S.VALID_FROM).alias(S.VALID_FROM), F.col(S.VALID_TO).alias(S.VALID_TO))
    return cells_df.groupBy(S.CELL_ID).agg(F.collect_list(period).alias(_PERIODS))


def _is_active(ts: Column) -> Column:
    """True when some validity period of the row's cell holds `ts` (valid_from <= ts < valid_to, null = open)."""
    return F.exists(
        F.col(_PERIODS),
        lambda p: (p[S.VALID_FROM] <= ts) & (p[S.VALID_TO].isNull() | (ts < p[S.VALID_TO])),
    )


def with_reason(
    events_df: DataFrame,
    *,
    subscribers_df: DataFrame,
    cell_validity_df: DataFrame,
    period_days: int,
    min_age: int,
    timezone: str = "UTC",
    max_events_per_device_day: int | None = None,
) -> DataFrame:
    """Add `event_ts_parsed`, `event_local_date` (in `timezone`) and `reason`: the first check the row fails, in
    S.REASONS order, or null if none. Ages are reached in the year the period of the local date starts in.
    A device with more than `max_events_per_device_day` rows on an event date (None: no limit) gets
    `implausible_rate` for its rows that pass every other check.

    Expects landing events (S.LANDING_EVENTS plus event_date), typed subscribers and `agg_cell_validity` output.
    """
    ts = F.try_to_timestamp(F.col(S.EVENT_TS), F.lit(S.EVENT_TS_FORMAT))
    customers = subscribers_df.select(S.MSISDN, S.OPTED_OUT, S.BIRTH_YEAR, F.lit(True).alias(_KNOWN))
    exact_copy = Window.partitionBy(S.MSISDN, S.EVENT_TS, S.CELL_ID, S.EVENT_TYPE, S.EVENT_DATE).orderBy(S.EVENT_TS)
    checked = (
        events_df.withColumn(PARSED_TS, ts)
        .join(customers, on=S.MSISDN, how="left")
        .join(F.broadcast(cell_validity_df), on=S.CELL_ID, how="left")
        .withColumn(_COPY, F.row_number().over(exact_copy))
    )
    if max_events_per_device_day is not None:
        # Counted apart and broadcast back: a partial aggregation, not a sort of every event by device, and the
        # devices over the limit are few (a window by device would put a SIM box's day into one task).
        busy = (
            events_df.where(F.col(S.MSISDN).isNotNull())
            .groupBy(S.MSISDN, S.EVENT_DATE)
            .agg(F.count(F.lit(1)).alias("_rows"))
            .where(F.col("_rows") > max_events_per_device_day)
            .select(S.MSISDN, S.EVENT_DATE, F.lit(True).alias(_BUSY))
        )
        checked = checked.join(F.broadcast(busy), on=[S.MSISDN, S.EVENT_DATE], how="left")
    else:
        checked = checked.withColumn(_BUSY, F.lit(None).cast(T.BooleanType()))
    parsed = F.col(PARSED_TS)
    utc_day = F.floor(F.unix_seconds(parsed) / F.lit(86_400))
    in_day = utc_day == F.unix_date(S.EVENT_DATE)
    local_date = F.coalesce(F.when(in_day, F.to_date(F.from_utc_timestamp(parsed, timezone))), F.col(S.EVENT_DATE))
    # the same period, and so the same age, as the subscriber dimension row the event's pseudonym joins
    age = F.year(period_start_col(local_date, period_days=period_days)) - F.col(S.BIRTH_YEAR)
    reason = (
        F.when(F.col(S.MSISDN).isNull(), S.BAD_NULL_MSISDN)
        .when(F.coalesce(F.col(S.OPTED_OUT), F.lit(False)), S.BAD_OPTED_OUT)
        .when(parsed.isNull(), S.BAD_TIMESTAMP)
        .when(~in_day, S.BAD_OUT_OF_DAY)
        .when(F.col(_PERIODS).isNull(), S.BAD_UNKNOWN_CELL)
        .when(~_is_active(parsed), S.BAD_CELL_INACTIVE)
        .when(F.col(_COPY) > 1, S.BAD_DUPLICATE)
        .when(F.col(_KNOWN).isNull(), S.REASON_UNKNOWN_SUBSCRIBER)
        .when(F.col(S.EVENT_TYPE).isNull() | ~F.col(S.EVENT_TYPE).isin(*EVENT_TYPES), S.REASON_BAD_EVENT_TYPE)
        .when(age < min_age, S.REASON_MINOR)
        .when(F.col(_BUSY).isNotNull(), S.REASON_IMPLAUSIBLE_RATE)
    )
    return checked.select(
        *[F.col(f.name) for f in S.LANDING_EVENTS.fields],
        S.EVENT_DATE,
        PARSED_TS,
        local_date.alias(LOCAL_DATE),
        reason.alias(S.REASON),
    )


def filter_silver_events(checked_df: DataFrame) -> DataFrame:
    """Return the rows that passed every check, as S.SILVER_EVENTS (expects pseudonymised `with_reason` output)."""
    return checked_df.where(F.col(S.REASON).isNull()).select(
        S.PSEUDO_ID, F.col(PARSED_TS).alias(S.EVENT_TS), S.CELL_ID, S.EVENT_TYPE, S.EVENT_DATE
    )


def filter_quarantine(checked_df: DataFrame, *, run_id: str) -> DataFrame:
    """Return the rows to keep in quarantine, as S.SILVER_QUARANTINE_EVENTS; dropped reasons keep nothing."""
    return checked_df.where(F.col(S.REASON).isin(*S.QUARANTINE_REASONS)).select(
        S.PSEUDO_ID, S.EVENT_TS, S.CELL_ID, S.EVENT_TYPE, S.EVENT_DATE, S.REASON, F.lit(run_id).alias(S.RUN_ID)
    )


def agg_ingest_audit(
    checked_df: DataFrame, *, read_counts_df: DataFrame, run_id: str, run_at: dt.datetime
) -> DataFrame:
    """Return S.SILVER_INGEST_AUDIT: per date, rows read (from `read_counts_df`: event_date, rows_read) and outcomes."""
    reason = F.col(S.REASON)

    def rows(condition: Column) -> Column:
        return F.count(F.when(condition, 1))

    outcomes = checked_df.groupBy(S.EVENT_DATE).agg(
        rows(reason.isNull()).alias(S.ROWS_SILVER),
        rows(reason.isin(*S.QUARANTINE_REASONS)).alias(S.ROWS_QUARANTINED),
        rows(reason == S.BAD_OPTED_OUT).alias(S.ROWS_OPTED_OUT),
        rows(reason == S.REASON_MINOR).alias(S.ROWS_MINOR),
        # A row with a reason we do not know would be lost; counting it here makes the reconciliation catch it.
        F.create_map(*[part for r in S.REASONS for part in (F.lit(r), rows(reason == r))]).alias(S.ROWS_BY_REASON),
    )
    # Full outer join: a date with reads but no outcomes (or the reverse) must show as a mismatch, not vanish.
    joined = read_counts_df.join(outcomes, on=S.EVENT_DATE, how="full_outer")
    zero = F.lit(0).cast(T.LongType())
    empty = F.create_map(*[part for r in S.REASONS for part in (F.lit(r), zero)])
    return joined.select(
        S.EVENT_DATE,
        F.lit(run_id).alias(S.RUN_ID),
        F.lit(run_at).cast(T.TimestampType()).alias(S.RUN_AT),
        *[
            F.coalesce(F.col(c), zero).cast(T.LongType()).alias(c)
            for c in (S.ROWS_READ, S.ROWS_SILVER, S.ROWS_QUARANTINED, S.ROWS_OPTED_OUT, S.ROWS_MINOR)
        ],
        F.coalesce(F.col(S.ROWS_BY_REASON), empty).alias(S.ROWS_BY_REASON),
        F.lit(None).cast(T.StringType()).alias(S.ACCEPTED_BREACH),  # set by the guards (job.with_accepted_breaches)
    )


def filter_unreconciled(audit_df: DataFrame) -> DataFrame:
    """Return the audit rows where rows_read != rows_silver + rows_quarantined + rows_opted_out + rows_minor."""
    placed = F.col(S.ROWS_SILVER) + F.col(S.ROWS_QUARANTINED) + F.col(S.ROWS_OPTED_OUT) + F.col(S.ROWS_MINOR)
    return audit_df.where(F.col(S.ROWS_READ) != placed)
