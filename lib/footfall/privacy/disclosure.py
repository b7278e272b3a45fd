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
EXTRAPOLATED_SUPPRESSED = "is_extrapolated_suppressed"
EXTRAPOLATED_SUPPRESSION = "extrapolated_suppression"
# the reasons a rule of issue 30 gives a withheld value (the audit's suppression column; primary and secondary
# are suppression.py's, nested nesting.py's)
ROW_NESTED = "row_nested"  # visits inside the visitors of the same row
WITH_VISITORS = "with_visitors"  # visits bound a withheld visitors count and go with it
DOMINANCE = "dominance"  # one person is most of a weighted sum
WITHIN_ROW_REASONS = (ROW_NESTED, WITH_VISITORS, DOMINANCE)
# the hourly aggregation's inputs of the dominance rule (publish/hourly.py; never published)
TOP_WEIGHT = "_top_weight"
WEIGHT_SUM = "_weight_sum"

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


def with_presence_suppression(cells_df: DataFrame, *, k: int) -> DataFrame:
    """Mark the zone-hour's presence values withheld below k: visitors (with visitors_extrapolated, derived from
    them) and passers_by. Visitors and passers-by are disjoint (a passer-by had no visit overlapping the hour), and
    neither adds up to a daily figure; an hour's visitors do nest in its day's (nesting.with_hour_in_day_nesting)."""
    visitors = with_k_devices(cells_df, value_col=S.VISITORS).withColumns(
        {
            VISITORS_SUPPRESSED: F.col(K_DEVICES) < k,
            VISITORS_SUPPRESSION: F.when(F.col(K_DEVICES) < k, F.lit("primary")).otherwise(F.lit(None)),
        }
    )
    return with_k_devices(visitors, value_col=S.PASSERS_BY).withColumn(PASSERS_SUPPRESSED, F.col(K_DEVICES) < k)


def true_count(df: DataFrame, col: str) -> Column:
    """Return the count `col` before noise: under noise its true value sits in <col>_true."""
    return F.col(f"{col}{TRUE}") if f"{col}{TRUE}" in df.columns else F.col(col)


def with_visits_suppression(marked_df: DataFrame, *, k: int) -> DataFrame:
    """Mark the zone-hour's visits (and the dwell quartiles of those visits) withheld, after the visitors' marks.

    - primary: below k devices behind the visits;
    - ROW_NESTED: the devices behind visits(h) started a visit in h, so they are among visitors(h); when visitors
      exceed them (or the visits themselves) by 1 to k - 1, visitors(h) - visits(h) would count a group of fewer
      than k people, those already in the zone before h (issue 30);
    - WITH_VISITORS: visitors(h) is withheld (below k, or nested in its day): visits(h) is a lower bound of it and
      goes with it (with the zone-day's visitors D published, visits(h) = D - 1 would give it away);
    - secondary, across the hours of the zone-day: visits that start in the hours of a day add up to the day's.
    """
    visits_measure = F.col(S.DEVICES_VISITS)
    if f"{S.VISITS}{TRUE}" in marked_df.columns:
        visits_measure = F.least(F.col(S.DEVICES_VISITS), F.col(S.VISITS))
    visitors = true_count(marked_df, S.VISITORS)

    def small(difference: Column) -> Column:
        return (difference > 0) & (difference < k)

    # the devices give the true group; a device with two visits in the hour makes the published difference smaller
    # than the group, yet a reader takes visitors - visits for a group: neither may be 1 to k - 1
    in_row = small(visitors - F.col(S.DEVICES_VISITS)) | small(visitors - true_count(marked_df, S.VISITS))
    withheld = F.col(VISITORS_SUPPRESSED) | in_row
    reason = F.when(F.col(VISITORS_SUPPRESSED), F.lit(WITH_VISITORS)).otherwise(F.lit(ROW_NESTED))
    marked = with_suppression(
        marked_df.withColumns({K_DEVICES: visits_measure, "_withheld": withheld}),
        k=k,
        breakdown=[S.ZONE_ID, S.DATE],
        cell_keys=[S.HOUR_START_UTC],
        devices_col=K_DEVICES,
        withheld_col="_withheld",
        withheld_reason=reason,
    ).drop("_withheld")
    return marked.withColumnsRenamed({IS_SUPPRESSED: VISITS_SUPPRESSED, SUPPRESSION: VISITS_SUPPRESSION})


def with_extrapolation_dominance(marked_df: DataFrame, *, max_share: float) -> DataFrame:
    """Withhold visitors_extrapolated where one person's weight is more than `max_share` of the zone-hour's sum:
    the (1, max_share) dominance rule of statistical disclosure control for a magnitude (issue 30). A visitor from
    a district of small market share weighs 1 / share; without the rule, the extrapolated value jumps by their
    weight while they stay and shows their presence, although the catchment table withholds their district."""
    top, total = F.col(TOP_WEIGHT), F.col(WEIGHT_SUM)
    dominated = F.coalesce((top > F.lit(max_share) * total) & ~F.col(VISITORS_SUPPRESSED), F.lit(False))
    return marked_df.withColumn(EXTRAPOLATED_SUPPRESSED, F.col(VISITORS_SUPPRESSED) | dominated).withColumn(
        EXTRAPOLATED_SUPPRESSION,
        F.when(F.col(VISITORS_SUPPRESSED), F.col(VISITORS_SUPPRESSION)).when(dominated, F.lit(DOMINANCE)),
    )


def select_published_hourly(marked_df: DataFrame, *, mode: Mode) -> DataFrame:
    """Return the publishable zone-hours: withheld values nulled; in delete mode, rows with nothing left go."""
    if mode not in ("delete", "null"):
        raise ValueError(f"unknown suppression mode {mode!r}: use delete or null")

    def unless(flag: str, col: str) -> Column:
        return F.when(F.col(flag), F.lit(None)).otherwise(F.col(col))

    nulled = marked_df.withColumns(
        {
            S.VISITORS: unless(VISITORS_SUPPRESSED, S.VISITORS),
            S.VISITORS_EXTRAPOLATED: unless(EXTRAPOLATED_SUPPRESSED, S.VISITORS_EXTRAPOLATED),
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


def suppression_outcomes(marked_df: DataFrame) -> DataFrame:
    """Return one column, suppression, a row per published value: null when it is published, else the reason it
    was withheld.

    A zone-hour holds four values (visitors, visitors_extrapolated, passers-by, visits); every other gold row one.
    """
    if VISITORS_SUPPRESSED not in marked_df.columns:
        return marked_df.select(SUPPRESSION)
    outcomes = F.array(
        F.col(VISITORS_SUPPRESSION),
        F.col(EXTRAPOLATED_SUPPRESSION),
        F.when(F.col(PASSERS_SUPPRESSED), F.lit("primary")),
        F.col(VISITS_SUPPRESSION),
    )
    return marked_df.select(F.explode(outcomes).alias(SUPPRESSION))
