"""Nested counts: a published count whose people all belong to another count must differ from it by 0 or by k.

Secondary suppression (suppression.py) protects the cells of one breakdown against its total. Counts of
different tables, periods or zones can nest as well, and outer minus inner is then the exact number of a group
of people, which may be below k:
- an hour's visitors are a subset of the zone-day's visitors (a visit overlapping the hour overlaps the date);
- a flow's travellers visited both of its zones that day;
- a zone-day's visitors are a subset of the zone-week's;
- a zone whose cells all also serve another zone has a subset of that zone's devices (threshold and weighted
  models); under the posterior model, a zone whose share of every tile is at most another zone's
  (nested_zones_by_tiles).

The rule: when outer minus inner lies between 1 and k - 1, the inner hour or flow, or the outer week, is
withheld (suppression "nested"); a zone nested in another publishable zone gets no counts at all. The totals
compared are the true device counts, whether or not a total is itself published or derivable: a conservative
check that needs no model of what an attacker can add up. A difference of 0 names no group and is allowed.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd
from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql.window import Window

from footfall import schemas as S
from footfall.mobility.calendar import with_iso_week
from footfall.privacy.disclosure import true_count
from footfall.privacy.suppression import IS_SUPPRESSED, SUPPRESSION

NESTED = "nested"
DAY_DEVICES = "_day_devices"
OUTER_ZONE_ID = "outer_zone_id"
_OUTER = OUTER_ZONE_ID


def is_small_difference(outer: Column, inner: Column, *, k: int) -> Column:
    """Return true where outer - inner names a group of 1 to k - 1 people (false where either is null)."""
    difference = outer - inner
    return F.coalesce((difference > 0) & (difference < k), F.lit(False))


def agg_zone_day_devices(device_days_df: DataFrame) -> DataFrame:
    """Return zone_id, date and _day_devices: the zone-day's distinct visitors (the total of the daily tables)."""
    return device_days_df.groupBy(S.ZONE_ID, S.DATE).agg(F.countDistinct(S.PSEUDO_ID).alias(DAY_DEVICES))


def with_hour_in_day_nesting(
    hourly_df: DataFrame, *, day_devices_df: DataFrame, k: int, flag: str, reason: str
) -> DataFrame:
    """Withhold an hour's visitors (set `flag`, `reason` = nested) when the zone-day's visitors exceed them by
    1 to k - 1."""
    joined = hourly_df.join(day_devices_df, on=[S.ZONE_ID, S.DATE], how="left")
    nested = ~F.col(flag) & is_small_difference(F.col(DAY_DEVICES), true_count(hourly_df, S.VISITORS), k=k)
    return joined.withColumns(
        {reason: F.when(nested, F.lit(NESTED)).otherwise(F.col(reason)), flag: F.col(flag) | nested}
    ).drop(DAY_DEVICES)


def with_flow_in_day_nesting(flows_df: DataFrame, *, day_devices_df: DataFrame, k: int) -> DataFrame:
    """Withhold a flow when the visitors of its origin or its destination that day exceed its travellers by 1 to
    k - 1."""
    travellers = true_count(flows_df, S.TRAVELLERS)
    days = day_devices_df.select(S.ZONE_ID, S.DATE, DAY_DEVICES)
    origin = days.withColumnsRenamed({S.ZONE_ID: S.FROM_ZONE_ID, DAY_DEVICES: "_from_devices"})
    destination = days.withColumnsRenamed({S.ZONE_ID: S.TO_ZONE_ID, DAY_DEVICES: "_to_devices"})
    joined = flows_df.join(origin, on=[S.FROM_ZONE_ID, S.DATE], how="left").join(
        destination, on=[S.TO_ZONE_ID, S.DATE], how="left"
    )
    nested = ~F.col(IS_SUPPRESSED) & (
        is_small_difference(F.col("_from_devices"), travellers, k=k)
        | is_small_difference(F.col("_to_devices"), travellers, k=k)
    )
    return joined.withColumns(
        {
            SUPPRESSION: F.when(nested, F.lit(NESTED)).otherwise(F.col(SUPPRESSION)),
            IS_SUPPRESSED: F.col(IS_SUPPRESSED) | nested,
        }
    ).drop("_from_devices", "_to_devices")


def with_day_in_week_nesting(weekly_df: DataFrame, *, day_devices_df: DataFrame, k: int) -> DataFrame:
    """Withhold a whole zone-week breakdown when its visitors exceed those of one of its days by 1 to k - 1.

    The week's total is the sum of its cells (every device is in one visit-days bucket). The breakdown goes as a
    whole: withholding one cell would leave the total to be bounded from the others.
    """
    week_keys = [S.ZONE_ID, S.WEEK]
    week_total = F.sum(true_count(weekly_df, S.VISITORS)).over(Window.partitionBy(*week_keys))
    totals = weekly_df.withColumn("_week_devices", week_total)
    days = day_devices_df.transform(with_iso_week).select(S.ZONE_ID, S.WEEK, DAY_DEVICES)
    small = (
        totals.select(*week_keys, "_week_devices")
        .distinct()
        .join(days, on=week_keys, how="inner")
        .where(is_small_difference(F.col("_week_devices"), F.col(DAY_DEVICES), k=k))
        .select(*week_keys)
        .distinct()
        .withColumn("_small", F.lit(True))
    )
    joined = totals.join(small, on=week_keys, how="left")
    nested = ~F.col(IS_SUPPRESSED) & F.coalesce(F.col("_small"), F.lit(False))
    return joined.withColumns(
        {
            SUPPRESSION: F.when(nested, F.lit(NESTED)).otherwise(F.col(SUPPRESSION)),
            IS_SUPPRESSED: F.col(IS_SUPPRESSED) | nested,
        }
    ).drop("_week_devices", "_small")


