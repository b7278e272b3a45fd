"""The lakehouse: where every Delta table lives, how it is created, and the only ways the stages write it.

Stages ask this module for paths and writes; none of them borrows another stage's helpers for that.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

import pyarrow as pa
from delta.tables import DeltaTable
from pyspark import inheritable_thread_target
from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from footfall import commit_log
from footfall import schemas as S
from footfall.lakehouse_format import ensure_format
from footfall.session import conf_set

R = TypeVar("R")


@dataclass(frozen=True)
class Table:
    """A Delta table of the lakehouse: its layer folder, name, contract (schemas.py), partition column, and the
    stage that builds it (what a stage missing it as input names to run first)."""

    layer: str
    name: str
    schema: T.StructType
    partition: str | None = None
    built_by: str | None = None

    def path(self, lakehouse: Path) -> str:
        """Return where the table lives under `lakehouse`."""
        return str(Path(lakehouse) / self.layer / self.name)


def _silver(built_by: str, name: str, schema: T.StructType, partition: str | None = None) -> Table:
    return Table(S.SILVER, name, schema, partition, built_by)


# The registry: every table footfall writes, silver, gold and quality alike. Stages ask it, never build paths.
SILVER_TABLES: dict[str, Table] = {
    t.name: t
    for t in (
        # ingest
        _silver("ingest", S.SILVER_EVENTS_TABLE, S.SILVER_EVENTS, S.SILVER_EVENTS_PARTITION),
        _silver("ingest", S.SILVER_QUARANTINE_TABLE, S.SILVER_QUARANTINE_EVENTS, S.SILVER_QUARANTINE_PARTITION),
        _silver("ingest", S.SILVER_SUBSCRIBERS_TABLE, S.SILVER_SUBSCRIBERS, S.SILVER_SUBSCRIBERS_PARTITION),
        _silver("ingest", S.SILVER_INGEST_AUDIT_TABLE, S.SILVER_INGEST_AUDIT),
        # forget
        _silver("forget", S.SILVER_FORGET_AUDIT_TABLE, S.SILVER_FORGET_AUDIT),
        _silver("forget", S.SILVER_FORGET_APPLIED_TABLE, S.SILVER_FORGET_APPLIED),
        _silver("forget", S.SILVER_FORGET_PENDING_TABLE, S.SILVER_FORGET_PENDING),
        # spatial: the inventory, rebuilt whole per version
        _silver("spatial", S.SILVER_ZONES_TABLE, S.SILVER_ZONES),
        _silver("spatial", S.SILVER_DISTRICTS_TABLE, S.SILVER_DISTRICTS),
        _silver("spatial", S.SILVER_CELL_FOOTPRINTS_TABLE, S.SILVER_CELL_FOOTPRINTS),
        _silver("spatial", S.SILVER_CELL_ZONE_WEIGHTS_TABLE, S.SILVER_CELL_ZONE_WEIGHTS),
        _silver("spatial", S.SILVER_CELL_DISTRICT_WEIGHTS_TABLE, S.SILVER_CELL_DISTRICT_WEIGHTS),
        _silver("spatial", S.SILVER_ZONE_RESOLUTION_TABLE, S.SILVER_ZONE_RESOLUTION),
        _silver("spatial", S.SILVER_MARKET_SHARE_TABLE, S.SILVER_MARKET_SHARE),
        _silver("spatial", S.SILVER_COVERAGE_TABLE, S.SILVER_COVERAGE),
        _silver("spatial", S.SILVER_TILE_ZONES_TABLE, S.SILVER_TILE_ZONES),
        _silver("spatial", S.SILVER_HOME_COVERAGE_TABLE, S.SILVER_HOME_COVERAGE),
        _silver("spatial", S.SILVER_HOME_TILE_DISTRICTS_TABLE, S.SILVER_HOME_TILE_DISTRICTS),
        _silver("spatial", S.SILVER_SPATIAL_INPUTS_TABLE, S.SILVER_SPATIAL_INPUTS),
        # mobility
        _silver("mobility", S.SILVER_STAYS_TABLE, S.SILVER_STAYS, S.SILVER_STAYS_PARTITION),
        _silver("mobility", S.SILVER_DEVICE_HOME_TABLE, S.SILVER_DEVICE_HOME, S.SILVER_DEVICE_HOME_PARTITION),
        _silver("mobility", S.SILVER_REPEAT_VISITS_TABLE, S.SILVER_REPEAT_VISITS, S.SILVER_REPEAT_VISITS_PARTITION),
        _silver(
            "mobility", S.SILVER_ZONE_TRANSITIONS_TABLE, S.SILVER_ZONE_TRANSITIONS, S.SILVER_ZONE_TRANSITIONS_PARTITION
        ),
        _silver(
            "mobility", S.SILVER_EXPECTED_VISITS_TABLE, S.SILVER_EXPECTED_VISITS, S.SILVER_EXPECTED_VISITS_PARTITION
        ),
        _silver("mobility", S.SILVER_NIGHT_VOTES_TABLE, S.SILVER_NIGHT_VOTES, S.SILVER_NIGHT_VOTES_PARTITION),
    )
}
GOLD_TABLES: dict[str, Table] = {
    name: Table(S.GOLD, name, schema, partition) for name, (schema, partition) in S.GOLD_TABLES.items()
}
# Not a gold table of its own: the pointer that says which versions of the gold tables form the latest publication.
PUBLICATIONS = Table(S.GOLD, S.GOLD_PUBLICATIONS_TABLE, S.GOLD_PUBLICATIONS)
QUALITY_TABLES: dict[str, Table] = {
    S.QUALITY_VALIDATION_RUNS_TABLE: Table(S.QUALITY, S.QUALITY_VALIDATION_RUNS_TABLE, S.QUALITY_VALIDATION_RUNS),
    S.QUALITY_PRIVACY_LEDGER_TABLE: Table(S.QUALITY, S.QUALITY_PRIVACY_LEDGER_TABLE, S.QUALITY_PRIVACY_LEDGER),
}
# Every table of the registry: what maintenance and migrations go over.
ALL_TABLES: tuple[Table, ...] = (*SILVER_TABLES.values(), *GOLD_TABLES.values(), PUBLICATIONS, *QUALITY_TABLES.values())

# Tables ingest fills with pseudonyms, with their partition column: `forget` deletes from each and vacuums them.
PSEUDONYMISED: dict[str, tuple[T.StructType, str]] = {
    S.SILVER_EVENTS_TABLE: (S.SILVER_EVENTS, S.SILVER_EVENTS_PARTITION),
    S.SILVER_QUARANTINE_TABLE: (S.SILVER_QUARANTINE_EVENTS, S.SILVER_QUARANTINE_PARTITION),
    S.SILVER_SUBSCRIBERS_TABLE: (S.SILVER_SUBSCRIBERS, S.SILVER_SUBSCRIBERS_PARTITION),
}
# Tables mobility derives from events: they hold the same pseudonyms, so `forget` deletes from them and vacuums them.
DERIVED_PSEUDONYMISED = {
    name: SILVER_TABLES[name].schema
    for name in (
        S.SILVER_STAYS_TABLE,
        S.SILVER_ZONE_TRANSITIONS_TABLE,
        S.SILVER_DEVICE_HOME_TABLE,
        S.SILVER_REPEAT_VISITS_TABLE,
        S.SILVER_EXPECTED_VISITS_TABLE,
        S.SILVER_NIGHT_VOTES_TABLE,
    )
}


# Delta keeps min/max statistics only for these types; naming another type in dataSkippingStatsColumns fails.
STATS_TYPES = (T.NumericType, T.StringType, T.DateType, T.TimestampType)


def silver_path(lakehouse: Path, table: str) -> str:
    """Return the path of a silver table."""
    return SILVER_TABLES[table].path(lakehouse)


def gold_path(lakehouse: Path, table: str) -> str:
    """Return the path of a gold table."""
    return GOLD_TABLES[table].path(lakehouse)


def table_exists(spark: SparkSession, path: str) -> bool:
    """Return True when `path` holds a Delta table."""
    return bool(DeltaTable.isDeltaTable(spark, path))


# Maintenance settings per table (docs/operations.md, "Maintenance"). Files a commit removed stay 7 days for the
# readers of older versions: `footfall maintain` vacuums at this retention (the privacy VACUUMs at 0). The log keeps
# 30 days of commits in silver and quality (a rerun finds the fingerprints of its dates there), 7 in gold, whose
# log holds each file's row count: after a republication the counts of withdrawn cells go with it within a
# checkpoint interval. A checkpoint every 10 commits (Delta's default, stated) bounds the commit files a reader
# replays; a daily run adds 1 to 3 commits per table.
MAINTENANCE_PROPERTIES = {
    "delta.deletedFileRetentionDuration": "interval 7 days",
    "delta.checkpointInterval": "10",
}
LOG_RETENTION = {S.SILVER: "interval 30 days", S.QUALITY: "interval 30 days", S.GOLD: "interval 7 days"}


def maintenance_properties(table: Table) -> dict[str, str]:
    """Return the maintenance properties of a table (above): the same for every table but the log's retention."""
    return {**MAINTENANCE_PROPERTIES, "delta.logRetentionDuration": LOG_RETENTION[table.layer]}


