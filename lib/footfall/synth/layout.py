"""The city the people live in: districts, cell sites and retail zones, in a local metric frame.

Two sources: a fictional city made from the seed (the default), or a real layout read from an
OpenCellID-style cell export and GeoJSON districts (and optionally zones).
"""

from __future__ import annotations

import datetime as dt
import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import shapely
from shapely.geometry import LineString, MultiPoint, Point, Polygon, box, shape
from shapely.geometry.base import BaseGeometry

from footfall.synth.geo import LocalFrame
from footfall.synth.options import GenerateOptions

FICTIONAL_CENTRE = (10.0, 48.0)  # lon, lat: a fictional city; no real place is meant
CITY_RADIUS_M = 6_000.0
STREET_HALF_WIDTH_M = 12.0
MACRO_POWER_DB = 60.0
SMALL_POWER_DB = 32.0


@dataclass(frozen=True)
class Zone:
    """A retail zone in the local frame; `path` is a street's centre line, `attraction` weighs destination choice."""

    zone_id: str
    name: str
    category: str
    polygon: Polygon
    attraction: float
    path: LineString | None = None


@dataclass(frozen=True)
class District:
    """A home area in the local frame."""

    district_id: str
    name: str
    residents: int
    market_share: float
    polygon: Polygon


@dataclass(frozen=True)
class City:
    """Everything spatial the simulation needs. `cells` has one row per cell, positions in local metres."""

    frame: LocalFrame
    boundary: Polygon
    districts: tuple[District, ...]
    zones: tuple[Zone, ...]
    cells: pd.DataFrame  # cell_id, site_id, x, y, azimuth_deg, beamwidth_deg, range_m, technology,
    # valid_from, valid_to (UTC pd.Timestamp / NaT), power_db, indoor_zone (zone index, -1 = outdoor macro,
    # -2 = open small cell)
    is_fictional: bool = True


def _spacing_m(r: np.ndarray | float) -> np.ndarray | float:
    """Distance between neighbouring sites at radius r: dense centre, sparse edge."""
    return 320.0 + 0.22 * np.asarray(r)


def _sites(rng: np.random.Generator, boundary: Polygon, centre_xy: tuple[float, float]) -> np.ndarray:
    """Dart-throwing with a radius that grows from the centre, so sites thin out towards the edge."""
    minx, miny, maxx, maxy = boundary.bounds
    cand = np.column_stack([rng.uniform(minx, maxx, 40_000), rng.uniform(miny, maxy, 40_000)])
    cand = cand[shapely.contains_xy(boundary, cand[:, 0], cand[:, 1])]
    kept: list[np.ndarray] = []
    for p in cand:
        r = math.hypot(p[0] - centre_xy[0], p[1] - centre_xy[1])
        if kept:
            d = np.hypot(*(np.asarray(kept) - p).T)
            if d.min() < 0.8 * float(_spacing_m(r)):
                continue
        kept.append(p)
    return np.asarray(kept)


def _validity(
    rng: np.random.Generator, n: int, options: GenerateOptions, *, share_removed: float, share_added: float
) -> tuple[list[pd.Timestamp], list[pd.Timestamp | None]]:
    """Most cells are on all along; a few are switched off, or switched on, during the period (always one of each)."""
    start = pd.Timestamp(options.start, tz="UTC")
    span_s = options.days * 86_400
    long_ago = start - pd.Timedelta(days=400)
    valid_from: list[pd.Timestamp] = [long_ago] * n
    valid_to: list[pd.Timestamp | None] = [None] * n
    order = rng.permutation(n)
    n_removed = max(1, round(share_removed * n))
    n_added = max(1, round(share_added * n))
    for i in order[:n_removed]:
        valid_to[i] = start + pd.Timedelta(seconds=int(rng.uniform(0.2, 0.8) * span_s))
    for i in order[n_removed : n_removed + n_added]:
        valid_from[i] = start + pd.Timedelta(seconds=int(rng.uniform(0.2, 0.8) * span_s))
    return valid_from, valid_to


