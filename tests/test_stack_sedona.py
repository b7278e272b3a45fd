"""The real Sedona jar works in our session, through its DataFrame API."""

from __future__ import annotations

import math
import random
from pathlib import Path

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.testing import assertDataFrameEqual
from sedona.spark.sql import st_constructors as STC
from sedona.spark.sql import st_functions as STF
from sedona.spark.sql import st_predicates as STP


def _square_wkt(x0: float, y0: float, size: float) -> str:
    x1, y1 = x0 + size, y0 + size
    return f"POLYGON (({x0} {y0}, {x1} {y0}, {x1} {y1}, {x0} {y1}, {x0} {y0}))"


def test_point_in_polygon(spark: SparkSession) -> None:
    df = spark.createDataFrame(
        [("in", 0.5, 0.5), ("out", 1.5, 0.5), ("edge", 1.0, 0.5)], "name STRING, x DOUBLE, y DOUBLE"
    ).select(
        "name",
        STP.ST_Contains(STC.ST_GeomFromWKT(F.lit(_square_wkt(0, 0, 1))), STC.ST_Point("x", "y")).alias("contains"),
        STP.ST_Intersects(STC.ST_GeomFromWKT(F.lit(_square_wkt(0, 0, 1))), STC.ST_Point("x", "y")).alias("touches"),
    )
    expected = spark.createDataFrame(
        [("in", True, True), ("out", False, False), ("edge", False, True)],
        "name STRING, contains BOOLEAN, touches BOOLEAN",
    )
    assertDataFrameEqual(df, expected)


def _points_and_squares(spark: SparkSession) -> tuple[DataFrame, DataFrame, list[tuple[int, int]]]:
    """1,000 random points and 10 disjoint unit squares on a line; the expected pairs come from arithmetic."""
    rng = random.Random(7)
    points = [(i, rng.uniform(0, 20), rng.uniform(-1, 2)) for i in range(1000)]
    squares = [(k, _square_wkt(2.0 * k, 0.0, 1.0)) for k in range(10)]
    expected = [
        (pid, int(x // 2)) for pid, x, y in points if 0 < y < 1 and (x % 2.0) < 1.0 and (x % 2.0) > 0 and x < 20
    ]
    points_df = spark.createDataFrame(points, "point_id INT, x DOUBLE, y DOUBLE").select(
        "point_id", STC.ST_Point("x", "y").alias("geom")
    )
    squares_df = spark.createDataFrame(squares, "square_id INT, wkt STRING").select(
        "square_id", STC.ST_GeomFromWKT("wkt").alias("poly")
    )
    return points_df, squares_df, expected


def test_broadcast_spatial_join_1000_points_10_polygons(spark: SparkSession) -> None:
    points_df, squares_df, expected = _points_and_squares(spark)
    joined = points_df.join(F.broadcast(squares_df), STP.ST_Contains("poly", "geom"), how="inner").select(
        "point_id", "square_id"
    )

    plan = joined._jdf.queryExecution().executedPlan().toString()
    assert "BroadcastIndexJoin" in plan, plan
    assert len(expected) > 100  # the fixture really exercises the join
    assertDataFrameEqual(joined, spark.createDataFrame(expected, "point_id INT, square_id INT"))


def test_geometry_round_trips_through_delta_as_wkb(spark: SparkSession, tmp_path: Path) -> None:
    wkts = [(1, _square_wkt(11.5, 48.1, 0.01)), (2, "POINT (11.57 48.137)"), (3, "LINESTRING (0 0, 1 1, 2 0)")]
    source = spark.createDataFrame(wkts, "id INT, wkt STRING").select("id", STC.ST_GeomFromWKT("wkt").alias("geom"))
    path = str(tmp_path / "geoms")
    source.select("id", STF.ST_AsBinary("geom").alias("geom_wkb")).write.format("delta").save(path)

    stored = spark.read.format("delta").load(path)
    assert dict(stored.dtypes)["geom_wkb"] == "binary"  # WKB, never Sedona's UDT
    back = stored.select("id", STC.ST_GeomFromWKB("geom_wkb").alias("geom"))
    compared = back.join(source.withColumnRenamed("geom", "orig"), on="id", how="full_outer").select(
        "id",
        STP.ST_Equals("geom", "orig").alias("equal"),
        (STF.ST_AsText("geom") == STF.ST_AsText("orig")).alias("same_wkt"),
    )
    assertDataFrameEqual(
        compared, spark.createDataFrame([(i, True, True) for i in (1, 2, 3)], "id INT, equal BOOLEAN, same_wkt BOOLEAN")
    )


def test_metric_transform_uses_geotools(spark: SparkSession) -> None:
    # 0.01 degree of longitude at 48.1374 N on the WGS84 ellipsoid, from the textbook formula, against the
    # distance in UTM 32N (EPSG:25832), whose scale factor here is within 1e-4 of one.
    lat, a, e2 = math.radians(48.1374), 6_378_137.0, 0.00669438
    expected_m = math.radians(0.01) * a * math.cos(lat) / math.sqrt(1 - e2 * math.sin(lat) ** 2)

    def utm(lon: float) -> Column:
        return STF.ST_Transform(STC.ST_Point(F.lit(lon), F.lit(48.1374)), F.lit("EPSG:4326"), F.lit("EPSG:25832"))

    row = spark.range(1).select(STF.ST_Distance(utm(11.57), utm(11.58)).alias("d")).first()
    assert row is not None
    assert abs(row.d - expected_m) < expected_m * 2e-4, (row.d, expected_m)
