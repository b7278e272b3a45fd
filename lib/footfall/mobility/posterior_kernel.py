"""The posterior's inner loop, compiled with numba: the zone masses of a bucket of devices in one call.

`posterior.zone_masses` states the model in NumPy, one device at a time, and stays its reference (the tests hold the
two equal). Its cost was not the arithmetic but the temporaries: per block of targets it allocated and swept
(targets x tiles) arrays five times over, and per device it rebuilt index arrays in Python. Here each target's log
posterior is summed in one buffer over its own cell's tiles, from rows gathered once per device and cell, and only
the zones of its own cell are kept (CSR rows: no events x zones array, whatever the number of zones).

Tiles more than NEGLIGIBLE below the best tile are not exponentiated: e^-36 is below the rounding of the best
tile's term (1), so the sums are the same to 1e-13.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numba
import numpy as np

NEGLIGIBLE = -36.0


@dataclass(frozen=True)
class FlatCoverage:
    """The coverage model's per-cell arrays concatenated, with offsets: what the kernel takes."""

    tile_off: np.ndarray  # (cells + 1,) int64: cell c's tiles are tiles[tile_off[c]:tile_off[c + 1]]
    tiles: np.ndarray  # int64, sorted within each cell
    log_p: np.ndarray  # float64: log P(cell | tile)
    log_prior: np.ndarray  # float64
    zone_off: np.ndarray  # (cells + 1,) int64: cell c's zone rows
    zone_pos: np.ndarray  # int64: the row's tile, as a position in the cell's own tiles
    zone_z: np.ndarray  # int64: the zone
    zone_share: np.ndarray  # float64: the tile's share inside the zone
    zones: int


def flatten(
    tiles: tuple[np.ndarray, ...],
    log_p: tuple[np.ndarray, ...],
    log_prior: tuple[np.ndarray, ...],
    zone_rows: tuple[tuple[np.ndarray, np.ndarray, np.ndarray], ...],
    zones: int,
) -> FlatCoverage:
    """Return the per-cell arrays of a coverage model as one FlatCoverage."""

    def offsets(sizes: list[int]) -> np.ndarray:
        return np.concatenate([[0], np.cumsum(sizes, dtype=np.int64)]).astype(np.int64)

    def joined(parts: list[np.ndarray], dtype: Any) -> np.ndarray:
        return np.concatenate(parts).astype(dtype) if parts else np.empty(0, dtype)

    return FlatCoverage(
        tile_off=offsets([len(t) for t in tiles]),
        tiles=joined(list(tiles), np.int64),
        log_p=joined(list(log_p), np.float64),
        log_prior=joined(list(log_prior), np.float64),
        zone_off=offsets([len(z[0]) for z in zone_rows]),
        zone_pos=joined([z[0] for z in zone_rows], np.int64),
        zone_z=joined([z[1] for z in zone_rows], np.int64),
        zone_share=joined([z[2] for z in zone_rows], np.float64),
        zones=zones,
    )


@numba.njit(cache=True, nogil=True)
def _neighbours(seconds, lo, hi, i, k, window_s, nb_ev, nb_w, cand, gap):  # type: ignore[no-untyped-def]
    """Fill nb_ev and nb_w with event i's k closest events in time among the k before and k after it in [lo, hi),
    weighted 1 - |dt| / window_s (at least 0), as posterior._neighbours picks them (a stable sort of the candidates
    -k..-1, 1..k by gap: a tie goes to the event before); return how many."""
    m = 0
    for off in range(-k, k + 1):
        j = i + off
        if off != 0 and lo <= j < hi:
            cand[m] = j
            gap[m] = abs(seconds[j] - seconds[i])
            m += 1
    for a in range(1, m):  # insertion sort: stable, and m is at most 2k
        g, c = gap[a], cand[a]
        b = a - 1
        while b >= 0 and gap[b] > g:
            gap[b + 1] = gap[b]
            cand[b + 1] = cand[b]
            b -= 1
        gap[b + 1] = g
        cand[b + 1] = c
    n = min(m, k)
    for a in range(n):
        nb_ev[a] = cand[a]
        nb_w[a] = max(1.0 - gap[a] / window_s, 0.0)
    return n


