"""A coverage model from the inventory: on a regular grid, the probability that each cell serves a phone in each tile.

Only what an operator's inventory and radio planning hold goes in (docs/spatial.md, "Coverage model"): antenna
position, azimuth, beamwidth and range from cells.csv, a transmit power per layer (macro or small cell), a path-loss
exponent, the 3GPP horizontal antenna pattern, a building-entry loss for malls, and the spread of shadowing. Per
tile and cell:

    signal = power - 10 * path_loss_exponent * log10(distance) + antenna_gain - wall_loss

A phone is served by the strongest cell in range after independent shadowing of `shadowing_db` per cell. With
Gumbel noise the arg-max is exactly a softmax, and Gumbel noise with scale sigma * sqrt(6) / pi has the same
spread of pairwise differences as Gaussian shadowing of sigma; the softmax is that approximation, in built-ins.

Inside a mall, macro cells lose the wall and the mall's own small cells do not; outside, it is the other way round.
A tile partly inside a mall mixes the two by its share inside.
"""

from __future__ import annotations

import math

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.window import Window
from sedona.spark.sql import st_constructors as STC
from sedona.spark.sql import st_functions as STF
from sedona.spark.sql import st_predicates as STP

from footfall import schemas as S
from footfall.config import CoverageConfig
from footfall.spatial.footprints import X_M, Y_M
from footfall.spatial.geojson import GEOM

TILE_ID = S.TILE_ID
TILE_GEOM = "_tile"
P_SERVE = S.P_SERVE
SHARE = S.SHARE
INDOOR_ZONE = "indoor_zone_id"
SMALL_SUFFIX = "-small"
MIN_DISTANCE_M = 5.0  # path loss is not defined at the antenna; the generator of any model needs a floor
_SIGNAL = "_signal"


def grid_bounds(zones_df: DataFrame, *, margin_m: float, tile_m: float) -> tuple[float, float, int, int]:
    """Return (x0, y0, nx, ny): the grid's origin and size covering the zones' metric bounds plus margin_m."""
    box = zones_df.select(STF.ST_Envelope(GEOM).alias("_e")).agg(
        F.min(STF.ST_XMin("_e")), F.min(STF.ST_YMin("_e")), F.max(STF.ST_XMax("_e")), F.max(STF.ST_YMax("_e"))
    )
    row = box.first()
    assert row is not None
    x0 = math.floor((row[0] - margin_m) / tile_m) * tile_m
    y0 = math.floor((row[1] - margin_m) / tile_m) * tile_m
    nx = math.ceil((row[2] + margin_m - x0) / tile_m)
    ny = math.ceil((row[3] + margin_m - y0) / tile_m)
    return x0, y0, nx, ny


def tile_grid(spark: SparkSession, *, x0: float, y0: float, nx: int, ny: int, tile_m: float) -> DataFrame:
    """Return the grid: tile_id (row-major from the south-west), centre x_m, y_m, and the tile as a Sedona polygon."""
    ix, iy = F.col("id") % nx, F.floor(F.col("id") / nx)
    minx, miny = F.lit(x0) + ix * tile_m, F.lit(y0) + iy * tile_m
    return spark.range(nx * ny).select(
        F.col("id").alias(TILE_ID),
        (minx + tile_m / 2).alias(X_M),
        (miny + tile_m / 2).alias(Y_M),
        STC.ST_PolygonFromEnvelope(minx, miny, minx + tile_m, miny + tile_m).alias(TILE_GEOM),
    )


def tile_zone_shares(tiles_df: DataFrame, *, zones_df: DataFrame) -> DataFrame:
    """Return (tile_id, zone_id, share): the share of each tile's area inside each zone it intersects (Sedona join)."""
    zones = F.broadcast(zones_df.select(S.ZONE_ID, F.col(GEOM).alias("_z")))
    pairs = tiles_df.join(zones, STP.ST_Intersects(TILE_GEOM, "_z"), how="inner")
    share = STF.ST_Area(STF.ST_Intersection(TILE_GEOM, "_z")) / STF.ST_Area(TILE_GEOM)
    return pairs.select(TILE_ID, S.ZONE_ID, share.alias(SHARE)).where(F.col(SHARE) > 0)