def table_properties(table: Table) -> dict[str, str]:
    """Return the Delta properties a table is created with.

    Deletion vectors stay off, so a delete rewrites the files and VACUUM can remove the old ones. Per-file
    statistics stay in the transaction log after VACUUM removed the file they describe, also in the remove
    actions. So pseudonyms never get min/max statistics, and gold gets no column statistics at all, only each
    file's row count: the min and max of the keys of a one-row file (or min = max on every key) name a cell,
    and after a rewrite drops that cell the log still tells which cell fell below k. A count's min/max on a
    small partition is the count itself. Gold is small and partitioned, so pruning by partition is enough.
    (`dataSkippingStatsColumns` would override the 0 indexed columns: gold must not have it.)
    """
    if table.layer == S.GOLD:
        own = {"delta.enableDeletionVectors": "false", "delta.dataSkippingNumIndexedCols": "0"}
    elif S.PSEUDO_ID not in table.schema.names:
        own = {"delta.enableDeletionVectors": "false"}
    else:
        stats = [
            f.name
            for f in table.schema.fields
            if f.name not in (table.partition, S.PSEUDO_ID) and isinstance(f.dataType, STATS_TYPES)
        ]
        own = {"delta.enableDeletionVectors": "false", "delta.dataSkippingStatsColumns": ",".join(stats)}
    return own | maintenance_properties(table)


