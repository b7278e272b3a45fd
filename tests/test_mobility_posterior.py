"""The posterior presence model on hand-made coverage with known answers (docs/mobility.md, "Posterior").

Three tiles in a row: tile 0 is served only by cell A, tile 1 by A and B equally (the two sectors overlap there),
tile 2 only by B. The zone covers tile 1. Every expected value below is worked out by hand from the formula.
"""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from pyspark.sql import SparkSession
from pyspark.sql import functions as F
from pyspark.testing import assertDataFrameEqual

from footfall import schemas as S
from footfall.mobility.posterior import (
    LOG_FLOOR,
    MODEL,
    PresenceModel,
    bucket_presences,
    build_coverage,
    devices_presence,
    with_posterior_presence,
    with_posterior_presences,
    zone_masses,
)
from footfall.mobility.posterior_kernel import NEGLIGIBLE, exp_le0
from footfall.mobility.stays import NEXT_TS, PREV_CELL, PREV_TS, agg_stays, with_device_neighbours

COVERAGE = pd.DataFrame({"cell_id": ["A", "A", "B", "B"], "tile_id": [0, 1, 1, 2], "p_serve": [1.0, 0.5, 0.5, 1.0]})
SHARES = pd.DataFrame({"tile_id": [1], "zone_id": ["Z"], "share": [1.0]})
WINDOW_S = 600.0


def _masses(cells: list[str], seconds: list[int], *, prior: float = 1.0, neighbours: int = 16) -> np.ndarray:
    cov = build_coverage(COVERAGE, SHARES, zone_prior_factor=prior)
    return zone_masses(
        cov, np.array(cells), np.array(seconds, dtype=np.int64), window_s=WINDOW_S, max_neighbours=neighbours
    )[:, 0]


def test_one_event_spreads_over_the_tiles_its_cell_serves() -> None:
    # P(tile | A) is proportional to P(A | tile): 1 on tile 0, 0.5 on tile 1, so 1/3 of the mass is in the zone
    assert _masses(["A"], [0])[0] == pytest.approx(1 / 3)


def test_a_device_alternating_between_two_sectors_is_where_they_overlap() -> None:
    masses = _masses(["A", "B", "A"], [0, 60, 120])
    # The middle event (B) has two neighbours 60 s away, weight 0.9 each: on tile 1 log 0.5 (1 + 1.8); on tile 2
    # log 1 + 1.8 log(floor), since A cannot serve tile 2.
    w = 1 - 60 / WINDOW_S
    on_zone = math.exp(math.log(0.5) * (1 + 2 * w))
    off_zone = math.exp(2 * w * LOG_FLOOR)
    assert masses[1] == pytest.approx(on_zone / (on_zone + off_zone))
    assert masses.min() > 0.99  # the first and last events: one neighbour 60 s away, one 120 s


def test_a_tile_seen_by_only_one_cell_wins_when_the_device_stays_on_that_cell() -> None:
    # Three events on A: tile 0 keeps likelihood 1, tile 1 gets 0.5 ** (1 + w1 + w2) for the middle event.
    masses = _masses(["A", "A", "A"], [0, 60, 120])
    w = 1 - 60 / WINDOW_S
    on_zone = 0.5 ** (1 + 2 * w)
    assert masses[1] == pytest.approx(on_zone / (1 + on_zone))
    assert masses[1] < 1 / 3  # staying on A says the device is more likely where only A serves


def test_neighbours_outside_the_window_or_beyond_the_bound_do_not_count() -> None:
    far = _masses(["A", "B"], [0, int(WINDOW_S) + 1])
    assert far[0] == pytest.approx(1 / 3)
    bounded = _masses(["A", "B", "A"], [0, 60, 120], neighbours=0)
    assert bounded[0] == pytest.approx(1 / 3)


