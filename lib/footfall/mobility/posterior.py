"""The posterior presence model: where a device is, from the cells of its events close in time.

For an event on cell c at time t, the posterior over grid tiles is

    log post(tile) = log prior(tile) + log P(c | tile) + sum_j w_j * log P(c_j | tile)

over the device's other events j within `window_s` (w_j = 1 - |t_j - t| / window_s, so a neighbour counts less the
further the device may have moved since). P(c | tile) is the coverage model (spatial/coverage.py). A neighbour's cell
that cannot serve a tile gets `log_floor` there rather than minus infinity: the model is not exact, and a single
unexpected cell must not rule a tile out. The support is the tiles the event's own cell serves.

A zone's presence probability at the event is the posterior mass inside it: sum over tiles of post(tile) times the
tile's share inside the zone. The prior is uniform over tiles, raised by `zone_prior_factor` inside zones: retail
zones draw more people per square metre than their surroundings (docs/mobility.md, "Posterior").

This is compiled NumPy over each device's events (posterior_kernel.py; `applyInArrow`, a bucket of devices per
call: mobility/buckets.py), not Spark built-ins: every event needs a few hundred tiles times its neighbours'
likelihoods, and exploding events into (event, tile) rows would shuffle that product.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pandas as pd
import pyarrow as pa
from pyspark.sql import DataFrame
from pyspark.sql import types as T

from footfall import schemas as S
from footfall.mobility.buckets import (
    BUCKET,
    device_bucket,
    device_starts,
    distinct_sorted,
    epoch_seconds,
    group_slices,
    index_of,
    sorted_by,
)
from footfall.mobility.posterior_kernel import FlatCoverage, flatten, presence_rows
from footfall.mobility.stays import NEXT_MASS, NEXT_TS, PREV_CELL, PREV_MASS, PREV_TS

LOG_FLOOR = float(np.log(1e-4))


@dataclass(frozen=True)
class Coverage:
    """The coverage model as per-cell arrays, small enough to ship with the function (about 10 bytes per row)."""

    cell_index: dict[str, int]
    zone_ids: tuple[str, ...]
    tiles: tuple[np.ndarray, ...]  # per cell: the tiles it can serve, sorted
    log_p: tuple[np.ndarray, ...]  # per cell: log P(cell | tile), aligned with tiles
    log_prior: tuple[np.ndarray, ...]  # per cell: log prior of its tiles (unnormalised)
    zone_rows: tuple[tuple[np.ndarray, np.ndarray, np.ndarray], ...]  # per cell: (tile position, zone, share)
    flat: FlatCoverage  # the same arrays, concatenated, for the compiled kernel (posterior_kernel.py)

    def touches_zones(self, cell_id: str) -> bool:
        """Return whether an event on the cell can put any mass inside a zone."""
        i = self.cell_index.get(cell_id)
        return i is not None and len(self.zone_rows[i][0]) > 0


def build_coverage(
    coverage_pdf: pd.DataFrame,
    shares_pdf: pd.DataFrame,
    *,
    zone_prior_factor: float,
    only_zones: Collection[str] | None = None,
) -> Coverage:
    """Return a Coverage from (cell_id, tile_id, p_serve) and (tile_id, zone_id, share) rows.

    The prior is raised inside every zone; `only_zones`, when given, limits the zones that get a mass (and so the
    cells whose events are computed) to those."""
    in_zones = shares_pdf.groupby("tile_id")["share"].sum().clip(upper=1.0)
    if only_zones is not None:
        shares_pdf = shares_pdf[shares_pdf["zone_id"].isin(list(only_zones))]
    zone_ids = tuple(sorted(shares_pdf["zone_id"].unique()))
    z_of = {z: i for i, z in enumerate(zone_ids)}
    cov = coverage_pdf.sort_values(["cell_id", "tile_id"], kind="stable")
    cells: dict[str, int] = {}
    tiles: list[np.ndarray] = []
    log_p: list[np.ndarray] = []
    log_prior: list[np.ndarray] = []
    zone_rows: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    shares = shares_pdf.assign(z=shares_pdf["zone_id"].map(z_of))
    for cell_id, rows in cov.groupby("cell_id", sort=True):
        t = rows["tile_id"].to_numpy(np.int64)
        cells[str(cell_id)] = len(tiles)
        tiles.append(t)
        log_p.append(np.log(rows["p_serve"].to_numpy(float)))
        inside = in_zones.reindex(t, fill_value=0.0).to_numpy(float)
        log_prior.append(np.log1p((zone_prior_factor - 1.0) * inside))
        hit = shares[shares["tile_id"].isin(t)]
        pos = np.searchsorted(t, hit["tile_id"].to_numpy(np.int64))
        zone_rows.append((pos, hit["z"].to_numpy(np.int64), hit["share"].to_numpy(float)))
    flat = flatten(tuple(tiles), tuple(log_p), tuple(log_prior), tuple(zone_rows), len(zone_ids))
    return Coverage(cells, zone_ids, tuple(tiles), tuple(log_p), tuple(log_prior), tuple(zone_rows), flat)


def _neighbours(
    seconds: np.ndarray, targets: np.ndarray, *, window_s: float, max_neighbours: int
) -> tuple[np.ndarray, np.ndarray]:
    """Return (events, weights), each (targets x max_neighbours): each target's closest other events within the
    window, weighted 1 - |dt| / window_s (weight 0 pads a target with fewer neighbours).

    The closest `max_neighbours` in time are among the `max_neighbours` before and after in sequence, so only those
    are looked at; a tie in time goes to the event before."""
    k = max_neighbours
    offsets = np.concatenate([np.arange(-k, 0), np.arange(1, k + 1)])
    cand = targets[:, None] + offsets[None, :]
    inside = (cand >= 0) & (cand < len(seconds))
    cand = np.clip(cand, 0, len(seconds) - 1)
    gap = np.where(inside, np.abs(seconds[cand] - seconds[targets][:, None]).astype(float), np.inf)
    closest = np.argsort(gap, axis=1, kind="stable")[:, :k]
    events = np.take_along_axis(cand, closest, axis=1)
    weights = np.maximum(1.0 - np.take_along_axis(gap, closest, axis=1) / window_s, 0.0)
    return events, weights


# Targets per block of the dense (targets x tiles) arrays: bounds a device's memory to a few MB, whatever its events.
BLOCK_EVENTS = 256


def zone_masses(
    cov: Coverage,
    cells: np.ndarray,
    seconds: np.ndarray,
    *,
    window_s: float,
    max_neighbours: int,
    log_floor: float = LOG_FLOOR,
) -> np.ndarray:
    """Return an (events x zones) array: each event's posterior mass inside each zone.

    `cells` are cell ids, `seconds` epoch seconds, both sorted by time. Only events on cells that can put mass in a
    zone (targets) get a posterior. The arrays are over the union of the targets' tiles:
    - one row per distinct cell of the device: log P(cell | tile), log_floor where it cannot serve;
    - per target, the weights of its neighbours summed per distinct cell, so the neighbours' evidence is one matrix
      product (targets x cells) @ (cells x tiles), not a loop over events and neighbours.
    Work per target is bounded: its neighbours are at most `max_neighbours` (the closest in time), and targets go
    through in blocks of BLOCK_EVENTS, so a device costs time linear in its events and memory bounded by a block.
    """
    n = len(cells)
    out = np.zeros((n, len(cov.zone_ids)))
    idx = np.array([cov.cell_index.get(str(c), -1) for c in cells], dtype=np.int64)
    known = np.flatnonzero(idx >= 0)
    targets = known[[len(cov.zone_rows[c][0]) > 0 for c in idx[known]]].astype(np.int64)
    if len(targets) == 0:
        return out
    union = np.unique(np.concatenate([cov.tiles[c] for c in np.unique(idx[targets])]))
    distinct = np.unique(idx[known])
    # per distinct cell (and a last row for unknown cells): log P(cell | union tile), whether it serves the tile
    table = np.full((len(distinct) + 1, len(union)), log_floor)
    serves = np.zeros((len(distinct) + 1, len(union)), dtype=bool)
    log_prior = np.zeros(len(union))
    zone_share = np.zeros((len(union), len(cov.zone_ids)))
    for r, c in enumerate(distinct):
        pos = np.searchsorted(union, cov.tiles[c])
        hit = (pos < len(union)) & (union[np.minimum(pos, len(union) - 1)] == cov.tiles[c])
        table[r, pos[hit]] = cov.log_p[c][hit]
        serves[r, pos[hit]] = True
        log_prior[pos[hit]] = cov.log_prior[c][hit]  # the prior depends on the tile only
        z_pos, z, share = cov.zone_rows[c]
        if hit.all():  # a target's cell: all its tiles are in the union
            zone_share[pos[z_pos], z] = share
    rows = np.where(idx >= 0, np.searchsorted(distinct, np.maximum(idx, 0)), len(distinct))
    # per cell of the targets, over the tiles it serves (the posterior is zero elsewhere)
    for own in np.unique(rows[targets]):
        support = np.flatnonzero(serves[own])
        base = table[own, support] + log_prior[support]
        sub_table = table[:, support]
        of_cell = targets[rows[targets] == own]
        for lo in range(0, len(of_cell), BLOCK_EVENTS):
            block = of_cell[lo : lo + BLOCK_EVENTS]
            logpost = np.broadcast_to(base, (len(block), len(support)))
            if max_neighbours > 0 and n > 1:
                events, weights = _neighbours(seconds, block, window_s=window_s, max_neighbours=max_neighbours)
                per_cell = np.zeros((len(block), len(distinct) + 1))
                np.add.at(
                    per_cell, (np.repeat(np.arange(len(block)), events.shape[1]), rows[events].ravel()), weights.ravel()
                )
                logpost = logpost + per_cell @ sub_table
            post = np.exp(logpost - logpost.max(axis=1, keepdims=True))
            post /= post.sum(axis=1, keepdims=True)
            out[block] = post @ zone_share[support]
    return out


def _typed_empty(pdf: pd.DataFrame) -> pd.DataFrame:
    # typed empties: an empty float column sent to Arrow as a string becomes a ChunkedArray, which Spark refuses
    empty = np.empty(0)
    return pdf.iloc[0:0].assign(
        **{S.ZONE_ID: np.empty(0, dtype=object), S.PRESENCE_WEIGHT: empty, PREV_MASS: empty, NEXT_MASS: empty}
    )


def devices_presence(
    pdf: pd.DataFrame,
    cov: Coverage,
    *,
    device_cols: Sequence[str],
    window_s: float,
    max_neighbours: int,
    min_mass: float,
) -> pd.DataFrame:
    """Return the (event, zone) rows with posterior mass >= min_mass, and the zone's mass at the device's events
    before and after (for entry and exit): columns of `pdf` plus zone_id, presence_weight, prev_mass, next_mass.

    `pdf` holds the events of any number of devices (told apart by `device_cols`), sorted by device, event_ts and
    cell_id, with event_ts as datetime64. Each device's posterior uses its own events only.
    """
    if len(pdf) == 0:
        return _typed_empty(pdf)
    seconds = pdf[S.EVENT_TS].to_numpy("datetime64[s]").astype(np.int64)
    idx = pdf[S.CELL_ID].map(cov.cell_index).fillna(-1).to_numpy(np.int64)
    starts = np.array([a for a, _ in group_slices(pdf, device_cols)] + [len(pdf)], dtype=np.int64)
    ev, zn, weight, prev, nxt = presence_rows(
        cov.flat,
        starts,
        idx,
        seconds,
        window_s=window_s,
        max_neighbours=max_neighbours,
        min_mass=min_mass,
        log_floor=LOG_FLOOR,
    )
    if len(ev) == 0:
        return _typed_empty(pdf)
    return pdf.iloc[ev].assign(
        **{
            S.ZONE_ID: np.asarray(cov.zone_ids, dtype=object)[zn],
            S.PRESENCE_WEIGHT: weight,
            PREV_MASS: prev,
            NEXT_MASS: nxt,
        }
    )


PRESENCE_FIELDS = (
    T.StructField(S.ZONE_ID, T.StringType(), False),
    T.StructField(S.PRESENCE_WEIGHT, T.DoubleType(), False),
    T.StructField(PREV_MASS, T.DoubleType(), False),
    T.StructField(NEXT_MASS, T.DoubleType(), False),
)


MODEL = "_model"  # which of the models of one pass a presence row comes from (with_posterior_presences)


@dataclass(frozen=True)
class PresenceModel:
    """One coverage model of a pass and the least mass a presence row needs under it."""

    coverage: Coverage
    min_mass: float

    @cached_property
    def cells(self) -> pa.Array:
        """The coverage's cell ids in index order, for buckets.index_of."""
        ids = sorted(self.coverage.cell_index, key=self.coverage.cell_index.__getitem__)
        return pa.array(ids, type=pa.string())


