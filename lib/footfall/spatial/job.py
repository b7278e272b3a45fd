"""The spatial job: cells and zones in, footprints, weights and zone resolution out, once per inventory version."""

from __future__ import annotations

import datetime as dt
import hashlib
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pyspark import StorageLevel
from pyspark.sql import DataFrame, SparkSession

from footfall import schemas as S
from footfall.config import Config, SpatialConfig
from footfall.ingest.contract import CELLS_FILE, InputContractError, read_cells
from footfall.ingest.market_share import MARKET_SHARE_FILE, read_market_share
from footfall.lakehouse import SILVER_TABLES, Table
from footfall.spatial.coverage import agg_coverage_resolution, coverage_tables, home_coverage_tables
from footfall.spatial.footprints import (
    check_cell_positions,
    check_cells_geometry,
    check_cells_near_zones,
    select_footprints,
    with_footprint,
    with_metric_position,
)
from footfall.spatial.geojson import (
    DISTRICTS,
    ZONES,
    FeatureSpec,
    check_repairs,
    features_bounds,
    features_df,
    load_features,
    with_valid_geometry,
)
from footfall.spatial.weights import (
    agg_zone_resolution,
    select_areas,
    select_weights,
    with_metric_geometry,
    with_overlaps,
)
from footfall.stage import UNDATED, Built, Output, Stage, run_stage, sign_off_metadata, silver_built_by

# Bump when the way footprints or weights are computed changes: the next run then rebuilds on unchanged inputs.
SPATIAL_ALGORITHM_VERSION = "4"  # 2: market shares join the inventory; 3: the coverage model; 4: the home grid
# The inventory, rebuilt whole per version; spatial_inputs is written last: its commit says the build landed.
STAGE = Stage(
    name="spatial",
    inputs=(),  # landing files, checked by check_spatial_inputs before Spark starts
    outputs=silver_built_by("spatial"),
    marker=SILVER_TABLES[S.SILVER_SPATIAL_INPUTS_TABLE],
)


@dataclass(frozen=True)
class SpatialReport:
    """What one spatial run did: skipped (inputs unchanged) or the counts of what it wrote."""

    inputs_hash: str
    skipped: bool
    seconds: float
    rows: dict[str, int] = field(default_factory=dict)
    repaired: list[str] = field(default_factory=list)
    low_resolution_zones: list[str] = field(default_factory=list)


def inputs_hash(landing: Path, spatial: SpatialConfig) -> str:
    """Return the sha256 of cells.csv, zones.geojson, districts.geojson, market_share.csv, the spatial config and the
    algorithm."""
    digest = hashlib.sha256()
    digest.update(f"footfall-spatial/{SPATIAL_ALGORITHM_VERSION}\n{spatial.model_dump_json()}\n".encode())
    for name in (CELLS_FILE, ZONES.layer, DISTRICTS.layer, MARKET_SHARE_FILE):
        path = landing / name
        if not path.is_file():
            raise InputContractError(f"{path}: file is missing")
        digest.update(f"{name}\n".encode())
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


@dataclass(frozen=True)
class SpatialInputs:
    """The landing files the spatial job reads, checked on the driver before Spark starts."""

    inputs_hash: str
    zones: list[tuple[Any, ...]]
    districts: list[tuple[Any, ...]]


def check_spatial_inputs(landing: Path, spatial: SpatialConfig) -> SpatialInputs:
    """Return the hashed and structurally checked inputs; raise InputContractError naming the file and feature."""
    digest = inputs_hash(landing, spatial)
    zones = load_features(landing / ZONES.layer, spec=ZONES)
    districts = load_features(landing / DISTRICTS.layer, spec=DISTRICTS)
    return SpatialInputs(inputs_hash=digest, zones=zones, districts=districts)