def _macro_cells(rng: np.random.Generator, sites: np.ndarray, centre_xy: tuple[float, float]) -> list[dict]:
    rows = []
    for s, (x, y) in enumerate(sites):
        site_id = f"S{s:04d}"
        r = math.hypot(x - centre_xy[0], y - centre_xy[1])
        range_m = float(round(1.4 * float(_spacing_m(r)), -1))
        if rng.random() < 0.12:
            rows.append(
                dict(
                    cell_id=f"C{s:04d}0",
                    site_id=site_id,
                    x=x,
                    y=y,
                    azimuth_deg=np.nan,
                    beamwidth_deg=360.0,
                    range_m=range_m,
                    technology="LTE",
                )
            )
            continue
        rot = rng.uniform(0, 120)
        beam = float(rng.choice([65.0, 65.0, 90.0]))
        for k in range(3):
            tech = str(rng.choice(["LTE", "LTE", "LTE", "NR", "NR", "GSM"]))
            rows.append(
                dict(
                    cell_id=f"C{s:04d}{k + 1}",
                    site_id=site_id,
                    x=x,
                    y=y,
                    azimuth_deg=round((rot + 120 * k) % 360, 1),
                    beamwidth_deg=beam,
                    range_m=range_m,
                    technology=tech,
                )
            )
    for row in rows:
        row.update(power_db=MACRO_POWER_DB, indoor_zone=-1)
    return rows


def _rect(cx: float, cy: float, w: float, h: float, angle_deg: float) -> Polygon:
    poly = box(cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2)
    return shapely.affinity.rotate(poly, angle_deg, origin=(cx, cy))


def _fictional_zones(rng: np.random.Generator) -> list[Zone]:
    zones: list[Zone] = [
        Zone("Z01", "Marktplatz", "market_square", _rect(0, 0, 90, 70, 8), 5.0),
    ]
    streets = [
        ("Hauptstraße", (120, 10), (720, 60), 8.0),
        ("Bahnhofstraße", (-110, 90), (-640, 330), 8.0),
        ("Lange Gasse", (10, -120), (70, -760), 6.0),
        ("Ostring", (2_150, 1_450), (2_700, 1_700), 4.0),
        ("Weststraße", (-2_450, -1_850), (-2_850, -1_350), 4.0),
    ]
    for i, (name, a, b, attraction) in enumerate(streets, start=2):
        path = LineString([a, b])
        band = path.buffer(STREET_HALF_WIDTH_M, cap_style="flat")
        zones.append(Zone(f"Z{i:02d}", name, "shopping_street", band, attraction, path))
    malls = [("Galerie Nord", (1_500, 2_300)), ("City-Arkaden", (1_300, -900)), ("Einkaufspark Süd", (-1_900, -3_100))]
    for j, (name, (x, y)) in enumerate(malls):
        zones.append(Zone(f"Z{7 + j:02d}", name, "mall", _rect(x, y, 180, 120, rng.uniform(0, 90)), 10.0))
    # Store fronts sit against the street bands (outside them), a few more stand alone in neighbourhoods.
    n = 10
    for street in zones[1:4]:
        assert street.path is not None
        (ax, ay), (bx, by) = street.path.coords
        length = math.hypot(bx - ax, by - ay)
        ux, uy = (bx - ax) / length, (by - ay) / length
        for frac, side in ((0.25, 1), (0.55, -1), (0.8, 1)):
            cx, cy = ax + frac * (bx - ax), ay + frac * (by - ay)
            off = side * (STREET_HALF_WIDTH_M + 0.5 + 4.5)
            angle = math.degrees(math.atan2(uy, ux))
            zones.append(
                Zone(
                    f"Z{n:02d}",
                    f"Laden {n - 9} ({street.name})",
                    "store_front",
                    _rect(cx - uy * off, cy + ux * off, 14, 9, angle),
                    1.5,
                )
            )
            n += 1
    for x, y in ((-900, 1_900), (2_600, -1_200)):
        zones.append(Zone(f"Z{n:02d}", f"Eckladen {n - 9}", "store_front", _rect(x, y, 12, 10, 0), 1.5))
        n += 1
    return zones


def _fictional_districts(rng: np.random.Generator, boundary: Polygon) -> list[District]:
    seeds = [(0.0, 0.0)]
    for count, radius in ((5, 1_500.0), (8, 3_300.0), (11, 5_200.0)):
        phase = rng.uniform(0, 2 * math.pi)
        for k in range(count):
            a = phase + 2 * math.pi * k / count + rng.normal(0, 0.12)
            r = radius * rng.uniform(0.85, 1.15)
            seeds.append((r * math.sin(a), r * math.cos(a)))
    cells = shapely.voronoi_polygons(MultiPoint(seeds), extend_to=boundary)
    names = [
        "Altstadt",
        "Nordviertel",
        "Ostend",
        "Südstadt",
        "Westend",
        "Au",
        "Bergfeld",
        "Hafen",
        "Lindenau",
        "Mühlbach",
        "Neuhof",
        "Obergrund",
        "Parkstadt",
        "Quellenhof",
        "Rosenau",
        "Schlossberg",
        "Talheim",
        "Unterwiesen",
        "Vorstadt",
        "Waldrand",
        "Zollhaus",
        "Am Anger",
        "Birkenhain",
        "Dornbusch",
        "Eichwald",
    ]
    districts = []
    polys = sorted((boundary.intersection(p) for p in cells.geoms), key=lambda p: (round(p.centroid.y), p.centroid.x))
    for i, poly in enumerate(polys):
        r = math.hypot(poly.centroid.x, poly.centroid.y)
        density_per_km2 = 11_000.0 * math.exp(-r / 2_600.0) + 800.0
        residents = int(round(density_per_km2 * poly.area / 1e6, -1))
        districts.append(
            District(f"D{i + 1:02d}", names[i % len(names)], residents, round(float(rng.uniform(0.22, 0.38)), 3), poly)
        )
    return districts


