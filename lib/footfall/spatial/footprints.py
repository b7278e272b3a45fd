"""Cell footprints in a metric CRS: sector wedges (the nominal model) or site Voronoi cells clipped to range."""

from __future__ import annotations

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F
from sedona.spark.sql import st_constructors as STC
from sedona.spark.sql import st_functions as STF
from sedona.spark.sql import st_predicates as STP

from footfall import schemas as S
from footfall.ingest.contract import InputContractError

WGS84 = "EPSG:4326"
ARC_STEP_DEG = 2.0  # one polygon edge per 2 degrees of arc: the area error is below 0.02 %
X_M = "x_m"
Y_M = "y_m"
FOOTPRINT = "footprint"  # a Sedona geometry in the metric CRS, only ever in memory
_SITE_POINT = "site_point"
_SITE_CELL = "site_cell"
_SPLIT_MID = "split_mid_deg"
_SPLIT_WIDTH = "split_width_deg"
_POLYGON_TYPE = 3


def check_cells_geometry(cells_df: DataFrame) -> None:
    """Raise InputContractError naming a cell whose antenna values cannot make a footprint."""
    problems = {
        "range_m must be > 0": F.col(S.RANGE_M) <= 0,
        "beamwidth_deg must be in (0, 360]": (F.col(S.BEAMWIDTH_DEG) <= 0) | (F.col(S.BEAMWIDTH_DEG) > 360),
        "azimuth_deg is empty but beamwidth_deg < 360": F.col(S.AZIMUTH_DEG).isNull() & (F.col(S.BEAMWIDTH_DEG) < 360),
        "azimuth_deg must be in [0, 360)": (F.col(S.AZIMUTH_DEG) < 0) | (F.col(S.AZIMUTH_DEG) >= 360),
        "lat/lon outside WGS84 bounds": (F.abs(S.LAT) > 90) | (F.abs(S.LON) > 180),
    }
    aggs = [F.min(F.when(bad, F.col(S.CELL_ID))).alias(f"p{i}") for i, bad in enumerate(problems.values())]
    first = cells_df.agg(*aggs).first()
    assert first is not None
    for i, problem in enumerate(problems):
        if first[f"p{i}"] is not None:
            raise InputContractError(f"cells.csv: cell {first[f'p{i}']!r}: {problem}")


def check_cell_positions(cells_df: DataFrame) -> None:
    """Raise InputContractError naming a cell_id with two positions in overlapping validity periods.

    A cell may move (a new row from the date it moved); at one instant it has one position, or footfall would have
    to guess which one an event was served from.
    """
    a, b = cells_df.alias("a"), cells_df.alias("b")
    far = F.lit("9999-12-31").cast("timestamp")
    overlap = (F.col(f"a.{S.VALID_FROM}") < F.coalesce(F.col(f"b.{S.VALID_TO}"), far)) & (
        F.col(f"b.{S.VALID_FROM}") < F.coalesce(F.col(f"a.{S.VALID_TO}"), far)
    )
    moved = (F.col(f"a.{S.LAT}") != F.col(f"b.{S.LAT}")) | (F.col(f"a.{S.LON}") != F.col(f"b.{S.LON}"))
    first = (
        a.join(b, on=S.CELL_ID)
        .where(overlap & moved)
        .groupBy(S.CELL_ID)
        .agg(F.count_distinct(F.col(f"a.{S.LAT}"), F.col(f"a.{S.LON}")).alias("positions"))
        .orderBy(S.CELL_ID)
        .first()
    )
    if first is not None:
        raise InputContractError(
            f"cells.csv: cell {first[S.CELL_ID]!r} has {first['positions']} positions in overlapping validity periods"
        )


# Cells farther than this from every zone's bounding box do not count as near the zones (about 50 km).
NEAR_ZONES_DEG = 0.5


