"""The posterior's inner loop, compiled with numba: the zone masses of a bucket of devices in one call.

`posterior.zone_masses` states the model in NumPy, one device at a time, and stays its reference (the tests hold the
two equal). Here each target's log posterior is summed in one buffer over its own cell's tiles, and only the zones
of its own cell are kept (CSR rows: no events x zones array, whatever the number of zones).

Where the time went, and what replaced it (issue 29; 200,000 events of a bench day, 107,000 targets):
- Per device, a (cells x tiles) table of log P(cell | tile) over the union of its target cells' tiles, then per own
  cell a copy of its columns: most of the kernel once the exp was fast. Now a neighbour's evidence is its overlap
  with the own cell only (`_pairs`): log_floor adds the same to every tile, which the normalisation cancels, so only
  the tiles both cells serve are added, and each (own cell, neighbour cell) pair is built once per bucket.
- np.exp over each target's 1,337 tiles: a libm call per tile, never vectorised. Now `_exp_le0`, plain arithmetic
  that LLVM vectorises (VECTOR flags).
Together 2.3-2.9 s -> 0.5 s for those events, the same rows (masses within 2e-15 of the old kernel's).

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


# Reassociation lets LLVM vectorise the loops below (4 doubles per AVX2 instruction); no flag that assumes away
# NaN or infinity. The sums then differ from the sequential ones by rounding only (1e-15 relative).
VECTOR = {"reassoc", "contract", "nsz", "arcp"}

# exp(x) for x in [NEGLIGIBLE, 0] as exp(x / 64) ** 64: a degree-15 Taylor polynomial on [-0.57, 0] (truncation below
# 1e-17), then six squarings. Plain arithmetic, so the loop vectorises where np.exp's libm call does not: 3.4 against
# 14.3 us for a cell's 1,337 tiles, within 2e-14 of np.exp (tests/test_mobility_posterior.py).


@numba.njit(cache=True, nogil=True, fastmath=VECTOR, inline="always")
def _exp_le0(d):  # type: ignore[no-untyped-def]
    r = max(d, NEGLIGIBLE - 4.0) * 0.015625
    p = 1.0 / 1307674368000.0  # 1 / 15!
    p = p * r + 1.1470745597729725e-11  # 1 / 14!
    p = p * r + 1.6059043836821613e-10  # 1 / 13!
    p = p * r + 2.08767569878681e-09  # 1 / 12!
    p = p * r + 2.505210838544172e-08  # 1 / 11!
    p = p * r + 2.755731922398589e-07  # 1 / 10!
    p = p * r + 2.7557319223985893e-06  # 1 / 9!
    p = p * r + 2.48015873015873e-05  # 1 / 8!
    p = p * r + 0.0001984126984126984  # 1 / 7!
    p = p * r + 0.001388888888888889  # 1 / 6!
    p = p * r + 0.008333333333333333  # 1 / 5!
    p = p * r + 0.041666666666666664  # 1 / 4!
    p = p * r + 0.16666666666666666  # 1 / 3!
    p = p * r + 0.5  # 1 / 2!
    p = p * r + 1.0  # 1 / 1!
    p = p * r + 1.0  # 1 / 0!
    p = p * p  # ** 2 (unrolled: a loop here keeps LLVM from vectorising the caller)
    p = p * p  # ** 4
    p = p * p  # ** 8
    p = p * p  # ** 16
    p = p * p  # ** 32
    p = p * p  # ** 64
    return p


@numba.njit(cache=True, nogil=True, fastmath=VECTOR)
def _exp_normalise(lp):  # type: ignore[no-untyped-def]
    """Replace the log posterior in `lp` by exp(lp - max), 0 where that is below e^NEGLIGIBLE; return their sum."""
    top = lp[0]
    for s in range(1, len(lp)):
        top = max(top, lp[s])
    norm = 0.0
    for s in range(len(lp)):
        d = lp[s] - top
        e = _exp_le0(d) if d > NEGLIGIBLE else 0.0
        lp[s] = e
        norm += e
    return norm


@numba.njit(cache=True, nogil=True, fastmath=VECTOR)
def _add_scaled(lp, w, row):  # type: ignore[no-untyped-def]
    for s in range(len(lp)):
        lp[s] += w * row[s]


def exp_le0(d: np.ndarray) -> np.ndarray:
    """The kernel's exp for an array of values in [NEGLIGIBLE, 0] (for the tests)."""
    return np.array([_exp_le0(float(x)) for x in d])


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
def _overlap(tile_off, tiles, log_p, c, cj, log_floor, pos, delta, o, fill):  # type: ignore[no-untyped-def]
    """Return how many tiles cells c and cj both serve; with `fill`, write from entry o each one's position in c's
    tiles (pos) and log P(cj | tile) - log_floor (delta)."""
    i0 = tile_off[c]
    i, i1, j, j1 = i0, tile_off[c + 1], tile_off[cj], tile_off[cj + 1]
    n = 0
    while i < i1 and j < j1:
        if tiles[i] == tiles[j]:
            if fill:
                pos[o + n] = i - i0
                delta[o + n] = log_p[j] - log_floor
            n += 1
            i += 1
            j += 1
        elif tiles[i] < tiles[j]:
            i += 1
        else:
            j += 1
    return n


