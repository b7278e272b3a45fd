"""The mobility job: silver events and spatial weights in, pseudonymous stays, homes, repeats and flows out."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.window import Window
from sedona.spark.sql import st_constructors as STC
from sedona.spark.sql import st_functions as STF
from sedona.spark.sql import st_predicates as STP

from footfall import schemas as S
from footfall.config import Config
from footfall.ingest.tables import read_table, silver_path, write_overwrite, write_replacing
from footfall.mobility.direction import X_M, Y_M, with_arrival_direction
from footfall.mobility.home import agg_device_home
from footfall.mobility.presence import filter_present
from footfall.mobility.stays import agg_stays, with_device_neighbours
from footfall.mobility.visits import agg_repeat_visits, agg_transitions
from footfall.spatial.weights import with_zone_candidates

ZONE_DISTRICT_ID = "zone_district_id"


@dataclass(frozen=True)
class MobilityReport:
    """What a mobility run wrote."""

    dates: tuple[dt.date, ...]
    stays: int
    visits: int
    devices_with_home: int
    transitions: int


def with_metric_centroid(df: DataFrame, *, wkb_col: str, metric_crs: str) -> DataFrame:
    """Add x_m, y_m: the centroid of a WGS84 WKB geometry, in a metric CRS."""
    centroid = STF.ST_Transform(
        STF.ST_Centroid(STC.ST_GeomFromWKB(F.col(wkb_col))), F.lit("EPSG:4326"), F.lit(metric_crs)
    )
    return df.withColumn("_c", centroid).withColumns({X_M: STF.ST_X("_c"), Y_M: STF.ST_Y("_c")}).drop("_c")


def agg_zone_district(zones_df: DataFrame, districts_df: DataFrame) -> DataFrame:
    """Return zone_id, zone_district_id: the district that holds the zone's centroid (a small Sedona join)."""
    zones = zones_df.select(S.ZONE_ID, STF.ST_Centroid(STC.ST_GeomFromWKB(S.GEOMETRY_WKB)).alias("_c"))
    districts = districts_df.select(S.DISTRICT_ID, STC.ST_GeomFromWKB(S.GEOMETRY_WKB).alias("_d"))
    return zones.join(F.broadcast(districts), STP.ST_Contains("_d", "_c"), how="inner").select(
        S.ZONE_ID, F.col(S.DISTRICT_ID).alias(ZONE_DISTRICT_ID)
    )


def with_resident_flag(stays_df: DataFrame, *, home_df: DataFrame, zone_district_df: DataFrame) -> DataFrame:
    """Add is_resident: the device's home district is the district of the zone (unknown homes are visitors)."""
    return (
        stays_df.join(home_df.select(S.PSEUDO_ID, S.HOME_DISTRICT_ID), on=S.PSEUDO_ID, how="left")
        .join(F.broadcast(zone_district_df), on=S.ZONE_ID, how="left")
        .withColumn(S.IS_RESIDENT, F.coalesce(F.col(S.HOME_DISTRICT_ID) == F.col(ZONE_DISTRICT_ID), F.lit(False)))
        .drop(S.HOME_DISTRICT_ID, ZONE_DISTRICT_ID)
    )


def with_previous_zone(stays_df: DataFrame) -> DataFrame:
    """Add previous_zone_id: the zone of the device's previous visit (null for its first)."""
    by_device = Window.partitionBy(S.PSEUDO_ID).orderBy(S.ENTERED_AT, S.ZONE_ID)
    prev = F.last(F.when(F.col(S.IS_VISIT), F.col(S.ZONE_ID)), ignorenulls=True).over(
        by_device.rowsBetween(Window.unboundedPreceding, -1)
    )
    return stays_df.withColumn(S.PREVIOUS_ZONE_ID, prev)


