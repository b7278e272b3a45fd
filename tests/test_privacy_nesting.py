"""Nested counts (privacy/nesting.py): outer minus inner is never a group of 1 to k - 1 people.

Each relation gets a planted group of 3 people at k = 5: published, the two counts would give the 3 away. The
same city with a group of exactly k shows the rule withholds no more than it must.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
from pyspark.sql import DataFrame, SparkSession
from pyspark.testing import assertDataFrameEqual

from footfall import schemas as S
from footfall.config import PublishConfig, parse_config
from footfall.lakehouse import silver_path
from footfall.privacy.nesting import nested_zones, nested_zones_by_tiles, zone_cells
from footfall.publish.job import publishable_zones
from footfall.publish.staging import SilverInputs, select_publishable, stage_gold

K = 5
FRIDAY, SATURDAY = dt.date(2026, 3, 6), dt.date(2026, 3, 7)
WEEK = "2026-W10"
TZ = "Europe/Berlin"  # UTC+1 in March


def _stay(pid: str, zone: str, day: dt.date, utc_hour: int) -> tuple[object, ...]:
    entered = dt.datetime.combine(day, dt.time(utc_hour))
    left = entered + dt.timedelta(minutes=30)
    return (pid, zone, entered, left, 1800, True, "N", None, 1.0, False, day)


def _gold(
    spark: SparkSession,
    stays: list[tuple[object, ...]],
    *,
    transitions: list[tuple[object, ...]] = (),  # type: ignore[assignment]
    zones: tuple[str, ...] = ("Z1",),
) -> dict[str, DataFrame]:
    devices = sorted({s[0] for s in stays})
    repeat: dict[tuple[str, str], set[dt.date]] = {}
    for s in stays:
        repeat.setdefault((str(s[0]), str(s[1])), set()).add(s[-1])  # type: ignore[arg-type]
    inputs = SilverInputs(
        stays_df=spark.createDataFrame(stays, S.SILVER_STAYS),
        subscribers_df=spark.createDataFrame(
            [(d, "25-34", "f", "D1", dt.date(2026, 3, 2)) for d in devices], S.SILVER_SUBSCRIBERS
        ),
        home_df=spark.createDataFrame([(d, "D1", 1, SATURDAY) for d in devices], S.SILVER_DEVICE_HOME),
        repeat_df=spark.createDataFrame(
            [(d, z, WEEK, len(days)) for (d, z), days in sorted(repeat.items())], S.SILVER_REPEAT_VISITS
        ),
        transitions_df=spark.createDataFrame(list(transitions), S.SILVER_ZONE_TRANSITIONS),
        zones_df=spark.createDataFrame(
            [(z, f"zone {z}", "mall", 1000.0, False, None, b"\x00") for z in zones], S.SILVER_ZONES
        ),
        resolution_df=spark.createDataFrame(
            [(z, "mall", 1000.0, 3, 0.9, 0.9, False) for z in zones], S.SILVER_ZONE_RESOLUTION
        ),
        market_share_df=spark.createDataFrame([("D1", 1000, 250, 0.25)], S.LANDING_MARKET_SHARE),
        expected_visits_df=spark.createDataFrame([], S.SILVER_EXPECTED_VISITS),
    )
    config = PublishConfig.model_validate({"k": K})
    staged = stage_gold(
        inputs,
        publish=config,
        tz=TZ,
        dates=[SATURDAY.isoformat()],
        weeks=[WEEK],
        published_zone_ids=list(zones),
        salt="test",
    )
    return {t: select_publishable(t, s.marked_df, mode="delete") for t, s in staged.items()}


def _visitors_by_hour(gold: dict[str, DataFrame]) -> dict[int, int]:
    rows = gold[S.GOLD_ZONE_FOOTFALL_HOURLY_TABLE].collect()
    return {r[S.HOUR]: r[S.VISITORS] for r in rows if r[S.VISITORS] is not None}


def _day_total(gold: dict[str, DataFrame]) -> list[int]:
    return [r[S.VISITORS] for r in gold[S.GOLD_ZONE_ARRIVAL_DIRECTION_DAILY_TABLE].collect()]


def test_an_hour_is_withheld_when_the_day_exceeds_it_by_fewer_than_k(spark: SparkSession) -> None:
    """22 people at 11:00 and 3 others at 15:00: the day's 25 is public (directions), so 25 - 22 would give away
    the 3 who came only in the afternoon."""
    stays = [_stay(f"a{i}", "Z1", SATURDAY, 10) for i in range(22)] + [
        _stay(f"b{i}", "Z1", SATURDAY, 14) for i in range(3)
    ]
    gold = _gold(spark, stays)
    assert _day_total(gold) == [25]
    assert _visitors_by_hour(gold) == {}

    # with a group of exactly k in the afternoon both hours publish: 25 - 20 = 5 is a cohort of k
    stays = [_stay(f"a{i}", "Z1", SATURDAY, 10) for i in range(20)] + [
        _stay(f"b{i}", "Z1", SATURDAY, 14) for i in range(5)
    ]
    gold = _gold(spark, stays)
    assert _day_total(gold) == [25]
    assert _visitors_by_hour(gold) == {11: 20, 15: 5}


def _flows(spark: SparkSession, *, movers: int, stayers: int) -> DataFrame:
    """Return the published flows of a day when `movers` visit Z1 and then Z2, and `stayers` visit Z1 only."""
    left, entered = dt.datetime(2026, 3, 7, 10, 30), dt.datetime(2026, 3, 7, 12, 0)
    ids = [f"m{i}" for i in range(movers)]
    stays = (
        [_stay(p, "Z1", SATURDAY, 10) for p in ids]
        + [_stay(p, "Z2", SATURDAY, 12) for p in ids]
        + [_stay(f"s{i}", "Z1", SATURDAY, 10) for i in range(stayers)]
    )
    moves = [(p, "Z1", "Z2", left, entered, 5400, SATURDAY) for p in ids]
    return _gold(spark, stays, transitions=moves, zones=("Z1", "Z2"))[S.GOLD_ZONE_FLOWS_DAILY_TABLE]


def test_a_flow_is_withheld_when_its_origin_day_exceeds_it_by_fewer_than_k(spark: SparkSession) -> None:
    """25 people visit Z1; 22 of them go on to Z2. Z1's day total minus the flow would be the 3 who did not."""
    assert _flows(spark, movers=22, stayers=3).count() == 0
    expected = spark.createDataFrame([("Z1", "Z2", SATURDAY, 20)], S.GOLD_ZONE_FLOWS_DAILY)
    assertDataFrameEqual(_flows(spark, movers=20, stayers=5), expected)


