"""Zones and districts from GeoJSON: structure checked on the driver, geometry validated and repaired by Sedona."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T
from sedona.spark.sql import st_constructors as STC
from sedona.spark.sql import st_functions as STF

from footfall import schemas as S
from footfall.ingest.contract import InputContractError

ZONES_FILE = "zones.geojson"
DISTRICTS_FILE = "districts.geojson"
GEOMETRY_JSON = "geometry_json"
GEOM = "geom"  # a Sedona geometry column, only ever in memory
_POLYGONAL = ("Polygon", "MultiPolygon")
_POLYGON_TYPE = 3  # ST_CollectionExtract's code for polygons


@dataclass(frozen=True)
class FeatureSpec:
    """What a layer's features must carry: the id property and the other properties with their Spark types."""

    layer: str
    id_property: str
    properties: Mapping[str, T.DataType]
    allowed: Mapping[str, Sequence[str]]


ZONES = FeatureSpec(
    layer=ZONES_FILE,
    id_property=S.ZONE_ID,
    properties={S.NAME: T.StringType(), S.CATEGORY: T.StringType()},
    allowed={S.CATEGORY: S.ZONE_CATEGORIES},
)
DISTRICTS = FeatureSpec(
    layer=DISTRICTS_FILE,
    id_property=S.DISTRICT_ID,
    properties={S.NAME: T.StringType(), S.RESIDENTS: T.LongType()},
    allowed={},
)


def _feature_name(spec: FeatureSpec, index: int, feature_id: Any) -> str:
    named = f" ({spec.id_property} {feature_id!r})" if feature_id not in (None, "") else ""
    return f"{spec.layer}: feature #{index}{named}"


def _check_rings(geometry: Mapping[str, Any], where: str) -> None:
    """Raise unless every ring is a list of at least 4 positions (JTS cannot even build a shorter one)."""
    coords = geometry.get("coordinates")
    polygons = [coords] if geometry["type"] == "Polygon" else coords
    if not isinstance(polygons, list) or not polygons or any(not isinstance(p, list) or not p for p in polygons):
        raise InputContractError(f"{where} has an empty {geometry['type']}")
    for polygon in polygons:
        for ring in polygon:
            if not isinstance(ring, list) or len(ring) < 4:
                raise InputContractError(f"{where} has a ring with fewer than 4 positions")
            if any(
                not isinstance(p, list) or len(p) < 2 or not all(isinstance(c, int | float) for c in p) for p in ring
            ):
                raise InputContractError(f"{where} has a position that is not a pair of numbers")
            if any(abs(p[0]) > 180 or abs(p[1]) > 90 for p in ring):
                bad = next(p for p in ring if abs(p[0]) > 180 or abs(p[1]) > 90)
                raise InputContractError(
                    f"{where} has a position outside WGS84 bounds ({bad[0]}, {bad[1]}): GeoJSON positions are "
                    "longitude, latitude in degrees"
                )


def _positions(geometry: Mapping[str, Any]) -> list[list[float]]:
    polygons = [geometry["coordinates"]] if geometry["type"] == "Polygon" else geometry["coordinates"]
    return [p for polygon in polygons for ring in polygon for p in ring]


def features_bounds(rows: Sequence[tuple[Any, ...]]) -> tuple[float, float, float, float]:
    """Return (min lon, min lat, max lon, max lat) of parsed features (their geometry JSON comes last)."""
    points = [p for row in rows for p in _positions(json.loads(row[-1]))]
    lons, lats = [p[0] for p in points], [p[1] for p in points]
    return min(lons), min(lats), max(lons), max(lats)


# Names RFC 7946's WGS84 goes by in a legacy `crs` member; any other CRS means projected or foreign coordinates.
_WGS84_NAMES = ("urn:ogc:def:crs:ogc:1.3:crs84", "urn:ogc:def:crs:ogc::crs84", "ogc:crs84", "crs84", "epsg:4326",
                "urn:ogc:def:crs:epsg::4326")  # fmt: skip


def _check_crs(collection: Mapping[str, Any], layer: str) -> None:
    crs = collection.get("crs")
    if crs is None:
        return
    name = crs.get("properties", {}).get("name") if isinstance(crs, dict) else None
    if not isinstance(name, str) or name.strip().lower() not in _WGS84_NAMES:
        raise InputContractError(f"{layer}: declares CRS {name!r}; footfall reads GeoJSON in WGS84 (RFC 7946)")


def _check_property(spec: FeatureSpec, name: str, value: Any, where: str) -> Any:
    if value is None or value == "":
        raise InputContractError(f"{where} has no property '{name}'")
    data_type = spec.properties.get(name, T.StringType())
    if isinstance(data_type, T.LongType):
        if isinstance(value, bool) or not isinstance(value, int | float) or int(value) != value:
            raise InputContractError(f"{where}: property '{name}' must be an integer, got {value!r}")
        return int(value)
    if name in spec.allowed and value not in spec.allowed[name]:
        raise InputContractError(f"{where}: property '{name}' is {value!r}, not one of {', '.join(spec.allowed[name])}")
    return str(value)


