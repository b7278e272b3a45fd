"""Disclosure control per gold table: which cells are suppressed, and what is left to publish.

Every rule works on the number of distinct devices behind a value, counted before extrapolation and noise. When
noise is on, a value must clear k both as a true device count and as its noisy count (noise before threshold),
so a published noisy count is never below k either. docs/privacy.md explains the rules for a DPO.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from footfall import schemas as S
from footfall.privacy.suppression import (
    IS_SUPPRESSED,
    SUPPRESSION,
    apply_suppression,
    with_primary_suppression,
    with_suppression,
)

TRUE = "_true"  # suffix of the column that keeps a count's true value while the count itself carries noise
K_DEVICES = "_k_devices"  # the device count k is checked on: the true count, or the smaller of true and noisy
# hourly: which values of a row are withheld, for the audit and the row filter
VISITORS_SUPPRESSED = "is_visitors_suppressed"
PASSERS_SUPPRESSED = "is_passers_by_suppressed"
VISITS_SUPPRESSED = "is_visits_suppressed"
VISITS_SUPPRESSION = "visits_suppression"
VISITORS_SUPPRESSION = "visitors_suppression"  # primary, or nested (privacy/nesting.py); the audit's reason
HOURLY_FLAGS = (VISITORS_SUPPRESSED, PASSERS_SUPPRESSED, VISITS_SUPPRESSED)

Mode = Literal["delete", "null"]


def with_k_devices(cells_df: DataFrame, *, value_col: str) -> DataFrame:
    """Add _k_devices: the value's true device count, or the smaller of true and noisy when it carries noise."""
    true = f"{value_col}{TRUE}"
    measure = F.least(F.col(value_col), F.col(true)) if true in cells_df.columns else F.col(value_col)
    return cells_df.withColumn(K_DEVICES, measure)


def with_breakdown_suppression(
    cells_df: DataFrame, *, k: int, breakdown: Sequence[str], cell_keys: Sequence[str], value_col: str
) -> DataFrame:
    """Mark primary and secondary suppression of a breakdown whose cells add up (docs/privacy.md)."""
    return with_suppression(
        with_k_devices(cells_df, value_col=value_col),
        k=k,
        breakdown=breakdown,
        cell_keys=cell_keys,
        devices_col=K_DEVICES,
    )


def with_cell_suppression(cells_df: DataFrame, *, k: int, value_col: str) -> DataFrame:
    """Mark cells that add up to nothing published (flows): suppressed when below k."""
    return with_primary_suppression(with_k_devices(cells_df, value_col=value_col), k=k, devices_col=K_DEVICES)


def select_published(marked_df: DataFrame, *, value_col: str, mode: Mode, columns: Sequence[str]) -> DataFrame:
    """Return the publishable rows of a marked single-value table, in the gold column order."""
    return apply_suppression(marked_df, value_cols=[value_col], mode=mode).select(*columns)


def with_hourly_suppression(cells_df: DataFrame, *, k: int) -> DataFrame:
    """Mark which values of each zone-hour are withheld.

    - visitors (and visitors_extrapolated, derived from them): below k visitors;
    - passers_by: below k passers-by;
    - visits and the dwell quartiles: below k devices behind the visits, plus secondary suppression across the
      hours of the zone-day, because visits that start in the hours of a day add up to the day's visits.
    Visitors and passers-by count devices present in an hour, so they add up to no daily figure.
    """
    visitors = with_k_devices(cells_df, value_col=S.VISITORS).withColumns(
        {
            VISITORS_SUPPRESSED: F.col(K_DEVICES) < k,
            VISITORS_SUPPRESSION: F.when(F.col(K_DEVICES) < k, F.lit("primary")).otherwise(F.lit(None)),
        }
    )
    passers = with_k_devices(visitors, value_col=S.PASSERS_BY).withColumn(PASSERS_SUPPRESSED, F.col(K_DEVICES) < k)
    visits_measure = F.col(S.DEVICES_VISITS)
    if f"{S.VISITS}{TRUE}" in cells_df.columns:
        visits_measure = F.least(F.col(S.DEVICES_VISITS), F.col(S.VISITS))
    marked = with_suppression(
        passers.withColumn(K_DEVICES, visits_measure),
        k=k,
        breakdown=[S.ZONE_ID, S.DATE],
        cell_keys=[S.HOUR_START_UTC],
        devices_col=K_DEVICES,
    )
    return marked.withColumnsRenamed({IS_SUPPRESSED: VISITS_SUPPRESSED, SUPPRESSION: VISITS_SUPPRESSION})


def select_published_hourly(marked_df: DataFrame, *, mode: Mode) -> DataFrame:
    """Return the publishable zone-hours: withheld values nulled; in delete mode, rows with nothing left go."""
    if mode not in ("delete", "null"):
        raise ValueError(f"unknown suppression mode {mode!r}: use delete or null")

    def unless(flag: str, col: str) -> Column:
        return F.when(F.col(flag), F.lit(None)).otherwise(F.col(col))

    nulled = marked_df.withColumns(
        {
            S.VISITORS: unless(VISITORS_SUPPRESSED, S.VISITORS),
            S.VISITORS_EXTRAPOLATED: unless(VISITORS_SUPPRESSED, S.VISITORS_EXTRAPOLATED),
            S.PASSERS_BY: unless(PASSERS_SUPPRESSED, S.PASSERS_BY),
            S.VISITS: unless(VISITS_SUPPRESSED, S.VISITS),
            S.DWELL_P25_S: unless(VISITS_SUPPRESSED, S.DWELL_P25_S),
            S.DWELL_MEDIAN_S: unless(VISITS_SUPPRESSED, S.DWELL_MEDIAN_S),
            S.DWELL_P75_S: unless(VISITS_SUPPRESSED, S.DWELL_P75_S),
        }
    )
    if mode == "delete":
        nulled = nulled.where(~(F.col(VISITORS_SUPPRESSED) & F.col(PASSERS_SUPPRESSED) & F.col(VISITS_SUPPRESSED)))
    return nulled.select(*S.GOLD_ZONE_FOOTFALL_HOURLY.names)


def agg_suppressed_cells(marked_df: DataFrame) -> DataFrame:
    """Return suppression (null = published, primary, secondary, nested) and cells: how many values each outcome had.

    A zone-hour holds three values (visitors, passers-by, visits); every other gold row holds one.
    """
    if VISITORS_SUPPRESSED in marked_df.columns:
        outcomes = F.array(
            F.col(VISITORS_SUPPRESSION),
            F.when(F.col(PASSERS_SUPPRESSED), F.lit("primary")),
            F.col(VISITS_SUPPRESSION),
        )
        marked_df = marked_df.select(F.explode(outcomes).alias(SUPPRESSION))
    return marked_df.groupBy(SUPPRESSION).agg(F.count(F.lit(1)).alias("cells"))
