"""Stay rules on hand-made event sequences: gaps at the threshold, entry and exit, visit or pass-by."""

from __future__ import annotations

import datetime as dt

import pytest
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from footfall import schemas as S
from footfall.mobility.stays import agg_stays, with_device_neighbours

T0 = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)
IN_ZONE = {"A": "Z1"}  # cell A is a candidate for zone Z1; cell B is not


def _stays(
    spark: SparkSession, events: list[tuple[str, int, str]], *, max_gap_s: int = 600, min_visit_s: int = 300
) -> DataFrame:
    df = spark.createDataFrame(
        [(d, T0 + dt.timedelta(seconds=s), c) for d, s, c in events],
        f"{S.PSEUDO_ID} STRING, {S.EVENT_TS} TIMESTAMP, {S.CELL_ID} STRING",
    )
    candidates = spark.createDataFrame(list(IN_ZONE.items()), f"{S.CELL_ID} STRING, {S.ZONE_ID} STRING")
    presence = with_device_neighbours(df).join(F.broadcast(candidates), on=S.CELL_ID, how="inner")
    return agg_stays(presence, max_gap_s=max_gap_s, min_visit_s=min_visit_s)


def _secs(ts: dt.datetime) -> int:
    """Seconds after T0 of a timestamp collected from Spark (naive, UTC: conftest pins the process to UTC)."""
    return int((ts - T0.replace(tzinfo=None)).total_seconds())


@pytest.mark.parametrize(("gap_s", "n_stays"), [(600, 1), (601, 2)])
def test_gap_exactly_at_max_gap_keeps_one_stay_one_second_more_splits(
    spark: SparkSession, gap_s: int, n_stays: int
) -> None:
    stays = _stays(spark, [("d", 0, "A"), ("d", gap_s, "A")], max_gap_s=600)
    assert stays.count() == n_stays


def test_entry_and_exit_halfway_to_the_neighbouring_events(spark: SparkSession) -> None:
    rows = _stays(spark, [("d", 0, "B"), ("d", 100, "A"), ("d", 150, "B"), ("d", 200, "A"), ("d", 400, "B")]).collect()
    assert len(rows) == 1  # the B event in between does not break the stay
    r = rows[0]
    assert (_secs(r[S.ENTERED_AT]), _secs(r[S.LEFT_AT]), r["dwell_s"], r["n_events"]) == (50, 300, 250, 2)
    assert _secs(r["prev_event_ts"]) == 0 and r["prev_cell_id"] == "B"


def test_extensions_are_capped_at_half_the_max_gap_and_zero_without_neighbours(spark: SparkSession) -> None:
    far = _stays(spark, [("d", 0, "B"), ("d", 5_000, "A"), ("d", 5_100, "A")], max_gap_s=600).first()
    assert far is not None
    assert (_secs(far[S.ENTERED_AT]), _secs(far[S.LEFT_AT]), far["dwell_s"]) == (4_700, 5_100, 400)
    alone = _stays(spark, [("d", 10, "A")]).first()
    assert alone is not None
    assert (alone["dwell_s"], alone["is_visit"], alone["prev_cell_id"]) == (0, False, None)


@pytest.mark.parametrize(("last_s", "is_visit"), [(300, True), (299, False)])
def test_visit_at_min_visit_s_pass_by_one_second_below(spark: SparkSession, last_s: int, is_visit: bool) -> None:
    row = _stays(spark, [("d", 0, "A"), ("d", last_s, "A")], min_visit_s=300).first()
    assert row is not None
    assert (row["dwell_s"], row["is_visit"]) == (last_s, is_visit)


def test_devices_do_not_mix(spark: SparkSession) -> None:
    stays = _stays(spark, [("d1", 0, "A"), ("d2", 100, "B"), ("d1", 200, "A"), ("d2", 300, "A")])
    got = {(r[S.PSEUDO_ID], r["n_events"], r["dwell_s"]) for r in stays.collect()}
    # d2's stay has one event; its neighbour B at 100 s extends the entry by 100 s
    assert got == {("d1", 2, 200), ("d2", 1, 100)}


def test_presence_models_at_the_threshold(spark: SparkSession) -> None:
    from footfall.mobility.presence import filter_present

    candidates = spark.createDataFrame(
        [("e1", "Z1", 0.05), ("e2", "Z1", 0.0499), ("e3", "Z1", 0.0)],
        f"event STRING, {S.ZONE_ID} STRING, weight DOUBLE",
    )
    threshold = filter_present(candidates, model="threshold", min_weight=0.05)
    weighted = filter_present(candidates, model="weighted", min_weight=0.05)
    assert [(r.event, r.presence_weight) for r in threshold.collect()] == [("e1", 1.0)]
    assert sorted((r.event, r.presence_weight) for r in weighted.collect()) == [("e1", 0.05), ("e2", 0.0499)]
    with pytest.raises(ValueError, match="unknown presence model"):
        filter_present(candidates, model="nearest", min_weight=0.05)  # type: ignore[arg-type]