def read_areas(
    spark: SparkSession, rows: list[tuple[Any, ...]], spec: FeatureSpec, metric_crs: str
) -> tuple[DataFrame, list[str]]:
    """Return checked features with valid geometries in the metric CRS, and the repairs made (for the report)."""
    # A few hundred features at most: recomputing them for the check is cheaper than caching.
    checked_df = with_valid_geometry(features_df(spark, rows, spec=spec))
    repaired = check_repairs(checked_df, spec=spec)
    return with_metric_geometry(checked_df, metric_crs=metric_crs), repaired


@dataclass(frozen=True)
class SpatialRead:
    """What spatial builds from: zones and districts in the metric CRS, the checked cells and the market shares."""

    zones_df: DataFrame
    districts_df: DataFrame
    cells_df: DataFrame
    market_share_df: DataFrame
    repaired: list[str]


def read_spatial(spark: SparkSession, config: Config, inputs: SpatialInputs) -> SpatialRead:
    """Return the landing inputs as frames; raise InputContractError on a bad geometry or cell, before any write."""
    crs = config.spatial.metric_crs
    zones_df, zone_repairs = read_areas(spark, inputs.zones, ZONES, crs)
    districts_df, district_repairs = read_areas(spark, inputs.districts, DISTRICTS, crs)
    cells_df = read_cells(spark, config.landing)
    check_cells_geometry(cells_df)
    check_cell_positions(cells_df)
    check_cells_near_zones(cells_df, zone_bounds=features_bounds(inputs.zones))
    return SpatialRead(
        zones_df=zones_df,
        districts_df=districts_df,
        cells_df=cells_df,
        market_share_df=read_market_share(spark, config.landing),
        repaired=zone_repairs + district_repairs,
    )


def build_spatial(read: SpatialRead, spatial: SpatialConfig) -> tuple[dict[Table, DataFrame], list[DataFrame]]:
    """Return every spatial table but the build record, from the read inputs (pure: no read, write or collect),
    and the frames it persisted because several tables derive from them (unpersist them once written)."""
    crs, model = spatial.metric_crs, spatial.footprint_model
    spark = read.cells_df.sparkSession
    zones_df, districts_df, cells_df = read.zones_df, read.districts_df, read.cells_df
    footprints_df = with_footprint(cells_df, metric_crs=crs, model=model).persist(StorageLevel.MEMORY_AND_DISK)
    zone_overlaps_df = with_overlaps(footprints_df, areas_df=zones_df, area_id=S.ZONE_ID).persist(
        StorageLevel.MEMORY_AND_DISK
    )
    district_overlaps_df = with_overlaps(footprints_df, areas_df=districts_df, area_id=S.DISTRICT_ID)
    metric_cells_df = with_metric_position(cells_df, metric_crs=crs)
    coverage_df, tile_zones_df = coverage_tables(spark, metric_cells_df, zones_df=zones_df, settings=spatial.coverage)
    coverage_df, tile_zones_df = (
        coverage_df.persist(StorageLevel.MEMORY_AND_DISK),
        tile_zones_df.persist(StorageLevel.MEMORY_AND_DISK),
    )
    home_coverage_df, home_tiles_df = home_coverage_tables(
        spark,
        metric_cells_df,
        zones_df=zones_df,
        districts_df=districts_df,
        settings=spatial.coverage,
    )
    resolution_df = agg_zone_resolution(
        zone_overlaps_df,
        zones_df=zones_df,
        min_score=spatial.min_resolution_score,
        scores_df=agg_coverage_resolution(coverage_df, tile_zones_df)
        if spatial.resolution_model == "coverage"
        else None,
    ).persist(StorageLevel.MEMORY_AND_DISK)
    frames = {
        S.SILVER_ZONES_TABLE: select_areas(zones_df, schema=S.SILVER_ZONES, metric_crs=crs),
        S.SILVER_DISTRICTS_TABLE: select_areas(districts_df, schema=S.SILVER_DISTRICTS, metric_crs=crs),
        S.SILVER_CELL_FOOTPRINTS_TABLE: select_footprints(footprints_df, metric_crs=crs, model=model),
        S.SILVER_CELL_ZONE_WEIGHTS_TABLE: select_weights(zone_overlaps_df, schema=S.SILVER_CELL_ZONE_WEIGHTS),
        S.SILVER_CELL_DISTRICT_WEIGHTS_TABLE: select_weights(
            district_overlaps_df, schema=S.SILVER_CELL_DISTRICT_WEIGHTS
        ),
        S.SILVER_ZONE_RESOLUTION_TABLE: resolution_df,
        S.SILVER_MARKET_SHARE_TABLE: read.market_share_df,
        S.SILVER_COVERAGE_TABLE: coverage_df,
        S.SILVER_TILE_ZONES_TABLE: tile_zones_df,
        S.SILVER_HOME_COVERAGE_TABLE: home_coverage_df,
        S.SILVER_HOME_TILE_DISTRICTS_TABLE: home_tiles_df,
    }
    held = [footprints_df, zone_overlaps_df, resolution_df, coverage_df, tile_zones_df]
    return {SILVER_TABLES[name]: df for name, df in frames.items()}, held


