"""Gold Delta tables: how a publication replaces them, drops their history, and how Spark users find them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from pyspark.sql import DataFrame, SparkSession

from footfall import schemas as S
from footfall.lakehouse import (
    GOLD_TABLES,
    commit_metadata,
    gold_path,
    table_exists,
    vacuum_now,
    write,
)


def write_gold(
    df: DataFrame,
    *,
    table: str,
    lakehouse: Path,
    values: Sequence[str],
    user_metadata: Mapping[str, object],
) -> bool:
    """Replace the partitions `values` of a gold table (the whole table if unpartitioned) with `df`.

    Returns True when the write replaced files that were there before, which is what the history policy acts on.
    """
    with commit_metadata(df.sparkSession, user_metadata):  # the table's CREATE commit gets it too
        metrics = write(df, GOLD_TABLES[table], lakehouse, values=values)
    return metrics.get("numRemovedFiles", 0) > 0


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
