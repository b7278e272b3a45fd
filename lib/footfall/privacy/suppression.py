"""Cell suppression on counts of distinct devices: primary (below k) and secondary (against subtraction).

A breakdown is a set of cells whose device counts add up to a total that is published or can be derived (age x
gender within a zone-day, residents and visitors within a zone-day, ...). Publishing every cell of at least k
devices is not enough: with the total known, one suppressed cell is the total minus the published ones.

Rule, per breakdown: when any cell is below k, suppress the smallest cells, in order of count, until
- every cell below k is suppressed,
- at least two cells are suppressed, so none of them can be derived alone, and
- the suppressed cells together hold at least k devices, so their derivable sum is itself a cohort of k.
When no set of cells satisfies that, every cell of the breakdown is suppressed.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql.window import Window

IS_SUPPRESSED = "is_suppressed"
SUPPRESSION = "suppression"  # null, "primary", "secondary" or another rule's reason: for the audit, never published
MIN_K = 2


def _check_k(k: int) -> None:
    if k < MIN_K:
        raise ValueError(f"k must be at least {MIN_K}, got {k}")


def with_suppression(
    cells_df: DataFrame,
    *,
    k: int,
    breakdown: Sequence[str],
    cell_keys: Sequence[str],
    devices_col: str,
    withheld_col: str | None = None,
    withheld_reason: Column | None = None,
) -> DataFrame:
    """Add is_suppressed and suppression (primary/secondary) to each cell of each breakdown.

    `breakdown` names the columns of the group whose cells add up (e.g. zone_id, date); `cell_keys` the columns
    that tell the cells apart (e.g. age_band, gender), used only to break ties so the result is deterministic.
    `withheld_col`, when given, names a boolean column of cells withheld for another reason whatever their count
    (suppression: the `withheld_reason` expression, per cell): they count as primary cells, so that secondary
    suppression protects them too.
    """
    _check_k(k)
    below = F.col(devices_col) < k
    primary = below | F.coalesce(F.col(withheld_col), F.lit(False)) if withheld_col else below
    group = Window.partitionBy(*breakdown)
    # primary cells first (those withheld for another reason can hold many devices), then the smallest
    ordered = group.orderBy(F.when(primary, 0).otherwise(1), F.col(devices_col), *cell_keys)
    rank = F.row_number().over(ordered)
    running = F.sum(devices_col).over(ordered.rowsBetween(Window.unboundedPreceding, Window.currentRow))
    below_k = F.sum(F.when(primary, 1).otherwise(0)).over(group)
    enough = (F.col("_rank") >= F.greatest(F.col("_below_k"), F.lit(2))) & (F.col("_running") >= k)
    first_enough = F.min(F.when(enough, F.col("_rank"))).over(group)
    cells = cells_df.withColumns({"_rank": rank, "_running": running, "_below_k": below_k})
    cells = cells.withColumn("_cut", F.coalesce(first_enough, F.count(F.lit(1)).over(group)))
    suppressed = (F.col("_below_k") > 0) & (F.col("_rank") <= F.col("_cut"))
    reason = F.when(below, F.lit("primary"))
    if withheld_col:
        reason = reason.when(primary, withheld_reason if withheld_reason is not None else F.lit(None))
    return cells.withColumns(
        {IS_SUPPRESSED: suppressed, SUPPRESSION: reason.when(suppressed, F.lit("secondary")).otherwise(F.lit(None))}
    ).drop("_rank", "_running", "_below_k", "_cut")


def apply_suppression(
    cells_df: DataFrame, *, value_cols: Sequence[str], mode: Literal["delete", "null"] = "delete"
) -> DataFrame:
    """Return the publishable rows: suppressed cells deleted (default), or their values nulled."""
    if mode == "delete":
        return cells_df.where(~F.col(IS_SUPPRESSED)).drop(IS_SUPPRESSED, SUPPRESSION)
    if mode == "null":
        nulled: dict[str, Column] = {
            c: F.when(F.col(IS_SUPPRESSED), F.lit(None)).otherwise(F.col(c)) for c in value_cols
        }
        return cells_df.withColumns(nulled).drop(IS_SUPPRESSED, SUPPRESSION)
    raise ValueError(f"unknown suppression mode {mode!r}: use delete or null")


def with_primary_suppression(cells_df: DataFrame, *, k: int, devices_col: str) -> DataFrame:
    """Add is_suppressed and suppression for cells that belong to no breakdown: suppressed when below k."""
    _check_k(k)
    below = F.col(devices_col) < k
    return cells_df.withColumns(
        {IS_SUPPRESSED: below, SUPPRESSION: F.when(below, F.lit("primary")).otherwise(F.lit(None))}
    )