def test_a_week_is_withheld_when_it_exceeds_one_of_its_days_by_fewer_than_k(spark: SparkSession) -> None:
    """22 people on Saturday, 3 others on Friday only: the week's 25 minus Saturday's 22 gives away the 3."""
    stays = [_stay(f"a{i}", "Z1", SATURDAY, 10) for i in range(22)] + [
        _stay(f"b{i}", "Z1", FRIDAY, 10) for i in range(3)
    ]
    gold = _gold(spark, stays)
    assert _day_total(gold) == [22]
    assert gold[S.GOLD_ZONE_REPEAT_VISITS_WEEKLY_TABLE].count() == 0

    stays = [_stay(f"a{i}", "Z1", SATURDAY, 10) for i in range(20)] + [
        _stay(f"b{i}", "Z1", FRIDAY, 10) for i in range(5)
    ]
    gold = _gold(spark, stays)
    expected = spark.createDataFrame([("Z1", WEEK, "1", 25)], S.GOLD_ZONE_REPEAT_VISITS_WEEKLY)
    assertDataFrameEqual(gold[S.GOLD_ZONE_REPEAT_VISITS_WEEKLY_TABLE], expected)


def test_a_zone_whose_cells_all_serve_another_zone_is_nested_in_it() -> None:
    """Z2 lies inside Z1: its only cell c1 also serves Z1, so Z2's devices are a subset of Z1's and Z1 - Z2 would
    be an exact group. Z3 shares one of two cells (overlap, not nesting); Z4 and Z5 have the same cell (equal
    counts, difference 0)."""
    valid = dt.datetime(2026, 1, 1)
    weights = [
        ("c1", "Z1", 0.6),
        ("c2", "Z1", 0.3),
        ("c3", "Z1", 0.1),
        ("c1", "Z2", 0.2),
        ("c3", "Z3", 0.5),
        ("c4", "Z3", 0.5),
        ("c5", "Z4", 0.5),
        ("c5", "Z5", 0.5),
        ("c2", "Z6", 0.01),  # a sliver of c2: present in Z6 under the weighted model only
    ]
    columns = [S.CELL_ID, S.ZONE_ID, S.WEIGHT, S.VALID_FROM]
    weights_pd = pd.DataFrame([(c, z, w, valid) for c, z, w in weights], columns=columns)
    zones = ["Z1", "Z2", "Z3", "Z4", "Z5", "Z6"]

    def nested(model: str) -> dict[str, str]:
        return nested_zones(zone_cells(weights_pd, model=model, min_weight=0.05), zone_ids=zones)

    assert nested("threshold") == {"Z2": "Z1"}
    assert nested("weighted") == {"Z2": "Z1", "Z6": "Z1"}
    # Z1 withheld for another reason (not a candidate): Z2 no longer has a published outer zone
    cells = zone_cells(weights_pd, model="threshold", min_weight=0.05)
    assert nested_zones(cells, zone_ids=["Z2", "Z3"]) == {}
    # a cell version without its valid_from matches nothing (as a join on it would not)
    unkeyed = pd.concat([cells, pd.DataFrame([("Z2", "c9", pd.NaT)], columns=cells.columns)])
    assert nested_zones(unkeyed, zone_ids=zones) == {}


