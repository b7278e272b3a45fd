"""Posterior homes on hand-made cells with known answers (mobility/home_posterior.py, docs/mobility.md "Homes").

Four tiles in a row: tiles 0 and 1 lie in district D1, tiles 2 and 3 in D2. Cell A serves tiles 0-2 with
0.9, 0.6, 0.3; cell B serves tiles 1-3 with 0.4, 0.7, 1.0; cell C serves tiles 1 and 2 with 0.5 each.
"""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pandas as pd
from pyspark.sql import SparkSession
from pyspark.testing import assertDataFrameEqual

from footfall import schemas as S
from footfall.config import CoverageConfig
from footfall.mobility.home_posterior import (
    LOG_FLOOR,
    agg_posterior_night_votes,
    build_home_coverage,
    district_masses,
    event_weights,
    night_vote,
    nights_votes,
    nights_votes_reference,
)
from footfall.spatial.coverage import home_coverage_tables
from footfall.spatial.footprints import X_M, Y_M
from footfall.spatial.geojson import GEOM

COVERAGE = pd.DataFrame(
    [
        ("A", 0, 0.9),
        ("A", 1, 0.6),
        ("A", 2, 0.3),
        ("B", 1, 0.4),
        ("B", 2, 0.7),
        ("B", 3, 1.0),
        ("C", 1, 0.5),
        ("C", 2, 0.5),
    ],
    columns=[S.CELL_ID, S.TILE_ID, S.P_SERVE],
)
TILES = pd.DataFrame(
    [(0, "D1", 1.0), (1, "D1", 1.0), (2, "D2", 1.0), (3, "D2", 1.0)], columns=[S.TILE_ID, S.DISTRICT_ID, S.SHARE]
)
NO_SHARES = pd.DataFrame({S.DISTRICT_ID: [], S.SUBSCRIBERS: []})
HOUR = 3600


def _uniform():  # type: ignore[no-untyped-def]
    return build_home_coverage(COVERAGE, TILES, NO_SHARES)


def test_one_event_puts_the_mass_where_its_cell_serves() -> None:
    """Uniform prior: the posterior is P(A | tile) normalised, 0.9 + 0.6 of 1.8 in D1."""
    masses = district_masses(_uniform(), np.array(["A"]), np.array([1.0]))
    assert masses is not None
    assert np.allclose(masses, [1.5 / 1.8, 0.3 / 1.8])


def test_the_prior_is_the_subscriber_density_of_each_district() -> None:
    """C cannot tell tile 1 from tile 2; D2 holds three times the subscribers on the same area, so 3/4 of the mass."""
    shares = pd.DataFrame({S.DISTRICT_ID: ["D1", "D2"], S.SUBSCRIBERS: [100, 300]})
    masses = district_masses(build_home_coverage(COVERAGE, TILES, shares), np.array(["C"]), np.array([1.0]))
    assert masses is not None
    assert np.allclose(masses, [0.25, 0.75])
    uniform = district_masses(_uniform(), np.array(["C"]), np.array([1.0]))
    assert uniform is not None and np.allclose(uniform, [0.5, 0.5])


def test_a_tile_on_a_border_shares_its_mass() -> None:
    tiles = pd.DataFrame([(0, "D1", 0.25), (0, "D2", 0.75)], columns=[S.TILE_ID, S.DISTRICT_ID, S.SHARE])
    only = pd.DataFrame([("A", 0, 0.9)], columns=[S.CELL_ID, S.TILE_ID, S.P_SERVE])
    masses = district_masses(build_home_coverage(only, tiles, NO_SHARES), np.array(["A"]), np.array([1.0]))
    assert masses is not None and np.allclose(masses, [0.25, 0.75])


