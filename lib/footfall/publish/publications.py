"""Publications: which version of every gold table forms one complete publication.

Delta commits each table atomically, but has no transaction across tables. So a publish run writes every gold
table first and then appends one row to gold/_publications naming the version of each: that append is the
publication's commit. Readers take the newest row and read each table at its version (`read_published`), so a run
killed between two gold writes leaves them on the previous publication, never on half of the new one. Rewritten
tables drop their history only after the row landed; a run killed before that finishes it the next time
(`finish_history_drop`). docs/outputs.md, "Reading a consistent publication".
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Mapping, Sequence
from functools import partial
from pathlib import Path
from typing import Any

from delta.tables import DeltaTable
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from footfall import schemas as S
from footfall.lakehouse import (
    PUBLICATIONS,
    gold_path,
    read_rows,
    run_together,
    table_version,
    vacuuming,
    write,
)

_log = logging.getLogger("footfall")


def latest_publication(spark: SparkSession, lakehouse: Path) -> dict[str, Any] | None:
    """Return the newest publication row, or None."""
    rows = read_rows(spark, PUBLICATIONS.path(lakehouse))
    return max(rows, key=lambda r: int(r[S.SEQUENCE])) if rows else None


def published_dates(spark: SparkSession, lakehouse: Path, *, fingerprint: str) -> set[str]:
    """Return the dates (ISO) some publication built from inputs with this fingerprint holds."""
    rows = read_rows(spark, PUBLICATIONS.path(lakehouse), columns=[S.INPUTS, S.DATES])
    return {d for r in rows if r[S.INPUTS] == fingerprint for d in r[S.DATES]}


def read_published(
    spark: SparkSession, lakehouse: Path, table: str, *, publication: Mapping[str, Any] | None = None
) -> DataFrame | None:
    """Return gold `table` as the newest publication (or `publication`) has it; None when it has no such table."""
    publication = publication if publication is not None else latest_publication(spark, lakehouse)
    if publication is None or table not in publication[S.TABLE_VERSIONS]:
        return None
    version = publication[S.TABLE_VERSIONS][table]
    return spark.read.format("delta").option("versionAsOf", version).load(gold_path(lakehouse, table))


def publication_df(
    spark: SparkSession,
    *,
    sequence: int,
    run_id: str,
    published_at: dt.datetime,
    dates: Sequence[str],
    weeks: Sequence[str],
    inputs: str,
    config_hash: str,
    code_version: str,
    table_versions: Mapping[str, int],
    rewritten: Sequence[str],
) -> DataFrame:
    """Return the one-row frame of a publication (nothing dropped yet unless nothing was rewritten)."""
    row = (
        sequence,
        run_id,
        published_at,
        sorted(dates),
        sorted(weeks),
        inputs,
        config_hash,
        code_version,
        dict(table_versions),
        sorted(rewritten),
        not rewritten,
    )
    return spark.createDataFrame([row], S.GOLD_PUBLICATIONS)


def next_sequence(spark: SparkSession, lakehouse: Path) -> int:
    """Return the sequence number the next publication gets."""
    latest = latest_publication(spark, lakehouse)
    return 1 if latest is None else int(latest[S.SEQUENCE]) + 1


def append_publication(df: DataFrame, *, lakehouse: Path) -> None:
    """Commit a publication: from this append on, readers see the gold versions it names."""
    write(df, PUBLICATIONS, lakehouse, append=True)


def finish_history_drop(spark: SparkSession, lakehouse: Path) -> list[str]:
    """Drop the history of the tables the newest publication rewrote, unless done; return the tables dropped.

    Idempotent: VACUUM keeps what the current versions use, and the flag is set only after every table is done.
    Runs before any gold write of a publish run, so the current versions are still the publication's; a table that
    moved on anyway is not vacuumed (that would delete files the publication reads) and the flag stays unset.
    """
    latest = latest_publication(spark, lakehouse)
    if latest is None or latest[S.HISTORY_DROPPED]:
        return []
    tables = list(latest[S.REWRITTEN])
    if any(table_version(spark, gold_path(lakehouse, t)) != latest[S.TABLE_VERSIONS][t] for t in tables):
        return []

    def drop(table: str, vacuum: Callable[[str], None]) -> None:
        _log.info("publish: VACUUM of gold/%s started (history of a rewritten table)", table)
        vacuum(gold_path(lakehouse, table))

    with vacuuming(spark) as vacuum:  # the tables at once: each is a few small jobs
        run_together(spark, {t: partial(drop, t, vacuum) for t in tables})
    DeltaTable.forPath(spark, PUBLICATIONS.path(lakehouse)).update(
        condition=F.col(S.SEQUENCE) == int(latest[S.SEQUENCE]), set={S.HISTORY_DROPPED: F.lit(True)}
    )
    return tables
