"""`footfall forget`: apply objections received since the last forget to everything silver already holds."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any

from delta.tables import DeltaTable
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from footfall import schemas as S
from footfall.config import Config
from footfall.ingest.contract import read_subscribers
from footfall.ingest.pseudonym import MasterKey, period_index, period_keys_df, period_start, with_pseudo_id
from footfall.lakehouse import (
    DERIVED_PSEUDONYMISED,
    PSEUDONYMISED,
    SILVER_TABLES,
    read_table,
    silver_path,
    table_exists,
    vacuum_now,
    write,
)


@dataclass(frozen=True)
class ForgetReport:
    """What one forget run did: counts and dates, never identifiers."""

    run_id: str
    objections_applied: int
    rows_deleted: dict[str, int]
    affected_dates: list[dt.date]
    tables_vacuumed: list[str]


def filter_new_objections(subscribers_df: DataFrame, *, since: dt.datetime | None) -> DataFrame:
    """Return the objectors whose objection arrived after `since` (all of them when None; undated ones always)."""
    objectors = subscribers_df.where(F.col(S.OPTED_OUT))
    if since is None:
        return objectors
    at = F.col(S.OPTED_OUT_AT)
    return objectors.where(at.isNull() | (at > F.lit(since).cast(T.TimestampType())))


def _last_watermark(spark: SparkSession, path: str) -> dt.datetime | None:
    if not table_exists(spark, path):
        return None
    row = read_table(spark, path).agg(F.max(S.OBJECTIONS_THROUGH).alias("w")).first()
    return None if row is None else row["w"]


def _stored_periods(spark: SparkSession, lakehouse: Any, *, period_days: int) -> list[int]:
    """Return the pseudonym periods of every date any pseudonymised silver table holds."""
    periods: set[int] = set()
    for table, (_, partition) in PSEUDONYMISED.items():
        path = silver_path(lakehouse, table)
        if table_exists(spark, path):
            days = read_table(spark, path).select(partition).distinct().collect()
            periods |= {period_index(r[partition], period_days=period_days) for r in days}
    return sorted(periods)


def run_forget(spark: SparkSession, config: Config, *, key: MasterKey, run_id: str | None = None) -> ForgetReport:
    """Delete the rows of new objectors from every silver table, VACUUM those tables, and append an audit row."""
    run_id = run_id or uuid.uuid4().hex
    run_at = dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)
    lake = config.lakehouse
    period_days = config.privacy.pseudonym_period_days
    audit_path = silver_path(lake, S.SILVER_FORGET_AUDIT_TABLE)

    subscribers_df = read_subscribers(spark, config.landing)
    since = _last_watermark(spark, audit_path)
    objectors_df = filter_new_objections(subscribers_df, since=since).select(S.MSISDN, S.OPTED_OUT_AT).cache()
    summary = objectors_df.agg(F.count(F.lit(1)).alias("n"), F.max(S.OPTED_OUT_AT).alias("through")).first()
    assert summary is not None
    applied = int(summary["n"])
    through = max((t for t in (since, summary["through"]) if t is not None), default=None)

    rows_deleted: dict[str, int] = {}
    affected: set[dt.date] = set()
    vacuumed: list[str] = []
    periods = _stored_periods(spark, lake, period_days=period_days) if applied else []
    if periods:
        starts_df = spark.createDataFrame(
            [(period_start(p, period_days=period_days),) for p in periods],
            T.StructType([T.StructField(S.PERIOD_START, T.DateType(), False)]),
        )
        pseudo_df = (
            objectors_df.select(S.MSISDN)
            .crossJoin(F.broadcast(starts_df))
            .transform(
                with_pseudo_id,
                keys_df=period_keys_df(spark, key=key, periods=periods),
                period_days=period_days,
                date_col=S.PERIOD_START,
            )
            .select(S.PSEUDO_ID)
            .localCheckpoint()
        )
        for table in (*PSEUDONYMISED, *DERIVED_PSEUDONYMISED):
            path = silver_path(lake, table)
            if not table_exists(spark, path):
                continue
            if table == S.SILVER_EVENTS_TABLE:
                partition = PSEUDONYMISED[table][1]
                hit = read_table(spark, path).join(pseudo_df, on=S.PSEUDO_ID, how="left_semi")
                affected |= {r[partition] for r in hit.select(partition).distinct().collect()}
            # MERGE, not DELETE ... IN (...): the commit info then names the join, not the pseudonyms.
            metrics = (
                DeltaTable.forPath(spark, path)
                .alias("t")
                .merge(pseudo_df.alias("o"), f"t.{S.PSEUDO_ID} = o.{S.PSEUDO_ID}")
                .whenMatchedDelete()
                .execute()
                .first()
            )
            rows_deleted[table] = int(metrics["num_deleted_rows"]) if metrics is not None else 0
        # Every pseudonymised table, touched now or not: an earlier ingest re-run may have left a new objector's
        # rows in an old version of a table this run found nothing to delete in.
        for table in (*PSEUDONYMISED, *DERIVED_PSEUDONYMISED):
            path = silver_path(lake, table)
            if table_exists(spark, path):
                vacuum_now(spark, path)
                vacuumed.append(table)
    objectors_df.unpersist()

    if applied:  # nothing new: no commit at all, so a rerun of a day touches no table
        audit_df = spark.createDataFrame(
            [(run_id, run_at, applied, through, rows_deleted, sorted(affected), vacuumed)], S.SILVER_FORGET_AUDIT
        )
        write(audit_df, SILVER_TABLES[S.SILVER_FORGET_AUDIT_TABLE], lake, append=True)
    return ForgetReport(
        run_id=run_id,
        objections_applied=applied,
        rows_deleted=rows_deleted,
        affected_dates=sorted(affected),
        tables_vacuumed=vacuumed,
    )