def check_cells_near_zones(cells_df: DataFrame, *, zone_bounds: tuple[float, float, float, float]) -> None:
    """Raise InputContractError when lat and lon look swapped: more cells lie near the zones with them exchanged.

    An inventory may well cover more than the zones (a country around a city), so cells far from the zones are
    fine; a file whose cells fit the zones only the other way round is not. `zone_bounds` is (min lon, min lat,
    max lon, max lat) of the zones, in degrees.
    """
    x0, y0, x1, y1 = zone_bounds
    m = NEAR_ZONES_DEG

    def near(lon: Column, lat: Column) -> Column:
        return lon.between(x0 - m, x1 + m) & lat.between(y0 - m, y1 + m)

    row = cells_df.agg(
        F.count_distinct(S.CELL_ID).alias("cells"),
        F.count_distinct(F.when(near(F.col(S.LON), F.col(S.LAT)), F.col(S.CELL_ID))).alias("as_given"),
        F.count_distinct(F.when(near(F.col(S.LAT), F.col(S.LON)), F.col(S.CELL_ID))).alias("swapped"),
    ).first()
    assert row is not None
    if row["swapped"] > row["as_given"]:
        n = row["cells"]
        raise InputContractError(
            f"cells.csv: lat and lon look swapped: {row['as_given']} of {n} cells lie near the zones as given, "
            f"{row['swapped']} of {n} with lat and lon exchanged"
        )


def with_metric_position(cells_df: DataFrame, *, metric_crs: str) -> DataFrame:
    """Return cells with the antenna position `x_m`, `y_m` in `metric_crs`."""
    point = STF.ST_Transform(STC.ST_Point(S.LON, S.LAT), F.lit(WGS84), F.lit(metric_crs))
    return cells_df.withColumn("_p", point).withColumn(X_M, STF.ST_X("_p")).withColumn(Y_M, STF.ST_Y("_p")).drop("_p")


def sector_geometry(x: Column, y: Column, azimuth_deg: Column, width_deg: Column, range_m: Column) -> Column:
    """Return a circular sector (azimuth clockwise from north) as a Sedona geometry; a disc when 360 or omni."""
    n = F.greatest(F.lit(1), F.ceil(width_deg / ARC_STEP_DEG)).cast("int")

    def arc_point(i: Column) -> Column:
        angle = F.radians(azimuth_deg - width_deg / 2 + i * width_deg / n)
        return F.format_string("%.3f %.3f", x + range_m * F.sin(angle), y + range_m * F.cos(angle))

    apex = F.format_string("%.3f %.3f", x, y)
    arc = F.array_join(F.transform(F.sequence(F.lit(0), n), arc_point), ", ")
    wedge = STC.ST_GeomFromWKT(F.concat(F.lit("POLYGON (("), apex, F.lit(", "), arc, F.lit(", "), apex, F.lit("))")))
    # 45 segments per quadrant: the same 2-degree arc step as the wedges.
    disc = STF.ST_Buffer(STC.ST_Point(x, y), range_m, F.lit(False), F.lit("quad_segs=45"))
    return F.when(azimuth_deg.isNull() | (width_deg >= 360), disc).otherwise(wedge)


def with_sector_footprint(cells_df: DataFrame) -> DataFrame:
    """Return cells (with x_m, y_m) plus `footprint`: the nominal wedge from azimuth, beamwidth and range."""
    return cells_df.withColumn(
        FOOTPRINT,
        sector_geometry(F.col(X_M), F.col(Y_M), F.col(S.AZIMUTH_DEG), F.col(S.BEAMWIDTH_DEG), F.col(S.RANGE_M)),
    )


def _site_cells(cells_df: DataFrame) -> DataFrame:
    """Return (site_id, site_cell): each site's Voronoi cell; none when there is a single site."""
    sites_df = cells_df.groupBy(S.SITE_ID).agg(
        STC.ST_Point(F.min(X_M), F.min(Y_M)).alias(_SITE_POINT), F.max(S.RANGE_M).alias("reach_m")
    )
    diagram_df = sites_df.agg(
        STF.ST_Collect(F.collect_list(_SITE_POINT)).alias("sites"), F.max("reach_m").alias("reach_m")
    ).select(
        F.explode(
            STF.ST_Dump(STF.ST_VoronoiPolygons("sites", F.lit(0.0), STF.ST_Buffer(STF.ST_Envelope("sites"), "reach_m")))
        ).alias(_SITE_CELL)
    )
    # A Sedona spatial join (sites x cells of the diagram), small: one polygon per distinct site position.
    return sites_df.join(diagram_df, STP.ST_Contains(_SITE_CELL, _SITE_POINT), how="inner").select(
        S.SITE_ID, _SITE_CELL
    )


