"""Generator pieces checked against hand-computed answers, without Spark."""

from __future__ import annotations

import datetime as dt
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import shapely

from footfall.synth.layout import CITY_RADIUS_M, Zone, build_city, check_zones_disjoint
from footfall.synth.movement import NEAREST, DayBuilder, Plan, SimContext, positions, serving_cells, zone_stays
from footfall.synth.options import GenerateOptions
from footfall.synth.people import msisdn_of
from footfall.synth.truth import hour_slots


def _square(x0: float, y0: float, size: float) -> shapely.Polygon:
    return shapely.box(x0, y0, x0 + size, y0 + size)


def _ctx(zones: list[Zone], cells: pd.DataFrame | None = None) -> SimContext:
    from footfall.synth.geo import LocalFrame
    from footfall.synth.layout import City

    if cells is None:
        cells = pd.DataFrame(
            {
                "cell_id": ["A"],
                "site_id": ["S"],
                "x": [0.0],
                "y": [0.0],
                "azimuth_deg": [np.nan],
                "beamwidth_deg": [360.0],
                "range_m": [1000.0],
                "technology": ["LTE"],
                "power_db": [60.0],
                "indoor_zone": [-1],
                "valid_from": [pd.Timestamp("2020-01-01", tz="UTC")],
                "valid_to": [pd.NaT],
            }
        )
        cells["valid_to"] = pd.to_datetime(cells["valid_to"], utc=True)
    city = City(LocalFrame(10.0, 48.0), shapely.box(-5000, -5000, 5000, 5000), (), tuple(zones), cells)
    return SimContext.of(city)


def test_leg_through_a_zone_gives_entry_and_exit_times_from_speed() -> None:
    # Walking east along y=50 at 1 m/s from x=-100 to x=300 crosses the square [0,100]^2 from t=100 to t=200.
    ctx = _ctx([Zone("Z1", "sq", "market_square", _square(0, 0, 100), 1.0)])
    plan = Plan()
    plan.add(0.0, 400.0, (-100.0, 50.0), (300.0, 50.0))
    stays = zone_stays(ctx, [plan])
    assert stays[["zone", "t_in", "t_out"]].round(6).values.tolist() == [[0, 100.0, 200.0]]


def test_walk_in_stand_walk_out_is_one_stay() -> None:
    ctx = _ctx([Zone("Z1", "sq", "market_square", _square(0, 0, 100), 1.0)])
    b = DayBuilder((-50.0, 50.0), 86_400)
    b.go((50.0, 50.0), 1.0)  # enters at t=50, arrives at t=100
    b.stay_until(700.0)
    b.go((50.0, 200.0), 1.0)  # leaves through y=100 at t=750
    b.go((-500.0, 200.0), 1.0)
    stays = zone_stays(ctx, [b.finish()])
    assert stays[["t_in", "t_out"]].round(6).values.tolist() == [[50.0, 750.0]]


def test_positions_interpolate_along_legs_and_hold_at_stops() -> None:
    plan = Plan()
    plan.add(0.0, 100.0, (0.0, 0.0), (0.0, 0.0))
    plan.add(100.0, 200.0, (0.0, 0.0), (100.0, 0.0))
    xy = positions(plan, np.array([50.0, 150.0, 199.0]))
    assert xy.tolist() == [[0.0, 0.0], [50.0, 0.0], [99.0, 0.0]]


def _sector_cells() -> pd.DataFrame:
    # One site at the origin with sectors facing north (N) and south (S), plus a cell switched off in 2025.
    t0 = pd.Timestamp("2020-01-01", tz="UTC")
    cells = pd.DataFrame(
        {
            "cell_id": ["N", "S", "OFF"],
            "site_id": ["X", "X", "Y"],
            "x": [0.0, 0.0, 0.0],
            "y": [0.0, 0.0, 300.0],
            "azimuth_deg": [0.0, 180.0, np.nan],
            "beamwidth_deg": [65.0, 65.0, 360.0],
            "range_m": [2000.0] * 3,
            "technology": ["LTE"] * 3,
            "power_db": [60.0] * 3,
            "indoor_zone": [-1] * 3,
            "valid_from": [t0] * 3,
            "valid_to": [pd.NaT, pd.NaT, pd.Timestamp("2025-01-01", tz="UTC")],
        }
    )
    cells["valid_to"] = pd.to_datetime(cells["valid_to"], utc=True)
    return cells


def test_serving_cell_is_the_sector_facing_the_phone_and_never_an_inactive_one() -> None:
    ctx = _ctx([Zone("Z1", "sq", "market_square", _square(5000, 5000, 10), 1.0)], _sector_cells())
    xy = np.array([[0.0, 500.0], [0.0, -500.0], [0.0, 300.0]])
    when = np.full(3, pd.Timestamp("2026-03-02", tz="UTC").timestamp())
    chosen = serving_cells(ctx, np.zeros((3, NEAREST)), xy, when)
    # The third phone stands on the switched-off cell: the north sector serves it instead.
    assert ctx.cell_ids[chosen].tolist() == ["N", "S", "N"]
    before = np.full(3, pd.Timestamp("2024-06-01", tz="UTC").timestamp())
    assert ctx.cell_ids[serving_cells(ctx, np.zeros((3, NEAREST)), xy, before)][2] == "OFF"