def test_the_neighbour_closest_in_time_is_the_one_that_counts() -> None:
    # The event on A at 100 s has B 100 s before and A 30 s after; with one neighbour allowed, A's counts (w 0.95):
    # tile 0 keeps likelihood 1, tile 1 gets 0.5 ** 1.95. Had B counted, tile 0 would have been all but ruled out.
    masses = _masses(["B", "A", "A"], [0, 100, 130], neighbours=1)
    on_zone = 0.5 ** (1 + (1 - 30 / WINDOW_S))
    assert masses[1] == pytest.approx(on_zone / (1 + on_zone))


def test_a_bucket_of_devices_gives_each_device_its_own_posterior() -> None:
    # Two devices interleaved in time, in one call: d1's lone event on A is 1/3 in the zone, as alone, although d2
    # is on B 30 s later; d2's events are as they would be alone.
    cov = build_coverage(COVERAGE, SHARES, zone_prior_factor=1.0)
    t0 = pd.Timestamp("2026-03-07 10:00:00")
    rows = [("d1", 0, "A"), ("d2", 30, "B"), ("d2", 90, "A"), ("d2", 150, "B")]
    events = pd.DataFrame(
        [(d, t0 + pd.Timedelta(seconds=s), c) for d, s, c in rows], columns=[S.PSEUDO_ID, S.EVENT_TS, S.CELL_ID]
    )
    kwargs = {"device_cols": (S.PSEUDO_ID,), "window_s": WINDOW_S, "max_neighbours": 16, "min_mass": 0.3}
    together = devices_presence(events.sort_values([S.PSEUDO_ID, S.EVENT_TS]).reset_index(drop=True), cov, **kwargs)
    alone = pd.concat(
        [devices_presence(g.reset_index(drop=True), cov, **kwargs) for _, g in events.groupby(S.PSEUDO_ID)]
    )
    pd.testing.assert_frame_equal(together.reset_index(drop=True), alone.reset_index(drop=True))
    assert together.loc[together[S.PSEUDO_ID] == "d1", S.PRESENCE_WEIGHT].tolist() == [pytest.approx(1 / 3)]
    assert (together[S.PSEUDO_ID] == "d2").sum() == 3


def test_the_zone_prior_raises_the_zone_tiles() -> None:
    # prior 4 on tile 1: 4 * 0.5 against 1 * 1 on tile 0
    assert _masses(["A"], [0], prior=4.0)[0] == pytest.approx(2 / 3)


def test_devices_presence_keeps_zone_rows_with_the_neighbours_masses() -> None:
    cov = build_coverage(COVERAGE, SHARES, zone_prior_factor=1.0)
    t0 = pd.Timestamp("2026-03-07 10:00:00")
    events = pd.DataFrame(
        {
            "pseudo_id": ["d"] * 4,
            "event_ts": [t0, t0 + pd.Timedelta(seconds=60), t0 + pd.Timedelta(seconds=120), t0 + pd.Timedelta(hours=2)],
            "cell_id": ["C", "A", "B", "A"],  # C is no cell of the model: no mass anywhere
        }
    )
    out = devices_presence(events, cov, device_cols=(S.PSEUDO_ID,), window_s=WINDOW_S, max_neighbours=16, min_mass=0.3)
    assert list(out["cell_id"]) == ["A", "B", "A"]
    assert out["prev_mass"].iloc[0] == 0.0  # the event on C
    assert out["next_mass"].iloc[0] == pytest.approx(out["presence_weight"].iloc[1])
    assert out["presence_weight"].iloc[2] == pytest.approx(1 / 3)
    assert out["next_mass"].iloc[2] == 0.0  # no event after


