"""`footfall forget`: apply every objection not applied yet to everything silver holds, and say which local dates
of gold must be republished for it.

Applied objections are remembered as tokens (`silver/forget_applied`), not by date: an objection dated before
one already applied (back-dated paperwork, a corrected master file) is still applied. The dates whose gold read
the deleted rows stay in `silver/forget_pending` until gold of them is republished, so a republication that
failed or was skipped is retried by the next run.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import logging
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from delta.tables import DeltaTable
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from footfall import schemas as S
from footfall.config import Config
from footfall.ingest.contract import SUBSCRIBERS_FILE, read_subscribers
from footfall.ingest.pseudonym import MasterKey, hmac_sha256_hex, period_index, period_keys_df, with_pseudo_id
from footfall.ingest.retention import DATED, held_dates, iso_week
from footfall.lakehouse import (
    DERIVED_PSEUDONYMISED,
    PSEUDONYMISED,
    SILVER_TABLES,
    commit_metadatas,
    gold_dates,
    partition_dates,
    read_rows,
    read_table,
    run_together,
    silver_path,
    table_exists,
    vacuuming,
    write,
)

_log = logging.getLogger("footfall")
_SHA256_BLOCK = 64
_IPAD = "_objection_ipad"
_OPAD = "_objection_opad"
_WEEKLY = S.SILVER_REPEAT_VISITS_TABLE


@dataclass(frozen=True)
class ForgetReport:
    """What one forget run did: counts and dates, never identifiers."""

    run_id: str
    objections_applied: int
    rows_deleted: dict[str, int]
    affected_dates: list[dt.date]  # local dates whose gold read rows this run deleted
    tables_vacuumed: list[str]
    pending_dates: list[dt.date]  # local dates still to republish, from this run and earlier ones


def objection_key(key: MasterKey) -> bytes:
    """Return the 32-byte key of the applied-objection tokens, derived from the master key for this use only."""
    # like the period keys, with its own label: a token and a pseudonym share no key
    return key.derived_key("footfall/forget-applied")


def objection_key_df(spark: SparkSession, *, key: MasterKey) -> DataFrame:
    """Return one row with the padded HMAC keys of the tokens: they travel as data, never in a query plan."""
    padded = objection_key(key).ljust(_SHA256_BLOCK, b"\0")
    row = (bytearray(b ^ 0x36 for b in padded), bytearray(b ^ 0x5C for b in padded))
    schema = T.StructType([T.StructField(_IPAD, T.BinaryType(), False), T.StructField(_OPAD, T.BinaryType(), False)])
    return spark.createDataFrame([row], schema)


def with_objection_token(objectors_df: DataFrame, *, key_df: DataFrame) -> DataFrame:
    """Add objection_token: HMAC of msisdn and opted_out_at (UTC microseconds, empty when undated)."""
    at = F.coalesce(F.unix_micros(F.col(S.OPTED_OUT_AT)).cast("string"), F.lit(""))
    message = F.concat_ws("|", F.col(S.MSISDN), at)
    return (
        objectors_df.crossJoin(F.broadcast(key_df))
        .withColumn(S.OBJECTION_TOKEN, hmac_sha256_hex(message, ipad=F.col(_IPAD), opad=F.col(_OPAD)))
        .drop(_IPAD, _OPAD)
    )


def filter_unapplied_objections(subscribers_df: DataFrame, *, key_df: DataFrame, applied_df: DataFrame) -> DataFrame:
    """Return the objectors whose objection has no token in `applied_df`, whatever its date, with their token."""
    return (
        subscribers_df.where(F.col(S.OPTED_OUT))
        .select(S.MSISDN, S.OPTED_OUT_AT)
        .transform(with_objection_token, key_df=key_df)
        .join(applied_df.select(S.OBJECTION_TOKEN), on=S.OBJECTION_TOKEN, how="left_anti")
    )


def affected_gold_dates(
    *, stays: Iterable[dt.date], dates: Iterable[dt.date], weeks: Iterable[str], held: Iterable[dt.date]
) -> list[dt.date]:
    """Return the local dates to republish for deleted rows: `stays` (and `dates`, of homes and flows) are the
    dates whose rows went, `weeks` the weeks whose repeat visits went, `held` the dates silver holds.

    A gold date reads its own stays, homes and flows, the stays of the day before (overnight visits) and its
    week's repeat visits. So gold changes on: every date that lost rows; the day after each date that lost stays;
    every date of a week that lost repeat visits. The answer is every date silver holds in the ISO weeks of those
    dates, not the dates themselves: the republished dates go to _publications, to commit metadata and to the
    validation runs, and the days one person's phone was in the city must not be read from them (issue 30). A
    republication says in which weeks the objectors were active, never on which days (docs/privacy.md).
    """
    held, stays = set(held), set(stays)
    found = stays | set(dates) | ({d + dt.timedelta(days=1) for d in stays} & held)
    touched = set(weeks) | {iso_week(d) for d in found}
    return sorted(found | {d for d in held if iso_week(d) in touched})


def republish_dates(pending: Iterable[dt.date], *, published: Iterable[dt.date]) -> list[dt.date]:
    """Return the dates to republish for `pending`: those gold holds, plus one published date of each pending date's
    week that has none yet (publishing any date of a week rewrites the week).

    A pending date gold never held needs nothing: when it is published, it is built from silver without the rows.
    """
    published = set(published)
    pending = set(pending)
    dates = pending & published
    for week in sorted({iso_week(d) for d in pending}):
        if not any(iso_week(d) == week for d in dates):
            dates |= set(sorted(d for d in published if iso_week(d) == week)[:1])
    return sorted(dates)


def dates_to_republish(spark: SparkSession, lakehouse: Path, *, pending: Sequence[dt.date]) -> list[dt.date]:
    """Return the dates to publish so that gold of every `pending` date is rebuilt (`republish_dates` on the dates
    gold holds); no read at all when nothing is pending."""
    return republish_dates(pending, published=gold_dates(spark, lakehouse)) if pending else []


def read_pending_dates(spark: SparkSession, lakehouse: Path) -> list[dt.date]:
    """Return the local dates whose gold still waits for republication after a forget."""
    rows = read_rows(spark, silver_path(lakehouse, S.SILVER_FORGET_PENDING_TABLE), columns=[S.DATE])
    return sorted({r[S.DATE] for r in rows})


def clear_pending(spark: SparkSession, lakehouse: Path, *, dates: Sequence[dt.date]) -> list[dt.date]:
    """Delete `dates` from the pending dates after gold of them was republished; return those cleared.

    Call it only after a publication of `dates_to_republish(..., pending=dates)` succeeded (or was skipped as
    current). No commit when none of them is pending, so a rerun that republishes nothing touches no table.
    """
    cleared = sorted(set(read_pending_dates(spark, lakehouse)) & set(dates)) if dates else []
    if cleared:
        path = silver_path(lakehouse, S.SILVER_FORGET_PENDING_TABLE)
        DeltaTable.forPath(spark, path).delete(F.col(S.DATE).isin(cleared))
    return cleared


def _stored_period_starts(spark: SparkSession, lakehouse: Path) -> list[dt.date]:
    """Return the first dates of the pseudonym periods silver holds: every period with events has a subscribers
    partition (named by its start, a local date)."""
    return sorted(partition_dates(spark, silver_path(lakehouse, S.SILVER_SUBSCRIBERS_TABLE), S.PERIOD_START))


def _partitions_hit(spark: SparkSession, lakehouse: Path, table: str, *, pseudo_df: DataFrame) -> set[Any]:
    """Return the partition values of `table` that hold a row of `pseudo_df` (empty when there is no table)."""
    path, partition = silver_path(lakehouse, table), SILVER_TABLES[table].partition
    if partition is None or not table_exists(spark, path):
        return set()
    hit = read_table(spark, path).join(F.broadcast(pseudo_df), on=S.PSEUDO_ID, how="left_semi")
    return {r[partition] for r in hit.select(partition).distinct().collect()}


def _affected(spark: SparkSession, lakehouse: Path, *, pseudo_df: DataFrame) -> list[dt.date]:
    """Return the local dates whose gold read a row of `pseudo_df` in a derived table (read before the deletes)."""
    hit = {t: _partitions_hit(spark, lakehouse, t, pseudo_df=pseudo_df) for t in (*DATED, _WEEKLY)}
    if not any(hit.values()):
        return []
    return affected_gold_dates(
        stays=hit[S.SILVER_STAYS_TABLE] | hit[S.SILVER_EXPECTED_VISITS_TABLE],  # a visit counts into the next day
        dates=hit[S.SILVER_DEVICE_HOME_TABLE] | hit[S.SILVER_ZONE_TRANSITIONS_TABLE],
        weeks=hit[_WEEKLY],
        held=held_dates(spark, lakehouse),
    )


def _delete(spark: SparkSession, path: str, *, pseudo_df: DataFrame) -> int:
    """Delete the rows of `pseudo_df` from the table at `path`; return how many went."""
    # MERGE, not DELETE ... IN (...): the commit info then names the join, not the pseudonyms.
    metrics = (
        DeltaTable.forPath(spark, path)
        .alias("t")
        .merge(pseudo_df.alias("o"), f"t.{S.PSEUDO_ID} = o.{S.PSEUDO_ID}")
        .whenMatchedDelete()
        .execute()
        .first()
    )
    return int(metrics["num_deleted_rows"]) if metrics is not None else 0


def _objections_through(spark: SparkSession, lakehouse: Path, latest: dt.datetime | None) -> dt.datetime | None:
    """Return the latest opted_out_at applied so far: the audit's last value or `latest`, whichever is later."""
    path = silver_path(lakehouse, S.SILVER_FORGET_AUDIT_TABLE)
    row = read_table(spark, path).agg(F.max(S.OBJECTIONS_THROUGH)).first() if table_exists(spark, path) else None
    return max((t for t in (row[0] if row else None, latest) if t is not None), default=None)