LOG_DIR = "_delta_log"
FIRST_COMMIT = f"{LOG_DIR}/00000000000000000000.json"


def _path_exists(spark: SparkSession, path: str) -> bool:
    jvm = spark.sparkContext._jvm
    assert jvm is not None
    hadoop_path = jvm.org.apache.hadoop.fs.Path(path)
    return bool(hadoop_path.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration()).exists(hadoop_path))


def has_commit(spark: SparkSession, path: str) -> bool:
    """Return True when the table at `path` has a commit: no Spark job.

    A local table has one when its log holds a commit file or a complete checkpoint: Delta deletes commit files
    older than `delta.logRetentionDuration` once a checkpoint covers them (gold keeps 7 days), so the first commit
    file is no proof for long. Elsewhere (s3a://, abfss://) the first commit file is looked up, one file-system
    call; False there does not mean there is no table.
    """
    found = commit_log.has_commit(path)
    if found is not None:
        return found
    return _path_exists(spark, f"{path}/{FIRST_COMMIT}")


def has_log(spark: SparkSession, path: str) -> bool:
    """Return True when `path` has a Delta log folder: a table, or one whose creation began; no Spark job."""
    return _path_exists(spark, f"{path}/{LOG_DIR}")


def created_by_first_write(table: Table) -> bool:
    """Return True for the tables a write creates (silver), False for those created on their own first (gold and
    quality).

    Creating a table with its first write saves a commit, and the snapshot Delta computes to write on it: three
    Spark jobs and about half a second per table (make bench, docs/scale.md, stop 44). What it gives up: Delta makes
    every column of a table created by a write nullable, so NOT NULL is not enforced by the table. Silver is
    footfall's own; gold and the validation records are what analysts read, and keep the registry's schema to the
    letter (NOT NULL included).
    """
    return table.layer == S.SILVER