def _scaled_to_subscribers(districts: list[District], subscribers: int) -> list[District]:
    """Scale a fictional city's population so that its market shares hold for the number of subscribers."""
    expected = sum(d.residents * d.market_share for d in districts)
    factor = subscribers / expected
    return [
        District(d.district_id, d.name, max(10, round(d.residents * factor)), d.market_share, d.polygon)
        for d in districts
    ]


def _small_cells(zones: list[Zone], start_index: int) -> list[dict]:
    """Indoor small cells: two per mall (indoor, behind walls) and one open one per station."""
    rows = []
    n = start_index
    for zi, zone in enumerate(zones):
        if zone.category != "mall":
            continue
        c = zone.polygon.centroid
        for dx in (-40.0, 40.0):
            rows.append(
                dict(
                    cell_id=f"C{n:04d}0",
                    site_id=f"S{n:04d}",
                    x=c.x + dx,
                    y=c.y,
                    azimuth_deg=np.nan,
                    beamwidth_deg=360.0,
                    range_m=90.0,
                    technology="LTE-small",
                    power_db=SMALL_POWER_DB,
                    indoor_zone=zi,
                )
            )
            n += 1
    for x, y in ((-700.0, 420.0), (250.0, -1_600.0)):  # stations
        rows.append(
            dict(
                cell_id=f"C{n:04d}0",
                site_id=f"S{n:04d}",
                x=x,
                y=y,
                azimuth_deg=np.nan,
                beamwidth_deg=360.0,
                range_m=120.0,
                technology="LTE-small",
                power_db=SMALL_POWER_DB,
                indoor_zone=-2,
            )
        )
        n += 1
    return rows


def _finish_cells(rng: np.random.Generator, rows: list[dict], options: GenerateOptions) -> pd.DataFrame:
    cells = pd.DataFrame(rows)
    valid_from, valid_to = _validity(rng, len(cells), options, share_removed=0.02, share_added=0.02)
    cells["valid_from"] = pd.to_datetime(valid_from, utc=True)
    cells["valid_to"] = pd.to_datetime(valid_to, utc=True)
    return cells.reset_index(drop=True)


def fictional_city(options: GenerateOptions) -> City:
    """Return the default city for a seed: ~25 districts, a few hundred sites, 20 zones."""
    rng = np.random.default_rng([options.seed, 1])
    boundary = Polygon(Point(0, 0).buffer(CITY_RADIUS_M, quad_segs=32).exterior)
    districts = _scaled_to_subscribers(_fictional_districts(rng, boundary), options.subscribers)
    zones = _fictional_zones(rng)
    sites = _sites(rng, boundary, (0.0, 0.0))
    rows = _macro_cells(rng, sites, (0.0, 0.0)) + _small_cells(zones, len(sites))
    check_zones_disjoint(zones)
    return City(
        LocalFrame(*FICTIONAL_CENTRE), boundary, tuple(districts), tuple(zones), _finish_cells(rng, rows, options)
    )


def check_zones_disjoint(zones: list[Zone] | tuple[Zone, ...]) -> None:
    """Raise if two zones overlap: each true position then belongs to at most one zone."""
    tree = shapely.STRtree([z.polygon for z in zones])
    left, right = tree.query([z.polygon for z in zones], predicate="intersects")
    for a, b in zip(left, right, strict=True):
        if a < b and zones[a].polygon.intersection(zones[b].polygon).area > 1e-6:
            raise ValueError(f"zones {zones[a].zone_id} and {zones[b].zone_id} overlap")


# ---- real layouts ----------------------------------------------------------------------------------


def _read_features(path: Path) -> list[dict]:
    data = json.loads(Path(path).read_text())
    features = data.get("features") if isinstance(data, dict) else None
    if not isinstance(features, list) or not features:
        raise ValueError(f"{path}: not a GeoJSON FeatureCollection with features")
    return features