def test_spark_posterior_presence_equals_the_numpy_model(spark: SparkSession) -> None:
    cov = build_coverage(COVERAGE, SHARES, zone_prior_factor=1.0)
    t0 = dt.datetime(2026, 3, 7, 10, 0)
    rows = [("d1", t0 + dt.timedelta(seconds=s), c) for s, c in [(0, "A"), (60, "B"), (120, "A")]]
    rows += [("d2", t0 + dt.timedelta(seconds=s), c) for s, c in [(0, "A"), (5000, "C")]]
    rows += [("d3", t0, "C")]  # never on a cell that serves the zone: no row
    events = spark.createDataFrame(rows, f"{S.PSEUDO_ID} STRING, {S.EVENT_TS} TIMESTAMP, {S.CELL_ID} STRING")
    found = with_posterior_presence(
        events, coverage=cov, device_cols=(S.PSEUDO_ID,), window_s=WINDOW_S, max_neighbours=16, min_mass=0.3
    ).persist()
    # each row carries its event's neighbours, as the Spark window of with_device_neighbours gives them
    neighbours = with_device_neighbours(events)
    present = neighbours.join(found.select(S.PSEUDO_ID, S.EVENT_TS), [S.PSEUDO_ID, S.EVENT_TS])
    assertDataFrameEqual(found.select(*neighbours.columns), present)
    got = found.drop(PREV_TS, NEXT_TS, PREV_CELL)
    pdf = pd.DataFrame(rows, columns=[S.PSEUDO_ID, S.EVENT_TS, S.CELL_ID])
    expected = pd.concat(
        [
            devices_presence(
                g.reset_index(drop=True),
                cov,
                device_cols=(S.PSEUDO_ID,),
                window_s=WINDOW_S,
                max_neighbours=16,
                min_mass=0.3,
            )
            for _, g in pdf.groupby(S.PSEUDO_ID)
        ]
    )
    assert len(expected) == 4
    assertDataFrameEqual(got, spark.createDataFrame(expected, schema=got.schema), checkRowOrder=False, rtol=1e-9)
    found.unpersist()


def test_models_sharing_a_pass_give_each_the_rows_it_gives_alone(spark: SparkSession) -> None:
    """Presence and expected visitors share one pass (with_posterior_presences): each model's rows are those of a
    pass of its own, whatever devices the other model brings to Python (d1 only for the first model: A serves
    no tile of Y)."""
    plain = build_coverage(COVERAGE, SHARES, zone_prior_factor=1.0)
    shares_y = pd.DataFrame({"tile_id": [2], "zone_id": ["Y"], "share": [1.0]})  # tile 2: only B serves it
    raised = build_coverage(COVERAGE, shares_y, zone_prior_factor=4.0)
    t0 = dt.datetime(2026, 3, 7, 10, 0)
    rows = [("d1", t0 + dt.timedelta(seconds=s), c) for s, c in [(0, "A"), (60, "A"), (120, "A")]]
    rows += [("d2", t0 + dt.timedelta(seconds=s), c) for s, c in [(0, "B"), (90, "B"), (4000, "C")]]
    events = spark.createDataFrame(rows, f"{S.PSEUDO_ID} STRING, {S.EVENT_TS} TIMESTAMP, {S.CELL_ID} STRING")
    args = {"device_cols": (S.PSEUDO_ID,), "window_s": WINDOW_S, "max_neighbours": 16}
    both = with_posterior_presences(
        events, models=[PresenceModel(plain, 0.1), PresenceModel(raised, 0.05)], **args
    ).persist()
    alone = [
        with_posterior_presence(events, coverage=plain, min_mass=0.1, **args),
        with_posterior_presence(events, coverage=raised, min_mass=0.05, **args),
    ]
    for i, want in enumerate(alone):
        got = both.where(F.col(MODEL) == i).drop(MODEL)
        assert got.count() > 0
        assertDataFrameEqual(got, want, checkRowOrder=False)
    assert {r[S.ZONE_ID] for r in both.where(F.col(MODEL) == 1).collect()} == {"Y"}
    both.unpersist()