def ensure_table(spark: SparkSession, table: Table, lakehouse: Path) -> None:
    """Create the table with its registered schema, partitioning and properties unless it exists.

    A table with a commit exists: createIfNotExists would load its snapshot to find that out, a quarter of a second
    per write (26 writes in a run; make bench, docs/scale.md).
    """
    if has_commit(spark, table.path(lakehouse)):
        return
    builder = DeltaTable.createIfNotExists(spark).location(table.path(lakehouse)).addColumns(table.schema)
    for key, value in table_properties(table).items():
        builder = builder.property(key, value)
    if table.partition is not None:
        builder = builder.partitionedBy(table.partition)
    builder.execute()


def partitions_predicate(column: str, values: Sequence[str]) -> str:
    """Return the replaceWhere predicate `column IN ('v1', ...)` for partition values given as ISO strings."""
    return f"{column} IN ({', '.join(repr(v) for v in sorted(set(values)))})"


def write(
    df: DataFrame,
    table: Table,
    lakehouse: Path,
    *,
    values: Sequence[dt.date | str] | None = None,
    append: bool = False,
    user_metadata: Mapping[str, object] | None = None,
) -> dict[str, int]:
    """The one write path: create the table if needed (a silver table by this very write), then append `df`, or
    replace the partitions `values` of a partitioned table (Delta replaceWhere, so a rerun gives the same table), or
    the whole of an unpartitioned one.

    `user_metadata` is this commit's own (over the session's, `commit_metadata`), so writes running at once in
    threads each keep theirs. Returns the commit's operation metrics (numOutputRows, numRemovedFiles, ...), so no
    stage reads back what it wrote to count it.
    """
    # the first write records the release's format in a new lakehouse; none goes into one of another format
    ensure_format(Path(lakehouse))
    spark = df.sparkSession
    path = table.path(lakehouse)
    labels = [v.isoformat() if isinstance(v, dt.date) else v for v in values] if values is not None else None
    creates = created_by_first_write(table) and not has_log(spark, path)
    if not creates:
        ensure_table(spark, table, lakehouse)
    rows = df.select(*table.schema.names)
    replace = not append
    if (
        replace
        and not creates  # after ensure_table: the table has its first commit, and the log says what it holds
        and table.partition is not None
        and labels is not None
        and _holds_none(path, table.partition, labels)
    ):
        # Replacing partitions that hold no file replaces nothing, yet Delta would replay the table's state to find
        # that out: four Spark jobs more than an append (5 against 1, counted with a job group). So append, and
        # check every row against the partitions named, as replaceWhere does, in the same job: a stray row fails
        # the write before it commits.
        rows = rows.withColumn(table.partition, _only_partitions(table, labels))
        replace = False
    writer = rows.write.format("delta").mode("overwrite" if replace else "append")
    if creates:
        # This write creates the table: with the properties and partitioning ensure_table would give it (the
        # statistics rules apply to this first commit's files already)
        for key, value in table_properties(table).items():
            writer = writer.option(key, value)
        if table.partition is not None:
            writer = writer.partitionBy(table.partition)
    if append:
        # A table created before the registry gave it a new nullable column (the audit's accepted_breach, say) takes
        # it on its next append; only registry columns are selected, so nothing else can slip in.
        writer = writer.option("mergeSchema", "true")
    if user_metadata is not None:
        writer = writer.option("userMetadata", json.dumps(user_metadata, sort_keys=True, default=str))
    if replace and table.partition is not None:
        if labels is None:
            raise ValueError(f"{table.layer}/{table.name} is partitioned by {table.partition}: name what to replace")
        writer = writer.option("replaceWhere", partitions_predicate(table.partition, labels))
    writer.save(path)
    return {key: int(value) for key, value in _last_metrics(spark, path, user_metadata).items()}


