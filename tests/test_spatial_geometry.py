"""Footprints and weights on hand-made metric geometry whose areas are known by formula."""

from __future__ import annotations

import math

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.testing import assertDataFrameEqual
from sedona.spark.sql import st_constructors as STC
from sedona.spark.sql import st_functions as STF

from footfall import schemas as S
from footfall.spatial.footprints import FOOTPRINT, with_sector_footprint, with_voronoi_footprint
from footfall.spatial.geojson import GEOM
from footfall.spatial.weights import OVERLAP_M2, agg_zone_resolution, with_overlaps

CELLS = (
    "cell_id STRING, site_id STRING, x_m DOUBLE, y_m DOUBLE, azimuth_deg DOUBLE, beamwidth_deg DOUBLE, range_m DOUBLE"
)
T0 = "2026-03-06 00:00:00"


def _cells(spark: SparkSession, rows: list[tuple[object, ...]]) -> DataFrame:
    return (
        spark.createDataFrame(rows, CELLS)
        .withColumn(S.VALID_FROM, F.to_timestamp(F.lit(T0)))
        .withColumn(S.VALID_TO, F.lit(None).cast("timestamp"))
    )


def _square(spark: SparkSession, zone_id: str, cx: float, cy: float, side: float) -> DataFrame:
    h = side / 2
    wkt = f"POLYGON (({cx - h} {cy - h}, {cx + h} {cy - h}, {cx + h} {cy + h}, {cx - h} {cy + h}, {cx - h} {cy - h}))"
    rows_df = spark.createDataFrame(
        [(zone_id, "mall", side * side, wkt)], "zone_id STRING, category STRING, area_m2 DOUBLE, wkt STRING"
    )
    return rows_df.select(S.ZONE_ID, S.CATEGORY, S.AREA_M2, STC.ST_GeomFromWKT("wkt").alias(GEOM))


def _areas(footprints_df: DataFrame) -> dict[str, float]:
    return {r[0]: r[1] for r in footprints_df.select(S.CELL_ID, STF.ST_Area(FOOTPRINT)).collect()}


def test_sector_wedge_and_disc_areas_match_the_formulas(spark: SparkSession) -> None:
    cells_df = _cells(
        spark,
        [("w65", "s", 0.0, 0.0, 30.0, 65.0, 500.0), ("omni", "s", 0.0, 0.0, None, 360.0, 300.0)],
    )
    areas = _areas(with_sector_footprint(cells_df))
    assert math.isclose(areas["w65"], math.pi * 500**2 * 65 / 360, rel_tol=1e-3)
    assert math.isclose(areas["omni"], math.pi * 300**2, rel_tol=1e-3)


def test_sector_points_along_its_azimuth(spark: SparkSession) -> None:
    """A narrow wedge pointing east (90 deg, clockwise from north) lies right of its apex, not above it."""
    cells_df = _cells(spark, [("east", "s", 1000.0, 2000.0, 90.0, 12.0, 100.0)])
    box = with_sector_footprint(cells_df).select(
        STF.ST_XMin(FOOTPRINT), STF.ST_XMax(FOOTPRINT), STF.ST_YMin(FOOTPRINT), STF.ST_YMax(FOOTPRINT)
    )
    x_min, x_max, y_min, y_max = box.first()  # type: ignore[misc]
    assert math.isclose(x_min, 1000.0, abs_tol=0.01) and math.isclose(x_max, 1100.0, abs_tol=0.01)
    assert math.isclose(y_max - 2000.0, 100 * math.sin(math.radians(6)), abs_tol=0.01)
    assert math.isclose(2000.0 - y_min, 100 * math.sin(math.radians(6)), abs_tol=0.01)


def test_half_disc_wedge_covering_half_a_square_zone(spark: SparkSession) -> None:
    """Apex at the square's centre, beamwidth 180 facing east, range beyond the corners: half the square."""
    side, reach = 100.0, 200.0
    cells_df = _cells(spark, [("c1", "s1", 500.0, 700.0, 90.0, 180.0, reach)])
    zones_df = _square(spark, "Z1", 500.0, 700.0, side).unionByName(_square(spark, "Zfar", 5000.0, 700.0, side))
    overlaps_df = with_overlaps(with_sector_footprint(cells_df), areas_df=zones_df, area_id=S.ZONE_ID)
    expected = spark.createDataFrame(
        [("c1", "Z1", side * side / 2, (side * side / 2) / (math.pi * reach**2 / 2))],
        "cell_id STRING, zone_id STRING, overlap_m2 DOUBLE, weight DOUBLE",
    )
    assertDataFrameEqual(overlaps_df.select(S.CELL_ID, S.ZONE_ID, OVERLAP_M2, S.WEIGHT), expected, rtol=1e-3)

    resolution_df = agg_zone_resolution(overlaps_df, zones_df=zones_df, min_score=0.05)
    weight = side * side / (math.pi * reach**2)  # 0.0796: above 0.05, so Z1 is not flagged
    expected_resolution = spark.createDataFrame(
        [("Z1", "mall", side * side, 1, weight, weight, False), ("Zfar", "mall", side * side, 0, 0.0, 0.0, True)],
        S.SILVER_ZONE_RESOLUTION,
    )
    assertDataFrameEqual(resolution_df, expected_resolution, rtol=1e-3)