def run_mobility(spark: SparkSession, config: Config, *, dates: Sequence[dt.date]) -> MobilityReport:
    """Build stays and visits for the event dates, and write the mobility silver tables (replacing those dates)."""
    m, tz, lh = config.mobility, config.timezone, config.lakehouse
    metric = config.spatial.metric_crs
    date_strs = [d.isoformat() for d in dates]
    events = (
        read_table(spark, silver_path(lh, S.SILVER_EVENTS_TABLE))
        .where(F.col(S.EVENT_DATE).cast("string").isin(date_strs))
        .select(S.PSEUDO_ID, S.EVENT_TS, S.CELL_ID)
        .repartition(S.PSEUDO_ID)  # both windows below are clustered by device: one shuffle for both
    )
    weights = read_table(spark, silver_path(lh, S.SILVER_CELL_ZONE_WEIGHTS_TABLE))
    present = filter_present(
        with_zone_candidates(with_device_neighbours(events), weights_df=weights),
        model=m.presence_model,  # type: ignore[arg-type]
        min_weight=m.min_weight,
    )
    stays = agg_stays(present, max_gap_s=m.max_gap_s, min_visit_s=m.min_visit_s)
    counts_as_presence = filter_present(weights, model=m.presence_model, min_weight=m.min_weight)  # type: ignore[arg-type]
    cells = (
        with_metric_centroid(
            read_table(spark, silver_path(lh, S.SILVER_CELL_FOOTPRINTS_TABLE)),
            wkb_col=S.FOOTPRINT_WKB,
            metric_crs=metric,
        )
        .groupBy(S.CELL_ID)
        .agg(F.first(X_M).alias(X_M), F.first(Y_M).alias(Y_M))
    )
    zones = with_metric_centroid(
        read_table(spark, silver_path(lh, S.SILVER_ZONES_TABLE)), wkb_col=S.GEOMETRY_WKB, metric_crs=metric
    ).select(S.ZONE_ID, X_M, Y_M)
    stays = (
        with_arrival_direction(
            stays,
            cell_centroids_df=cells,
            zone_centroids_df=zones,
            candidates_df=counts_as_presence.select(S.CELL_ID, S.ZONE_ID),
            lookback_s=m.arrival_lookback_s,
            min_distance_m=m.min_arrival_distance_m,
        )
        .transform(with_previous_zone)
        .withColumn(S.DATE, F.to_date(F.from_utc_timestamp(S.ENTERED_AT, tz)))
        .where(F.col(S.DATE).cast("string").isin(date_strs))
    )
    district_weights = read_table(spark, silver_path(lh, S.SILVER_CELL_DISTRICT_WEIGHTS_TABLE))
    home = agg_device_home(
        events,
        district_weights_df=district_weights,
        tz=tz,
        night_start_hour=m.night_start_hour,
        night_end_hour=m.night_end_hour,
        min_nights=m.min_nights,
    )
    write_overwrite(home, silver_path(lh, S.SILVER_DEVICE_HOME_TABLE), schema=S.SILVER_DEVICE_HOME)
    zone_district = agg_zone_district(
        read_table(spark, silver_path(lh, S.SILVER_ZONES_TABLE)),
        read_table(spark, silver_path(lh, S.SILVER_DISTRICTS_TABLE)),
    )
    stays = stays.transform(
        with_resident_flag,
        home_df=read_table(spark, silver_path(lh, S.SILVER_DEVICE_HOME_TABLE)),
        zone_district_df=zone_district,
    )
    stays_path = silver_path(lh, S.SILVER_STAYS_TABLE)
    write_replacing(stays, stays_path, schema=S.SILVER_STAYS, partition_by=S.DATE, values=dates)
    all_stays = read_table(spark, stays_path)

    repeat = agg_repeat_visits(all_stays, tz=tz)
    write_overwrite(repeat, silver_path(lh, S.SILVER_REPEAT_VISITS_TABLE), schema=S.SILVER_REPEAT_VISITS)
    moves = agg_transitions(
        read_table(spark, stays_path).where(F.col(S.DATE).cast("string").isin(date_strs)),
        max_transition_s=m.max_transition_s,
    ).withColumn(S.DATE, F.to_date(F.from_utc_timestamp("left_from_at", tz)))
    # a move out of a visit that ends after local midnight belongs to the next date, which another run owns
    moves = moves.where(F.col(S.DATE).cast("string").isin(date_strs))
    write_replacing(
        moves,
        silver_path(lh, S.SILVER_ZONE_TRANSITIONS_TABLE),
        schema=S.SILVER_ZONE_TRANSITIONS,
        partition_by=S.DATE,
        values=dates,
    )
    written = read_table(spark, stays_path).where(F.col(S.DATE).cast("string").isin(date_strs))
    counts = written.agg(F.count(F.lit(1)).alias("n"), F.count(F.when(F.col(S.IS_VISIT), 1)).alias("v")).first()
    assert counts is not None
    homes = (
        read_table(spark, silver_path(lh, S.SILVER_DEVICE_HOME_TABLE))
        .where(F.col(S.HOME_DISTRICT_ID) != "unknown")
        .count()
    )
    n_moves = (
        read_table(spark, silver_path(lh, S.SILVER_ZONE_TRANSITIONS_TABLE))
        .where(F.col(S.DATE).cast("string").isin(date_strs))
        .count()
    )
    return MobilityReport(tuple(dates), int(counts["n"]), int(counts["v"]), homes, n_moves)