@numba.njit(cache=True, nogil=True)
def _pairs(starts, idx, seconds, window_s, max_neighbours, tile_off, tiles, log_p, zone_off, log_floor):  # type: ignore[no-untyped-def]
    """Return the overlaps of the bucket's (own cell, neighbour cell) pairs: `slot_of` maps c * cells + cj to a
    slot, and slot q's entries [start[q], start[q + 1]) hold, for each tile both cells serve, its position in c's
    tiles and log P(cj | tile) - log_floor.

    A neighbour's evidence over c's tiles is log_floor everywhere but where cj serves too; the constant part adds
    the same to every tile, which the normalisation cancels, so only the overlap is added. Each pair is computed
    once per bucket, not once per device: every pair of a target's cell and the cell of an event among its
    max_neighbours before or after, within window_s (a superset of the neighbours _neighbours picks)."""
    cells = len(tile_off) - 1
    slot_of = numba.typed.Dict.empty(key_type=numba.types.int64, value_type=numba.types.int64)
    own, other = [0], [0]
    own.pop()
    other.pop()
    for d in range(len(starts) - 1):
        lo, hi = starts[d], starts[d + 1]
        for i in range(lo, hi):
            c = idx[i]
            if c < 0 or zone_off[c + 1] == zone_off[c]:
                continue
            for j in range(max(lo, i - max_neighbours), min(hi, i + max_neighbours + 1)):
                cj = idx[j]
                if j == i or cj < 0 or abs(seconds[j] - seconds[i]) >= window_s:
                    continue
                key = c * cells + cj
                if key not in slot_of:
                    slot_of[key] = len(own)
                    own.append(c)
                    other.append(cj)
    sizes = np.zeros(len(own) + 1, np.int64)
    none_i, none_f = np.empty(0, np.int64), np.empty(0, np.float64)
    for q in range(len(own)):  # first the sizes, then the entries: one merge of two sorted tile lists each
        sizes[q + 1] = _overlap(tile_off, tiles, log_p, own[q], other[q], log_floor, none_i, none_f, 0, False)
    start = np.cumsum(sizes)
    pos = np.empty(start[-1], np.int64)
    delta = np.empty(start[-1], np.float64)
    for q in range(len(own)):
        _overlap(tile_off, tiles, log_p, own[q], other[q], log_floor, pos, delta, start[q], True)
    return slot_of, start, pos, delta


@numba.njit(cache=True, nogil=True)
def _device(  # type: ignore[no-untyped-def]
    lo, hi, idx, seconds, cov, window_s, max_neighbours, pairs, work, rows
):
    """Fill the rows of the device's events [lo, hi): target i's zone masses go to out_z and out_m from ptr[i], and
    cnt[i] says how many (`rows`); `pairs` are the bucket's cell overlaps (_pairs), `work` its scratch arrays."""
    row_of, scratch, touched_z, slot = work
    ptr, cnt, out_z, out_m = rows
    tile_off, base, zone_off, zone_pos, zone_z, zone_share = cov
    slot_of, p_start, p_pos, p_delta = pairs
    cells = len(tile_off) - 1
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
        k = max(max_neighbours, 1)
        nb_ev, nb_w = np.empty(k, np.int64), np.empty(k, np.float64)
        cand, gap = np.empty(2 * k, np.int64), np.empty(2 * k, np.float64)
        wrow = np.zeros(n_rows)
        touched = np.empty(k, np.int64)
        row_slot = np.empty(n_rows, np.int64)
        done = np.zeros(n_rows, np.bool_)
        for first in range(lo, hi):
            c = idx[first]
            if c < 0 or zone_off[c + 1] == zone_off[c] or done[row_of[c]]:
                continue
            done[row_of[c]] = True
            # the targets on own cell c: their log posterior over c's tiles
            t0, t1 = tile_off[c], tile_off[c + 1]
            lp = np.empty(t1 - t0)
            for r in range(n_rows):  # -1: no target on c has an event on that cell among its neighbours
                row_slot[r] = slot_of.get(c * cells + distinct[r], -1)
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
                lp[:] = base[t0:t1]
                for a in range(nt):
                    r = touched[a]
                    w = wrow[r]
                    wrow[r] = 0.0
                    if w != 0.0:
                        q = row_slot[r]
                        if q < 0:  # never: _pairs saw every neighbour with a weight
                            raise IndexError("posterior kernel: a neighbour cell without its overlap")
                        a0, a1 = p_start[q], p_start[q + 1]
                        if a1 - a0 == t1 - t0:  # cj serves every tile of c (c itself): one vectorised pass
                            _add_scaled(lp, w, p_delta[a0:a1])
                        else:
                            for e in range(a0, a1):
                                lp[p_pos[e]] += w * p_delta[e]
                norm = _exp_normalise(lp)
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
def _fill(starts, idx, seconds, cov, window_s, max_neighbours, pairs, work, rows):  # type: ignore[no-untyped-def]
    """Fill the rows of every device of the bucket (`_device`)."""
    for d in range(len(starts) - 1):
        _device(starts[d], starts[d + 1], idx, seconds, cov, window_s, max_neighbours, pairs, work, rows)


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
    pairs = _pairs(
        starts,
        idx,
        seconds,
        float(window_s),
        int(max_neighbours),
        flat.tile_off,
        flat.tiles,
        flat.log_p,
        flat.zone_off,
        float(log_floor),
    )
    cov = (flat.tile_off, flat.log_p + flat.log_prior, flat.zone_off, flat.zone_pos, flat.zone_z, flat.zone_share)
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
        pairs,
        work,
        (ptr, cnt, out_z, out_m),
    )
    return _pick(starts, ptr, cnt, out_z, out_m, float(min_mass))