def read_unapplied_objections(spark: SparkSession, config: Config, *, key: MasterKey) -> DataFrame:
    """Return (msisdn, opted_out_at, objection_token) of every objection in the landing subscribers file whose
    token silver's applied objections do not hold."""
    applied_path = silver_path(config.lakehouse, S.SILVER_FORGET_APPLIED_TABLE)
    applied_df = (
        read_table(spark, applied_path)
        if table_exists(spark, applied_path)
        else spark.createDataFrame([], S.SILVER_FORGET_APPLIED)
    )
    return filter_unapplied_objections(
        read_subscribers(spark, config.landing), key_df=objection_key_df(spark, key=key), applied_df=applied_df
    )


def read_objections(spark: SparkSession, config: Config, *, key: MasterKey) -> DataFrame:
    """Return (objection_token, opted_out_at, pseudo_id) of every objection not applied yet, one row per pseudonym
    period silver holds (pseudo_id null when it holds none); checkpointed, so no msisdn outlives the read."""
    lake, period_days = config.lakehouse, config.privacy.pseudonym_period_days
    starts = _stored_period_starts(spark, lake)
    starts_df = spark.createDataFrame(
        [(d,) for d in starts], T.StructType([T.StructField(S.PERIOD_START, T.DateType(), False)])
    )
    # one read of the landing file gives both the tokens and the pseudonyms
    return (
        read_unapplied_objections(spark, config, key=key)
        .join(F.broadcast(starts_df), on=F.lit(True), how="left")
        .transform(
            with_pseudo_id,
            keys_df=period_keys_df(spark, key=key, periods=[period_index(d, period_days=period_days) for d in starts]),
            period_days=period_days,
            date_col=S.PERIOD_START,
        )
        .select(S.OBJECTION_TOKEN, S.OPTED_OUT_AT, S.PSEUDO_ID)
        .localCheckpoint()
    )