def _prop(feature: dict, *names: str) -> object | None:
    props = feature.get("properties") or {}
    for name in names:
        if props.get(name) not in (None, ""):
            return props[name]
    return None


def _merge_parts(districts: list[District]) -> list[District]:
    """Join features that share a district id (a district in two parts) into one MultiPolygon district."""
    by_id: dict[str, list[District]] = {}
    for d in districts:
        by_id.setdefault(d.district_id, []).append(d)
    merged = []
    for district_id, parts in by_id.items():
        first = parts[0]
        geom = shapely.union_all([p.polygon for p in parts]) if len(parts) > 1 else first.polygon
        merged.append(District(district_id, first.name, sum(p.residents for p in parts), first.market_share, geom))
    return merged


def real_city(options: GenerateOptions) -> City:
    """Return a city on a real layout: cells from an OpenCellID-style CSV, districts (and zones) from GeoJSON.

    OpenCellID gives estimated positions and an uncertainty radius, no antenna geometry: every cell is
    taken as omni, with its range clipped to 300 to 2,500 m. Zones are synthetic unless --zones is given.
    """
    assert options.cells_file is not None and options.districts_file is not None
    rng = np.random.default_rng([options.seed, 1])
    raw_districts = _read_features(options.districts_file)
    geoms_ll = [shape(f["geometry"]) for f in raw_districts]
    union_ll = shapely.union_all(geoms_ll)
    c = union_ll.centroid
    frame = LocalFrame(round(c.x, 4), round(c.y, 4))
    districts = []
    for i, (feature, geom) in enumerate(zip(raw_districts, geoms_ll, strict=True)):
        poly = frame.geom_to_xy(geom)
        district_id = str(_prop(feature, "district_id", "bt_nummer", "ref") or feature.get("id") or f"D{i + 1:03d}")
        name = str(_prop(feature, "name", "bt_name") or district_id)
        residents = _prop(feature, "residents", "population")
        n_res = int(str(residents)) if residents is not None else round(5_000 * poly.area / 1e6)
        districts.append(
            District(district_id, name, n_res, round(float(rng.uniform(0.22, 0.38)), 3), shapely.make_valid(poly))
        )
    districts = _merge_parts(districts)
    boundary = shapely.make_valid(frame.geom_to_xy(union_ll))
    if options.zones_file is not None:
        zones = []
        for i, f in enumerate(_read_features(options.zones_file)):
            category = str(_prop(f, "category") or "store_front")
            zones.append(
                Zone(
                    str(_prop(f, "zone_id") or f"Z{i + 1:02d}"),
                    str(_prop(f, "name") or f"zone {i + 1}"),
                    category,
                    frame.geom_to_xy(shape(f["geometry"])),
                    {"mall": 10.0, "shopping_street": 8.0, "market_square": 5.0}.get(category, 1.5),
                )
            )
    else:
        zones = _fictional_zones(rng)
    table = pd.read_csv(options.cells_file)
    table = table.drop_duplicates(subset=["cell"]).reset_index(drop=True)
    x, y = frame.to_xy(table["lon"].to_numpy(float), table["lat"].to_numpy(float))
    rows = [
        dict(
            cell_id=str(cell),
            site_id=str(cell),
            x=float(px),
            y=float(py),
            azimuth_deg=np.nan,
            beamwidth_deg=360.0,
            range_m=float(np.clip(rng_m, 300, 2_500)),
            technology="LTE",
            power_db=MACRO_POWER_DB,
            indoor_zone=-1,
        )
        for cell, px, py, rng_m in zip(table["cell"], x, y, table["range"], strict=True)
    ]
    rows += _small_cells(zones, len(rows))
    check_zones_disjoint(zones)
    return City(frame, boundary, tuple(districts), tuple(zones), _finish_cells(rng, rows, options), is_fictional=False)


def build_city(options: GenerateOptions) -> City:
    """Return the fictional city, or the real layout when cell and district files are given."""
    if options.cells_file is not None and options.districts_file is not None:  # GenerateOptions checks both or none
        return real_city(options)
    return fictional_city(options)


def period_bounds_utc(options: GenerateOptions) -> tuple[dt.datetime, dt.datetime]:
    """Return the UTC instants that bound the exported events: [start 00:00Z, end 00:00Z)."""
    start = dt.datetime.combine(options.start, dt.time(), tzinfo=dt.UTC)
    return start, start + dt.timedelta(days=options.days)


def geometry_wkb(geom: BaseGeometry) -> bytes:
    """Return WKB, the form geometries travel in to Spark workers."""
    return shapely.to_wkb(geom)