def _holds_none(path: str, column: str, labels: Sequence[str]) -> bool:
    """Return True when none of the live files of the local table at `path` lies in the partitions `labels` of
    `column`, read from its log (no Spark job); False when one does, or when only Delta can tell."""
    present = commit_log.partition_values(path, column)
    return present is not None and not present & set(labels)


def _only_partitions(table: Table, labels: Sequence[str]) -> Column:
    """Return the partition column of `table`, or an error for a row outside the partitions `labels`."""
    assert table.partition is not None
    column = F.col(table.partition)
    return F.when(column.cast("string").isin(*labels), column).otherwise(
        F.raise_error(F.lit(f"{table.layer}/{table.name}: a row outside the partitions written ({', '.join(labels)})"))
    )


def _last_metrics(spark: SparkSession, path: str, user_metadata: Mapping[str, object] | None) -> Mapping[str, str]:
    """Return the operation metrics of the commit just made at `path`: from the log's newest commit file when it is
    ours (same userMetadata), else from Delta's history (another file system, or a writer got in between)."""
    last = commit_log.latest(path)
    if last is not None:
        info = last[1]
        text = None if user_metadata is None else json.dumps(user_metadata, sort_keys=True, default=str)
        if (text is None or info.get("userMetadata") == text) and "operationMetrics" in info:
            return dict(info["operationMetrics"])
    row = DeltaTable.forPath(spark, path).history(1).select("operationMetrics").first()
    return (row["operationMetrics"] if row is not None else None) or {}


@dataclass(frozen=True)
class Write:
    """One table's write, as `write` takes it: for `write_together`."""

    df: DataFrame
    table: Table
    values: Sequence[dt.date | str] | None = None
    append: bool = False
    user_metadata: Mapping[str, object] | None = None


# Work on different tables at once. A stage's small writes are mostly driver work (Delta's log, the commit) and
# one- or two-task jobs; in threads they overlap, so both cores stay busy (docs/scale.md, "round 3").
THREADS = 4


def run_together(spark: SparkSession, tasks: Mapping[str, Callable[[], R]]) -> dict[str, R]:
    """Run independent tasks (each on tables no other task touches) in threads; return each one's result by key.

    The first failure is raised once all have finished, so no task is left running behind the error.
    """
    # inheritable_thread_target: each thread gets a copy of the caller's job group and local properties (progress.py)
    with ThreadPoolExecutor(max_workers=THREADS, thread_name_prefix="footfall") as pool:
        futures = {key: pool.submit(inheritable_thread_target(spark)(task)) for key, task in tasks.items()}
    for future in futures.values():
        if (error := future.exception()) is not None:
            raise error
    return {key: f.result() for key, f in futures.items()}


def write_together(lakehouse: Path, writes: Mapping[str, Write]) -> dict[str, dict[str, int]]:
    """Run independent writes, each to a different table, at once (`run_together`); return each one's metrics.

    Each table's commit is atomic as ever; the set is not, as it never was in sequence: a stage writes the table
    that says its writes landed (an audit row, a marker) after this returns.
    """
    tables = [w.table.path(lakehouse) for w in writes.values()]
    if len(set(tables)) != len(tables):
        raise ValueError(f"write_together writes each table once: {sorted(tables)}")
    if not writes:
        return {}
    spark = next(iter(writes.values())).df.sparkSession
    tasks = {
        key: partial(write, w.df, w.table, lakehouse, values=w.values, append=w.append, user_metadata=w.user_metadata)
        for key, w in writes.items()
    }
    return run_together(spark, tasks)