def test_events_weigh_by_the_time_they_stand_for() -> None:
    """Half the gap before plus half the gap after, each capped at an hour; the ends count a whole cap."""
    seconds = np.array([0, 300, 600, 4 * HOUR])
    assert np.allclose(event_weights(seconds, cap_s=HOUR), [(3600 + 300) / 7200, 600 / 7200, (300 + 3600) / 7200, 1.0])


def test_an_evening_out_does_not_outvote_the_night_at_home() -> None:
    """Six events in 25 minutes on B (out, towards tile 3), then three on A over the night (home, tile 0 or 1).

    By time, A stands for 3 hours and B for 1.42: the night is in D1. Counted by events, B's six outvote A's three
    and the night would land in D2 (the second assertion shows it, so the first is not true by accident).
    """
    start = dt.datetime(2026, 3, 7, 20, 0).timestamp()
    out = [start + 300 * i for i in range(6)]
    home = [start + 3 * HOUR, start + 7 * HOUR, start + 11 * HOUR]
    cells = np.array(["B"] * 6 + ["A"] * 3)
    seconds = np.array(out + home, dtype=np.int64)
    assert night_vote(_uniform(), cells, seconds, event_cap_s=HOUR) == "D1"
    counted = district_masses(_uniform(), cells, np.ones(len(cells)))
    assert counted is not None and counted[1] > counted[0]


def test_the_masses_follow_the_formula() -> None:
    """Two events, on A (weight 1) and B (weight 0.5): log post(tile) = sum of w * (log p - log floor)."""
    masses = district_masses(_uniform(), np.array(["A", "B"]), np.array([1.0, 0.5]))
    score = {
        0: math.log(0.9) - LOG_FLOOR,
        1: (math.log(0.6) - LOG_FLOOR) + 0.5 * (math.log(0.4) - LOG_FLOOR),
        2: (math.log(0.3) - LOG_FLOOR) + 0.5 * (math.log(0.7) - LOG_FLOOR),
        3: 0.5 * (math.log(1.0) - LOG_FLOOR),
    }
    top = max(score.values())
    post = {t: math.exp(s - top) for t, s in score.items()}
    total = sum(post.values())
    assert masses is not None
    assert np.allclose(masses, [(post[0] + post[1]) / total, (post[2] + post[3]) / total])


def test_a_night_on_unknown_cells_casts_no_vote() -> None:
    assert night_vote(_uniform(), np.array(["X", "Y"]), np.array([0, 60]), event_cap_s=HOUR) is None


def test_a_bucket_of_device_nights_gives_each_its_own_vote() -> None:
    """nights_votes runs many device-nights in one call (a bucket): each votes as night_vote would alone, and a
    night on unknown cells casts none."""
    n1, n2 = dt.date(2026, 3, 6), dt.date(2026, 3, 7)
    t0 = pd.Timestamp("2026-03-06 22:00:00")
    nights = [
        ("d1", n1, ["A", "A"]),  # D1
        ("d1", n2, ["B", "B"]),  # D2: the same device's next night
        ("d2", n1, ["X"]),  # no known cell: no vote
        ("d3", n1, ["B", "A", "B"]),  # D2
    ]
    rows = [
        (pid, night, t0 + pd.Timedelta(days=(night - n1).days, minutes=10 * i), cell)
        for pid, night, cells in nights
        for i, cell in enumerate(cells)
    ]
    events = pd.DataFrame(rows, columns=[S.PSEUDO_ID, "night", S.EVENT_TS, S.CELL_ID])
    alone = {
        (pid, night): night_vote(
            _uniform(),
            np.array(cells),
            np.array([600 * i for i in range(len(cells))], dtype=np.int64),
            event_cap_s=HOUR,
        )
        for pid, night, cells in nights
    }
    got = nights_votes(events, _uniform(), event_cap_s=HOUR)
    assert list(got.itertuples(index=False, name=None)) == [
        (pid, night, vote) for (pid, night), vote in alone.items() if vote is not None
    ]
    assert [v for v in alone.values()] == ["D1", "D2", None, "D2"]