def bucket_presences(
    table: pa.Table,
    *,
    models: Sequence[PresenceModel],
    device_cols: Sequence[str],
    window_s: float,
    max_neighbours: int,
) -> pa.Table:
    """Return the (event, zone) rows of a bucket of devices (an Arrow table of their events) under each model, with
    the event's neighbours (prev_event_ts, next_event_ts, prev_cell_id) and MODEL; see with_posterior_presences.
    Rows tied on (device, event_ts, cell_id) count once."""
    keep = [c for c in table.column_names if c != BUCKET]
    key = [*device_cols, S.EVENT_TS, S.CELL_ID]
    # one event per device, second and cell (stays.filter_distinct_events): ties dropped here, where the rows come
    # sorted, and not by a hash aggregate of every event in Spark (make bench, 9.87 M events: 46 task-seconds)
    ordered = distinct_sorted(sorted_by(table.select(keep), key), key)
    n = ordered.num_rows
    starts = device_starts(ordered, device_cols)
    seconds = epoch_seconds(ordered.column(S.EVENT_TS))
    first = np.zeros(n, dtype=bool)
    first[starts[:-1]] = True  # a device's first event has no previous one, its last (the next's first) no next
    parts = []
    for i, m in enumerate(models):
        idx = index_of(ordered.column(S.CELL_ID), m.cells)
        ev, zn, weight, prev, nxt = presence_rows(
            m.coverage.flat,
            starts,
            idx,
            seconds,
            window_s=window_s,
            max_neighbours=max_neighbours,
            min_mass=m.min_mass,
            log_floor=LOG_FLOOR,
        )
        no_prev = first[ev]
        no_next = np.append(first[1:], True)[ev]
        before = pa.array(np.maximum(ev - 1, 0), mask=no_prev)
        after = pa.array(np.minimum(ev + 1, n - 1), mask=no_next)
        parts.append(
            ordered.take(pa.array(ev, type=pa.int64()))
            .append_column(PREV_TS, ordered.column(S.EVENT_TS).take(before))
            .append_column(NEXT_TS, ordered.column(S.EVENT_TS).take(after))
            .append_column(PREV_CELL, ordered.column(S.CELL_ID).take(before))
            .append_column(S.ZONE_ID, pa.array(np.asarray(m.coverage.zone_ids, dtype=object)[zn], type=pa.string()))
            .append_column(S.PRESENCE_WEIGHT, pa.array(weight, type=pa.float64()))
            .append_column(PREV_MASS, pa.array(prev, type=pa.float64()))
            .append_column(NEXT_MASS, pa.array(nxt, type=pa.float64()))
            .append_column(MODEL, pa.array(np.full(len(ev), i, dtype=np.int8)))
        )
    return pa.concat_tables(parts)


