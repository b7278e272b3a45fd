"""The coverage model on hand-made cells with known answers (docs/spatial.md, "Coverage model").

Site at the origin with two 90-degree sectors: A points north, B east. A reaches 1,000 m, B only 400 m. A mall
(100 x 100 m) stands 300 m south-west of the site with one indoor small cell in it.
"""

from __future__ import annotations

import datetime as dt

import pytest
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.testing import assertDataFrameEqual
from sedona.spark.sql import st_constructors as STC

from footfall import schemas as S
from footfall.config import CoverageConfig
from footfall.spatial.coverage import agg_coverage_resolution, coverage_tables, grid_bounds, tile_grid
from footfall.spatial.footprints import X_M, Y_M
from footfall.spatial.geojson import GEOM

SETTINGS = CoverageConfig(tile_m=50.0, margin_m=1000.0)
ON = dt.datetime(2026, 1, 1)


def _coverage(spark: SparkSession) -> tuple[dict[tuple[str, int], float], DataFrame, dict[tuple[float, float], int]]:
    cells = spark.createDataFrame(
        [
            ("A", "S1", 0.0, 0.0, 0.0, 90.0, 1000.0, "LTE", ON),
            ("B", "S1", 0.0, 0.0, 90.0, 90.0, 400.0, "LTE", ON),
            ("M", "S2", -300.0, -300.0, None, 360.0, 90.0, "LTE-small", ON),
        ],
        f"{S.CELL_ID} STRING, {S.SITE_ID} STRING, {X_M} DOUBLE, {Y_M} DOUBLE, {S.AZIMUTH_DEG} DOUBLE,"
        f" {S.BEAMWIDTH_DEG} DOUBLE, {S.RANGE_M} DOUBLE, {S.TECHNOLOGY} STRING, {S.VALID_FROM} TIMESTAMP",
    )
    zones = spark.createDataFrame(
        [("MALL", "mall", "POLYGON ((-350 -350, -250 -350, -250 -250, -350 -250, -350 -350))")],
        f"{S.ZONE_ID} STRING, {S.CATEGORY} STRING, wkt STRING",
    ).select(S.ZONE_ID, S.CATEGORY, STC.ST_GeomFromWKT("wkt").alias(GEOM))
    coverage, shares = coverage_tables(spark, cells, zones_df=zones, settings=SETTINGS)
    # tile centres come from the grid the model built; find tiles by their centre
    x0, y0, nx, ny = grid_bounds(zones, margin_m=SETTINGS.margin_m, tile_m=SETTINGS.tile_m)
    tiles = {
        (r[X_M], r[Y_M]): r[S.TILE_ID]
        for r in tile_grid(spark, x0=x0, y0=y0, nx=nx, ny=ny, tile_m=SETTINGS.tile_m).drop("_tile").collect()
    }
    p = {(r[S.CELL_ID], r[S.TILE_ID]): r[S.P_SERVE] for r in coverage.collect()}
    return p, shares, tiles


@pytest.fixture(scope="module")
def model(spark: SparkSession) -> tuple[dict[tuple[str, int], float], DataFrame, dict[tuple[float, float], int]]:
    return _coverage(spark)


def _p(model: tuple[dict[tuple[str, int], float], DataFrame, dict[tuple[float, float], int]], cell: str,
       x: float, y: float) -> float:  # fmt: skip
    p, _, tiles = model
    return p.get((cell, tiles[(x, y)]), 0.0)


def test_each_sector_serves_straight_ahead(model) -> None:  # type: ignore[no-untyped-def]
    # 226 m north: A is 6 degrees off its axis, B 84 degrees (-10.4 dB), so A serves with 1 / (1 + exp(-10.3 / tau))
    # = 0.90, tau = 6 dB * sqrt(6) / pi
    assert _p(model, "A", 25.0, 225.0) == pytest.approx(0.90, abs=0.01)
    assert _p(model, "B", 225.0, 25.0) == pytest.approx(0.90, abs=0.01)


def test_where_the_sectors_overlap_they_share_the_tile_evenly(model) -> None:  # type: ignore[no-untyped-def]
    # on the bisector (45 degrees) both antennas lose the same gain at the same distance
    a, b = _p(model, "A", 175.0, 175.0), _p(model, "B", 175.0, 175.0)
    assert a == pytest.approx(b, abs=1e-9)
    assert a + b == pytest.approx(1.0, abs=1e-6)


def test_a_tile_only_one_cell_reaches_is_served_by_it_alone(model) -> None:  # type: ignore[no-untyped-def]
    # 600 m east: beyond B's 400 m range, inside A's 1,000 m, though far off A's main lobe
    assert _p(model, "A", 575.0, 25.0) == pytest.approx(1.0)
    assert _p(model, "B", 575.0, 25.0) == 0.0


def test_probabilities_of_a_tile_add_up_to_one(model) -> None:  # type: ignore[no-untyped-def]
    p, _, _ = model
    totals: dict[int, float] = {}
    for (_, tile), v in p.items():
        totals[tile] = totals.get(tile, 0.0) + v
    assert min(totals.values()) > 1 - 3 * SETTINGS.min_p and max(totals.values()) < 1 + 1e-9


def test_indoors_the_mall_cell_serves_outside_the_macro(model) -> None:  # type: ignore[no-untyped-def]
    inside = _p(model, "M", -275.0, -275.0)
    assert inside > 0.95  # the macro cells lose the wall inside the mall
    # 79 m from the small cell, just outside the mall, in its 90 m range: the wall is now the small cell's loss.
    # -57.4 dB against -53.3 dB for each sector (both at their pattern floor): 0.17 rather than 0.9 without walls.
    assert _p(model, "M", -225.0, -275.0) == pytest.approx(0.17, abs=0.02)


def test_tile_shares_of_the_mall(model) -> None:  # type: ignore[no-untyped-def]
    _, shares, tiles = model
    got = {r[S.TILE_ID]: r[S.SHARE] for r in shares.where(F.col(S.ZONE_ID) == "MALL").collect()}
    # the mall's 100 x 100 m square against a 50 m grid aligned to it: four whole tiles
    assert sorted(got.values()) == pytest.approx([1.0] * 4)
    assert tiles[(-275.0, -275.0)] in got


def test_resolution_score_from_the_posterior(spark: SparkSession) -> None:
    # Tiles 0-2 in a row: A serves 0 (p 1) and 1 (0.5), B serves 1 (0.5) and 2 (1); zone Z covers tile 1. An event on
    # A puts 1/3 of its mass in Z, on B too; a phone on any of the three tiles adds 1/3 on average, and only tile 1's
    # third is from inside Z: score 1/3. Zone Y covers tile 3, which only C serves and C serves nothing else: 1.
    coverage = spark.createDataFrame(
        [("A", 0, 1.0), ("A", 1, 0.5), ("B", 1, 0.5), ("B", 2, 1.0), ("C", 3, 1.0)],
        S.SILVER_COVERAGE,
    )
    tile_zones = spark.createDataFrame([(1, "Z", 1.0), (3, "Y", 1.0)], S.SILVER_TILE_ZONES)
    assertDataFrameEqual(
        agg_coverage_resolution(coverage, tile_zones),
        spark.createDataFrame([("Z", 1 / 3), ("Y", 1.0)], f"{S.ZONE_ID} STRING, {S.RESOLUTION_SCORE} DOUBLE"),
        rtol=1e-9,
    )