def test_entry_and_exit_come_from_the_zone_probability_not_a_fixed_half_gap(spark: SparkSession) -> None:
    t0 = dt.datetime(2026, 3, 7, 10, 0)
    events = spark.createDataFrame(
        [("d", t0, "X"), ("d", t0 + dt.timedelta(seconds=1200), "A"), ("d", t0 + dt.timedelta(seconds=2400), "Y")],
        f"{S.PSEUDO_ID} STRING, {S.EVENT_TS} TIMESTAMP, {S.CELL_ID} STRING",
    )
    masses = spark.createDataFrame(
        [("A", "Z", 0.8, 0.0, 0.8)],
        f"{S.CELL_ID} STRING, {S.ZONE_ID} STRING, presence_weight DOUBLE, prev_mass DOUBLE, next_mass DOUBLE",
    )
    present = with_device_neighbours(events).join(masses, on=S.CELL_ID, how="inner")
    stay = agg_stays(present, max_gap_s=1800, min_visit_s=300, max_edge_s=900).first()
    assert stay is not None
    # before: the previous event is surely outside, so half the 1200 s gap; after: the next event is as likely
    # inside as this one, so the whole gap, capped at 900 s. One event, yet 1,500 s, not a fixed 900 s.
    assert stay["dwell_s"] == 600 + 900


def test_a_device_never_in_a_zone_gives_typed_empty_rows(spark: SparkSession) -> None:
    # d's only event on a zone cell is too unlikely to be in the zone (min_mass 0.9): Python returns no row, and
    # Spark must accept the empty frame (an untyped empty column used to fail in Arrow as a ChunkedArray)
    cov = build_coverage(COVERAGE, SHARES, zone_prior_factor=1.0)
    events = spark.createDataFrame(
        [("d", dt.datetime(2026, 3, 7, 10, 0), "A")],
        f"{S.PSEUDO_ID} STRING, {S.EVENT_TS} TIMESTAMP, {S.CELL_ID} STRING",
    )
    got = with_posterior_presence(
        events, coverage=cov, device_cols=(S.PSEUDO_ID,), window_s=WINDOW_S, max_neighbours=16, min_mass=0.9
    )
    assert got.count() == 0


def test_only_some_zones_get_a_mass_while_the_prior_rises_in_all() -> None:
    # Zone Y covers tile 0 with prior 4: the event on A then weighs tile 0 at 4 * 1 and tile 1 (zone Z) at 4 * 0.5,
    # so Z holds 1/3, as with no prior at all; only Z is computed, and B's event is computed only because B serves Z.
    shares = pd.DataFrame({"tile_id": [1, 0], "zone_id": ["Z", "Y"], "share": [1.0, 1.0]})
    cov = build_coverage(COVERAGE, shares, zone_prior_factor=4.0, only_zones=["Z"])
    assert cov.zone_ids == ("Z",)
    masses = zone_masses(cov, np.array(["A"]), np.array([0], dtype=np.int64), window_s=WINDOW_S, max_neighbours=16)
    assert masses[0, 0] == pytest.approx(1 / 3)
    only_y = build_coverage(COVERAGE, shares, zone_prior_factor=4.0, only_zones=["Y"])
    assert not only_y.touches_zones("B")  # B serves tiles 1 and 2, neither in Y


def _reference_presence(pdf: pd.DataFrame, cov, *, window_s: float, max_neighbours: int, min_mass: float):
    """The rows devices_presence must give, from the NumPy statement of the model (zone_masses), one device at a
    time: (event position, zone, mass, prev_mass, next_mass)."""
    seconds = pdf[S.EVENT_TS].to_numpy("datetime64[s]").astype(np.int64)
    cells = pdf[S.CELL_ID].to_numpy()
    rows = []
    for _, g in pdf.groupby(S.PSEUDO_ID, sort=False):
        a, b = g.index[0], g.index[-1] + 1
        m = zone_masses(cov, cells[a:b], seconds[a:b], window_s=window_s, max_neighbours=max_neighbours)
        padded = np.vstack([np.zeros((1, m.shape[1])), m, np.zeros((1, m.shape[1]))])
        for e, z in zip(*np.nonzero(m >= min_mass), strict=True):
            rows.append((a + e, cov.zone_ids[z], m[e, z], padded[e, z], padded[e + 2, z]))
    return sorted(rows)


