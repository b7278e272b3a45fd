"""The bad-input catalogue (docs/ingest.md, "Bad inputs"): the rows no other test file covers.

Each kind either stops the command with one line and a documented exit code before anything is written, or is
accepted with a documented meaning (a quarantine reason, a repair, an ignored column); the docs table names the
test of every row, here or elsewhere.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
import yaml
from pyspark.sql import SparkSession

from footfall import schemas as S
from footfall.config import IngestConfig
from footfall.ingest import InputContractError, run_ingest
from footfall.ingest.contract import check_events_contract, read_subscribers
from footfall.lakehouse import read_table, silver_path
from footfall.spatial import run_spatial
from footfall.spatial.geojson import ZONES, parse_features
from footfall.spatial.job import check_spatial_inputs, read_areas
from footfall.spatial.weights import select_areas
from test_ingest_fixtures import (
    ADULT_F,
    DAY,
    EVENTS,
    SUBSCRIBERS,
    make_landing,
    master_key,
    write_events,
)
from test_spatial_job import _feature, _lonlat, _square, _zones
from test_spatial_job import make_landing as make_spatial_landing

ROWS = [row for row, _ in EVENTS]


# ---- events ----


def test_an_extra_events_column_is_ignored(spark: SparkSession, tmp_path: Path) -> None:
    """An export with one more column (an IMEI, say) is read as the contract's four; the extra goes nowhere."""
    config = make_landing(tmp_path)
    names = ["msisdn", "event_ts", "cell_id", "event_type"]
    columns = {n: pa.array([r[i] for r in ROWS], pa.string()) for i, n in enumerate(names)}
    write_events(config.landing, DAY, ROWS, table=pa.table({**columns, "imei": pa.array(["x"] * len(ROWS))}))
    run_ingest(spark, config, dates=[DAY], key=master_key())
    events = read_table(spark, silver_path(config.lakehouse, S.SILVER_EVENTS_TABLE))
    assert events.columns == S.SILVER_EVENTS.names
    assert events.count() == sum(1 for _, reason in EVENTS if reason is None)  # every good row, as without it


def test_a_truncated_parquet_file_stops_with_its_name(tmp_path: Path) -> None:
    config = make_landing(tmp_path)
    path = write_events(config.landing, DAY, ROWS)
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])  # a transfer cut off halfway
    with pytest.raises(InputContractError, match="not a readable parquet file") as info:
        check_events_contract(config.landing, [DAY])
    assert str(path) in str(info.value)


def test_an_empty_partition_file_reconciles_to_zero_rows(spark: SparkSession, tmp_path: Path) -> None:
    config = make_landing(tmp_path, events={DAY: []})
    report = run_ingest(spark, config, dates=[DAY], key=master_key())
    (audit,) = report.audit
    assert (audit[S.ROWS_READ], audit[S.ROWS_SILVER], audit[S.ROWS_QUARANTINED]) == (0, 0, 0)
    assert read_table(spark, silver_path(config.lakehouse, S.SILVER_EVENTS_TABLE)).count() == 0


def test_a_device_above_the_daily_event_limit_is_quarantined(spark: SparkSession, tmp_path: Path) -> None:
    """At a limit of 4 events a day: a device with 5 (limit + 1) is quarantined whole as implausible_rate, devices
    with 4 (the limit) and 3 (limit - 1) are not. The counts reconcile."""
    limit = 4
    devices = {ADULT_F: limit + 1, "4915550000002": limit, "4915550000006": limit - 1}
    events = [(m, f"2026-03-02T08:{i:02d}:00Z", "C1", "data") for m, n in devices.items() for i in range(n)]
    config = make_landing(tmp_path, events={DAY: events})
    config = config.model_copy(update={"ingest": IngestConfig(max_events_per_device_day=limit)})
    (audit,) = run_ingest(spark, config, dates=[DAY], key=master_key()).audit
    total, over = sum(devices.values()), limit + 1
    assert audit[S.ROWS_BY_REASON][S.REASON_IMPLAUSIBLE_RATE] == over
    assert (audit[S.ROWS_READ], audit[S.ROWS_SILVER], audit[S.ROWS_QUARANTINED]) == (total, total - over, over)
    quarantine = read_table(spark, silver_path(config.lakehouse, S.SILVER_QUARANTINE_TABLE))
    assert quarantine.where(quarantine[S.REASON] == S.REASON_IMPLAUSIBLE_RATE).count() == over


