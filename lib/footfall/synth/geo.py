"""Planar geometry for the generator: a local metric frame around the city centre, and antenna wedges."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import shapely
from shapely.geometry import Polygon
from shapely.geometry.base import BaseGeometry

EARTH_RADIUS_M = 6_371_008.8


@dataclass(frozen=True)
class LocalFrame:
    """An equirectangular projection around (lon0, lat0): x east and y north, in metres.

    Over a city (tens of km) its distances are within 0.1% of the ellipsoid's, which is all the
    simulation needs; the pipeline itself works in a proper metric CRS through Sedona.
    """

    lon0: float
    lat0: float

    @property
    def _kx(self) -> float:
        return math.radians(1.0) * EARTH_RADIUS_M * math.cos(math.radians(self.lat0))

    @property
    def _ky(self) -> float:
        return math.radians(1.0) * EARTH_RADIUS_M

    def to_lonlat(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Return lon, lat in degrees for local x, y in metres."""
        return self.lon0 + np.asarray(x) / self._kx, self.lat0 + np.asarray(y) / self._ky

    def to_xy(self, lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Return local x, y in metres for lon, lat in degrees."""
        return (np.asarray(lon) - self.lon0) * self._kx, (np.asarray(lat) - self.lat0) * self._ky

    def geom_to_lonlat(self, geom: BaseGeometry) -> BaseGeometry:
        """Return a geometry in the local frame as WGS84 lon/lat."""
        return shapely.transform(geom, lambda xy: np.column_stack(self.to_lonlat(xy[:, 0], xy[:, 1])))

    def geom_to_xy(self, geom: BaseGeometry) -> BaseGeometry:
        """Return a WGS84 lon/lat geometry in the local frame."""
        return shapely.transform(geom, lambda ll: np.column_stack(self.to_xy(ll[:, 0], ll[:, 1])))


def wedge(x: float, y: float, azimuth_deg: float | None, beamwidth_deg: float, range_m: float) -> Polygon:
    """Return a cell's nominal footprint: a circular sector (azimuth clockwise from north), or a disc when omni."""
    if azimuth_deg is None or beamwidth_deg >= 360:
        return Polygon(shapely.Point(x, y).buffer(range_m, quad_segs=16).exterior)
    steps = max(8, int(beamwidth_deg / 5))
    angles = np.radians(azimuth_deg + np.linspace(-beamwidth_deg / 2, beamwidth_deg / 2, steps + 1))
    ring = [(x, y), *zip(x + range_m * np.sin(angles), y + range_m * np.cos(angles), strict=True), (x, y)]
    return Polygon(ring)


def bearing_deg(dx: np.ndarray, dy: np.ndarray) -> np.ndarray:
    """Return the compass bearing (clockwise from north, [0, 360)) of a displacement."""
    return np.degrees(np.arctan2(dx, dy)) % 360.0


def angle_diff_deg(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Return the absolute difference between two bearings, in [0, 180]."""
    d = np.abs(np.asarray(a) - np.asarray(b)) % 360.0
    return np.minimum(d, 360.0 - d)