def test_the_compiled_votes_are_the_models_on_a_random_city() -> None:
    """home_kernel.py against night_vote, night by night: 60 cells over 500 tiles in 12 districts (border tiles
    shared), market shares, 400 device-nights of 1-40 events, some on cells the model does not know."""
    rng = np.random.default_rng(7)
    cov_rows = [
        (f"c{c}", int(t), float(rng.uniform(0.01, 1.0)))
        for c in range(60)
        for t in rng.choice(500, size=int(rng.integers(5, 80)), replace=False)
    ]
    tile_rows = []
    for t in range(500):
        d = t // 42
        if t % 42 == 0 and d > 0:  # a border tile: half in each district
            tile_rows += [(t, f"D{d - 1:02d}", 0.5), (t, f"D{d:02d}", 0.5)]
        elif t % 97:  # some tiles in no district
            tile_rows.append((t, f"D{d:02d}", 1.0))
    shares = pd.DataFrame({S.DISTRICT_ID: [f"D{d:02d}" for d in range(12)], S.SUBSCRIBERS: rng.integers(1, 900, 12)})
    cov = build_home_coverage(
        pd.DataFrame(cov_rows, columns=[S.CELL_ID, S.TILE_ID, S.P_SERVE]),
        pd.DataFrame(tile_rows, columns=[S.TILE_ID, S.DISTRICT_ID, S.SHARE]),
        shares,
    )
    rows = []
    t0 = pd.Timestamp("2026-03-06 22:00:00")
    for n in range(400):
        times = np.sort(rng.integers(0, 8 * HOUR, int(rng.integers(1, 41))))
        for s in times:
            cell = f"c{rng.integers(0, 66)}"  # c60-c65 are unknown
            rows.append((f"d{n // 3:03d}", dt.date(2026, 3, 6 + n % 3), t0 + pd.Timedelta(seconds=int(s)), cell))
    events = (
        pd.DataFrame(rows, columns=[S.PSEUDO_ID, "night", S.EVENT_TS, S.CELL_ID])
        .sort_values([S.PSEUDO_ID, "night", S.EVENT_TS, S.CELL_ID], kind="stable")
        .reset_index(drop=True)
    )
    got = nights_votes(events, cov, event_cap_s=HOUR)
    want = nights_votes_reference(events, cov, event_cap_s=HOUR)
    assert len(want) > 300  # most nights vote; a few only saw unknown cells
    pd.testing.assert_frame_equal(got.reset_index(drop=True), want.reset_index(drop=True))


def test_a_cell_whose_events_weigh_nothing_adds_no_tiles_to_the_compiled_vote() -> None:
    """An event between two at the same second stands for no time (weight 0): night_vote leaves its cell out of the
    posterior's tiles (np.flatnonzero of the summed weights), so the compiled loop must too. Y serves 400 tiles of
    D2; counted with prior-only scores they would outweigh A's two tiles in D1."""
    cov = build_home_coverage(
        pd.DataFrame([("A", 0, 0.01), ("A", 1, 0.01)] + [("Y", t, 0.5) for t in range(2, 402)],
                     columns=[S.CELL_ID, S.TILE_ID, S.P_SERVE]),
        pd.DataFrame([(0, "D1", 1.0), (1, "D1", 1.0)] + [(t, "D2", 1.0) for t in range(2, 402)],
                     columns=[S.TILE_ID, S.DISTRICT_ID, S.SHARE]),
        NO_SHARES,
    )  # fmt: skip
    t0 = pd.Timestamp("2026-03-06 23:00:00")
    cells = ["A", "Y", "Y", "A"]  # the two Y events share the second of their neighbours: weight 0 each
    events = pd.DataFrame(
        {S.PSEUDO_ID: "d", "night": dt.date(2026, 3, 6), S.EVENT_TS: [t0, t0, t0, t0], S.CELL_ID: cells}
    )
    want = nights_votes_reference(events, cov, event_cap_s=HOUR)
    assert list(want[S.DISTRICT_ID]) == ["D1"]
    pd.testing.assert_frame_equal(nights_votes(events, cov, event_cap_s=HOUR), want)