APPLIED_THROUGH = "subscribers_applied"  # the audit commit's userMetadata: the subscribers file fully applied


def subscribers_fingerprint(landing: Path, *, key: MasterKey) -> str:
    """Return a keyed hash of the landing subscribers file's bytes: equal only for the same file and the same key
    (the key decides the objection tokens), and telling nothing about the file without the key."""
    digest = hashlib.sha256()
    with (landing / SUBSCRIBERS_FILE).open("rb") as handle:
        while chunk := handle.read(1 << 24):
            digest.update(chunk)
    return hmac.new(objection_key(key), digest.digest(), hashlib.sha256).hexdigest()[:32]


def last_applied_fingerprint(spark: SparkSession, lakehouse: Path) -> str | None:
    """Return the subscribers fingerprint the newest forget that applied objections recorded, or None."""
    path = silver_path(lakehouse, S.SILVER_FORGET_AUDIT_TABLE)
    return next((m[APPLIED_THROUGH] for m in commit_metadatas(spark, path) if APPLIED_THROUGH in m), None)


def run_forget(spark: SparkSession, config: Config, *, key: MasterKey, run_id: str | None = None) -> ForgetReport:
    """Delete the rows of every objector not applied yet from every pseudonymised silver table, VACUUM them, and
    record the local dates whose gold must be republished, the applied objections and an audit row.

    Nothing new: no commit at all, so a rerun of a day touches no table.
    """
    run_id = run_id or uuid.uuid4().hex
    run_at = dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)
    lake = config.lakehouse

    # The subscribers file a forget applied in full, unchanged since, under the same key: nothing can be new. So a
    # rerun reads no Spark frame here (a cold JVM's first jobs: 10 s of a 20 s rerun, make bench at 1 M events).
    fingerprint = subscribers_fingerprint(Path(config.landing), key=key)
    if fingerprint == last_applied_fingerprint(spark, lake):
        return ForgetReport(run_id, 0, {}, [], [], read_pending_dates(spark, lake))
    # read: first only whether anything is new, the common case (one small query, no pseudonyms, no checkpoint)
    summary = (
        read_unapplied_objections(spark, config, key=key)
        .agg(F.count_distinct(S.OBJECTION_TOKEN).alias("n"), F.max(S.OPTED_OUT_AT).alias("latest"))
        .first()
    )
    assert summary is not None
    applied = int(summary["n"])
    if not applied:
        return ForgetReport(run_id, 0, {}, [], [], read_pending_dates(spark, lake))
    objections_df = read_objections(spark, config, key=key)
    # counted again from what is applied: the landing file may have changed since the first read
    summary = objections_df.agg(
        F.count_distinct(S.OBJECTION_TOKEN).alias("n"), F.max(S.OPTED_OUT_AT).alias("latest")
    ).first()
    assert summary is not None
    applied = int(summary["n"])
    pseudo_df = objections_df.where(F.col(S.PSEUDO_ID).isNotNull()).select(S.PSEUDO_ID).distinct().localCheckpoint()

    # build: the gold dates that read rows about to go
    affected = _affected(spark, lake, pseudo_df=pseudo_df)

    # write: the pending dates before the deletes (a crash after them must not lose the dates); the applied tokens
    # and the audit row after them (a crash before those applies the objection again, which deletes nothing)
    if affected:
        pending_df = spark.createDataFrame([(d, run_id, run_at) for d in affected], S.SILVER_FORGET_PENDING)
        write(pending_df, SILVER_TABLES[S.SILVER_FORGET_PENDING_TABLE], lake, append=True)
    tables = [t for t in (*PSEUDONYMISED, *DERIVED_PSEUDONYMISED) if table_exists(spark, silver_path(lake, t))]

    def purge(table: str, vacuum: Callable[[str], None]) -> int:
        deleted = _delete(spark, silver_path(lake, table), pseudo_df=pseudo_df)
        # Every pseudonymised table, touched now or not: an earlier ingest re-run may have left a new objector's
        # rows in an old version of a table this run found nothing to delete in.
        _log.info("forget: VACUUM of silver/%s started", table)  # the slow part of a forget; the kill harness reads it
        vacuum(silver_path(lake, table))
        return deleted

    with vacuuming(spark) as vacuum:  # the tables at once: each is a few small jobs and commits
        rows_deleted = run_together(spark, {t: partial(purge, t, vacuum) for t in tables})
    stamp = {S.RUN_ID: F.lit(run_id), S.RUN_AT: F.lit(run_at).cast(T.TimestampType())}
    tokens_df = objections_df.select(S.OBJECTION_TOKEN).distinct().withColumns(stamp)
    write(tokens_df, SILVER_TABLES[S.SILVER_FORGET_APPLIED_TABLE], lake, append=True)
    through = _objections_through(spark, lake, summary["latest"])
    audit_df = spark.createDataFrame(
        [(run_id, run_at, applied, through, rows_deleted, affected, tables)], S.SILVER_FORGET_AUDIT
    )
    # last: the fingerprint says every objection of this file is applied, which is true only once the run is done
    audit = SILVER_TABLES[S.SILVER_FORGET_AUDIT_TABLE]
    write(audit_df, audit, lake, append=True, user_metadata={APPLIED_THROUGH: fingerprint})
    return ForgetReport(run_id, applied, rows_deleted, affected, tables, read_pending_dates(spark, lake))