TILE_SHARES = [
    (0, "Z1", 1.0),
    (1, "Z1", 0.5),
    (0, "Z2", 0.3),  # inside Z1: at most Z1's share on every tile
    (1, "Z3", 0.6),  # more of tile 1 than Z1 has: it reaches outside Z1
    (2, "Z4", 0.4),
    (2, "Z5", 0.4),  # Z4 and Z5 cover the same: equal counts, difference 0
    (0, "Z6", 0.2),
    (3, "Z6", 0.1),  # partly outside every other zone
]


def test_under_the_posterior_a_zone_is_nested_where_its_tile_shares_are() -> None:
    """The posterior model's mass in a zone is the sum of tile posteriors times the zone's shares, so a zone whose
    share of every tile is at most another's has a subset of its people."""
    tiles = pd.DataFrame(TILE_SHARES, columns=[S.TILE_ID, S.ZONE_ID, S.SHARE])
    zones = ["Z1", "Z2", "Z3", "Z4", "Z5", "Z6"]
    assert nested_zones_by_tiles(tiles, zone_ids=zones) == {"Z2": "Z1"}
    assert nested_zones_by_tiles(tiles, zone_ids=["Z2", "Z3"]) == {}  # Z1 is not published
    # an inner share above the outer's by a rounding error of Sedona's areas still nests; by more, it does not
    rounded = tiles.assign(**{S.SHARE: tiles[S.SHARE].where(tiles[S.ZONE_ID] != "Z2", 1.0 + 1e-12)})
    assert nested_zones_by_tiles(rounded, zone_ids=zones) == {"Z2": "Z1"}
    beyond = tiles.assign(**{S.SHARE: tiles[S.SHARE].where(tiles[S.ZONE_ID] != "Z2", 1.0 + 1e-6)})
    assert nested_zones_by_tiles(beyond, zone_ids=zones) == {}