def _built(
    read: SpatialRead, spatial: SpatialConfig, *, digest: str, run_id: str, run_at: dt.datetime
) -> Built[SpatialRead]:
    frames, held = build_spatial(read, spatial)
    tables = {t: Output(df) for t, df in frames.items()}

    def record(metrics: Mapping[str, Mapping[str, int]]) -> Output:
        rows = {t: m["numOutputRows"] for t, m in metrics.items()}
        record_df = read.cells_df.sparkSession.createDataFrame(
            [(digest, run_id, run_at, spatial.footprint_model, spatial.metric_crs,
              rows[S.SILVER_CELL_FOOTPRINTS_TABLE], rows[S.SILVER_ZONES_TABLE], rows[S.SILVER_DISTRICTS_TABLE],
              read.repaired)],
            S.SILVER_SPATIAL_INPUTS,
        )  # fmt: skip
        return Output(record_df, append=True)

    return Built(outputs=tables, marker=record, info=read, held=held)


def _report(
    built: Built[SpatialRead], metrics: Mapping[str, Mapping[str, int]], *, digest: str, started: float
) -> SpatialReport:
    resolution_df = built.outputs[SILVER_TABLES[S.SILVER_ZONE_RESOLUTION_TABLE]].df
    low = [r[S.ZONE_ID] for r in resolution_df.filter(S.IS_LOW_RESOLUTION).orderBy(S.ZONE_ID).collect()]
    return SpatialReport(
        inputs_hash=digest,
        skipped=False,
        seconds=time.perf_counter() - started,
        rows={t: m["numOutputRows"] for t, m in metrics.items() if t != STAGE.marker.name},
        repaired=built.info.repaired,
        low_resolution_zones=low,
    )


def run_spatial(
    spark: SparkSession,
    config: Config,
    *,
    inputs: SpatialInputs | None = None,
    force: bool = False,
    run_id: str | None = None,
) -> SpatialReport:
    """Build the silver spatial tables unless their inputs are unchanged; raise InputContractError before writing.

    `inputs` is the result of `check_spatial_inputs` when the caller ran it already (the CLI does, before Spark).
    """
    started = time.perf_counter()
    checked = inputs or check_spatial_inputs(config.landing, config.spatial)
    digest = checked.inputs_hash
    run_at = dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)
    run_id = run_id or uuid.uuid4().hex
    result = run_stage(
        spark,
        STAGE,
        config.lakehouse,
        run_id=run_id,
        fingerprints={UNDATED: digest},
        force=force,
        metadata=sign_off_metadata(config),
        read=lambda: read_spatial(spark, config, checked),
        build=lambda read: _built(read, config.spatial, digest=digest, run_id=run_id, run_at=run_at),
        report=lambda built, metrics: _report(built, metrics, digest=digest, started=started),
    )
    if result.report is None:
        return SpatialReport(inputs_hash=digest, skipped=True, seconds=time.perf_counter() - started)
    return result.report