def with_indoor_zone(cells_df: DataFrame, *, zones_df: DataFrame) -> DataFrame:
    """Add indoor_zone_id: the mall a small cell's antenna stands in (null for macro cells and open small cells)."""
    malls = F.broadcast(zones_df.where(F.col(S.CATEGORY) == "mall").select(F.col(S.ZONE_ID).alias(INDOOR_ZONE), GEOM))
    small = cells_df.where(F.col(S.TECHNOLOGY).endswith(SMALL_SUFFIX))
    inside = small.join(malls, STP.ST_Contains(GEOM, STC.ST_Point(X_M, Y_M)), how="inner").select(
        S.CELL_ID, INDOOR_ZONE
    )
    return cells_df.join(F.broadcast(inside), on=S.CELL_ID, how="left")


def latest_cells(cells_df: DataFrame) -> DataFrame:
    """Keep each cell's latest inventory row: the model describes the network as planned now (docs/spatial.md)."""
    latest = Window.partitionBy(S.CELL_ID).orderBy(F.col(S.VALID_FROM).desc())
    return cells_df.withColumn("_r", F.row_number().over(latest)).where(F.col("_r") == 1).drop("_r")


def antenna_gain_db(bearing_deg: Column, *, azimuth_deg: Column, beamwidth_deg: Column, floor_db: float) -> Column:
    """The 3GPP horizontal pattern (TR 36.814): -min(12 (theta / theta_3dB)^2, floor_db); 0 for omni cells."""
    diff = F.abs(F.pmod(bearing_deg - azimuth_deg + 180.0, F.lit(360.0)) - 180.0)
    directional = -F.least(12.0 * F.pow(diff / beamwidth_deg, 2), F.lit(floor_db))
    return F.when(azimuth_deg.isNull() | (beamwidth_deg >= 360), F.lit(0.0)).otherwise(directional)


def cell_tile_pairs(tiles_df: DataFrame, *, cells_df: DataFrame) -> DataFrame:
    """Return every (tile, cell) with the tile's centre within the cell's range (a Sedona join on range discs)."""
    discs = F.broadcast(
        cells_df.select(
            S.CELL_ID,
            S.AZIMUTH_DEG,
            S.BEAMWIDTH_DEG,
            S.TECHNOLOGY,
            INDOOR_ZONE,
            F.col(X_M).alias("_cx"),
            F.col(Y_M).alias("_cy"),
            STF.ST_Buffer(STC.ST_Point(X_M, Y_M), S.RANGE_M).alias("_disc"),
        )
    )
    centres = tiles_df.select(TILE_ID, X_M, Y_M, STC.ST_Point(X_M, Y_M).alias("_centre"))
    return centres.join(discs, STP.ST_Contains("_disc", "_centre"), how="inner").drop("_disc", "_centre")


def with_signal(
    pairs_df: DataFrame,
    *,
    macro_power_db: float,
    small_power_db: float,
    path_loss_exponent: float,
    pattern_floor_db: float,
) -> DataFrame:
    """Add the modelled signal (dB, before walls and shadowing) of each cell at each tile centre."""
    dx, dy = F.col(X_M) - F.col("_cx"), F.col(Y_M) - F.col("_cy")
    distance = F.greatest(F.sqrt(dx * dx + dy * dy), F.lit(MIN_DISTANCE_M))
    bearing = F.pmod(F.degrees(F.atan2(dx, dy)), F.lit(360.0))
    power = F.when(F.col(S.TECHNOLOGY).endswith(SMALL_SUFFIX), small_power_db).otherwise(macro_power_db)
    gain = antenna_gain_db(
        bearing, azimuth_deg=F.col(S.AZIMUTH_DEG), beamwidth_deg=F.col(S.BEAMWIDTH_DEG), floor_db=pattern_floor_db
    )
    return pairs_df.withColumn(_SIGNAL, power - 10.0 * path_loss_exponent * F.log10(distance) + gain)