def _zones(spark: SparkSession, lakehouse: Path, zones: list[tuple[str, str, bool]]) -> None:
    """Write silver zones and zone_resolution with the columns publishable_zones reads."""
    spark.createDataFrame([z[:2] for z in zones], f"{S.ZONE_ID} STRING, {S.CATEGORY} STRING").write.format(
        "delta"
    ).save(silver_path(lakehouse, S.SILVER_ZONES_TABLE))
    spark.createDataFrame(
        [(z[0], z[2]) for z in zones], f"{S.ZONE_ID} STRING, {S.IS_LOW_RESOLUTION} BOOLEAN"
    ).write.format("delta").save(silver_path(lakehouse, S.SILVER_ZONE_RESOLUTION_TABLE))


def test_publish_withholds_a_zone_nested_in_the_posterior_sense(spark: SparkSession, tmp_path: Path) -> None:
    """Before stop 25, publish judged nesting by the cells' footprint weights whatever the presence model. Here
    Z2's cell c3 serves no other zone, so by cells Z2 is not nested; but its tiles lie inside Z1's, so under the
    posterior model everyone in Z2 is in Z1 and Z1 - Z2 is an exact group. It must be withheld as nested."""
    valid = dt.datetime(2026, 1, 1)
    weights = [("c1", "Z1", 0.6), ("c2", "Z1", 0.4), ("c3", "Z2", 1.0)]
    spark.createDataFrame([(c, z, w, valid, None) for c, z, w in weights], S.SILVER_CELL_ZONE_WEIGHTS).write.format(
        "delta"
    ).save(silver_path(tmp_path, S.SILVER_CELL_ZONE_WEIGHTS_TABLE))
    spark.createDataFrame(TILE_SHARES[:3], S.SILVER_TILE_ZONES).write.format("delta").save(
        silver_path(tmp_path, S.SILVER_TILE_ZONES_TABLE)
    )
    _zones(spark, tmp_path, [("Z1", "mall", False), ("Z2", "mall", False)])

    def nested(model: str) -> dict[str, str]:
        config = parse_config(
            {
                "landing": str(tmp_path / "landing"),
                "lakehouse": str(tmp_path),
                "privacy": {"pseudonym_key_file": str(tmp_path / "key")},
                "mobility": {"presence_model": model},
            },
            source="test",
        )
        return publishable_zones(spark, config).nested

    assert nested("posterior") == {"Z2": "Z1"}
    assert nested("threshold") == {}  # by cells: c3 serves Z2 only


def test_an_expected_zone_nested_in_a_published_zone_publishes_nothing(spark: SparkSession, tmp_path: Path) -> None:
    """Z2, a square the cells cannot resolve, lies inside Z1, a mall that publishes counts: its expected visitors
    would be a share of Z1's people, so Z2 publishes nothing. Z3, a square on its own, publishes expected visitors."""
    valid = dt.datetime(2026, 1, 1)
    spark.createDataFrame([("c1", "Z1", 1.0, valid, None)], S.SILVER_CELL_ZONE_WEIGHTS).write.format("delta").save(
        silver_path(tmp_path, S.SILVER_CELL_ZONE_WEIGHTS_TABLE)
    )
    shares = [(0, "Z1", 1.0), (1, "Z1", 0.5), (0, "Z2", 0.3), (5, "Z3", 0.4)]
    spark.createDataFrame(shares, S.SILVER_TILE_ZONES).write.format("delta").save(
        silver_path(tmp_path, S.SILVER_TILE_ZONES_TABLE)
    )
    _zones(spark, tmp_path, [("Z1", "mall", False), ("Z2", "market_square", True), ("Z3", "market_square", True)])
    config = parse_config(
        {
            "landing": str(tmp_path / "landing"),
            "lakehouse": str(tmp_path),
            "privacy": {"pseudonym_key_file": str(tmp_path / "key")},
        },
        source="test",
    )
    zones_out = publishable_zones(spark, config)
    assert (zones_out.counted, zones_out.expected, zones_out.nested) == (["Z1"], ["Z3"], {"Z2": "Z1"})
