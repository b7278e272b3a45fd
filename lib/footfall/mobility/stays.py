"""Stays: consecutive presence of a device in a zone, with entry and exit estimated between events.

Rules (docs/mobility.md):
- A device is present in a zone at an event when the event's cell is a candidate for the zone (presence model).
- Present events of one device and zone belong to one stay while the gap between consecutive ones is at most
  `max_gap_s`; a longer gap starts a new stay. Events on other cells in between do not break a stay
  (ping-pong between neighbouring cells is normal).
- Entry is estimated halfway between the stay's first event and the device's previous event, exit halfway
  between its last event and the device's next event (whole seconds, rounded down); each extension is at most
  `max_gap_s // 2`, and is zero when there is no such event.
- A stay is a visit when `dwell_s >= min_visit_s`, otherwise a pass-by.
"""

from __future__ import annotations

from collections.abc import Sequence

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql.window import Window

from footfall import schemas as S

PRESENCE_WEIGHT = S.PRESENCE_WEIGHT
PREV_TS = "prev_event_ts"
NEXT_TS = "next_event_ts"
PREV_CELL = "prev_cell_id"
DWELL_S = S.DWELL_S
IS_VISIT = S.IS_VISIT
FIRST_TS = "first_event_ts"
LAST_TS = "last_event_ts"
N_EVENTS = "n_events"


DEVICE = (S.PSEUDO_ID,)


def filter_distinct_events(events_df: DataFrame, *, device_cols: Sequence[str] = DEVICE) -> DataFrame:
    """Keep one event per device, second and cell.

    CDR exports hold rows tied on (subscriber, second, cell). They say nothing more about where the device was,
    and with them the order by (event_ts, cell_id) is not total: which twin is "first" would decide whether an
    entry or exit extension is zero.
    """
    return events_df.dropDuplicates([*device_cols, S.EVENT_TS, S.CELL_ID])


def with_device_neighbours(events_df: DataFrame, *, device_cols: Sequence[str] = DEVICE) -> DataFrame:
    """Add each event's previous and next event of the same device (time and cell): one pass per device."""
    by_device = Window.partitionBy(*device_cols).orderBy(S.EVENT_TS, S.CELL_ID)
    return events_df.withColumns(
        {
            PREV_TS: F.lag(S.EVENT_TS).over(by_device),
            NEXT_TS: F.lead(S.EVENT_TS).over(by_device),
            PREV_CELL: F.lag(S.CELL_ID).over(by_device),
        }
    )


def _half_gap_s(near: Column, far: Column, *, cap_s: int) -> Column:
    """Whole seconds halfway to a neighbouring event, at most cap_s; 0 without a neighbour."""
    gap = F.abs(F.unix_timestamp(near) - F.unix_timestamp(far))
    return F.when(far.isNull(), F.lit(0)).otherwise(F.least(F.floor(gap / 2), F.lit(cap_s))).cast("long")


PREV_MASS = "prev_mass"
NEXT_MASS = "next_mass"
FIRST_MASS, LAST_MASS = "_first_mass", "_last_mass"


def _mass_edge_s(near: Column, far: Column, *, mass_in: Column, mass_out: Column, cap_s: int) -> Column:
    """Whole seconds of a gap spent in the zone, from the presence probability at both ends (posterior model).

    With the probability interpolated linearly across the gap, the expected share of it inside the zone, given the
    device is inside at the near event, is (mass_in + mass_out) / (2 * mass_in), at most 1: half the gap when the
    far event is surely outside, all of it when both are equally likely inside. At most cap_s; 0 without a neighbour.
    """
    gap = F.abs(F.unix_timestamp(near) - F.unix_timestamp(far))
    share = F.least(F.lit(1.0), (mass_in + F.coalesce(mass_out, F.lit(0.0))) / (2 * mass_in))
    return F.when(far.isNull(), F.lit(0)).otherwise(F.least(F.floor(gap * share), F.lit(cap_s))).cast("long")


