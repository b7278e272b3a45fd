"""The posterior homes' inner loop, compiled with numba: the votes of a bucket of device-nights in one call.

`home_posterior.night_vote` states the model in NumPy, one device-night at a time, and stays its reference (the
tests hold the two equal). Its cost was Python per night (a union of tiles, searchsorted, index arrays), about
48 task-seconds of the 10 M-event bench run for 140,000 nights. Here a night's scores are summed in a buffer over
the home grid's tiles (reset through the list of tiles it touched), and its district masses likewise.
"""

from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np


@dataclass(frozen=True)
class FlatHomeCoverage:
    """HomeCoverage's per-cell arrays concatenated with offsets, and its share rows indexed by tile."""

    tile_off: np.ndarray  # (cells + 1,) int64: cell c's tiles are tiles[tile_off[c]:tile_off[c + 1]]
    tiles: np.ndarray  # int64
    gain: np.ndarray  # float64: log P(cell | tile) - log_floor
    log_prior: np.ndarray  # (tiles,) float64
    share_off: np.ndarray  # (tiles + 1,) int64: tile t's share rows are share_*[share_off[t]:share_off[t + 1]]
    share_district: np.ndarray  # int64
    share: np.ndarray  # float64
    districts: int


def flatten_home(
    tiles: tuple[np.ndarray, ...],
    gain: tuple[np.ndarray, ...],
    log_prior: np.ndarray,
    share_tile: np.ndarray,
    share_district: np.ndarray,
    share: np.ndarray,
    districts: int,
) -> FlatHomeCoverage:
    """Return the arrays of a HomeCoverage as one FlatHomeCoverage (share rows sorted by tile, as it keeps them)."""
    sizes = np.array([len(t) for t in tiles], dtype=np.int64)
    n_tiles = len(log_prior)
    return FlatHomeCoverage(
        tile_off=np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64),
        tiles=np.concatenate(tiles).astype(np.int64) if tiles else np.empty(0, np.int64),
        gain=np.concatenate(gain).astype(np.float64) if gain else np.empty(0, np.float64),
        log_prior=np.asarray(log_prior, dtype=np.float64),
        share_off=np.searchsorted(share_tile, np.arange(n_tiles + 1)).astype(np.int64),
        share_district=np.asarray(share_district, dtype=np.int64),
        share=np.asarray(share, dtype=np.float64),
        districts=districts,
    )


@numba.njit(cache=True, nogil=True)
def _votes(  # type: ignore[no-untyped-def]
    cell_idx, seconds, starts, cap_s, tile_off, tiles, gain, log_prior, share_off, share_district, share, districts
):
    """Return each night's district (-1: no vote) for the nights [starts[g], starts[g + 1]) of events sorted by
    time within a night, as home_posterior.night_vote computes it."""
    n_nights = len(starts) - 1
    out = np.full(n_nights, -1, np.int64)
    score = np.zeros(len(log_prior))
    seen = np.zeros(len(log_prior), np.bool_)
    touched = np.empty(len(log_prior), np.int64)
    mass = np.zeros(districts)
    cell_w = np.zeros(len(tile_off) - 1)
    listed = np.zeros(len(tile_off) - 1, np.bool_)
    used = np.empty(len(tile_off) - 1, np.int64)
    for g in range(n_nights):
        a, b = starts[g], starts[g + 1]
        n_listed = 0
        for i in range(a, b):  # each event's weight: half the gap on either side, each capped (event_weights)
            before = cap_s if i == a else min(float(seconds[i] - seconds[i - 1]), cap_s)
            after = cap_s if i == b - 1 else min(float(seconds[i + 1] - seconds[i]), cap_s)
            c = cell_idx[i]
            if c < 0:
                continue
            if not listed[c]:
                listed[c] = True
                used[n_listed] = c
                n_listed += 1
            cell_w[c] += (before + after) / (2.0 * cap_s)
        # the cells of positive weight, in index order, as night_vote's np.flatnonzero of the summed weights: an
        # event between two at its own second stands for no time, and its cell adds no tiles
        n_used = 0
        for u in range(n_listed):
            c = used[u]
            listed[c] = False
            if cell_w[c] > 0.0:
                used[n_used] = c
                n_used += 1
        if n_used == 0:
            continue
        used[:n_used].sort()
        n_touched = 0
        for u in range(n_used):
            c = used[u]
            for r in range(tile_off[c], tile_off[c + 1]):
                t = tiles[r]
                if not seen[t]:
                    seen[t] = True
                    score[t] = log_prior[t]
                    touched[n_touched] = t
                    n_touched += 1
        for u in range(n_used):
            c = used[u]
            w = cell_w[c]
            for r in range(tile_off[c], tile_off[c + 1]):
                score[tiles[r]] += w * gain[r]
            cell_w[c] = 0.0
        touched[:n_touched].sort()  # tile order, as night_vote's union of tiles: the same sums in the same order
        best = -np.inf
        for j in range(n_touched):
            best = max(best, score[touched[j]])
        total = 0.0
        for j in range(n_touched):
            t = touched[j]
            score[t] = np.exp(score[t] - best)
            total += score[t]
        for j in range(n_touched):
            t = touched[j]
            p = score[t] / total
            for r in range(share_off[t], share_off[t + 1]):
                mass[share_district[r]] += p * share[r]
            seen[t] = False
        top, top_d = 0.0, -1
        for d in range(districts):  # the first district of the largest mass, as np.argmax; none above 0: no vote
            if mass[d] > top:
                top, top_d = mass[d], d
            mass[d] = 0.0
        out[g] = top_d
    return out


def night_districts(
    flat: FlatHomeCoverage, cell_idx: np.ndarray, seconds: np.ndarray, starts: np.ndarray, *, event_cap_s: float
) -> np.ndarray:
    """Return each night's district index (-1: no vote) for events sorted by night and time; `cell_idx` is -1 for a
    cell the model does not know, `starts` the nights' first rows and the total."""
    return _votes(
        np.ascontiguousarray(cell_idx, dtype=np.int64),
        np.ascontiguousarray(seconds, dtype=np.int64),
        np.ascontiguousarray(starts, dtype=np.int64),
        float(event_cap_s),
        flat.tile_off,
        flat.tiles,
        flat.gain,
        flat.log_prior,
        flat.share_off,
        flat.share_district,
        flat.share,
        flat.districts,
    )
