"""The lakehouse: where every Delta table lives, how it is created, and the only ways the stages write it.

Stages ask this module for paths and writes; none of them borrows another stage's helpers for that.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

from delta.tables import DeltaTable
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import types as T

from footfall import schemas as S
from footfall.session import conf_set

# Tables that hold pseudonyms, with their partition column: `forget` deletes from each and vacuums them.
PSEUDONYMISED = {
    S.SILVER_EVENTS_TABLE: (S.SILVER_EVENTS, S.SILVER_EVENTS_PARTITION),
    S.SILVER_QUARANTINE_TABLE: (S.SILVER_QUARANTINE_EVENTS, S.SILVER_QUARANTINE_PARTITION),
    S.SILVER_SUBSCRIBERS_TABLE: (S.SILVER_SUBSCRIBERS, S.SILVER_SUBSCRIBERS_PARTITION),
}
# Tables mobility derives from events: they hold the same pseudonyms, so `forget` deletes from them and vacuums them.
DERIVED_PSEUDONYMISED = {
    S.SILVER_STAYS_TABLE: S.SILVER_STAYS,
    S.SILVER_ZONE_TRANSITIONS_TABLE: S.SILVER_ZONE_TRANSITIONS,
    S.SILVER_DEVICE_HOME_TABLE: S.SILVER_DEVICE_HOME,
    S.SILVER_REPEAT_VISITS_TABLE: S.SILVER_REPEAT_VISITS,
}
AUDITS = {
    S.SILVER_INGEST_AUDIT_TABLE: S.SILVER_INGEST_AUDIT,
    S.SILVER_FORGET_AUDIT_TABLE: S.SILVER_FORGET_AUDIT,
}


# Delta keeps min/max statistics only for these types; naming another type in dataSkippingStatsColumns fails.
STATS_TYPES = (T.NumericType, T.StringType, T.DateType, T.TimestampType)


def silver_path(lakehouse: Path, table: str) -> str:
    """Return the path of a silver table."""
    return str(lakehouse / S.SILVER / table)


def gold_path(lakehouse: Path, table: str) -> str:
    """Return the path of a gold table."""
    return str(lakehouse / S.GOLD / table)


def table_exists(spark: SparkSession, path: str) -> bool:
    """Return True when `path` holds a Delta table."""
    return bool(DeltaTable.isDeltaTable(spark, path))


def ensure_table(spark: SparkSession, path: str, schema: T.StructType, *, partition_by: str | None = None) -> None:
    """Create the Delta table at `path` unless it exists.

    Deletion vectors stay off, so a delete rewrites the files and VACUUM can remove the old ones. Pseudonyms get
    no min/max statistics, so deleted ones do not linger in the transaction log.
    """
    builder = (
        DeltaTable.createIfNotExists(spark)
        .location(path)
        .addColumns(schema)
        .property("delta.enableDeletionVectors", "false")
    )
    if S.PSEUDO_ID in schema.names:
        stats = [
            f.name
            for f in schema.fields
            if f.name not in (S.PSEUDO_ID, partition_by) and isinstance(f.dataType, STATS_TYPES)
        ]
        builder = builder.property("delta.dataSkippingStatsColumns", ",".join(stats))
    if partition_by is not None:
        builder = builder.partitionedBy(partition_by)
    builder.execute()


def partitions_predicate(column: str, values: Sequence[str]) -> str:
    """Return the replaceWhere predicate `column IN ('v1', ...)` for partition values given as ISO strings."""
    return f"{column} IN ({', '.join(repr(v) for v in sorted(set(values)))})"


def write_replacing(
    df: DataFrame, path: str, *, schema: T.StructType, partition_by: str, values: Sequence[dt.date | str]
) -> None:
    """Replace exactly the partitions `values` of the table at `path` with `df` (Delta replaceWhere)."""
    ensure_table(df.sparkSession, path, schema, partition_by=partition_by)
    labels = [v.isoformat() if isinstance(v, dt.date) else v for v in values]
    (
        df.select(*[f.name for f in schema.fields])
        .write.format("delta")
        .mode("overwrite")
        .option("replaceWhere", partitions_predicate(partition_by, labels))
        .save(path)
    )


def write_overwrite(df: DataFrame, path: str, *, schema: T.StructType) -> None:
    """Replace the whole table at `path` with `df`, creating it first (so it gets the pseudonym-safe properties)."""
    ensure_table(df.sparkSession, path, schema)
    df.select(*[f.name for f in schema.fields]).write.format("delta").mode("overwrite").save(path)


def write_append(df: DataFrame, path: str, *, schema: T.StructType) -> None:
    """Append `df` to the table at `path`, creating it first if needed."""
    ensure_table(df.sparkSession, path, schema)
    df.select(*[f.name for f in schema.fields]).write.format("delta").mode("append").save(path)


def read_table(spark: SparkSession, path: str) -> DataFrame:
    """Return the current version of the table at `path`."""
    return spark.read.format("delta").load(path)


def table_version(spark: SparkSession, path: str) -> int | None:
    """Return the current Delta version of the table at `path`, or None when there is no table."""
    if not table_exists(spark, path):
        return None
    row = DeltaTable.forPath(spark, path).history(1).select("version").first()
    return None if row is None else int(row["version"])


USER_METADATA_CONF = "spark.databricks.delta.commitInfo.userMetadata"


def commit_metadata(spark: SparkSession, user_metadata: Mapping[str, object]) -> AbstractContextManager[None]:
    """Give every Delta commit in the block (CREATE TABLE and VACUUM's START and END too) this userMetadata."""
    return conf_set(spark, USER_METADATA_CONF, json.dumps(user_metadata, sort_keys=True, default=str))


def commit_metadatas(spark: SparkSession, path: str) -> list[dict[str, Any]]:
    """Return the parsed userMetadata of every commit of the table at `path`, newest first (empty if none)."""
    if not table_exists(spark, path):
        return []
    found = []
    for row in DeltaTable.forPath(spark, path).history().select("version", "userMetadata").collect():
        try:
            meta = json.loads(row["userMetadata"] or "null")
        except ValueError:
            continue
        if isinstance(meta, dict):
            found.append(meta)
    return found


RETENTION_CHECK = "spark.databricks.delta.retentionDurationCheck.enabled"


@contextmanager
def retention_check_disabled(spark: SparkSession) -> Iterator[None]:
    """Turn off Delta's VACUUM retention check for the duration of the block, then restore it exactly."""
    with conf_set(spark, RETENTION_CHECK, "false"):
        yield


def vacuum_now(spark: SparkSession, path: str) -> None:
    """Physically remove every file the current version of the table does not use, so no old version keeps it."""
    table = DeltaTable.forPath(spark, path)
    properties = table.detail().first()
    if properties is not None and properties["properties"].get("delta.enableDeletionVectors") == "true":
        # Rows marked deleted in a deletion vector are still in their file until it is rewritten.
        spark.sql(f"REORG TABLE delta.`{path}` APPLY (PURGE)")
    with retention_check_disabled(spark):
        table.vacuum(0.0)
