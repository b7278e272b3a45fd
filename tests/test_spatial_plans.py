"""Events meet zones through cell_id only; cells meet zones through Sedona's indexed spatial join."""

from __future__ import annotations

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.testing import assertDataFrameEqual
from sedona.spark.sql import st_constructors as STC

from footfall import schemas as S
from footfall.spatial import with_zone_candidates
from footfall.spatial.footprints import with_sector_footprint
from footfall.spatial.geojson import GEOM
from footfall.spatial.weights import with_overlaps

SPATIAL_NODES = ("RangeJoin", "DistanceJoin", "BroadcastIndexJoin", "SpatialIndex")
CARTESIAN_NODES = ("CartesianProduct", "BroadcastNestedLoopJoin")


def _executed_plan(df: DataFrame) -> str:
    return str(df._jdf.queryExecution().executedPlan().toString())


def _ts(column: str) -> F.Column:
    return F.to_timestamp(column).alias(column)


def test_events_join_zone_weights_on_cell_id_only(spark: SparkSession) -> None:
    weights_df = spark.createDataFrame(
        [
            ("C1", "Z1", 0.25, "2026-03-06 10:00:00", "2026-03-06 18:00:00"),
            ("C1", "Z2", 0.5, "2026-03-06 10:00:00", "2026-03-06 18:00:00"),
            ("C2", "Z1", 0.1, "2026-01-01 00:00:00", None),
        ],
        "cell_id STRING, zone_id STRING, weight DOUBLE, valid_from STRING, valid_to STRING",
    ).select(S.CELL_ID, S.ZONE_ID, S.WEIGHT, _ts(S.VALID_FROM), _ts(S.VALID_TO))
    events_df = spark.createDataFrame(
        [
            ("p1", "2026-03-06 09:59:59", "C1"),  # before C1 was switched on
            ("p1", "2026-03-06 10:00:00", "C1"),  # at valid_from: included
            ("p2", "2026-03-06 18:00:00", "C1"),  # at valid_to: excluded (exclusive)
            ("p3", "2026-03-06 12:00:00", "C2"),
            ("p4", "2026-03-06 12:00:00", "C9"),  # a cell that overlaps no zone
        ],
        "pseudo_id STRING, event_ts STRING, cell_id STRING",
    ).select(S.PSEUDO_ID, _ts(S.EVENT_TS), S.CELL_ID)

    candidates_df = with_zone_candidates(events_df, weights_df=weights_df)
    expected = spark.createDataFrame(
        [("p1", "C1", "Z1", 0.25), ("p1", "C1", "Z2", 0.5), ("p3", "C2", "Z1", 0.1)],
        "pseudo_id STRING, cell_id STRING, zone_id STRING, weight DOUBLE",
    )
    assertDataFrameEqual(candidates_df.select(S.PSEUDO_ID, S.CELL_ID, S.ZONE_ID, S.WEIGHT), expected)

    plan = _executed_plan(candidates_df)
    assert "BroadcastHashJoin" in plan, plan
    for node in SPATIAL_NODES + CARTESIAN_NODES:
        assert node not in plan, f"{node} in the plan of the events join:\n{plan}"


def test_cells_meet_zones_through_an_indexed_spatial_join(spark: SparkSession) -> None:
    cells_df = spark.createDataFrame(
        [(f"C{i}", float(100 * i), 0.0, 90.0, 65.0, 150.0) for i in range(20)],
        "cell_id STRING, x_m DOUBLE, y_m DOUBLE, azimuth_deg DOUBLE, beamwidth_deg DOUBLE, range_m DOUBLE",
    ).select("*", F.current_timestamp().alias(S.VALID_FROM), F.lit(None).cast("timestamp").alias(S.VALID_TO))
    zones_df = spark.createDataFrame(
        [(f"Z{i}", float(100 * i + 50), -10.0, float(100 * i + 70), 10.0) for i in range(20)],
        "zone_id STRING, x0 DOUBLE, y0 DOUBLE, x1 DOUBLE, y1 DOUBLE",
    ).select(S.ZONE_ID, STC.ST_PolygonFromEnvelope("x0", "y0", "x1", "y1").alias(GEOM))
    overlaps_df = with_overlaps(with_sector_footprint(cells_df), areas_df=zones_df, area_id=S.ZONE_ID)
    # Each wedge (apex at 100 i, reaching 150 m east) holds its own zone (50-70 m ahead); the next one starts at
    # 150 m, just beyond the arc's polygon, and the previous one is behind the apex.
    pairs = sorted((r[S.CELL_ID], r[S.ZONE_ID]) for r in overlaps_df.collect())
    assert pairs == sorted((f"C{i}", f"Z{i}") for i in range(20))

    plan = _executed_plan(overlaps_df)
    assert any(node in plan for node in ("BroadcastIndexJoin", "RangeJoin")), plan
    for node in CARTESIAN_NODES:
        assert node not in plan, plan