def _softmax(signal: Column, *, tau: float) -> Column:
    by_tile = Window.partitionBy(TILE_ID)
    shifted = signal - F.max(signal).over(by_tile)  # no overflow: the best cell has exp(0)
    return F.exp(shifted / tau) / F.sum(F.exp(shifted / tau)).over(by_tile)


def agg_serving_probability(
    signals_df: DataFrame, *, mall_shares_df: DataFrame, wall_loss_db: float, shadowing_db: float, min_p: float
) -> DataFrame:
    """Return (cell_id, tile_id, p_serve): the probability the cell serves a phone in the tile, rows >= min_p.

    `mall_shares_df` is (tile_id, zone_id, share) for malls only. The indoor part of a tile is one mall's (malls do
    not overlap, and a tile is far smaller than a mall), so the tile mixes at most two cases.
    """
    tau = shadowing_db * math.sqrt(6.0) / math.pi
    mall = mall_shares_df.groupBy(TILE_ID).agg(
        F.max_by(S.ZONE_ID, SHARE).alias("_mall"), F.max(SHARE).alias("_in_share")
    )
    joined = signals_df.join(F.broadcast(mall), on=TILE_ID, how="left").fillna(0.0, subset=["_in_share"])
    indoor = F.col(INDOOR_ZONE).isNotNull()
    outside = F.col(_SIGNAL) - F.when(indoor, F.lit(wall_loss_db)).otherwise(F.lit(0.0))
    own = indoor & (F.col(INDOOR_ZONE) == F.col("_mall"))
    inside = F.col(_SIGNAL) - F.when(own, F.lit(0.0)).otherwise(F.lit(wall_loss_db))
    mixed = (1 - F.col("_in_share")) * _softmax(outside, tau=tau) + F.col("_in_share") * _softmax(inside, tau=tau)
    return joined.select(S.CELL_ID, TILE_ID, mixed.alias(P_SERVE)).where(F.col(P_SERVE) >= min_p)


def serving_on(
    tiles_df: DataFrame,
    cells_df: DataFrame,
    *,
    zones_df: DataFrame,
    mall_shares_df: DataFrame,
    settings: CoverageConfig,
) -> DataFrame:
    """Return (cell_id, tile_id, p_serve) on the tiles of `tiles_df`: the model, whatever the grid.

    `mall_shares_df` is (tile_id, zone_id, share) of those tiles inside malls.
    """
    cells = with_indoor_zone(latest_cells(cells_df), zones_df=zones_df)
    signals = with_signal(
        cell_tile_pairs(tiles_df, cells_df=cells),
        macro_power_db=settings.macro_power_db,
        small_power_db=settings.small_power_db,
        path_loss_exponent=settings.path_loss_exponent,
        pattern_floor_db=settings.pattern_floor_db,
    )
    return agg_serving_probability(
        signals,
        mall_shares_df=mall_shares_df,
        wall_loss_db=settings.wall_loss_db,
        shadowing_db=settings.shadowing_db,
        min_p=settings.min_p,
    )