def test_touching_footprint_gets_no_weight(spark: SparkSession) -> None:
    """A wedge whose straight edge runs along the zone's edge intersects it with zero area: no row."""
    cells_df = _cells(spark, [("c1", "s1", 0.0, 0.0, 90.0, 180.0, 200.0)])
    zones_df = _square(spark, "Zwest", -50.0, 0.0, 100.0)  # x in [-100, 0]: shares the wedge's edge x = 0
    overlaps_df = with_overlaps(with_sector_footprint(cells_df), areas_df=zones_df, area_id=S.ZONE_ID)
    assert overlaps_df.count() == 0


def test_resolution_score_weights_each_cell_by_its_overlap(spark: SparkSession) -> None:
    """Two cells over one square: score = sum(overlap * weight) / sum(overlap), computed here by formula."""
    side = 100.0
    cells_df = _cells(
        spark,
        [("big", "s1", 0.0, 0.0, None, 360.0, 400.0), ("small", "s2", 0.0, 0.0, None, 360.0, 40.0)],
    )
    zones_df = _square(spark, "Z", 0.0, 0.0, side)
    overlaps_df = with_overlaps(with_sector_footprint(cells_df), areas_df=zones_df, area_id=S.ZONE_ID)
    o_big, w_big = side * side, side * side / (math.pi * 400**2)
    o_small, w_small = math.pi * 40**2, 1.0  # the small disc lies inside the square
    score = (o_big * w_big + o_small * w_small) / (o_big + o_small)
    expected = spark.createDataFrame([("Z", "mall", side * side, 2, 1.0, score, False)], S.SILVER_ZONE_RESOLUTION)
    assertDataFrameEqual(agg_zone_resolution(overlaps_df, zones_df=zones_df, min_score=0.3), expected, rtol=1e-3)


def test_voronoi_splits_a_three_sector_site_into_thirds(spark: SparkSession) -> None:
    reach = 100.0
    cells_df = _cells(
        spark,
        [
            ("a", "s1", 0.0, 0.0, 0.0, 65.0, reach),
            ("b", "s1", 0.0, 0.0, 120.0, 65.0, reach),
            ("c", "s1", 0.0, 0.0, 240.0, 65.0, reach),
            ("far", "s2", 5000.0, 0.0, None, 360.0, reach),
        ],
    )
    footprints_df = with_voronoi_footprint(cells_df)
    areas = _areas(footprints_df)
    for cell in ("a", "b", "c"):
        assert math.isclose(areas[cell], math.pi * reach**2 / 3, rel_tol=1e-3), (cell, areas)
    # The thirds tile the disc: their union has the disc's area, so they do not overlap.
    union = footprints_df.filter(F.col(S.SITE_ID) == "s1").agg(STF.ST_Area(F.expr(f"ST_Union_Aggr({FOOTPRINT})")))
    assert math.isclose(union.first()[0], math.pi * reach**2, rel_tol=1e-3)  # type: ignore[index]


def test_voronoi_clips_an_omni_disc_at_the_bisector(spark: SparkSession) -> None:
    """Two omni sites 100 m apart, range 100: each keeps its disc minus the segment beyond x = 50."""
    reach, half = 100.0, 50.0
    cells_df = _cells(
        spark,
        [("west", "s1", 0.0, 0.0, None, 360.0, reach), ("east", "s2", 2 * half, 0.0, None, 360.0, reach)],
    )
    segment = reach**2 * math.acos(half / reach) - half * math.sqrt(reach**2 - half**2)
    areas = _areas(with_voronoi_footprint(cells_df))
    assert math.isclose(areas["west"], math.pi * reach**2 - segment, rel_tol=1e-3)
    assert math.isclose(areas["east"], math.pi * reach**2 - segment, rel_tol=1e-3)


def test_voronoi_with_a_single_site_is_the_range_disc(spark: SparkSession) -> None:
    cells_df = _cells(spark, [("only", "s1", 0.0, 0.0, None, 360.0, 100.0)])
    assert math.isclose(_areas(with_voronoi_footprint(cells_df))["only"], math.pi * 100.0**2, rel_tol=1e-3)