@numba.njit(cache=True, nogil=True)
def _device(  # type: ignore[no-untyped-def]
    lo, hi, idx, seconds, cov, window_s, max_neighbours, log_floor, work, rows
):
    """Fill the rows of the device's events [lo, hi): target i's zone masses go to out_z and out_m from ptr[i], and
    cnt[i] says how many (`rows`); `work` holds the bucket's reusable scratch arrays."""
    row_of, scratch, touched_z, slot = work
    ptr, cnt, out_z, out_m = rows
    tile_off, tiles, log_p, log_prior, zone_off, zone_pos, zone_z, zone_share = cov
    distinct = np.empty(hi - lo, np.int64)
    n_rows = 0
    targets = 0
    for e in range(lo, hi):
        c = idx[e]
        if c >= 0:
            if row_of[c] < 0:
                row_of[c] = n_rows
                distinct[n_rows] = c
                n_rows += 1
            if zone_off[c + 1] > zone_off[c]:
                targets += 1
    if targets > 0:
        # the union of the target cells' tiles, and log P(cell | tile) of every distinct cell over it
        total = 0
        for r in range(n_rows):
            c = distinct[r]
            if zone_off[c + 1] > zone_off[c]:
                total += tile_off[c + 1] - tile_off[c]
        gathered = np.empty(total, np.int64)
        p = 0
        for r in range(n_rows):
            c = distinct[r]
            if zone_off[c + 1] > zone_off[c]:
                gathered[p : p + tile_off[c + 1] - tile_off[c]] = tiles[tile_off[c] : tile_off[c + 1]]
                p += tile_off[c + 1] - tile_off[c]
        union = np.unique(gathered)
        n_union = len(union)
        table = np.full((n_rows, n_union), log_floor)
        for r in range(n_rows):
            c = distinct[r]
            pos = np.searchsorted(union, tiles[tile_off[c] : tile_off[c + 1]])
            for a in range(len(pos)):
                if pos[a] < n_union and union[pos[a]] == tiles[tile_off[c] + a]:
                    table[r, pos[a]] = log_p[tile_off[c] + a]
        k = max(max_neighbours, 1)
        nb_ev, nb_w = np.empty(k, np.int64), np.empty(k, np.float64)
        cand, gap = np.empty(2 * k, np.int64), np.empty(2 * k, np.float64)
        wrow = np.zeros(n_rows)
        touched = np.empty(k, np.int64)
        done = np.zeros(n_rows, np.bool_)
        for first in range(lo, hi):
            c = idx[first]
            if c < 0 or zone_off[c + 1] == zone_off[c] or done[row_of[c]]:
                continue
            done[row_of[c]] = True
            # the targets on own cell c: its support's rows, gathered once, contiguous
            t0, t1 = tile_off[c], tile_off[c + 1]
            n_sup = t1 - t0
            sup = np.searchsorted(union, tiles[t0:t1])
            sub = np.empty((n_rows, n_sup))
            for r in range(n_rows):
                for s in range(n_sup):
                    sub[r, s] = table[r, sup[s]]
            base = log_p[t0:t1] + log_prior[t0:t1]
            lp = np.empty(n_sup)
            for i in range(first, hi):
                if idx[i] != c:
                    continue
                nt = 0
                if max_neighbours > 0 and hi - lo > 1:
                    nn = _neighbours(seconds, lo, hi, i, max_neighbours, window_s, nb_ev, nb_w, cand, gap)
                    for a in range(nn):
                        cj = idx[nb_ev[a]]
                        # an unknown cell adds the same log_floor to every tile, a weight 0 nothing: no effect
                        if cj < 0 or nb_w[a] == 0.0:
                            continue
                        r = row_of[cj]
                        if wrow[r] == 0.0:
                            touched[nt] = r
                            nt += 1
                        wrow[r] += nb_w[a]
                lp[:] = base
                for a in range(nt):
                    r = touched[a]
                    w = wrow[r]
                    wrow[r] = 0.0
                    if w != 0.0:
                        for s in range(n_sup):
                            lp[s] += w * sub[r, s]
                top = lp.max()
                norm = 0.0
                for s in range(n_sup):
                    d = lp[s] - top
                    e = np.exp(d) if d > NEGLIGIBLE else 0.0
                    lp[s] = e
                    norm += e
                # the zones of own cell c, each summed once (slot: where zone z sums for this event)
                nz = 0
                for zr in range(zone_off[c], zone_off[c + 1]):
                    z = zone_z[zr]
                    if slot[z] < 0:
                        slot[z] = nz
                        touched_z[nz] = z
                        scratch[nz] = 0.0
                        nz += 1
                    scratch[slot[z]] += lp[zone_pos[zr]] * zone_share[zr]
                if nz > ptr[i + 1] - ptr[i]:  # never: room was made for every zone of the cell (_csr_sizes)
                    raise IndexError("posterior kernel: more zones than the cell has")
                for a in range(nz):
                    z = touched_z[a]
                    out_z[ptr[i] + a] = z
                    out_m[ptr[i] + a] = scratch[a] / norm
                    slot[z] = -1
                cnt[i] = nz
    for r in range(n_rows):
        row_of[distinct[r]] = -1