def test_the_compiled_kernel_gives_the_numpy_model_on_a_random_city() -> None:
    """devices_presence runs the compiled kernel (posterior_kernel.py); on 60 random devices over 40 cells, 2 km of
    tiles and 5 zones it gives every row of the NumPy model (posterior.zone_masses) to 1e-9, neighbours' masses too."""
    rng = np.random.default_rng(7)
    cells = [f"c{i}" for i in range(40)]
    coverage = []
    for c in cells:  # each cell serves 30-120 tiles of 400 around its centre, P(cell | tile) in (0.01, 1]
        centre = rng.integers(0, 400)
        tiles = np.unique(np.clip(centre + rng.integers(-80, 80, size=rng.integers(30, 120)), 0, 399))
        coverage += [(c, int(t), float(p)) for t, p in zip(tiles, rng.uniform(0.01, 1.0, len(tiles)), strict=True)]
    shares = pd.DataFrame(
        [(int(t), f"Z{z}", float(rng.uniform(0.2, 1.0))) for z in range(5) for t in rng.choice(400, 25, replace=False)],
        columns=["tile_id", "zone_id", "share"],
    )
    cov = build_coverage(
        pd.DataFrame(coverage, columns=["cell_id", "tile_id", "p_serve"]), shares, zone_prior_factor=3.0
    )
    t0 = pd.Timestamp("2026-03-07 06:00:00")
    events = []
    for d in range(60):
        n = int(rng.integers(1, 80))
        seconds = np.sort(rng.integers(0, 6 * 3600, n))  # bursts and gaps: neighbours in and out of the window
        picked = rng.choice([*cells[: 8 + d % 30], "unknown"], n)
        events += [
            (f"d{d:02d}", t0 + pd.Timedelta(seconds=int(s)), str(c)) for s, c in zip(seconds, picked, strict=True)
        ]
    # bursts on one cell: 16 close neighbours raise its likelihood to the 17th power, so most of its tiles fall more
    # than 36 nats below the best one, are not exponentiated and put exactly 0 into their zones
    # alternating between two cells, so that one cell's events are computed after the other's (a kernel that wrote
    # past an event's own entries would overwrite its neighbour's)
    burst_tiles = sorted({t for c, t, _ in coverage if c in cells[:2]})
    burst = pd.DataFrame({"tile_id": burst_tiles, "zone_id": "Z0", "share": 0.5})
    shares = pd.concat([shares, burst]).drop_duplicates(["tile_id", "zone_id"])  # one row per tile and zone
    cov = build_coverage(
        pd.DataFrame(coverage, columns=["cell_id", "tile_id", "p_serve"]), shares, zone_prior_factor=3.0
    )
    for d in range(5):
        seconds = np.sort(rng.integers(0, 90, 40))
        events += [(f"burst{d}", t0 + pd.Timedelta(seconds=int(s)), cells[i % 2]) for i, s in enumerate(seconds)]
    pdf = pd.DataFrame(events, columns=[S.PSEUDO_ID, S.EVENT_TS, S.CELL_ID])
    pdf = pdf.sort_values([S.PSEUDO_ID, S.EVENT_TS, S.CELL_ID], kind="stable").reset_index(drop=True)
    settings = {"window_s": WINDOW_S, "max_neighbours": 16, "min_mass": 0.05}

    got = devices_presence(pdf, cov, device_cols=(S.PSEUDO_ID,), **settings)
    want = _reference_presence(pdf, cov, **settings)

    assert len(want) > 200 and sum(1 for e, *_ in want if pdf[S.PSEUDO_ID].iloc[e].startswith("burst")) >= 100
    rows = sorted(
        zip(got.index, got[S.ZONE_ID], got[S.PRESENCE_WEIGHT], got["prev_mass"], got["next_mass"], strict=True)
    )
    assert [(e, z) for e, z, *_ in rows] == [(e, z) for e, z, *_ in want]
    np.testing.assert_allclose([r[2:] for r in rows], [w[2:] for w in want], rtol=0, atol=1e-9)


def test_the_kernels_exp_is_within_2e_14_of_numpys_over_the_range_it_is_used_on() -> None:
    """The kernel's vectorisable exp (posterior_kernel._exp_le0) over [NEGLIGIBLE, 0], where it replaces np.exp."""
    x = np.concatenate([np.linspace(NEGLIGIBLE, 0.0, 20_001), [-1e-300, -0.5, -36.0 + 1e-12]])
    np.testing.assert_allclose(exp_le0(x), np.exp(x), rtol=2e-14, atol=0)


