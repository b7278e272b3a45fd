"""Cell-to-area weights from a Sedona spatial join, each zone's resolution, and the cell_id join events use later."""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T
from sedona.spark.sql import st_functions as STF
from sedona.spark.sql import st_predicates as STP

from footfall import schemas as S
from footfall.spatial.footprints import FOOTPRINT, WGS84, to_wgs84_wkb
from footfall.spatial.geojson import GEOM

OVERLAP_M2 = "overlap_m2"
FOOTPRINT_AREA_M2 = "footprint_area_m2"
AREA_GEOM = "_area_geom"


def with_metric_geometry(areas_df: DataFrame, *, metric_crs: str) -> DataFrame:
    """Return areas with `geom` transformed from WGS84 to `metric_crs` and its `area_m2`."""
    return areas_df.withColumn(GEOM, STF.ST_Transform(GEOM, F.lit(WGS84), F.lit(metric_crs))).withColumn(
        S.AREA_M2, STF.ST_Area(GEOM)
    )


def footprint_side(footprints_df: DataFrame) -> DataFrame:
    """Return the footprint side of the join: (cell_id, validity, footprint, footprint_area_m2), empty ones dropped."""
    return footprints_df.select(
        S.CELL_ID, S.VALID_FROM, S.VALID_TO, FOOTPRINT, STF.ST_Area(FOOTPRINT).alias(FOOTPRINT_AREA_M2)
    ).filter(F.col(FOOTPRINT_AREA_M2) > 0)


def area_side(areas_df: DataFrame, *, area_id: str) -> DataFrame:
    """Return the zone or district side of the join: (<area_id>, _area_geom)."""
    return areas_df.select(area_id, F.col(GEOM).alias(AREA_GEOM))


def with_weight(pairs_df: DataFrame, *, area_id: str) -> DataFrame:
    """Return intersecting (footprint, area) pairs as (cell_id, <area_id>, validity, areas, overlap_m2, weight)."""
    return (
        pairs_df.select(
            S.CELL_ID,
            area_id,
            S.VALID_FROM,
            S.VALID_TO,
            FOOTPRINT_AREA_M2,
            STF.ST_Area(STF.ST_Intersection(FOOTPRINT, AREA_GEOM)).alias(OVERLAP_M2),
        )
        # Footprints that only touch an area's edge intersect with zero area: no weight, no row.
        .filter(F.col(OVERLAP_M2) > 0)
        # Floating-point noise can push a footprint inside a zone a hair above 1.
        .withColumn(S.WEIGHT, F.least(F.lit(1.0), F.col(OVERLAP_M2) / F.col(FOOTPRINT_AREA_M2)))
    )


def with_overlaps(footprints_df: DataFrame, *, areas_df: DataFrame, area_id: str) -> DataFrame:
    """Return (cell_id, <area_id>, valid_from, valid_to, footprint_area_m2, overlap_m2, weight) for positive overlaps.

    Both sides are in the same metric CRS. ST_Intersects in the join condition lets Sedona plan an indexed spatial
    join (BroadcastIndexJoin here: zones and districts are the small side), never a cartesian product.
    """
    targets_df = F.broadcast(area_side(areas_df, area_id=area_id))
    pairs_df = footprint_side(footprints_df).join(targets_df, STP.ST_Intersects(FOOTPRINT, AREA_GEOM), how="inner")
    return with_weight(pairs_df, area_id=area_id)


def select_weights(overlaps_df: DataFrame, *, schema: T.StructType) -> DataFrame:
    """Return overlaps as rows of a weights table (SILVER_CELL_ZONE_WEIGHTS or SILVER_CELL_DISTRICT_WEIGHTS)."""
    return overlaps_df.select(*[F.col(f.name).cast(f.dataType) for f in schema.fields])


def select_areas(areas_df: DataFrame, *, schema: T.StructType, metric_crs: str) -> DataFrame:
    """Return metric areas as silver zones or districts rows, geometry as WGS84 WKB."""
    return areas_df.withColumn(S.GEOMETRY_WKB, to_wgs84_wkb(F.col(GEOM), metric_crs=metric_crs)).select(
        *[F.col(f.name).cast(f.dataType) for f in schema.fields]
    )


def agg_zone_resolution(
    overlaps_df: DataFrame, *, zones_df: DataFrame, min_score: float, scores_df: DataFrame | None = None
) -> DataFrame:
    """Return one SILVER_ZONE_RESOLUTION row per zone: cells overlapping it, best weight and resolution score.

    resolution_score = sum(overlap * weight) / sum(overlap) over the cells overlapping the zone: with people spread
    evenly, the share of the zone's weighted estimate that comes from people inside the zone (docs/spatial.md).
    A cell with several validity periods counts once, with its latest footprint. `scores_df` (zone_id,
    resolution_score), when given, replaces that score: the coverage model's (spatial/coverage.py).
    """
    latest_df = overlaps_df.groupBy(S.CELL_ID, S.ZONE_ID).agg(
        F.max_by(OVERLAP_M2, S.VALID_FROM).alias(OVERLAP_M2), F.max_by(S.WEIGHT, S.VALID_FROM).alias(S.WEIGHT)
    )
    per_zone_df = latest_df.groupBy(S.ZONE_ID).agg(
        F.count(S.CELL_ID).alias(S.N_CELLS),
        F.max(S.WEIGHT).alias(S.BEST_WEIGHT),
        (F.sum(F.col(OVERLAP_M2) * F.col(S.WEIGHT)) / F.sum(OVERLAP_M2)).alias(S.RESOLUTION_SCORE),
    )
    if scores_df is not None:
        per_zone_df = per_zone_df.drop(S.RESOLUTION_SCORE).join(scores_df, on=S.ZONE_ID, how="full_outer")
    score = F.coalesce(F.col(S.RESOLUTION_SCORE), F.lit(0.0))
    return (
        zones_df.select(S.ZONE_ID, S.CATEGORY, S.AREA_M2)
        .join(per_zone_df, on=S.ZONE_ID, how="left")
        .select(
            S.ZONE_ID,
            S.CATEGORY,
            S.AREA_M2,
            F.coalesce(F.col(S.N_CELLS), F.lit(0)).cast(T.LongType()).alias(S.N_CELLS),
            F.coalesce(F.col(S.BEST_WEIGHT), F.lit(0.0)).alias(S.BEST_WEIGHT),
            score.alias(S.RESOLUTION_SCORE),
            (score < F.lit(min_score)).alias(S.IS_LOW_RESOLUTION),
        )
    )


def with_zone_candidates(events_df: DataFrame, *, weights_df: DataFrame) -> DataFrame:
    """Return each event once per area its serving cell overlaps, with that area's id and weight.

    A broadcast hash join on cell_id, restricted to the weight row whose validity covers event_ts: no geometry is
    touched. Events on cells that overlap no area produce no row (they are no candidate for any area).
    """
    areas = [c for c in weights_df.columns if c not in (S.CELL_ID, S.VALID_FROM, S.VALID_TO)]
    w_df = weights_df.select(
        F.col(S.CELL_ID).alias("_w_cell"),
        F.col(S.VALID_FROM).alias("_w_from"),
        F.col(S.VALID_TO).alias("_w_to"),
        *areas,
    )
    ts = events_df[S.EVENT_TS]
    on = (
        (events_df[S.CELL_ID] == F.col("_w_cell"))
        & (ts >= F.col("_w_from"))
        & (F.col("_w_to").isNull() | (ts < F.col("_w_to")))
    )
    return events_df.join(F.broadcast(w_df), on, how="inner").drop("_w_cell", "_w_from", "_w_to")
