"""Optional noise on counts of distinct devices, on top of k (docs/privacy.md); off by default.

This is NOT differential privacy, and footfall does not call it so. A value is published only when its true
device count is at least k (footfall's first rule: every published number covers k people), so publication
itself depends on the true count: at k - 1 a cell never appears, at k it may. A DP release would have to
threshold on the noisy count alone and give up the k guarantee with probability delta. The noise here blurs
published values against differencing; epsilon and delta only calibrate its scale the way the textbook
mechanisms would, and the ledger records those parameters, not a spent DP budget.

The steps, in order: bound each device's contributions per table and partition (`filter_bounded_contributions`),
count distinct devices per cell (elsewhere), add noise scaled to that bound (`noise_scale`, `with_noise`), apply
k to the true and the noisy counts (elsewhere), then round and clamp (`with_rounded_clamped`) and record the
noise parameters (`agg_privacy_ledger`).

The samplers are floating-point textbook ones (Spark rand/randn). A DP mode would draw with a vetted library such
as OpenDP (its wheel installs here), whose samplers are exact and whose accounting is proven.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math
from collections.abc import Sequence

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T
from pyspark.sql.window import Window

from footfall import schemas as S

NONE = "none"
LAPLACE = "laplace"
GAUSSIAN = "gaussian"
MECHANISMS = (NONE, LAPLACE, GAUSSIAN)

# Spark's rand() steps in multiples of 2**-53 and can return exactly 0, where ln(1 - 2|u|) is ln(0); flooring at
# one step caps a Laplace draw at about 36.7 b instead of turning the count into null.
_LAPLACE_FLOOR = 2.0**-53


def filter_bounded_contributions(
    contributions_df: DataFrame, *, bound: int, per: Sequence[str], salt: str
) -> DataFrame:
    """Return the contributions with at most `bound` rows per pseudo_id and partition (`per`), chosen by hash.

    Rows are expected distinct (one per device and cell); an exact repeat would use up one of the device's slots.
    """
    if bound < 1:
        raise ValueError(f"the contribution bound must be at least 1, got {bound}")
    # Ordering by a salted hash of the whole row drops cells at random rather than, say, the latest hours or
    # the zones with the largest ids, and the same salt always keeps the same cells. Columns are hashed in
    # name order so the choice does not depend on the frame's column order.
    others = sorted(c for c in contributions_df.columns if c != S.PSEUDO_ID)
    order_key = F.xxhash64(F.lit(salt), F.col(S.PSEUDO_ID), *[F.col(c) for c in others])
    # the columns themselves break the (unlikely) tie of two rows with equal 64-bit hashes deterministically
    window = Window.partitionBy(S.PSEUDO_ID, *per).orderBy(order_key, *others)
    return (
        contributions_df.withColumn("_slot", F.row_number().over(window)).where(F.col("_slot") <= bound).drop("_slot")
    )


def noise_scale(*, mechanism: str, epsilon: float, delta: float, bound: int, values: int = 1) -> float:
    """Return the Laplace scale b or the Gaussian sigma for counts a device adds 1 to in at most `bound` cells.

    Sensitivity: one device changes at most `bound` cells by 1, so L1 = bound and L2 = sqrt(bound). When a
    table publishes `values` noisy count columns drawn from the same contributions, the budget is split by basic
    sequential composition: each column gets epsilon/values (and delta/values), so the table spends (epsilon,
    delta) in total. Laplace: b = L1/epsilon' (epsilon-DP). Gaussian: sigma = sqrt(2 ln(1.25/delta')) *
    L2/epsilon' (the classic bound of Dwork and Roth, Theorem A.1, proven for epsilon' < 1; above that it is
    not a proof, and the analytic Gaussian mechanism of Balle and Wang 2018 is the calibration to use).
    """
    if mechanism not in (LAPLACE, GAUSSIAN):
        raise ValueError(f"mechanism {mechanism!r} adds no noise: use {LAPLACE} or {GAUSSIAN}")
    if epsilon <= 0:
        raise ValueError(f"epsilon must be positive, got {epsilon}")
    if bound < 1:
        raise ValueError(f"the contribution bound must be at least 1, got {bound}")
    if values < 1:
        raise ValueError(f"values must be at least 1, got {values}")
    epsilon_each = epsilon / values
    if mechanism == LAPLACE:
        return bound / epsilon_each
    if not 0 < delta < 1:
        raise ValueError(f"the gaussian mechanism needs 0 < delta < 1, got {delta}")
    delta_each = delta / values
    return math.sqrt(2 * math.log(1.25 / delta_each)) * math.sqrt(bound) / epsilon_each


def _column_seed(seed: int | None, col: str) -> int | None:
    # Spark seeds each partition with seed + partition index, so seed + i per column would give column i in
    # partition 0 the very draws of column 0 in partition i: equal noise on two cells, whose difference then
    # gives away the difference of the true counts. A hash puts the columns' seeds far apart.
    if seed is None:
        return None
    digest = hashlib.sha256(f"{seed}:{col}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def _laplace(scale: float, seed: int | None) -> Column:
    # Inverse CDF of the textbook Laplace on floating-point uniforms. Mironov (2012, "On significance of the
    # least significant bits for differential privacy") shows that such doubles leave gaps and steps that can
    # reveal the true value; production should use a vetted sampler (OpenDP), not this.
    u = F.rand(seed) - F.lit(0.5)
    tail = F.greatest(F.lit(1.0) - F.lit(2.0) * F.abs(u), F.lit(_LAPLACE_FLOOR))
    return F.lit(-scale) * F.signum(u) * F.log(tail)


def with_noise(
    cells_df: DataFrame, *, value_cols: Sequence[str], mechanism: str, scale: float, seed: int | None = None
) -> DataFrame:
    """Return the cells with Laplace (scale b) or Gaussian (sigma) noise added to each value column, as double.

    Leave `seed` None outside tests: a known seed makes the noise reproducible and the privacy void. Even with a
    seed, the draws depend on how the frame is partitioned.
    """
    if mechanism not in (LAPLACE, GAUSSIAN):
        raise ValueError(f"mechanism {mechanism!r} adds no noise: use {LAPLACE} or {GAUSSIAN}")
    if scale <= 0:
        raise ValueError(f"the noise scale must be positive, got {scale}")
    noisy: dict[str, Column] = {}
    for col in value_cols:
        col_seed = _column_seed(seed, col)
        noise = _laplace(scale, col_seed) if mechanism == LAPLACE else F.randn(col_seed) * F.lit(scale)
        noisy[col] = F.col(col).cast(T.DoubleType()) + noise
    return cells_df.withColumns(noisy)


def with_rounded_clamped(df: DataFrame, *, value_cols: Sequence[str]) -> DataFrame:
    """Return the frame with each value column rounded half to even, clamped at 0 and cast to long; null stays."""
    # Half to even has no upward drift on exact halves, and rounding uses nothing but the noisy value; counts
    # below zero are impossible, so they go to 0. `when` rather than greatest, which would turn null into 0.
    rounded: dict[str, Column] = {}
    for col in value_cols:
        value = F.bround(F.col(col), 0)
        rounded[col] = F.when(value < 0, F.lit(0.0)).otherwise(value).cast(T.LongType())
    return df.withColumns(rounded)


def agg_privacy_ledger(
    cells_df: DataFrame,
    *,
    table: str,
    period_col: str,
    mechanism: str,
    epsilon: float,
    delta: float,
    bound: int,
    run_id: str,
    run_at: dt.datetime,
) -> DataFrame:
    """Return QUALITY_PRIVACY_LEDGER: one row per distinct period (ISO date or week) of `cells_df` for `table`."""
    if mechanism not in (LAPLACE, GAUSSIAN):
        raise ValueError(f"mechanism {mechanism!r} spends no budget, so it has no ledger rows")
    # Laplace is calibrated without delta: the delta in the config is unused, so the ledger says 0.
    spent_delta = delta if mechanism == GAUSSIAN else 0.0
    # A date casts to its ISO form (YYYY-MM-DD); a week is already a string (YYYY-Www).
    periods_df = cells_df.select(F.col(period_col).cast(T.StringType()).alias(S.PERIOD)).distinct()
    return periods_df.select(
        F.lit(run_id).alias(S.RUN_ID),
        F.lit(run_at).cast(T.TimestampType()).alias(S.RUN_AT),
        F.lit(table).alias(S.TABLE),
        S.PERIOD,
        F.lit(mechanism).alias(S.MECHANISM),
        F.lit(float(epsilon)).alias(S.EPSILON),
        F.lit(float(spent_delta)).alias(S.DELTA),
        F.lit(bound).cast(T.LongType()).alias(S.CONTRIBUTION_BOUND),
    )