# ---- cells.csv ----


def _cells_line(config: Any, old: str, new: str) -> None:
    cells = config.landing / "cells.csv"
    assert old in cells.read_text()
    cells.write_text(cells.read_text().replace(old, new))


def test_an_azimuth_outside_0_to_360_stops_spatial(spark: SparkSession, tmp_path: Path) -> None:
    config = make_spatial_landing(tmp_path)
    _cells_line(config, ",90,180,", ",400,180,")
    with pytest.raises(InputContractError, match=r"cell 'C1': azimuth_deg must be in \[0, 360\)"):
        run_spatial(spark, config)
    assert not config.lakehouse.exists()


def test_a_cell_id_with_two_positions_at_once_stops_spatial(spark: SparkSession, tmp_path: Path) -> None:
    config = make_spatial_landing(tmp_path)
    cells = config.landing / "cells.csv"
    first = cells.read_text().splitlines()[1].split(",")
    moved = [*first[:2], str(float(first[2]) + 0.01), *first[3:]]  # C1 again, 1 km north, same validity
    cells.write_text(cells.read_text() + ",".join(moved) + "\n")
    with pytest.raises(InputContractError, match="cell 'C1' has 2 positions in overlapping validity periods"):
        run_spatial(spark, config)
    assert not config.lakehouse.exists()


def test_swapped_lat_and_lon_stop_spatial_with_a_hint(spark: SparkSession, tmp_path: Path) -> None:
    config = make_spatial_landing(tmp_path)
    cells = config.landing / "cells.csv"
    lines = cells.read_text().splitlines()
    swapped = [lines[0]]
    for line in lines[1:]:
        v = line.split(",")
        swapped.append(",".join([*v[:2], v[3], v[2], *v[4:]]))
    cells.write_text("\n".join(swapped) + "\n")
    with pytest.raises(InputContractError, match="lat and lon look swapped") as info:
        run_spatial(spark, config)
    assert "0 of 2 cells" in str(info.value) and "2 of 2" in str(info.value)
    assert not config.lakehouse.exists()


def test_a_cell_without_a_position_stops_with_the_column(spark: SparkSession, tmp_path: Path) -> None:
    config = make_spatial_landing(tmp_path)
    c1 = _lonlat(0, 0)
    _cells_line(config, f"C1,S1,{c1[1]},", "C1,S1,,")
    with pytest.raises(InputContractError, match="column 'lat' has 1 empty values"):
        run_spatial(spark, config)


# ---- zones.geojson ----


def test_a_zone_with_a_hole_and_a_multipolygon_zone_are_measured_as_drawn(spark: SparkSession, tmp_path: Path) -> None:
    outer, hole = _square(0, 0, 100)["coordinates"][0], _square(0, 0, 50)["coordinates"][0]
    holed = {"type": "Polygon", "coordinates": [outer, hole[::-1]]}
    parts = [_square(2000, 0, 40)["coordinates"], _square(2100, 0, 40)["coordinates"]]
    two = {"type": "MultiPolygon", "coordinates": parts}
    zones = [
        _feature(holed, zone_id="H", name="ring", category="mall"),
        _feature(two, zone_id="M", name="two", category="market_square"),
    ]
    config = make_spatial_landing(tmp_path, zones=zones)
    # silver/zones as the spatial stage builds it from the landing file: its read and its select, without the rest of
    # the build or a write (a whole spatial run, 25 s on 2 cores, adds nothing to a zone's area)
    crs = config.spatial.metric_crs
    zones_df, _ = read_areas(spark, check_spatial_inputs(config.landing, config.spatial).zones, ZONES, crs)
    area = {r[S.ZONE_ID]: r[S.AREA_M2] for r in select_areas(zones_df, schema=S.SILVER_ZONES, metric_crs=crs).collect()}
    assert area["H"] == pytest.approx(100 * 100 - 50 * 50, rel=0.01)  # the hole is not part of the zone
    assert area["M"] == pytest.approx(2 * 40 * 40, rel=0.01)


