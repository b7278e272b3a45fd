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

This is NumPy over one device's events (`applyInPandas`), not Spark built-ins: every event needs a few hundred tiles
times its neighbours' likelihoods, and exploding events into (event, tile) rows would shuffle that product.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from footfall import schemas as S
from footfall.mobility.stays import NEXT_MASS, PREV_MASS

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

    def touches_zones(self, cell_id: str) -> bool:
        """Return whether an event on the cell can put any mass inside a zone."""
        i = self.cell_index.get(cell_id)
        return i is not None and len(self.zone_rows[i][0]) > 0


def build_coverage(coverage_pdf: pd.DataFrame, shares_pdf: pd.DataFrame, *, zone_prior_factor: float) -> Coverage:
    """Return a Coverage from (cell_id, tile_id, p_serve) and (tile_id, zone_id, share) rows."""
    zone_ids = tuple(sorted(shares_pdf["zone_id"].unique()))
    z_of = {z: i for i, z in enumerate(zone_ids)}
    in_zones = shares_pdf.groupby("tile_id")["share"].sum().clip(upper=1.0)
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
    return Coverage(cells, zone_ids, tuple(tiles), tuple(log_p), tuple(log_prior), tuple(zone_rows))


def _device_likelihoods(
    cov: Coverage, idx: np.ndarray, targets: np.ndarray, *, log_floor: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return (union, rows, table): the sorted union of the target events' tiles, each event's row in `table`, and
    table[row, u] = log P(cell of the row | union tile u) (log_floor where the cell does not serve; the last row is
    for cells the model does not know). One lookup per distinct cell of the device, not per event and neighbour."""
    union = np.unique(np.concatenate([cov.tiles[c] for c in np.unique(idx[targets])]))
    distinct = np.unique(idx[idx >= 0])
    table = np.full((len(distinct) + 1, len(union)), log_floor)
    for k, c in enumerate(distinct):
        own = cov.tiles[c]
        pos = np.searchsorted(union, own)
        hit = (pos < len(union)) & (union[np.minimum(pos, len(union) - 1)] == own)
        table[k, pos[hit]] = cov.log_p[c][hit]
    rows = np.where(idx >= 0, np.searchsorted(distinct, idx), len(distinct))
    return union, rows, table


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

    `cells` are cell ids, `seconds` epoch seconds, both sorted by time. Work per event is bounded: its own cell's
    tiles times at most `max_neighbours` neighbours (the closest in time), so a device costs linear time in its events.
    """
    n = len(cells)
    out = np.zeros((n, len(cov.zone_ids)))
    idx = np.array([cov.cell_index.get(str(c), -1) for c in cells], dtype=np.int64)
    targets = np.array([i for i in range(n) if idx[i] >= 0 and len(cov.zone_rows[idx[i]][0]) > 0], dtype=np.int64)
    if len(targets) == 0:
        return out
    union, rows, table = _device_likelihoods(cov, idx, targets, log_floor=log_floor)
    for i in targets:
        c = idx[i]
        lo = np.searchsorted(seconds, seconds[i] - window_s, side="left")
        hi = np.searchsorted(seconds, seconds[i] + window_s, side="right")
        near = np.concatenate([np.arange(lo, i), np.arange(i + 1, hi)]).astype(np.int64)
        if len(near) > max_neighbours:
            near = near[np.argsort(np.abs(seconds[near] - seconds[i]), kind="stable")[:max_neighbours]]
        weights = 1.0 - np.abs(seconds[near] - seconds[i]).astype(float) / window_s
        near, weights = near[weights > 0], weights[weights > 0]
        logpost = cov.log_prior[c] + cov.log_p[c]
        if len(near):
            support = np.searchsorted(union, cov.tiles[c])
            logpost = logpost + weights @ table[np.ix_(rows[near], support)]
        post = np.exp(logpost - logpost.max())
        post /= post.sum()
        pos, zone, share = cov.zone_rows[c]
        out[i] = np.bincount(zone, weights=post[pos] * share, minlength=len(cov.zone_ids))
    return out


def device_presence(
    pdf: pd.DataFrame,
    cov: Coverage,
    *,
    window_s: float,
    max_neighbours: int,
    min_mass: float,
) -> pd.DataFrame:
    """Return one device's (event, zone) rows with posterior mass >= min_mass, and the mass at the events before and
    after (for entry and exit): columns of `pdf` plus zone_id, presence_weight, prev_mass, next_mass.

    `pdf` holds one device's events sorted by (event_ts, cell_id), with event_ts as datetime64.
    """
    seconds = pdf["event_ts"].to_numpy("datetime64[s]").astype(np.int64)
    masses = zone_masses(cov, pdf["cell_id"].to_numpy(), seconds, window_s=window_s, max_neighbours=max_neighbours)
    ev, zn = np.nonzero(masses >= min_mass)
    if len(ev) == 0:
        # typed empties: an empty float column sent to Arrow as a string becomes a ChunkedArray, which Spark refuses
        empty = np.empty(0)
        return pdf.iloc[0:0].assign(
            **{S.ZONE_ID: np.empty(0, dtype=object), S.PRESENCE_WEIGHT: empty, PREV_MASS: empty, NEXT_MASS: empty}
        )
    padded = np.vstack([np.zeros((1, masses.shape[1])), masses, np.zeros((1, masses.shape[1]))])
    return pdf.iloc[ev].assign(
        **{
            S.ZONE_ID: np.asarray(cov.zone_ids, dtype=object)[zn],
            S.PRESENCE_WEIGHT: masses[ev, zn],
            PREV_MASS: padded[ev, zn],  # row ev of padded is event ev - 1
            NEXT_MASS: padded[ev + 2, zn],
        }
    )


PRESENCE_FIELDS = (
    T.StructField(S.ZONE_ID, T.StringType(), False),
    T.StructField(S.PRESENCE_WEIGHT, T.DoubleType(), False),
    T.StructField(PREV_MASS, T.DoubleType(), False),
    T.StructField(NEXT_MASS, T.DoubleType(), False),
)


def with_posterior_presence(
    events_df: DataFrame,
    *,
    coverage: Coverage,
    device_cols: tuple[str, ...],
    window_s: float,
    max_neighbours: int,
    min_mass: float,
) -> DataFrame:
    """Return the (event, zone) rows where the event's posterior mass in the zone is at least min_mass.

    Columns: those of `events_df` (one row per event, with event_ts and cell_id) plus zone_id, presence_weight (the
    mass) and prev_mass, next_mass (the zone's mass at the device's events before and after). Only devices with an
    event on a cell that can serve a zone reach Python; the others cannot be present anywhere.
    """
    touching = sorted(c for c in coverage.cell_index if coverage.touches_zones(c))
    seen = events_df.where(F.col(S.CELL_ID).isin(touching)).select(*device_cols).distinct()
    relevant = events_df.join(seen, on=list(device_cols), how="left_semi")
    schema = T.StructType([*events_df.schema.fields, *PRESENCE_FIELDS])
    names = schema.fieldNames()

    def one_device(pdf: pd.DataFrame) -> pd.DataFrame:
        ordered = pdf.sort_values([S.EVENT_TS, S.CELL_ID], kind="stable").reset_index(drop=True)
        out = device_presence(ordered, coverage, window_s=window_s, max_neighbours=max_neighbours, min_mass=min_mass)
        return out[names]

    return relevant.groupBy(*device_cols).applyInPandas(one_device, schema=schema)
