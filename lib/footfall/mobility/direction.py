"""Direction of arrival: the compass octant, seen from the zone, of where the device was just before entering."""

from __future__ import annotations

import math

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from footfall import schemas as S
from footfall.mobility.stays import FIRST_TS, PREV_CELL, PREV_TS

ARRIVAL_DIRECTION = "arrival_direction"
OCTANTS = ("N", "NE", "E", "SE", "S", "SW", "W", "NW")
UNKNOWN = "unknown"
X_M, Y_M = "x_m", "y_m"


def with_arrival_direction(
    stays_df: DataFrame,
    *,
    cell_centroids_df: DataFrame,
    zone_centroids_df: DataFrame,
    candidates_df: DataFrame,
    lookback_s: int,
    min_distance_m: float,
) -> DataFrame:
    """Add `arrival_direction`: N, NE, ... NW, or `unknown`.

    "Before" is the device's event just before the stay's first event, if it is at most `lookback_s` earlier and
    on a cell that is not a candidate for the zone; its location is the centroid of that cell's footprint.
    Centroids are metric x/y (east, north). Closer to the zone's centroid than `min_distance_m`, or no such
    event: `unknown`.
    """
    outside = candidates_df.select(
        F.col(S.CELL_ID).alias(PREV_CELL), S.ZONE_ID, F.lit(True).alias("_prev_in_zone")
    ).distinct()
    cells = cell_centroids_df.select(
        F.col(S.CELL_ID).alias(PREV_CELL), F.col(X_M).alias("_cx"), F.col(Y_M).alias("_cy")
    )
    zones = zone_centroids_df.select(S.ZONE_ID, F.col(X_M).alias("_zx"), F.col(Y_M).alias("_zy"))
    joined = (
        stays_df.join(F.broadcast(outside), on=[PREV_CELL, S.ZONE_ID], how="left")
        .join(F.broadcast(cells), on=PREV_CELL, how="left")
        .join(F.broadcast(zones), on=S.ZONE_ID, how="left")
    )
    dx, dy = F.col("_cx") - F.col("_zx"), F.col("_cy") - F.col("_zy")
    bearing = F.pmod(F.degrees(F.atan2(dx, dy)), F.lit(360.0))
    octant = F.element_at(F.array(*[F.lit(o) for o in OCTANTS]), (F.floor((bearing + 22.5) / 45) % 8).cast("int") + 1)
    usable = (
        F.col(PREV_TS).isNotNull()
        & (F.unix_timestamp(FIRST_TS) - F.unix_timestamp(PREV_TS) <= lookback_s)
        & F.col("_prev_in_zone").isNull()
        & F.col("_cx").isNotNull()
        & (F.hypot(dx, dy) >= F.lit(float(min_distance_m)))
    )
    return joined.withColumn(ARRIVAL_DIRECTION, F.when(usable, octant).otherwise(F.lit(UNKNOWN))).drop(
        "_prev_in_zone", "_cx", "_cy", "_zx", "_zy"
    )


def octant_of(bearing_deg: float) -> str:
    """Return the octant of a compass bearing (for tests and docs: the same rule as the column expression)."""
    return OCTANTS[math.floor(((bearing_deg % 360) + 22.5) / 45) % 8]