def coverage_tables(
    spark: SparkSession, cells_df: DataFrame, *, zones_df: DataFrame, settings: CoverageConfig
) -> tuple[DataFrame, DataFrame]:
    """Return the rows of silver/cell_tile_coverage and silver/tile_zones: the grid over the zones plus margin_m.

    `cells_df` has the antenna position in the metric CRS (x_m, y_m); `zones_df` the metric `geom` and category.
    """
    x0, y0, nx, ny = grid_bounds(zones_df, margin_m=settings.margin_m, tile_m=settings.tile_m)
    tiles = tile_grid(spark, x0=x0, y0=y0, nx=nx, ny=ny, tile_m=settings.tile_m)
    shares = tile_zone_shares(tiles, zones_df=zones_df)
    malls = zones_df.where(F.col(S.CATEGORY) == "mall").select(S.ZONE_ID)
    in_malls = shares.join(F.broadcast(malls), on=S.ZONE_ID, how="left_semi")
    return serving_on(tiles, cells_df, zones_df=zones_df, mall_shares_df=in_malls, settings=settings), shares


def home_coverage_tables(
    spark: SparkSession,
    cells_df: DataFrame,
    *,
    zones_df: DataFrame,
    districts_df: DataFrame,
    settings: CoverageConfig,
) -> tuple[DataFrame, DataFrame]:
    """Return the rows of silver/cell_home_tile_coverage and silver/home_tile_districts: the same model on a grid of
    `home_tile_m` tiles over the districts' bounds, and each tile's share inside each district.

    Homes can be anywhere in the city, so this grid covers all of it; it is coarser, because a home is placed in a
    district, not in a shop, and a tile of 100 m has a quarter of the rows of one of 50 m.
    """
    x0, y0, nx, ny = grid_bounds(districts_df, margin_m=0.0, tile_m=settings.home_tile_m)
    tiles = tile_grid(spark, x0=x0, y0=y0, nx=nx, ny=ny, tile_m=settings.home_tile_m)
    areas = districts_df.select(F.col(S.DISTRICT_ID).alias(S.ZONE_ID), GEOM)
    shares = tile_zone_shares(tiles, zones_df=areas).withColumnRenamed(S.ZONE_ID, S.DISTRICT_ID)
    in_malls = tile_zone_shares(tiles, zones_df=zones_df.where(F.col(S.CATEGORY) == "mall"))
    return serving_on(tiles, cells_df, zones_df=zones_df, mall_shares_df=in_malls, settings=settings), shares


def agg_coverage_resolution(coverage_df: DataFrame, tile_zones_df: DataFrame) -> DataFrame:
    """Return (zone_id, resolution_score): the share of a zone's posterior mass that comes from phones inside it.

    With people spread evenly over the tiles, one event on cell c puts mass m(c, z) = sum_t P(c|t) share(t, z) /
    sum_t P(c|t) inside zone z (the posterior under a uniform prior). A phone in tile t then adds, on average,
    E(t, z) = sum_c P(c|t) m(c, z) to the zone's estimate, and the score is sum_t share(t, z) E(t, z) / sum_t E(t, z).
    One event per phone: a sequence of events only sharpens the posterior, so the score is a floor.
    """
    p = F.col(P_SERVE)
    per_cell = coverage_df.groupBy(S.CELL_ID).agg(F.sum(p).alias("_den"))
    mass = (
        coverage_df.join(tile_zones_df, on=TILE_ID, how="inner")
        .groupBy(S.CELL_ID, S.ZONE_ID)
        .agg(F.sum(p * F.col(SHARE)).alias("_num"))
        .join(per_cell, on=S.CELL_ID, how="inner")
        .select(S.CELL_ID, S.ZONE_ID, (F.col("_num") / F.col("_den")).alias("_m"))
    )
    expected = (
        coverage_df.join(F.broadcast(mass), on=S.CELL_ID, how="inner")
        .groupBy(TILE_ID, S.ZONE_ID)
        .agg(F.sum(p * F.col("_m")).alias("_e"))
    )
    return (
        expected.join(tile_zones_df, on=[TILE_ID, S.ZONE_ID], how="left")
        .fillna(0.0, subset=[SHARE])
        .groupBy(S.ZONE_ID)
        .agg((F.sum(F.col(SHARE) * F.col("_e")) / F.sum("_e")).alias(S.RESOLUTION_SCORE))
    )
