"""Posterior homes: the district where a device spent a night, from all of that night's events on the home grid.

A phone at home stays put all night, so every event of the night is evidence about one place. Over the tiles of the
home grid (spatial/coverage.py, `home_coverage_tables`):

    log post(tile) = log prior(tile) + sum over events e of w_e * (log P(c_e | tile) - log_floor)

P(c | tile) is the coverage model; a cell that cannot serve a tile counts `log_floor` there, as in the presence
posterior (mobility/posterior.py), which adds the same constant to every tile and so drops out. The night votes for
the district with the most posterior mass: sum over tiles of post(tile) times the tile's share inside the district.

- **Time, not event counts.** An event stands for the time around it: half the gap to the event before plus half
  the gap to the one after, each at most `event_cap_s`, in units of `event_cap_s`. A phone that sleeps at home sends
  a few events in eight hours; an evening out sends many in one. Counting events would put the home in the bar.
- **The prior** is the operator's subscriber density per district (silver/market_share: subscribers over the
  district's area), spread over each tile by its shares. Without market shares it is uniform over the districts.

NumPy per (device, night), in `applyInPandas` calls that each take a bucket of devices (mobility/buckets.py), as the
presence posterior: a night has a handful of distinct cells, each serving a few hundred tiles, so one device-night is
a sum over a few small arrays. The work per device-night is
linear in its events plus its distinct cells times their tiles.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from pyspark.sql import DataFrame
from pyspark.sql import types as T

from footfall import schemas as S
from footfall.mobility.buckets import BUCKET, device_bucket, group_slices
from footfall.mobility.home import with_night
from footfall.mobility.home_kernel import FlatHomeCoverage, flatten_home, night_districts
from footfall.mobility.posterior import LOG_FLOOR
from footfall.mobility.windows import NIGHT

LOG_NO_PRIOR = float(np.log(1e-9))  # a tile in no district: a home there is all but ruled out


@dataclass(frozen=True)
class HomeCoverage:
    """The home grid as arrays: per cell its tiles and log P(cell | tile); per tile its prior and districts."""

    cell_index: dict[str, int]
    tiles: tuple[np.ndarray, ...]  # per cell: the tiles it can serve, sorted
    gain: tuple[np.ndarray, ...]  # per cell: log P(cell | tile) - log_floor, aligned with tiles (> 0)
    log_prior: np.ndarray  # per tile id
    district_ids: tuple[str, ...]
    share_tile: np.ndarray  # the rows of (tile, district, share), sorted by tile
    share_district: np.ndarray
    share: np.ndarray
    flat: FlatHomeCoverage  # the same arrays, concatenated, for the compiled kernel (home_kernel.py)


def build_home_coverage(
    coverage_pdf: pd.DataFrame, tile_districts_pdf: pd.DataFrame, market_share_pdf: pd.DataFrame
) -> HomeCoverage:
    """Return a HomeCoverage from (cell_id, tile_id, p_serve), (tile_id, district_id, share) and the market shares
    (district_id, subscribers)."""
    districts = tuple(sorted(tile_districts_pdf[S.DISTRICT_ID].unique()))
    d_of = {d: i for i, d in enumerate(districts)}
    n_tiles = int(max(coverage_pdf[S.TILE_ID].max(), tile_districts_pdf[S.TILE_ID].max(), -1)) + 1
    # density per district: subscribers per unit of area (area in tiles); uniform without market shares
    area = tile_districts_pdf.groupby(S.DISTRICT_ID)[S.SHARE].sum()
    subs = market_share_pdf.set_index(S.DISTRICT_ID)[S.SUBSCRIBERS].reindex(area.index).fillna(0.0)
    density = subs / area
    if not (density > 0).any():
        density = pd.Series(1.0, index=area.index)
    prior = np.zeros(n_tiles)
    np.add.at(
        prior,
        tile_districts_pdf[S.TILE_ID].to_numpy(np.int64),
        tile_districts_pdf[S.SHARE].to_numpy(float) * tile_districts_pdf[S.DISTRICT_ID].map(density).to_numpy(float),
    )
    log_prior = np.where(prior > 0, np.log(np.where(prior > 0, prior, 1.0)), LOG_NO_PRIOR)
    rows = tile_districts_pdf.sort_values([S.TILE_ID, S.DISTRICT_ID], kind="stable")
    cov = coverage_pdf.sort_values([S.CELL_ID, S.TILE_ID], kind="stable")
    cells: dict[str, int] = {}
    tiles: list[np.ndarray] = []
    gain: list[np.ndarray] = []
    for cell_id, part in cov.groupby(S.CELL_ID, sort=True):
        cells[str(cell_id)] = len(tiles)
        tiles.append(part[S.TILE_ID].to_numpy(np.int64))
        gain.append(np.log(part[S.P_SERVE].to_numpy(float)) - LOG_FLOOR)
    share_tile = rows[S.TILE_ID].to_numpy(np.int64)
    share_district = rows[S.DISTRICT_ID].map(d_of).to_numpy(np.int64)
    share = rows[S.SHARE].to_numpy(float)
    return HomeCoverage(
        cell_index=cells,
        tiles=tuple(tiles),
        gain=tuple(gain),
        log_prior=log_prior,
        district_ids=districts,
        share_tile=share_tile,
        share_district=share_district,
        share=share,
        flat=flatten_home(tuple(tiles), tuple(gain), log_prior, share_tile, share_district, share, len(districts)),
    )


def event_weights(seconds: np.ndarray, *, cap_s: float) -> np.ndarray:
    """Return each event's weight: half the gap before plus half the gap after, each capped at cap_s, over cap_s.

    `seconds` are sorted. The first and last event of the night count a whole cap on their open side.
    """
    gaps = np.diff(seconds.astype(float))
    before = np.minimum(np.concatenate([[cap_s], gaps]), cap_s)
    after = np.minimum(np.concatenate([gaps, [cap_s]]), cap_s)
    return (before + after) / (2.0 * cap_s)


def district_masses(cov: HomeCoverage, cells: np.ndarray, weights: np.ndarray) -> np.ndarray | None:
    """Return the posterior mass of each district for one night's events (cells and their weights), or None when
    no event is on a cell the model knows."""
    idx = np.array([cov.cell_index.get(str(c), -1) for c in cells], dtype=np.int64)
    known = idx >= 0
    if not known.any():
        return None
    per_cell = np.bincount(idx[known], weights=weights[known], minlength=len(cov.tiles))
    used = np.flatnonzero(per_cell)
    union = np.unique(np.concatenate([cov.tiles[c] for c in used]))
    score = cov.log_prior[union].copy()
    for c in used:
        score[np.searchsorted(union, cov.tiles[c])] += per_cell[c] * cov.gain[c]
    post = np.exp(score - score.max())
    post /= post.sum()
    lo, hi = np.searchsorted(cov.share_tile, union, side="left"), np.searchsorted(cov.share_tile, union, side="right")
    # the share rows of each union tile, lo[u] to hi[u], expanded without a Python loop
    counts = hi - lo
    owner = np.repeat(np.arange(len(union)), counts)
    rows = lo[owner] + np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
    return np.bincount(cov.share_district[rows], weights=post[owner] * cov.share[rows], minlength=len(cov.district_ids))


def night_vote(cov: HomeCoverage, cells: np.ndarray, seconds: np.ndarray, *, event_cap_s: float) -> str | None:
    """Return the district of one device-night (events sorted by time), or None without a known cell."""
    masses = district_masses(cov, cells, event_weights(seconds, cap_s=event_cap_s))
    if masses is None or masses.max() <= 0:
        return None
    return cov.district_ids[int(np.argmax(masses))]  # ties: the first district id, as the footprint vote


def nights_votes(ordered: pd.DataFrame, cov: HomeCoverage, *, event_cap_s: float) -> pd.DataFrame:
    """Return pseudo_id, night, district_id: the vote of each device-night in `ordered` (events sorted by pseudo_id,
    night, event_ts and cell_id); a night without a known cell casts none. Compiled (home_kernel.py); the model
    as `night_vote` states it, which `nights_votes_reference` runs night by night."""
    bounds = [a for a, _ in group_slices(ordered, [S.PSEUDO_ID, NIGHT])] + [len(ordered)]
    cell_idx = ordered[S.CELL_ID].map(cov.cell_index).fillna(-1).to_numpy(np.int64)
    seconds = ordered[S.EVENT_TS].to_numpy("datetime64[s]").astype(np.int64)
    found = night_districts(cov.flat, cell_idx, seconds, np.asarray(bounds, np.int64), event_cap_s=event_cap_s)
    voted = np.flatnonzero(found >= 0)
    firsts = np.asarray(bounds[:-1], np.int64)[voted]
    names = np.asarray(cov.district_ids, dtype=object)
    return ordered.iloc[firsts][[S.PSEUDO_ID, NIGHT]].assign(**{S.DISTRICT_ID: names[found[voted]]})


def nights_votes_reference(ordered: pd.DataFrame, cov: HomeCoverage, *, event_cap_s: float) -> pd.DataFrame:
    """`nights_votes` in NumPy, one night at a time (`night_vote`): the model's statement, the tests' reference."""
    seconds = ordered[S.EVENT_TS].to_numpy("datetime64[s]").astype(np.int64)
    cells = ordered[S.CELL_ID].to_numpy()
    firsts: list[int] = []
    votes: list[str] = []
    for a, b in group_slices(ordered, [S.PSEUDO_ID, NIGHT]):
        vote = night_vote(cov, cells[a:b], seconds[a:b], event_cap_s=event_cap_s)
        if vote is not None:
            firsts.append(a)
            votes.append(vote)
    # no vote: typed empty rows, not an untyped frame
    return ordered.iloc[firsts][[S.PSEUDO_ID, NIGHT]].assign(**{S.DISTRICT_ID: np.array(votes, dtype=object)})


VOTE_SCHEMA = T.StructType(
    [
        T.StructField(S.PSEUDO_ID, T.StringType(), False),
        T.StructField(NIGHT, T.DateType(), False),
        T.StructField(S.DISTRICT_ID, T.StringType(), False),
    ]
)


def agg_posterior_night_votes(
    events_df: DataFrame,
    *,
    coverage: HomeCoverage,
    tz: str,
    night_start_hour: int,
    night_end_hour: int,
    event_cap_s: float,
) -> DataFrame:
    """Return pseudo_id, night, district_id: each night's vote, the district with most of its posterior mass.

    Nights as in `home.with_night`: from `night_start_hour` to `night_end_hour` local time, named by the date
    they start on. A night with no event on a known cell casts no vote.
    """
    nightly = with_night(events_df, tz=tz, night_start_hour=night_start_hour, night_end_hour=night_end_hour).select(
        S.PSEUDO_ID, NIGHT, S.EVENT_TS, S.CELL_ID
    )

    def one_bucket(pdf: pd.DataFrame) -> pd.DataFrame:
        return nights_votes(
            pdf.sort_values([S.PSEUDO_ID, NIGHT, S.EVENT_TS, S.CELL_ID], kind="stable").reset_index(drop=True),
            coverage,
            event_cap_s=event_cap_s,
        )

    bucket = device_bucket(events_df.sparkSession, [S.PSEUDO_ID])
    return nightly.groupBy(bucket.alias(BUCKET)).applyInPandas(one_bucket, schema=VOTE_SCHEMA)
