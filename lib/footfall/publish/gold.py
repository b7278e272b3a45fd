"""Gold Delta tables: how a publication replaces them, and how Spark users find them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from pyspark.sql import DataFrame, SparkSession

from footfall import schemas as S
from footfall.lakehouse import GOLD_TABLES, Write, commit_metadata, gold_path, write_together


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
    return bool(write_gold_tables(lakehouse, {table: (df, values)}, user_metadata=user_metadata))


def write_gold_tables(
    lakehouse: Path,
    frames: Mapping[str, tuple[DataFrame, Sequence[str]]],
    *,
    user_metadata: Mapping[str, object],
) -> list[str]:
    """Replace the partitions of each gold table in `frames` ({table: (df, values)}) at once, each commit carrying
    `user_metadata` and its own "partitions"; return the tables whose write replaced files that were there before.
    """
    if not frames:
        return []
    spark = next(iter(frames.values()))[0].sparkSession
    writes = {
        table: Write(df, GOLD_TABLES[table], values, user_metadata={**user_metadata, "partitions": list(values)})
        for table, (df, values) in frames.items()
    }
    with commit_metadata(spark, user_metadata):  # the tables' CREATE commits get the run's metadata too
        metrics = write_together(lakehouse, writes)
    return [table for table, m in metrics.items() if m.get("numRemovedFiles", 0) > 0]


def register_gold(spark: SparkSession, lakehouse: Path) -> list[str]:
    """Register each gold table of the newest publication as the view footfall.<table>, pinned to the version the
    publication names (so Spark SQL never sees a half-written run); return the names."""
    from footfall.publish.publications import latest_publication

    publication = latest_publication(spark, lakehouse)
    if publication is None:
        return []
    spark.sql(f"CREATE DATABASE IF NOT EXISTS {S.GOLD_DATABASE}")
    names = []
    for table in S.GOLD_TABLES:
        if (version := publication[S.TABLE_VERSIONS].get(table)) is None:
            continue
        name, path = f"{S.GOLD_DATABASE}.{table}", gold_path(lakehouse, table)
        spark.sql(f"CREATE OR REPLACE VIEW {name} AS SELECT * FROM delta.`{path}` VERSION AS OF {version}")
        names.append(name)
    return names
