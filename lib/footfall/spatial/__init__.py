"""Spatial: cell footprints and cell-to-zone weights with Sedona, once per inventory version (docs/spatial.md)."""

from __future__ import annotations

from footfall.spatial.job import SpatialInputs, SpatialReport, check_spatial_inputs, inputs_hash, run_spatial
from footfall.spatial.weights import with_zone_candidates

__all__ = [
    "SpatialInputs",
    "SpatialReport",
    "check_spatial_inputs",
    "inputs_hash",
    "run_spatial",
    "with_zone_candidates",
]
