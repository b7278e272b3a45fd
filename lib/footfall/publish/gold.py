"""Gold Delta tables: where they live, how they are created and replaced, and how Spark users find them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from delta.tables import DeltaTable
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from footfall import schemas as S
from footfall.lakehouse import (
    STATS_TYPES,
    commit_metadata,
    gold_path,
    partitions_predicate,
    table_exists,
    vacuum_now,
)


def ensure_gold_table(spark: SparkSession, table: str, path: str) -> None:
    """Create a gold table unless it exists: no deletion vectors, and statistics on key columns only.

    Per-file min/max of a count stays in the transaction log after VACUUM removed the file; on a small partition
    it is the count itself. So counts get no statistics, and a rewritten partition leaves no number behind.
    """
    schema, partition = S.GOLD_TABLES[table]
    keys = [
        f.name for f in schema.fields if not f.nullable and f.name != partition and isinstance(f.dataType, STATS_TYPES)
    ]
    builder = (
        DeltaTable.createIfNotExists(spark)
        .location(path)
        .addColumns(schema)
        .property("delta.enableDeletionVectors", "false")
        .property("delta.dataSkippingStatsColumns", ",".join(keys))
    )
    if partition is not None:
        builder = builder.partitionedBy(partition)
    builder.execute()


def write_gold(
    spark: SparkSession,
    df: DataFrame,
    *,
    table: str,
    path: str,
    values: Sequence[str],
    user_metadata: Mapping[str, object],
) -> bool:
    """Replace the partitions `values` of a gold table (the whole table if unpartitioned) with `df`.

    Returns True when the write replaced rows that were there before, which is what the history policy acts on.
    """
    schema, partition = S.GOLD_TABLES[table]
    with commit_metadata(spark, user_metadata):  # the table's CREATE commit gets it too
        ensure_gold_table(spark, table, path)
        current = spark.read.format("delta").load(path)
        if partition is not None:
            current = current.where(F.col(partition).cast("string").isin(list(values)))
        replaced = bool(current.limit(1).count())
        writer = df.select(*schema.names).write.format("delta").mode("overwrite")
        if partition is not None:
            writer = writer.option("replaceWhere", partitions_predicate(partition, values))
        writer.save(path)
    return replaced


def drop_gold_history(spark: SparkSession, path: str) -> None:
    """Remove every file of a gold table the current version does not use, so no earlier version can be read.

    Two versions of a rewritten partition differ by exactly what changed; after a `forget` that is the forgotten
    people's visits. So gold keeps no readable history (docs/privacy.md).
    """
    vacuum_now(spark, path)


def register_gold(spark: SparkSession, lakehouse: Path) -> list[str]:
    """Register every existing gold table in the session catalog as footfall.<table>; return the names."""
    spark.sql(f"CREATE DATABASE IF NOT EXISTS {S.GOLD_DATABASE}")
    names = []
    for table in S.GOLD_TABLES:
        path = gold_path(lakehouse, table)
        if table_exists(spark, path):
            spark.sql(f"CREATE TABLE IF NOT EXISTS {S.GOLD_DATABASE}.{table} USING delta LOCATION '{path}'")
            names.append(f"{S.GOLD_DATABASE}.{table}")
    return names
