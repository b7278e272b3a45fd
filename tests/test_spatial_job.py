"""The spatial job on a hand-made landing folder: weights known by formula, validation, skip on unchanged inputs,
the run id in every commit."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import shapely
import yaml
from delta.tables import DeltaTable
from pyspark.sql import SparkSession
from pyspark.sql import functions as F
from pyspark.testing import assertDataFrameEqual

from footfall import schemas as S
from footfall.config import Config, SpatialConfig
from footfall.ingest import InputContractError
from footfall.spatial import run_spatial
from footfall.spatial.job import SpatialReport
from test_ingest_fixtures import copy_of

LON0, LAT0 = 10.0, 48.0
M_PER_DEG_LAT = math.radians(1.0) * 6_371_008.8
CELLS_HEADER = "cell_id,site_id,lat,lon,azimuth_deg,beamwidth_deg,range_m,technology,valid_from,valid_to"
ALWAYS = "2025-01-01T00:00:00Z"
SWITCHED_ON, SWITCHED_OFF = "2026-03-06T10:00:00Z", "2026-03-06T18:00:00Z"

# Zone A: 100 m square; cell C1 has its apex at A's centre, faces east with 180 deg and reaches 200 m: half of A.
# Zone B: 80 m square 2 km east; omni cell C2 (60 m, valid 10:00-18:00 only) covers all of B.
# Zone C: 3 km north, beyond every footprint. Zone D: a bow-tie (invalid) 5 km west, repaired, no cell.
SIDE_A, REACH_1 = 100.0, 200.0
SIDE_B, REACH_2 = 80.0, 60.0


def _lonlat(east_m: float, north_m: float) -> list[float]:
    return [LON0 + east_m / (M_PER_DEG_LAT * math.cos(math.radians(LAT0))), LAT0 + north_m / M_PER_DEG_LAT]


def _square(cx: float, cy: float, side: float) -> dict[str, Any]:
    h = side / 2
    ring = [_lonlat(cx + dx, cy + dy) for dx, dy in ((-h, -h), (h, -h), (h, h), (-h, h), (-h, -h))]
    return {"type": "Polygon", "coordinates": [ring]}


def _feature(geometry: dict[str, Any] | None, **properties: Any) -> dict[str, Any]:
    return {"type": "Feature", "properties": properties, "geometry": geometry}


def _bowtie(cx: float, cy: float, side: float) -> dict[str, Any]:
    corners = ((0, 0), (side, side), (side, 0), (0, side), (0, 0))
    return {"type": "Polygon", "coordinates": [[_lonlat(cx + x, cy + y) for x, y in corners]]}


def _zones() -> list[dict[str, Any]]:
    return [
        _feature(_square(0, 0, SIDE_A), zone_id="A", name="half", category="mall"),
        _feature(_square(2000, 0, SIDE_B), zone_id="B", name="whole", category="market_square"),
        _feature(_square(0, 3000, 50), zone_id="C", name="nowhere", category="store_front"),
        _feature(_bowtie(-5000, 0, 40), zone_id="D", name="bowtie", category="store_front"),
    ]


def _write_geojson(path: Path, features: list[dict[str, Any]]) -> None:
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}))


def make_landing(tmp_path: Path, *, model: str = "voronoi", zones: list[dict[str, Any]] | None = None) -> Config:
    landing = tmp_path / "landing"
    landing.mkdir()
    c1, c2 = _lonlat(0, 0), _lonlat(2000, 0)
    (landing / "cells.csv").write_text(
        f"{CELLS_HEADER}\n"
        f"C1,S1,{c1[1]},{c1[0]},90,180,{REACH_1},LTE,{ALWAYS},\n"
        f"C2,S2,{c2[1]},{c2[0]},,360,{REACH_2},LTE-small,{SWITCHED_ON},{SWITCHED_OFF}\n"
    )
    _write_geojson(landing / "zones.geojson", _zones() if zones is None else zones)
    district = _feature(_square(0, 0, 12_000), district_id="D1", name="all", residents=1000)
    _write_geojson(landing / "districts.geojson", [district])
    (landing / "market_share.csv").write_text("district_id,residents,subscribers,market_share\nD1,1000,250,0.25\n")
    return Config(
        landing=landing,
        lakehouse=tmp_path / "lake",
        spatial=SpatialConfig(footprint_model=model, min_resolution_score=0.5, resolution_model="footprint"),
    )


def _table(spark: SparkSession, config: Config, table: str) -> Any:
    return spark.read.format("delta").load(str(config.lakehouse / S.SILVER / table))


# One build of the hand-made landing, read by the tests below that only read it: a spatial build costs 15-25 s of fixed
# cost on 2 cores whatever the size, so the file builds once and copies where a test changes something (issue 28).
RUN_ID = "spatial-run"


@pytest.fixture(scope="module")
def built(spark: SparkSession, tmp_path_factory: pytest.TempPathFactory) -> tuple[Config, SpatialReport]:
    """Return the config and report of one spatial run (sector footprints) on the hand-made landing. Read-only."""
    config = make_landing(tmp_path_factory.mktemp("spatial"), model="sector")
    return config, run_spatial(spark, config, run_id=RUN_ID)


def test_weights_validity_resolution_and_repair_match_the_formulas(
    spark: SparkSession, built: tuple[Config, SpatialReport]
) -> None:
    config, report = built

    w_a = (SIDE_A**2 / 2) / (math.pi * REACH_1**2 / 2)  # half the square over half the disc
    w_b = SIDE_B**2 / (math.pi * REACH_2**2)  # the whole square inside the disc
    expected = spark.createDataFrame(
        [("C1", "A", w_a, ALWAYS, None), ("C2", "B", w_b, SWITCHED_ON, SWITCHED_OFF)],
        "cell_id STRING, zone_id STRING, weight DOUBLE, valid_from STRING, valid_to STRING",
    ).select(
        S.CELL_ID,
        S.ZONE_ID,
        S.WEIGHT,
        F.to_timestamp(S.VALID_FROM).alias(S.VALID_FROM),
        F.to_timestamp(S.VALID_TO).alias(S.VALID_TO),
    )
    # Zone C lies outside every footprint: no row at all, not a zero weight.
    assertDataFrameEqual(_table(spark, config, S.SILVER_CELL_ZONE_WEIGHTS_TABLE), expected, rtol=1e-2)

    districts = _table(spark, config, S.SILVER_CELL_DISTRICT_WEIGHTS_TABLE).select(S.CELL_ID, S.DISTRICT_ID, S.WEIGHT)
    assertDataFrameEqual(districts, [("C1", "D1", 1.0), ("C2", "D1", 1.0)], rtol=1e-6)  # type: ignore[arg-type]

    resolution = {r[S.ZONE_ID]: r for r in _table(spark, config, S.SILVER_ZONE_RESOLUTION_TABLE).collect()}
    assert {z: resolution[z][S.N_CELLS] for z in "ABCD"} == {"A": 1, "B": 1, "C": 0, "D": 0}
    assert math.isclose(resolution["B"][S.RESOLUTION_SCORE], w_b, rel_tol=1e-2)
    assert {z for z, r in resolution.items() if r[S.IS_LOW_RESOLUTION]} == {"A", "C", "D"}  # w_a 0.08, w_b 0.57

    zones = {r[S.ZONE_ID]: r for r in _table(spark, config, S.SILVER_ZONES_TABLE).collect()}
    assert len(report.repaired) == 1 and report.repaired[0].startswith("zones.geojson D: Self-intersection")
    assert zones["D"][S.IS_REPAIRED] and not zones["A"][S.IS_REPAIRED]
    assert math.isclose(zones["D"][S.AREA_M2], 40.0**2 / 2, rel_tol=1e-2)  # the two triangles of the bow-tie
    # Geometry is stored as WGS84 WKB: A comes back as the polygon we wrote, to a micro-degree.
    stored = shapely.normalize(shapely.from_wkb(bytes(zones["A"][S.GEOMETRY_WKB])))
    written = shapely.normalize(shapely.geometry.shape(_square(0, 0, SIDE_A)))
    assert shapely.equals_exact(stored, written, 1e-6)

    footprints = _table(spark, config, S.SILVER_CELL_FOOTPRINTS_TABLE).orderBy(S.CELL_ID).collect()
    assert [(r[S.CELL_ID], r[S.FOOTPRINT_MODEL]) for r in footprints] == [("C1", "sector"), ("C2", "sector")]
    assert math.isclose(footprints[0][S.AREA_M2], math.pi * REACH_1**2 / 2, rel_tol=1e-2)


def _history(spark: SparkSession, path: str) -> list[dict[str, object]]:
    rows = DeltaTable.forPath(spark, path).history().orderBy("version").collect()
    return [{"operation": r["operation"], **json.loads(r["userMetadata"] or "{}")} for r in rows]


def _versions(spark: SparkSession, config: Config) -> dict[str, int]:
    tables = (S.SILVER_SPATIAL_INPUTS_TABLE, S.SILVER_CELL_ZONE_WEIGHTS_TABLE, S.SILVER_ZONES_TABLE)
    versions = {}
    for table in tables:
        latest = DeltaTable.forPath(spark, str(config.lakehouse / S.SILVER / table)).history(1).first()
        assert latest is not None
        versions[table] = int(latest["version"])
    return versions


def test_every_spatial_commit_carries_its_run_id(spark: SparkSession, built: tuple[Config, SpatialReport]) -> None:
    from footfall.spatial.job import STAGE

    config, report = built
    assert not report.skipped and report.rows[S.SILVER_CELL_FOOTPRINTS_TABLE] == 2  # metrics of the write, no read
    for table in STAGE.outputs:
        history = _history(spark, table.path(config.lakehouse))
        assert len(history) == 1 and history[0]["operation"] == "WRITE", table.name  # created by its first write
        assert all(h["run_id"] == RUN_ID and h["stage"] == "spatial" for h in history), table.name
        assert all(h["fingerprints"] == {"*": report.inputs_hash} for h in history), table.name


def test_unchanged_inputs_skip_the_rebuild_and_a_changed_zone_triggers_it(
    spark: SparkSession, built: tuple[Config, SpatialReport], tmp_path: Path
) -> None:
    config, first = copy_of(built[0], tmp_path), built[1]  # a copy of a lakehouse built from these files: same hash
    before = _versions(spark, config)
    second = run_spatial(spark, config)
    assert not first.skipped and second.skipped and second.inputs_hash == first.inputs_hash
    assert _versions(spark, config) == before

    zones = _zones()
    zones[0]["properties"]["name"] = "renamed"
    _write_geojson(config.landing / "zones.geojson", zones)
    third = run_spatial(spark, config)
    assert not third.skipped and third.inputs_hash != first.inputs_hash
    assert _versions(spark, config) == {t: v + 1 for t, v in before.items()}
    names = {r[S.ZONE_ID]: r[S.NAME] for r in _table(spark, config, S.SILVER_ZONES_TABLE).collect()}
    assert names["A"] == "renamed"


def test_a_cell_without_range_is_rejected_before_anything_is_written(spark: SparkSession, tmp_path: Path) -> None:
    config = make_landing(tmp_path)
    cells = config.landing / "cells.csv"
    cells.write_text(cells.read_text().replace(f",{REACH_2},", ",0,"))
    with pytest.raises(InputContractError, match="cell 'C2': range_m must be > 0"):
        run_spatial(spark, config)
    assert not config.lakehouse.exists()


def test_a_zone_that_repairs_to_nothing_is_rejected(spark: SparkSession, tmp_path: Path) -> None:
    flat = {"type": "Polygon", "coordinates": [[[10.0, 48.0], [10.001, 48.0], [10.002, 48.0], [10.0, 48.0]]]}
    config = make_landing(tmp_path, zones=[*_zones()[:1], _feature(flat, zone_id="F", name="f", category="mall")])
    with pytest.raises(InputContractError, match=r"zone_id 'F' has an invalid geometry .* leaves no polygon"):
        run_spatial(spark, config)
    assert not config.lakehouse.exists()


# ---- through the CLI: GeoJSON structure is checked before Spark starts; one line, exit 3, nothing written ----

_A = _square(0, 0, 10)
_LINE = {"type": "LineString", "coordinates": [[10, 48], [11, 48]]}
BAD_ZONES = {
    "duplicate id": (
        [_feature(_A, zone_id="Z1", name="a", category="mall"), _feature(_A, zone_id="Z1", name="b", category="mall")],
        ["feature #1 (zone_id 'Z1')", "repeats feature #0"],
    ),
    "line": (
        [_feature(_LINE, zone_id="Z1", name="a", category="mall")],
        ["feature #0 (zone_id 'Z1')", "LineString", "Polygon or MultiPolygon"],
    ),
    "missing name": (
        [_feature(_A, zone_id="Z1", category="mall")],
        ["feature #0 (zone_id 'Z1')", "no property 'name'"],
    ),
    "empty polygon": (
        [_feature({"type": "MultiPolygon", "coordinates": []}, zone_id="Z9", name="a", category="mall")],
        ["feature #0 (zone_id 'Z9')", "empty MultiPolygon"],
    ),
}  # fmt: skip


@pytest.mark.parametrize("case", sorted(BAD_ZONES))
def test_cli_rejects_bad_zones_with_one_line_and_exit_3(tmp_path: Path, case: str) -> None:
    features, needles = BAD_ZONES[case]
    config = make_landing(tmp_path, zones=features)
    conf = tmp_path / "conf.yaml"
    conf.write_text(yaml.safe_dump({"landing": str(config.landing), "lakehouse": str(config.lakehouse)}))
    proc = subprocess.run(
        [sys.executable, "-m", "footfall.cli", "spatial", "--config", str(conf)],
        capture_output=True,
        text=True,
        check=False,
        env=dict(os.environ),
        timeout=120,
    )
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 3, proc.stderr
    assert len(lines) == 1 and lines[0].startswith("footfall: zones.geojson: "), proc.stderr
    for needle in needles:
        assert needle in lines[0]
    assert "Traceback" not in proc.stderr + proc.stdout
    assert not config.lakehouse.exists()