def read_table(spark: SparkSession, path: str) -> DataFrame:
    """Return the current version of the table at `path`: for a local table, its live files as the log lists them,
    read as Parquet with the table's schema (partition columns from the folder names, typed by that schema);
    otherwise through Delta.

    Delta plans every query on a table with jobs of its own (the log's replay, a listing of the files per scan):
    a run queries its tables a few hundred times (issue 29). The files a version lists are immutable, and the run
    lock keeps VACUUM out while a run reads them, so the same snapshot reads the same rows either way.
    """
    local = commit_log.parquet_snapshot(path)
    if local is None:
        return spark.read.format("delta").load(path)
    files, schema_json = local
    schema = T.StructType.fromJson(json.loads(schema_json))
    if not files:
        return spark.createDataFrame([], schema)
    return spark.read.schema(schema).option("basePath", path).parquet(*files).select(*schema.names)


def gold_dates(spark: SparkSession, lakehouse: Path) -> set[dt.date]:
    """Return every date gold holds: the partitions of the daily gold tables (partition values only, no rows).

    Not the publications' commit metadata: Delta drops old commits from the log, and an objection may well reach
    dates published long ago.
    """
    found: set[dt.date] = set()
    for table in GOLD_TABLES.values():
        if table.partition == S.DATE:
            found |= partition_dates(spark, table.path(lakehouse), S.DATE)
    return found


def partition_dates(spark: SparkSession, path: str, column: str) -> set[dt.date]:
    """Return the values of the date partition `column` the table at `path` holds (empty without a table): from
    its log when the table is local (commit_log.partition_values, no Spark job), else from Delta."""
    values = commit_log.partition_values(path, column)
    if values is not None:
        return {dt.date.fromisoformat(v) for v in values if v is not None}
    if not table_exists(spark, path):
        return set()
    return {r[column] for r in read_table(spark, path).select(column).distinct().collect()}


def read_rows(spark: SparkSession, path: str, *, columns: Sequence[str] | None = None) -> list[dict[str, Any]]:
    """Return the rows of a small table (a few hundred at most) as dicts, [] without a table: read by the driver
    when the table is local (commit_log.read_small, no Spark job), else by Spark."""
    local = commit_log.read_small(path, columns=list(columns) if columns is not None else None)
    if local is not None:
        return local
    if not table_exists(spark, path):
        return []
    df = read_table(spark, path)
    return [r.asDict(recursive=True) for r in (df.select(*columns) if columns is not None else df).collect()]


def read_arrow(spark: SparkSession, path: str, *, columns: Sequence[str] | None = None) -> pa.Table:
    """Return a table the driver loads whole (a coverage model, say) as a pyarrow Table: read by the driver when
    the table is local (commit_log.read_arrow, no Spark job), else by Spark (`toArrow`)."""
    local = commit_log.read_arrow(path, columns=list(columns) if columns is not None else None)
    if local is not None:
        return local
    df = read_table(spark, path)
    return (df.select(*columns) if columns is not None else df).toArrow()


def table_version(spark: SparkSession, path: str) -> int | None:
    """Return the current Delta version of the table at `path`, or None when there is no table."""
    found = commit_log.versions(path)
    if found is not None:  # a local table: its newest commit file, no Spark job
        return found[0] if found else None
    if not table_exists(spark, path):
        return None
    row = DeltaTable.forPath(spark, path).history(1).select("version").first()
    return None if row is None else int(row["version"])


# Commits that change no row: compaction, properties, VACUUM's own. A table's data version skips them.
MAINTENANCE_OPERATIONS = frozenset({"OPTIMIZE", "SET TBLPROPERTIES", "VACUUM START", "VACUUM END"})


