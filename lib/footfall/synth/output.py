"""Writing the export: deterministic file names and bytes, so the same seed gives the same files."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import shapely
from pyspark.sql import DataFrame

from footfall import schemas as S
from footfall.synth.layout import City

TS_CSV = "yyyy-MM-dd'T'HH:mm:ss'Z'"


def _tidy_spark_output(folder: Path) -> None:
    """Drop Spark's markers and checksums and name part files by position, not by a random id."""
    for junk in [*folder.rglob("_SUCCESS"), *folder.rglob(".*.crc"), *folder.rglob("._SUCCESS.crc")]:
        junk.unlink(missing_ok=True)
    for directory in sorted({p.parent for p in folder.rglob("part-*")}):
        for n, part in enumerate(sorted(directory.glob("part-*"))):
            suffix = ".parquet" if part.name.endswith(".parquet") else ".csv"
            part.rename(directory / f"part-{n:05d}{suffix}")


def write_single_csv(df: DataFrame, path: Path) -> None:
    """Write a small DataFrame as one CSV file with a header."""
    tmp = path.with_name(path.name + ".tmp")
    df.coalesce(1).write.mode("overwrite").option("header", True).option("timestampFormat", TS_CSV).option(
        "emptyValue", ""
    ).csv(str(tmp))
    part = next(tmp.glob("part-*.csv"))
    path.unlink(missing_ok=True)
    shutil.move(str(part), path)
    shutil.rmtree(tmp)


def write_parquet_folder(df: DataFrame, path: Path, *, partition_by: str | None = None) -> None:
    """Write parquet with deterministic file names (one file per partition value when pre-partitioned)."""
    writer = df.write.mode("overwrite")
    if partition_by:
        writer = writer.partitionBy(partition_by)
    writer.parquet(str(path))
    _tidy_spark_output(path)


def _fmt_ts(value: pd.Timestamp) -> str:
    return "" if pd.isna(value) else value.strftime("%Y-%m-%dT%H:%M:%SZ")


def write_cells_csv(city: City, path: Path) -> None:
    """Write the network inventory in the landing contract (lat/lon from the local frame)."""
    c = city.cells
    lon, lat = city.frame.to_lonlat(c["x"].to_numpy(), c["y"].to_numpy())
    table = pd.DataFrame(
        {
            S.CELL_ID: c["cell_id"],
            S.SITE_ID: c["site_id"],
            S.LAT: lat.round(6),
            S.LON: lon.round(6),
            S.AZIMUTH_DEG: c["azimuth_deg"],
            S.BEAMWIDTH_DEG: c["beamwidth_deg"],
            S.RANGE_M: c["range_m"],
            S.TECHNOLOGY: c["technology"],
            S.VALID_FROM: c["valid_from"].map(_fmt_ts),
            S.VALID_TO: c["valid_to"].map(_fmt_ts),
        }
    )
    table.to_csv(path, index=False, float_format="%.6f", lineterminator="\n")


def _feature_collection(features: list[dict]) -> str:
    return json.dumps({"type": "FeatureCollection", "features": features}, ensure_ascii=False) + "\n"


def _geometry(city: City, geom: shapely.Geometry) -> dict:
    ll = shapely.set_precision(city.frame.geom_to_lonlat(geom), 1e-7)
    return json.loads(shapely.to_geojson(ll))


def _write_features(city: City, path: Path, rows: list[tuple[dict, shapely.Geometry]]) -> None:
    """Write (properties, local-frame polygon) pairs as a WGS84 GeoJSON FeatureCollection."""
    features = [{"type": "Feature", "properties": props, "geometry": _geometry(city, geom)} for props, geom in rows]
    path.write_text(_feature_collection(features))


def write_zones_geojson(city: City, path: Path) -> None:
    """Write the retail zones as WGS84 GeoJSON with zone_id, name and category."""
    rows = [({S.ZONE_ID: z.zone_id, S.NAME: z.name, S.CATEGORY: z.category}, z.polygon) for z in city.zones]
    _write_features(city, path, rows)


def write_districts_geojson(city: City, path: Path) -> None:
    """Write the home areas as WGS84 GeoJSON with district_id, name and residents."""
    rows = [
        ({S.DISTRICT_ID: d.district_id, S.NAME: d.name, S.RESIDENTS: d.residents}, d.polygon) for d in city.districts
    ]
    _write_features(city, path, rows)