def _sector_splits(cells_df: DataFrame) -> DataFrame:
    """Return (site_id, azimuth_deg, split_mid_deg, split_width_deg): each direction's share of the site's circle.

    A direction takes the angles closer to its azimuth than to its neighbours' (120 degrees each for three evenly
    spaced sectors); cells that share an azimuth share the slice.
    """
    directions_df = (
        cells_df.filter(F.col(S.AZIMUTH_DEG).isNotNull() & (F.col(S.BEAMWIDTH_DEG) < 360))
        .select(S.SITE_ID, S.AZIMUTH_DEG)
        .distinct()
    )
    ordered = Window.partitionBy(S.SITE_ID).orderBy(S.AZIMUTH_DEG)
    site = Window.partitionBy(S.SITE_ID).rowsBetween(Window.unboundedPreceding, Window.unboundedFollowing)
    az = F.col(S.AZIMUTH_DEG)
    previous = F.coalesce(F.lag(az).over(ordered), F.max(az).over(site) - 360)
    following = F.coalesce(F.lead(az).over(ordered), F.min(az).over(site) + 360)
    start, end = (previous + az) / 2, (az + following) / 2
    return directions_df.select(
        S.SITE_ID, S.AZIMUTH_DEG, ((start + end) / 2).alias(_SPLIT_MID), (end - start).alias(_SPLIT_WIDTH)
    )


def with_voronoi_footprint(cells_df: DataFrame) -> DataFrame:
    """Return cells (with x_m, y_m) plus `footprint`: the site's Voronoi cell within range, split among sectors."""
    slice_geom = sector_geometry(
        F.col(X_M),
        F.col(Y_M),
        F.col(_SPLIT_MID),
        F.coalesce(F.col(_SPLIT_WIDTH), F.lit(360.0)),  # omni cells take the whole circle
        F.col(S.RANGE_M),
    )
    clipped = STF.ST_CollectionExtract(STF.ST_Intersection(_SITE_CELL, slice_geom), F.lit(_POLYGON_TYPE))
    return (
        cells_df.join(F.broadcast(_sector_splits(cells_df)), on=[S.SITE_ID, S.AZIMUTH_DEG], how="left")
        .join(F.broadcast(_site_cells(cells_df)), on=S.SITE_ID, how="left")
        .withColumn(FOOTPRINT, F.when(F.col(_SITE_CELL).isNull(), slice_geom).otherwise(clipped))
        .drop(_SPLIT_MID, _SPLIT_WIDTH, _SITE_CELL)
    )


def with_footprint(cells_df: DataFrame, *, metric_crs: str, model: str) -> DataFrame:
    """Return cells plus x_m, y_m and `footprint` (metric CRS) under the footprint model `model`."""
    if model not in S.FOOTPRINT_MODELS:
        raise ValueError(f"unknown footprint model {model!r}; expected one of {', '.join(S.FOOTPRINT_MODELS)}")
    positioned = with_metric_position(cells_df, metric_crs=metric_crs)
    return with_sector_footprint(positioned) if model == "sector" else with_voronoi_footprint(positioned)


def to_wgs84_wkb(geom: Column, *, metric_crs: str) -> Column:
    """Return the WKB of a metric-CRS geometry, transformed back to WGS84 (x = longitude)."""
    return STF.ST_AsBinary(STF.ST_Transform(geom, F.lit(metric_crs), F.lit(WGS84)))


def select_footprints(footprints_df: DataFrame, *, metric_crs: str, model: str) -> DataFrame:
    """Return footprints as silver/cell_footprints rows (SILVER_CELL_FOOTPRINTS)."""
    return footprints_df.select(
        *[
            F.col(f.name)
            for f in S.SILVER_CELL_FOOTPRINTS.fields
            if f.name not in (S.FOOTPRINT_MODEL, S.AREA_M2, S.FOOTPRINT_WKB)
        ],
        F.lit(model).alias(S.FOOTPRINT_MODEL),
        STF.ST_Area(FOOTPRINT).alias(S.AREA_M2),
        to_wgs84_wkb(F.col(FOOTPRINT), metric_crs=metric_crs).alias(S.FOOTPRINT_WKB),
    )