def parse_features(text: str, *, spec: FeatureSpec) -> list[tuple[Any, ...]]:
    """Return one (id, *properties, geometry JSON) tuple per feature; raise InputContractError naming a bad feature."""
    try:
        collection = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputContractError(f"{spec.layer}: not valid JSON ({exc})") from None
    if not isinstance(collection, dict) or collection.get("type") != "FeatureCollection":
        raise InputContractError(f"{spec.layer}: expected a GeoJSON FeatureCollection")
    _check_crs(collection, spec.layer)
    features = collection.get("features")
    if not isinstance(features, list) or not features:
        raise InputContractError(f"{spec.layer}: the FeatureCollection has no features")
    rows: list[tuple[Any, ...]] = []
    seen: dict[str, int] = {}
    for index, feature in enumerate(features):
        props = feature.get("properties") if isinstance(feature, dict) else None
        props = props if isinstance(props, dict) else {}
        where = _feature_name(spec, index, props.get(spec.id_property))
        feature_id = str(_check_property(spec, spec.id_property, props.get(spec.id_property), where))
        if feature_id in seen:
            raise InputContractError(f"{where}: {spec.id_property} repeats feature #{seen[feature_id]}'s")
        seen[feature_id] = index
        values = [_check_property(spec, name, props.get(name), where) for name in spec.properties]
        geometry = feature.get("geometry")
        if not isinstance(geometry, dict) or not geometry.get("type"):
            raise InputContractError(f"{where} has no geometry")
        if geometry["type"] not in _POLYGONAL:
            raise InputContractError(f"{where} is a {geometry['type']}; expected Polygon or MultiPolygon")
        _check_rings(geometry, where)
        rows.append((feature_id, *values, json.dumps(geometry)))
    return rows


def load_features(path: Path, *, spec: FeatureSpec) -> list[tuple[Any, ...]]:
    """Return the checked features of a GeoJSON file (no Spark needed, so the CLI fails fast on bad input)."""
    if not path.is_file():
        raise InputContractError(f"{path}: file is missing")
    return parse_features(path.read_text(encoding="utf-8"), spec=spec)


def features_df(spark: SparkSession, rows: list[tuple[Any, ...]], *, spec: FeatureSpec) -> DataFrame:
    """Return checked features as a DataFrame (id, properties..., geometry_json)."""
    fields = [T.StructField(spec.id_property, T.StringType(), False)]
    fields += [T.StructField(name, data_type, False) for name, data_type in spec.properties.items()]
    fields.append(T.StructField(GEOMETRY_JSON, T.StringType(), False))
    return spark.createDataFrame(rows, T.StructType(fields))


def with_valid_geometry(features_df: DataFrame) -> DataFrame:
    """Return features with `geom` (WGS84), repaired by ST_MakeValid where invalid, and the repair recorded."""
    raw = STC.ST_GeomFromGeoJSON(F.col(GEOMETRY_JSON))
    return (
        features_df.withColumn("_raw", raw)
        .withColumn(S.IS_REPAIRED, ~STF.ST_IsValid("_raw"))
        .withColumn(S.INVALID_REASON, F.when(F.col(S.IS_REPAIRED), STF.ST_IsValidReason("_raw")))
        .withColumn(
            GEOM,
            F.when(
                F.col(S.IS_REPAIRED),
                # A bow-tie repairs into a MultiPolygon, a spike into a collection with a line: keep the polygons.
                STF.ST_Multi(STF.ST_CollectionExtract(STF.ST_MakeValid("_raw"), F.lit(_POLYGON_TYPE))),
            ).otherwise(F.col("_raw")),
        )
        .drop("_raw", GEOMETRY_JSON)
    )


def check_repairs(checked_df: DataFrame, *, spec: FeatureSpec) -> list[str]:
    """Return '<layer> <id>: <reason>' for every repaired feature; raise when a repair left no polygon."""
    rows = (
        checked_df.filter(F.col(S.IS_REPAIRED))
        .select(spec.id_property, S.INVALID_REASON, (F.col(GEOM).isNull() | STF.ST_IsEmpty(GEOM)).alias("is_empty"))
        .orderBy(spec.id_property)
        .collect()
    )
    for row in rows:
        if row["is_empty"]:
            raise InputContractError(
                f"{spec.layer}: {spec.id_property} {row[0]!r} has an invalid geometry ({row[S.INVALID_REASON]}) "
                "that leaves no polygon when repaired"
            )
    return [f"{spec.layer} {row[0]}: {row[S.INVALID_REASON]}" for row in rows]