def test_a_bucket_in_any_row_order_gives_the_rows_of_the_sorted_bucket() -> None:
    """bucket_presences takes what applyInArrow hands it: a bucket sorted by the Spark partition it comes from, or in
    any order (it then sorts it); the rows, neighbours included, are the same."""
    cov = build_coverage(COVERAGE, SHARES, zone_prior_factor=1.0)
    t0 = dt.datetime(2026, 3, 7, 10, 0, tzinfo=dt.UTC)
    rows = [("d1", t0 + dt.timedelta(seconds=s), c) for s, c in [(0, "A"), (60, "B"), (120, "A"), (500, "B")]]
    rows += [("d2", t0 + dt.timedelta(seconds=s), c) for s, c in [(0, "A"), (30, "A"), (5000, "C")]]
    table = pa.Table.from_pylist(
        [{S.PSEUDO_ID: d, S.EVENT_TS: t, S.CELL_ID: c} for d, t, c in rows],
        schema=pa.schema(
            [(S.PSEUDO_ID, pa.string()), (S.EVENT_TS, pa.timestamp("us", tz="UTC")), (S.CELL_ID, pa.string())]
        ),
    )
    args = {"device_cols": (S.PSEUDO_ID,), "window_s": WINDOW_S, "max_neighbours": 16}
    args["models"] = [PresenceModel(cov, 0.3)]
    want = bucket_presences(table, **args)
    shuffled = bucket_presences(table.take(pa.array([6, 2, 0, 5, 3, 1, 4])), **args)
    reference = devices_presence(
        table.to_pandas(), cov, device_cols=(S.PSEUDO_ID,), window_s=WINDOW_S, max_neighbours=16, min_mass=0.3
    )
    assert want.num_rows == len(reference) == 4
    np.testing.assert_allclose(want.column(S.PRESENCE_WEIGHT).to_numpy(), reference[S.PRESENCE_WEIGHT], rtol=1e-12)
    assert shuffled.sort_by([(S.PSEUDO_ID, "ascending"), (S.EVENT_TS, "ascending")]).equals(want)
    firsts = [i for i, t in enumerate(want.column(S.EVENT_TS).to_pylist()) if t == t0]
    assert want.column(PREV_TS).null_count == len(firsts) > 0  # a device's first event has no previous one


def test_events_tied_on_device_second_and_cell_count_once_in_a_bucket() -> None:
    """A CDR export may hold an event twice (twins on device, second and cell; with_window_dates keeps them on the
    bucketed path): bucket_presences gives exactly the rows of the bucket without the twins."""
    cov = build_coverage(COVERAGE, SHARES, zone_prior_factor=1.0)
    t0 = dt.datetime(2026, 3, 7, 10, 0, tzinfo=dt.UTC)
    events = [("d1", 0, "A"), ("d1", 60, "B"), ("d1", 120, "A"), ("d1", 500, "B"), ("d2", 0, "A"), ("d2", 30, "A")]
    schema = pa.schema(
        [(S.PSEUDO_ID, pa.string()), (S.EVENT_TS, pa.timestamp("us", tz="UTC")), (S.CELL_ID, pa.string())]
    )

    def bucket(rows: list[tuple[str, int, str]]) -> pa.Table:
        return pa.Table.from_pylist(
            [{S.PSEUDO_ID: d, S.EVENT_TS: t0 + dt.timedelta(seconds=s), S.CELL_ID: c} for d, s, c in rows],
            schema=schema,
        )

    args = {"device_cols": (S.PSEUDO_ID,), "window_s": WINDOW_S, "max_neighbours": 16}
    args["models"] = [PresenceModel(cov, 0.3)]
    want = bucket_presences(bucket(events), **args)
    twins = [*events[:2], events[1], events[1], *events[2:5], events[4], *events[5:]]
    got = bucket_presences(bucket(twins), **args)
    assert want.num_rows > 0
    assert got.equals(want)
