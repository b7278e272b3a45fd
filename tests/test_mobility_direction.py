"""Direction of arrival from each octant, and every way it becomes unknown."""

from __future__ import annotations

import datetime as dt
import math

from pyspark.sql import SparkSession
from pyspark.testing import assertDataFrameEqual

from footfall import schemas as S
from footfall.mobility.direction import ARRIVAL_DIRECTION, with_arrival_direction

T0 = dt.datetime(2026, 3, 2, 9, 0)
COMPASS = {"N": 0, "NE": 45, "E": 90, "SE": 135, "S": 180, "SW": 225, "W": 270, "NW": 315}


def test_arrival_from_each_octant_and_unknowns(spark: SparkSession) -> None:
    # Zone Z1's centroid is at (1000, 2000); cell c_<dir> sits 800 m away in that compass direction (+10 degrees,
    # off the octant centre but inside it). Cell "in" covers the zone; "near" is 50 m away.
    zx, zy = 1000.0, 2000.0
    cells = [
        (f"c_{name}", zx + 800 * math.sin(math.radians(deg + 10)), zy + 800 * math.cos(math.radians(deg + 10)))
        for name, deg in COMPASS.items()
    ] + [("in", zx, zy), ("near", zx + 50, zy)]
    cell_df = spark.createDataFrame(cells, f"{S.CELL_ID} STRING, x_m DOUBLE, y_m DOUBLE")
    zone_df = spark.createDataFrame([("Z1", zx, zy)], f"{S.ZONE_ID} STRING, x_m DOUBLE, y_m DOUBLE")
    candidates = spark.createDataFrame([("in", "Z1")], f"{S.CELL_ID} STRING, {S.ZONE_ID} STRING")
    first = T0 + dt.timedelta(minutes=30)
    stays = [(f"d_{n}", "Z1", first, T0 + dt.timedelta(minutes=25), f"c_{n}", n) for n in COMPASS] + [
        ("no_prev", "Z1", first, None, None, "unknown"),
        ("too_old", "Z1", first, T0 - dt.timedelta(hours=2), "c_N", "unknown"),  # beyond the 30 min lookback
        ("at_edge", "Z1", first, first - dt.timedelta(seconds=1800), "c_E", "E"),  # exactly the lookback
        ("inside", "Z1", first, T0 + dt.timedelta(minutes=29), "in", "unknown"),
        ("close", "Z1", first, T0 + dt.timedelta(minutes=29), "near", "unknown"),
    ]
    stays_df = spark.createDataFrame(
        stays,
        f"{S.PSEUDO_ID} STRING, {S.ZONE_ID} STRING, first_event_ts TIMESTAMP, prev_event_ts TIMESTAMP, "
        "prev_cell_id STRING, expected STRING",
    )
    got = with_arrival_direction(
        stays_df,
        cell_centroids_df=cell_df,
        zone_centroids_df=zone_df,
        candidates_df=candidates,
        lookback_s=1800,
        min_distance_m=200.0,
    )
    assertDataFrameEqual(
        got.select(S.PSEUDO_ID, ARRIVAL_DIRECTION),
        stays_df.select(S.PSEUDO_ID, "expected").withColumnRenamed("expected", ARRIVAL_DIRECTION),
    )