def test_spark_votes_per_local_night(spark: SparkSession) -> None:
    """Nights run 20:00-08:00 local (Europe/Berlin, UTC+1 in March) and are named by the date they start on; a
    midday event votes for nothing, and a device seen only on unknown cells gets no row."""
    utc = dt.datetime
    events = spark.createDataFrame(
        [
            ("p1", utc(2026, 3, 6, 20, 30), "A"),  # 21:30 local, night of 03-06
            ("p1", utc(2026, 3, 7, 5, 0), "A"),  # 06:00 local, still the night of 03-06
            ("p1", utc(2026, 3, 7, 11, 0), "B"),  # 12:00 local: not a night
            ("p1", utc(2026, 3, 7, 22, 0), "B"),  # 23:00 local, night of 03-07
            ("p2", utc(2026, 3, 7, 22, 0), "X"),  # unknown cell
        ],
        f"{S.PSEUDO_ID} STRING, {S.EVENT_TS} TIMESTAMP, {S.CELL_ID} STRING",
    )
    votes = agg_posterior_night_votes(
        events, coverage=_uniform(), tz="Europe/Berlin", night_start_hour=20, night_end_hour=8, event_cap_s=HOUR
    )
    expected = spark.createDataFrame(
        [("p1", dt.date(2026, 3, 6), "D1"), ("p1", dt.date(2026, 3, 7), "D2")], votes.schema
    )
    assertDataFrameEqual(votes, expected)


def test_the_home_grid_covers_the_districts_with_their_shares(spark: SparkSession) -> None:
    """Two districts of 200 x 100 m side by side: four 100 m tiles, two in each; one omni cell in the middle serves
    all four, and a tile's probabilities add up to at most 1."""
    from sedona.spark.sql import st_constructors as STC

    districts = spark.createDataFrame(
        [
            ("D1", "POLYGON ((0 0, 200 0, 200 100, 0 100, 0 0))"),
            ("D2", "POLYGON ((200 0, 400 0, 400 100, 200 100, 200 0))"),
        ],
        f"{S.DISTRICT_ID} STRING, wkt STRING",
    ).select(S.DISTRICT_ID, STC.ST_GeomFromWKT("wkt").alias(GEOM))
    zones = spark.createDataFrame([], f"{S.ZONE_ID} STRING, {S.CATEGORY} STRING, wkt STRING").select(
        S.ZONE_ID, S.CATEGORY, STC.ST_GeomFromWKT("wkt").alias(GEOM)
    )
    cells = spark.createDataFrame(
        [("O", "S1", 200.0, 50.0, None, 360.0, 1000.0, "LTE", dt.datetime(2026, 1, 1))],
        f"{S.CELL_ID} STRING, {S.SITE_ID} STRING, {X_M} DOUBLE, {Y_M} DOUBLE, {S.AZIMUTH_DEG} DOUBLE,"
        f" {S.BEAMWIDTH_DEG} DOUBLE, {S.RANGE_M} DOUBLE, {S.TECHNOLOGY} STRING, {S.VALID_FROM} TIMESTAMP",
    )
    coverage, shares = home_coverage_tables(
        spark, cells, zones_df=zones, districts_df=districts, settings=CoverageConfig(home_tile_m=100.0)
    )
    assertDataFrameEqual(
        shares,
        [(0, "D1", 1.0), (1, "D1", 1.0), (2, "D2", 1.0), (3, "D2", 1.0)],
        checkRowOrder=False,  # type: ignore[arg-type]
    )
    assertDataFrameEqual(coverage, [("O", t, 1.0) for t in range(4)], checkRowOrder=False)  # type: ignore[arg-type]