@pytest.mark.parametrize(
    ("day", "hours"),
    [
        (dt.date(2026, 3, 29), [0, 1, *range(3, 24)]),  # spring: 02:00 does not exist
        (dt.date(2026, 10, 25), [0, 1, 2, 2, *range(3, 24)]),  # autumn: 02:00 comes twice
        (dt.date(2026, 3, 2), list(range(24))),
    ],
)
def test_local_days_have_23_24_or_25_hours(day: dt.date, hours: list[int]) -> None:
    slots = hour_slots([day], "Europe/Berlin")
    assert [s[1] for s in slots] == hours
    assert all((end - start) == dt.timedelta(hours=1) for _, _, start, end in slots)
    assert len({start for _, _, start, _ in slots}) == len(hours)
    assert slots[-1][3] - slots[0][2] == dt.timedelta(hours=len(hours))


def test_msisdns_are_distinct_and_depend_on_the_seed() -> None:
    ids = np.arange(200_000)
    a = msisdn_of(ids, seed=1)
    assert len(set(a.tolist())) == len(ids)
    assert all(len(m) == 12 and m.startswith("4917") for m in a[:100])
    assert not set(a[:1000].tolist()) & set(msisdn_of(ids[:1000], seed=2).tolist())


def test_fictional_city_is_consistent() -> None:
    city = build_city(GenerateOptions(subscribers=5000, days=3, seed=3))
    check_zones_disjoint(city.zones)
    area = sum(d.polygon.area for d in city.districts)
    assert math.isclose(area, city.boundary.area, rel_tol=1e-6)  # districts tile the city
    assert city.boundary.area == pytest.approx(math.pi * CITY_RADIUS_M**2, rel=0.01)
    assert {z.category for z in city.zones} == {"shopping_street", "mall", "store_front", "market_square"}
    assert city.cells.cell_id.is_unique
    # sites thin out: the inner 2 km hold more sites per km² than the ring beyond 4 km
    sites = city.cells.drop_duplicates("site_id")
    r = np.hypot(sites.x, sites.y)
    inner = (r < 2000).sum() / (math.pi * 2**2)
    outer = (r > 4000).sum() / (math.pi * (6**2 - 4**2))
    assert inner > 2.5 * outer
    # most macro sites have three sectors; malls have indoor small cells
    per_site = city.cells[city.cells.indoor_zone == -1].groupby("site_id").size()
    assert (per_site == 3).mean() > 0.75
    assert (city.cells.technology == "LTE-small").sum() >= 6
    start = pd.Timestamp("2026-03-02", tz="UTC")
    assert (city.cells.valid_to.notna()).any() and (city.cells.valid_from > start).any()
    # the market share holds for the number of subscribers asked for
    expected = sum(d.residents * d.market_share for d in city.districts)
    assert expected == pytest.approx(5000, rel=0.01)


def test_real_layout_reads_opencellid_and_districts_in_two_parts() -> None:
    from footfall.jars import repo_root

    munich = repo_root().parent / "shared" / "data" / "munich"
    options = GenerateOptions(
        cells_file=munich / "opencellid_munich_telekom.csv", districts_file=munich / "munich_bezirksteile_110.geojson"
    )
    city = build_city(options)
    raw = pd.read_csv(Path(options.cells_file))
    macro = city.cells[city.cells.technology != "LTE-small"]
    assert len(macro) == raw["cell"].nunique()
    assert macro.range_m.between(300, 2500).all() and macro.azimuth_deg.isna().all()
    # 110 features, two of the 108 Bezirksteile come in two parts
    assert len(city.districts) == 108
    assert len({d.district_id for d in city.districts}) == 108
    lon, lat = city.frame.lon0, city.frame.lat0
    assert 11.4 < lon < 11.7 and 48.05 < lat < 48.25


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--mode", "gps"], "--mode must be xdr or cdr"),
        (["--days", "0"], "--days must be between 1 and 366"),
        (["--bad-row-rate", "0.9"], "--bad-row-rate must be in [0, 0.5)"),
        (["--cells", "x.csv"], "a real layout needs both --cells and --districts"),
    ],
)
def test_generate_cli_rejects_bad_options_in_one_line(tmp_path: Path, args: list[str], message: str) -> None:
    import os

    out = tmp_path / "landing"
    proc = subprocess.run(
        [sys.executable, "-m", "footfall.cli", "generate", "--out", str(out), *args],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "JAVA_HOME": str(tmp_path / "no-java")},  # a bad option is refused before any JVM starts
    )
    assert proc.returncode == 2
    assert message in proc.stderr.replace("\n", "")
    assert "Traceback" not in proc.stderr
    assert not out.exists()


def test_true_arrival_direction_is_where_the_person_was_ten_minutes_before() -> None:
    from footfall.synth.movement import true_arrival_directions

    ctx = _ctx([Zone("Z1", "sq", "market_square", _square(-50, -50, 100), 1.0)])
    from_east = DayBuilder((1_000.0, 0.0), 86_400)  # 1 km east, walking west at 1 m/s from t=0
    from_east.stay_until(1_000.0)
    from_east.go((0.0, 0.0), 1.0)  # enters at x=50, t=1950; ten minutes earlier it was at x=650: east
    near = DayBuilder((0.0, 140.0), 86_400)  # waits 140 m north of the centroid, then walks in slowly
    near.stay_until(1_000.0)
    near.go((0.0, 0.0), 0.2)  # enters at t=1450; ten minutes earlier it still waited 140 m away: unknown
    early = DayBuilder((0.0, 300.0), 86_400)
    early.go((0.0, 0.0), 1.0)  # enters at t=250, before ten minutes of the day have passed: unknown
    plans = [from_east.finish(), near.finish(), early.finish()]
    stays = zone_stays(ctx, plans)
    assert true_arrival_directions(ctx, plans, stays).tolist() == ["E", "unknown", "unknown"]