@numba.njit(cache=True, nogil=True)
def _csr_sizes(idx, zone_off, zone_z, zones):  # type: ignore[no-untyped-def]
    """Return per event the most zone entries it can have: the distinct zones of its own cell."""
    sizes = np.zeros(len(idx), np.int64)
    seen = np.full(zones, -1, np.int64)
    for i in range(len(idx)):
        c = idx[i]
        if c < 0:
            continue
        for zr in range(zone_off[c], zone_off[c + 1]):
            z = zone_z[zr]
            if seen[z] != i:
                seen[z] = i
                sizes[i] += 1
    return sizes


@numba.njit(cache=True, nogil=True)
def _pick(starts, ptr, cnt, out_z, out_m, min_mass):  # type: ignore[no-untyped-def]
    """Return (event, zone, mass, prev_mass, next_mass) of every entry with mass >= min_mass: prev and next are the
    zone's mass at the device's events before and after (0 at the device's first or last event, or without one)."""
    n = 0
    for i in range(len(cnt)):
        for q in range(ptr[i], ptr[i] + cnt[i]):
            if out_m[q] >= min_mass:
                n += 1
    ev, zn = np.empty(n, np.int64), np.empty(n, np.int64)
    mass, prev, nxt = np.empty(n), np.empty(n), np.empty(n)
    o = 0
    for d in range(len(starts) - 1):
        lo, hi = starts[d], starts[d + 1]
        for i in range(lo, hi):
            for q in range(ptr[i], ptr[i] + cnt[i]):
                if out_m[q] < min_mass:
                    continue
                z = out_z[q]
                ev[o], zn[o], mass[o] = i, z, out_m[q]
                prev[o] = 0.0
                nxt[o] = 0.0
                if i > lo:
                    for qq in range(ptr[i - 1], ptr[i - 1] + cnt[i - 1]):
                        if out_z[qq] == z:
                            prev[o] = out_m[qq]
                if i + 1 < hi:
                    for qq in range(ptr[i + 1], ptr[i + 1] + cnt[i + 1]):
                        if out_z[qq] == z:
                            nxt[o] = out_m[qq]
                o += 1
    return ev, zn, mass, prev, nxt


@numba.njit(cache=True, nogil=True)
def _fill(starts, idx, seconds, cov, window_s, max_neighbours, log_floor, work, rows):  # type: ignore[no-untyped-def]
    """Fill the rows of every device of the bucket (`_device`)."""
    for d in range(len(starts) - 1):
        _device(starts[d], starts[d + 1], idx, seconds, cov, window_s, max_neighbours, log_floor, work, rows)


def presence_rows(
    flat: FlatCoverage,
    starts: np.ndarray,
    idx: np.ndarray,
    seconds: np.ndarray,
    *,
    window_s: float,
    max_neighbours: int,
    min_mass: float,
    log_floor: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Return (event, zone, mass, prev_mass, next_mass) for the events of a bucket whose posterior mass in a zone is
    at least min_mass. `starts` bounds the devices (first event of each, then the number of events); within a
    device, events are in time order; `idx` is each event's cell index in the coverage (-1: unknown)."""
    sizes = _csr_sizes(idx, flat.zone_off, flat.zone_z, flat.zones)
    # event i's entries live at ptr[i] (room for every zone of its cell); cnt[i] says how many there are
    ptr = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    cnt = np.zeros(len(idx), np.int64)
    out_z = np.empty(int(ptr[-1]), np.int64)
    out_m = np.empty(int(ptr[-1]))
    cov = (flat.tile_off, flat.tiles, flat.log_p, flat.log_prior, flat.zone_off, flat.zone_pos, flat.zone_z,
           flat.zone_share)  # fmt: skip
    row_of = np.full(len(flat.tile_off) - 1, -1, np.int64)
    zones = max(flat.zones, 1)
    scratch, touched_z, slot = np.zeros(zones), np.empty(zones, np.int64), np.full(zones, -1, np.int64)
    work = (row_of, scratch, touched_z, slot)
    _fill(
        starts,
        idx,
        seconds,
        cov,
        float(window_s),
        int(max_neighbours),
        float(log_floor),
        work,
        (ptr, cnt, out_z, out_m),
    )
    return _pick(starts, ptr, cnt, out_z, out_m, float(min_mass))