def with_posterior_presences(
    events_df: DataFrame,
    *,
    models: Sequence[PresenceModel],
    device_cols: tuple[str, ...],
    window_s: float,
    max_neighbours: int,
) -> DataFrame:
    """Return the (event, zone) rows where the event's posterior mass in the zone is at least the model's min_mass,
    for each of `models`, tagged with the model's index in MODEL: one pass of the events through Python for all.

    `events_df` holds one row per event (device_cols, event_ts, cell_id, any other columns). Columns out: those of
    `events_df` (but BUCKET), the device's events before and after (prev_event_ts, next_event_ts, prev_cell_id: as
    stays.with_device_neighbours gives them), zone_id, presence_weight (the mass), prev_mass and next_mass (the
    zone's mass at the device's events before and after), and MODEL. A device's rows under a model depend on its own
    events only, so a model sees the same rows whichever other models share its pass.

    The events go to Python by bucket of devices (`applyInArrow`). A frame that already holds BUCKET, partitioned
    by it and sorted by (BUCKET, device, event_ts, cell_id) as mobility's windowed events are (job.with_window_dates),
    goes without another shuffle or sort: the neighbours are found in the sorted bucket, not by a Spark window.
    Other frames are shuffled by bucket here, and a bucket that arrives unsorted is sorted in Python.
    """
    spark = events_df.sparkSession
    bucketed = (
        events_df if BUCKET in events_df.columns else events_df.withColumn(BUCKET, device_bucket(spark, device_cols))
    )
    fields = [f for f in events_df.schema.fields if f.name != BUCKET]
    neighbours = [
        T.StructField(PREV_TS, T.TimestampType(), True),
        T.StructField(NEXT_TS, T.TimestampType(), True),
        T.StructField(PREV_CELL, T.StringType(), True),
    ]
    schema = T.StructType([*fields, *neighbours, *PRESENCE_FIELDS, T.StructField(MODEL, T.ByteType(), False)])
    args = {"models": models, "device_cols": device_cols, "window_s": window_s, "max_neighbours": max_neighbours}

    def one_bucket(table: pa.Table) -> pa.Table:
        out = bucket_presences(table, **args)  # type: ignore[arg-type]
        return out.select(schema.fieldNames())

    return bucketed.groupBy(BUCKET).applyInArrow(one_bucket, schema=schema)


def with_posterior_presence(
    events_df: DataFrame,
    *,
    coverage: Coverage,
    device_cols: tuple[str, ...],
    window_s: float,
    max_neighbours: int,
    min_mass: float,
) -> DataFrame:
    """`with_posterior_presences` for one model, without MODEL."""
    return with_posterior_presences(
        events_df,
        models=[PresenceModel(coverage, min_mass)],
        device_cols=device_cols,
        window_s=window_s,
        max_neighbours=max_neighbours,
    ).drop(MODEL)