@pytest.mark.parametrize(
    ("collection", "message"),
    [
        (
            {"type": "FeatureCollection", "crs": {"type": "name", "properties": {"name": "EPSG:25832"}}},
            "declares CRS 'EPSG:25832'; footfall reads GeoJSON in WGS84 (RFC 7946)",
        ),
        ({"type": "FeatureCollection", "metres": True}, "has a position outside WGS84 bounds"),
        ({"type": "FeatureCollection", "empty": True}, "the FeatureCollection has no features"),
    ],
)
def test_zones_not_in_wgs84_or_empty_are_refused(collection: dict[str, Any], message: str) -> None:
    features = [_feature(_square(0, 0, 100), zone_id="Z1", name="a", category="mall")]
    if collection.pop("metres", False):  # projected coordinates given as if they were degrees
        ring = [[691_000.0, 5_334_000.0], [691_100.0, 5_334_000.0], [691_100.0, 5_334_100.0], [691_000.0, 5_334_000.0]]
        features = [_feature({"type": "Polygon", "coordinates": [ring]}, zone_id="Z1", name="a", category="mall")]
    if collection.pop("empty", False):
        features = []
    with pytest.raises(InputContractError, match=re.escape(message)):
        parse_features(json.dumps({**collection, "features": features}), spec=ZONES)


def test_wgs84_named_explicitly_is_accepted() -> None:
    crs = {"type": "name", "properties": {"name": "urn:ogc:def:crs:OGC:1.3:CRS84"}}
    rows = parse_features(json.dumps({"type": "FeatureCollection", "crs": crs, "features": _zones()[:1]}), spec=ZONES)
    assert [r[0] for r in rows] == ["A"]


# ---- subscribers.csv ----


def test_a_non_utf8_byte_stops_with_its_line(spark: SparkSession, tmp_path: Path) -> None:
    config = make_landing(tmp_path)
    path = config.landing / "subscribers.csv"
    lines = path.read_bytes().split(b"\n")
    lines[3] = lines[3].replace(b",D1,", b",D\xe91,")  # Latin-1 in a UTF-8 file
    path.write_bytes(b"\n".join(lines))
    with pytest.raises(InputContractError, match="line 4 is not UTF-8") as info:
        read_subscribers(spark, config.landing)
    assert ADULT_F not in str(info.value)


def test_a_birth_year_in_the_future_stops_with_the_column(spark: SparkSession, tmp_path: Path) -> None:
    future = dt.datetime.now(dt.UTC).year + 1
    config = make_landing(tmp_path, subscribers=[(*SUBSCRIBERS[0][:1], future, *SUBSCRIBERS[0][2:]), *SUBSCRIBERS[1:]])
    with pytest.raises(
        InputContractError, match=rf"column 'birth_year' has 1 values after this year \(e.g. '{future}'\)"
    ):
        read_subscribers(spark, config.landing)


def test_a_repeated_msisdn_with_different_master_data_stops(spark: SparkSession, tmp_path: Path) -> None:
    other = (SUBSCRIBERS[0][0], 1955, "m", "D2", "false", None)  # the same msisdn, another person's data
    config = make_landing(tmp_path, subscribers=[*SUBSCRIBERS, other])
    with pytest.raises(InputContractError, match="column 'msisdn' has 1 repeated values; it must be unique"):
        read_subscribers(spark, config.landing)


# ---- config ----


def test_a_config_whose_landing_folder_does_not_exist_exits_3_with_one_line(tmp_path: Path) -> None:
    conf = tmp_path / "conf.yaml"
    conf.write_text(yaml.safe_dump({"landing": str(tmp_path / "nowhere"), "lakehouse": str(tmp_path / "lake")}))
    env = {**os.environ, "FOOTFALL_PSEUDONYM_KEY": "k" * 32}
    proc = subprocess.run(
        [sys.executable, "-m", "footfall.cli", "run", "--config", str(conf)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 3, proc.stderr
    assert len(lines) == 1 and "nowhere" in lines[0] and "does not exist" in lines[0], proc.stderr
    assert not (tmp_path / "lake").exists()