def agg_stays(
    presence_df: DataFrame,
    *,
    max_gap_s: int,
    min_visit_s: int,
    device_cols: Sequence[str] = DEVICE,
    max_edge_s: int | None = None,
) -> DataFrame:
    """Return one row per stay from present events (pseudo_id, zone_id, event_ts, cell_id and the neighbours).

    Columns: pseudo_id, zone_id, entered_at, left_at, dwell_s, is_visit, first/last event ts, n_events,
    and the device's event before the stay (prev_event_ts, prev_cell_id) for the arrival direction.

    Entry and exit: halfway to the neighbouring event, at most max_gap_s // 2; or, when the events carry the zone's
    presence probability at their neighbours (prev_mass, next_mass: the posterior model), the expected time inside
    from both probabilities, at most `max_edge_s`.
    """
    by_zone = Window.partitionBy(*device_cols, S.ZONE_ID).orderBy(S.EVENT_TS, S.CELL_ID)
    gap = F.unix_timestamp(S.EVENT_TS) - F.unix_timestamp(F.lag(S.EVENT_TS).over(by_zone))
    starts = F.when(gap.isNull() | (gap > max_gap_s), 1).otherwise(0)
    numbered = presence_df.withColumn(
        "stay_no", F.sum(starts).over(by_zone.rowsBetween(Window.unboundedPreceding, Window.currentRow))
    )
    order = F.struct(S.EVENT_TS, S.CELL_ID)  # the first event is min_by(order), the last max_by(order)
    by_mass = PREV_MASS in presence_df.columns
    weight = F.col(PRESENCE_WEIGHT) if PRESENCE_WEIGHT in presence_df.columns else F.lit(1.0)
    mass_aggs = (
        [
            F.min_by(PRESENCE_WEIGHT, order).alias(FIRST_MASS),
            F.min_by(PREV_MASS, order).alias(PREV_MASS),
            F.max_by(PRESENCE_WEIGHT, order).alias(LAST_MASS),
            F.max_by(NEXT_MASS, order).alias(NEXT_MASS),
        ]
        if by_mass
        else []
    )
    stays = numbered.groupBy(*device_cols, S.ZONE_ID, "stay_no").agg(
        F.min(S.EVENT_TS).alias(FIRST_TS),
        F.max(S.EVENT_TS).alias(LAST_TS),
        F.min_by(PREV_TS, order).alias(PREV_TS),
        F.min_by(PREV_CELL, order).alias(PREV_CELL),
        F.max_by(NEXT_TS, order).alias(NEXT_TS),
        F.count(F.lit(1)).alias(N_EVENTS),
        F.max(weight).alias(PRESENCE_WEIGHT),
        *mass_aggs,
    )
    if by_mass:
        cap = max_gap_s if max_edge_s is None else max_edge_s
        before = _mass_edge_s(
            F.col(FIRST_TS), F.col(PREV_TS), mass_in=F.col(FIRST_MASS), mass_out=F.col(PREV_MASS), cap_s=cap
        )
        after = _mass_edge_s(
            F.col(LAST_TS), F.col(NEXT_TS), mass_in=F.col(LAST_MASS), mass_out=F.col(NEXT_MASS), cap_s=cap
        )
    else:
        cap = max_gap_s // 2
        before = _half_gap_s(F.col(FIRST_TS), F.col(PREV_TS), cap_s=cap)
        after = _half_gap_s(F.col(LAST_TS), F.col(NEXT_TS), cap_s=cap)
    dwell = F.unix_timestamp(LAST_TS) - F.unix_timestamp(FIRST_TS)
    return stays.select(
        *device_cols,
        S.ZONE_ID,
        F.timestamp_seconds(F.unix_timestamp(FIRST_TS) - before).alias(S.ENTERED_AT),
        F.timestamp_seconds(F.unix_timestamp(LAST_TS) + after).alias(S.LEFT_AT),
        (dwell + before + after).cast("long").alias(DWELL_S),
        FIRST_TS,
        LAST_TS,
        N_EVENTS,
        PREV_TS,
        PREV_CELL,
        PRESENCE_WEIGHT,
    ).withColumn(IS_VISIT, F.col(DWELL_S) >= F.lit(min_visit_s))