def data_version(spark: SparkSession, path: str) -> int | None:
    """Return the newest version of the table at `path` whose commit changed its rows or schema (None when there is
    no table): what a fingerprint of the table's contents holds, so `footfall maintain` compacting it (OPTIMIZE,
    maintenance.py) makes no run rebuild what reads it.

    When the log no longer holds such a commit (Delta removed commit files older than its log retention once a
    checkpoint covered them), the oldest version it holds stands in: that changes only when the log is cleaned up
    again, and then the readers rebuild once, to the same rows.
    """
    found = commit_log.versions(path)
    if found is not None:  # a local table: its commit files, newest first, no Spark job
        for version in found:
            if commit_log.commit_info(path, version).get("operation") not in MAINTENANCE_OPERATIONS:
                return version
        return found[-1] if found else None
    if not table_exists(spark, path):
        return None
    history = DeltaTable.forPath(spark, path).history().select("version", "operation").collect()
    changed = [int(r["version"]) for r in history if r["operation"] not in MAINTENANCE_OPERATIONS]
    return max(changed) if changed else min((int(r["version"]) for r in history), default=None)


USER_METADATA_CONF = "spark.databricks.delta.commitInfo.userMetadata"


def commit_metadata(spark: SparkSession, user_metadata: Mapping[str, object]) -> AbstractContextManager[None]:
    """Give every Delta commit in the block (CREATE TABLE and VACUUM's START and END too) this userMetadata."""
    return conf_set(spark, USER_METADATA_CONF, json.dumps(user_metadata, sort_keys=True, default=str))


def commit_metadatas(spark: SparkSession, path: str) -> list[dict[str, Any]]:
    """Return the parsed userMetadata of every commit of the table at `path`, newest first (empty if none)."""
    local = commit_log.versions(path)
    if local is not None:  # read from the log's commit files, newest first, as history() would give them
        texts = [commit_log.commit_info(path, v).get("userMetadata") for v in local]
    elif table_exists(spark, path):
        texts = [r["userMetadata"] for r in DeltaTable.forPath(spark, path).history().select("userMetadata").collect()]
    else:
        return []
    found = []
    for text in texts:
        try:
            meta = json.loads(text or "null")
        except ValueError:
            continue
        if isinstance(meta, dict):
            found.append(meta)
    return found


RETENTION_CHECK = "spark.databricks.delta.retentionDurationCheck.enabled"
VACUUM_LOGGING = "spark.databricks.delta.vacuum.logging.enabled"


@contextmanager
def retention_check_disabled(spark: SparkSession) -> Iterator[None]:
    """Turn off Delta's VACUUM retention check for the duration of the block, then restore it exactly."""
    with conf_set(spark, RETENTION_CHECK, "false"):
        yield


@contextmanager
def vacuuming(spark: SparkSession) -> Iterator[Callable[[str], None]]:
    """Yield a function that physically removes every file the current version of a table does not use, so no
    old version keeps it. Threads may call it at once: the session settings it needs are held for the whole block
    (set and restored per call, two threads would restore each other's)."""
    # Without VACUUM START and END commits: two commits per call, half of its second on a small table (make bench,
    # docs/scale.md). What a purge removed is recorded where it matters (forget_audit; gold keeps no history).
    with retention_check_disabled(spark), conf_set(spark, VACUUM_LOGGING, "false"):
        yield partial(_vacuum, spark)


def _vacuum(spark: SparkSession, path: str) -> None:
    table = DeltaTable.forPath(spark, path)
    properties = table.detail().first()
    if properties is not None and properties["properties"].get("delta.enableDeletionVectors") == "true":
        # Rows marked deleted in a deletion vector are still in their file until it is rewritten.
        spark.sql(f"REORG TABLE delta.`{path}` APPLY (PURGE)")
    table.vacuum(0.0)


def vacuum_now(spark: SparkSession, path: str) -> None:
    """Physically remove every file the current version of the table does not use, so no old version keeps it."""
    with vacuuming(spark) as vacuum:
        vacuum(path)