def zone_cells(weights: pd.DataFrame, *, model: str, min_weight: float) -> pd.DataFrame:
    """Return zone_id, cell_id, valid_from: the cell versions that make a device present in the zone."""
    counts = weights[S.WEIGHT] >= min_weight if model == "threshold" else weights[S.WEIGHT] > 0
    return weights.loc[counts, [S.ZONE_ID, S.CELL_ID, S.VALID_FROM]].drop_duplicates()


def _pairs(found: pd.DataFrame) -> dict[str, str]:
    """Return {zone_id: outer_zone_id}; of several outer zones, the last in order (any one would do)."""
    ordered = found.sort_values([S.ZONE_ID, _OUTER])
    return dict(zip(ordered[S.ZONE_ID], ordered[_OUTER], strict=True))


def nested_zones(zone_cells: pd.DataFrame, *, zone_ids: Sequence[str]) -> dict[str, str]:
    """Return {zone_id: outer_zone_id} for zones (of `zone_ids`) whose every cell version also serves the outer
    zone, which has more: the inner zone's devices are then a subset of the outer zone's.

    Zones with exactly the same cells are not nested: their device sets are equal and their counts too.
    A polygon inside another is always nested in this sense: a cell's share inside the inner zone is also inside
    the outer one. The tables are the spatial stage's, a row per (zone, cell) at most: the driver decides.
    """
    cells = zone_cells[zone_cells[S.ZONE_ID].isin(list(zone_ids))]
    sizes = cells.groupby(S.ZONE_ID).size()
    keyed = cells.dropna(subset=[S.CELL_ID, S.VALID_FROM])  # a null key serves no other zone
    pairs = keyed.merge(keyed.rename(columns={S.ZONE_ID: _OUTER}), on=[S.CELL_ID, S.VALID_FROM])
    pairs = pairs[pairs[S.ZONE_ID] != pairs[_OUTER]]
    shared = pairs.groupby([S.ZONE_ID, _OUTER]).size().rename("_shared").reset_index()
    inner, outer = shared[S.ZONE_ID].map(sizes), shared[_OUTER].map(sizes)
    return _pairs(shared[(shared["_shared"] == inner) & (outer > inner)])


# Tile shares are areas from Sedona; an inner polygon's share of a tile equals the outer's up to rounding.
SHARE_TOLERANCE = 1e-9


def nested_zones_by_tiles(tile_zones: pd.DataFrame, *, zone_ids: Sequence[str]) -> dict[str, str]:
    """Return {zone_id: outer_zone_id} for zones (of `zone_ids`) whose share of every tile is at most the outer
    zone's, which covers more: the posterior model's nesting.

    Under the posterior model an event's mass in a zone is the sum of its tiles' posterior times their shares in the
    zone, so such an inner zone never holds more mass than the outer one: whoever is present in the inner zone is
    present in the outer one at the same events. Which cells serve a zone does not decide presence there, so the
    cell test (nested_zones) does not apply. Zones with equal shares everywhere are equal, not nested.
    """
    tiles = tile_zones.loc[tile_zones[S.ZONE_ID].isin(list(zone_ids)), [S.TILE_ID, S.ZONE_ID, S.SHARE]]
    count, area = tiles.groupby(S.ZONE_ID).size(), tiles.groupby(S.ZONE_ID)[S.SHARE].sum()
    pairs = tiles.dropna(subset=[S.TILE_ID]).merge(
        tiles.rename(columns={S.ZONE_ID: _OUTER, S.SHARE: "_outer_share"}).dropna(subset=[S.TILE_ID]), on=S.TILE_ID
    )
    pairs = pairs[(pairs[S.ZONE_ID] != pairs[_OUTER]) & (pairs["_outer_share"] >= pairs[S.SHARE] - SHARE_TOLERANCE)]
    covered = pairs.groupby([S.ZONE_ID, _OUTER]).size().rename("_covered").reset_index()
    inner_area, outer_area = covered[S.ZONE_ID].map(area), covered[_OUTER].map(area)
    return _pairs(
        covered[(covered["_covered"] == covered[S.ZONE_ID].map(count)) & (outer_area > inner_area + SHARE_TOLERANCE)]
    )


def nested_zones_for_model(
    *, model: str, min_weight: float, weights: pd.DataFrame, tile_zones: pd.DataFrame, zone_ids: Sequence[str]
) -> dict[str, str]:
    """Return {zone_id: outer_zone_id}: the nesting that the presence model's counts follow."""
    if model == "posterior":
        return nested_zones_by_tiles(tile_zones, zone_ids=zone_ids)
    return nested_zones(zone_cells(weights, model=model, min_weight=min_weight), zone_ids=zone_ids)
