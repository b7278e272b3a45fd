"""A day in the life: plans of stops and legs, the events a phone sends, and the true stays in zones.

Times inside a day are seconds since local midnight (an instant: on a DST day the day has 23 or 25 hours and
the plan simply runs on elapsed time). Positions are metres in the city's local frame.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import shapely
from scipy.spatial import cKDTree

from footfall.synth.geo import angle_diff_deg, bearing_deg
from footfall.synth.layout import City

WALK_MPS = 1.3
STROLL_MPS = 1.0
RIDE_MPS = 7.0  # door to door by transit or car, stops included
WALK_LIMIT_M = 1_200.0
PATH_LOSS_EXP = 3.5
SHADOWING_DB = 4.0
WALL_LOSS_DB = 18.0

# xDR: a phone alternates between active spells (a session every few minutes) and idle ones (background pings).
ACTIVE_SPELL_S = 8 * 60
IDLE_SPELL_S = 40 * 60
ACTIVE_GAP_S = 3 * 60
IDLE_GAP_S = 30 * 60
SLEEP_GAP_S = 50 * 60
CDR_PER_DAY = 6.0

NEAREST = 16  # candidate cells per event

SEG_COLUMNS = ("t0", "t1", "x0", "y0", "x1", "y1")


@dataclass
class Plan:
    """A day as consecutive segments; a stop is a segment that does not move."""

    t0: list[float] = field(default_factory=list)
    t1: list[float] = field(default_factory=list)
    x0: list[float] = field(default_factory=list)
    y0: list[float] = field(default_factory=list)
    x1: list[float] = field(default_factory=list)
    y1: list[float] = field(default_factory=list)

    def add(self, t0: float, t1: float, a: tuple[float, float], b: tuple[float, float]) -> None:
        """Append a segment from a at t0 to b at t1."""
        if t1 <= t0:
            return
        self.t0.append(t0)
        self.t1.append(t1)
        self.x0.append(a[0])
        self.y0.append(a[1])
        self.x1.append(b[0])
        self.y1.append(b[1])


class DayBuilder:
    """Builds one person's plan: go somewhere, stay, go on; never past the end of the day."""

    def __init__(self, start_xy: tuple[float, float], day_len: float) -> None:
        self.plan = Plan()
        self.pos = start_xy
        self.t = 0.0
        self.end = day_len - 60.0

    def stay_until(self, t: float) -> None:
        """Stay where we are until t (or the end of the day)."""
        t = min(t, self.end)
        self.plan.add(self.t, t, self.pos, self.pos)
        self.t = max(self.t, t)

    def go(self, dest: tuple[float, float], speed: float | None = None) -> None:
        """Travel in a straight line to dest, walking when near, riding when far."""
        dist = math.hypot(dest[0] - self.pos[0], dest[1] - self.pos[1])
        if speed is None:
            speed = WALK_MPS if dist <= WALK_LIMIT_M else RIDE_MPS
        arrive = min(self.t + dist / speed, self.end)
        if arrive <= self.t:
            return
        frac = (arrive - self.t) * speed / dist if dist > 0 else 1.0
        frac = min(frac, 1.0)
        reached = (self.pos[0] + frac * (dest[0] - self.pos[0]), self.pos[1] + frac * (dest[1] - self.pos[1]))
        self.plan.add(self.t, arrive, self.pos, reached)
        self.pos, self.t = reached, arrive

    def finish(self) -> Plan:
        """Stay put until midnight and return the plan."""
        self.plan.add(self.t, self.end + 60.0, self.pos, self.pos)
        return self.plan


@dataclass(frozen=True)
class SimContext:
    """City data prepared once per worker: arrays for cells, shapes for zones."""

    zone_polys: np.ndarray
    zone_ids: tuple[str, ...]
    zone_category: tuple[str, ...]
    zone_paths: tuple[shapely.LineString | None, ...]
    zone_tree: shapely.STRtree
    street_stores: dict[int, list[int]]
    cell_ids: np.ndarray
    cell_xy: np.ndarray
    cell_az: np.ndarray
    cell_bw: np.ndarray
    cell_range: np.ndarray
    cell_power: np.ndarray
    cell_indoor: np.ndarray
    cell_from: np.ndarray  # epoch seconds
    cell_to: np.ndarray  # epoch seconds, +inf when still active
    cell_tree: cKDTree

    @classmethod
    def of(cls, city: City) -> SimContext:
        """Prepare a city for simulation."""
        polys = np.array([z.polygon for z in city.zones], dtype=object)
        stores: dict[int, list[int]] = {}
        for i, z in enumerate(city.zones):
            if z.category == "shopping_street":
                near = shapely.STRtree(polys).query(z.polygon.buffer(6.0), predicate="intersects")
                stores[i] = [int(j) for j in near if city.zones[j].category == "store_front"]
        c = city.cells
        to = c["valid_to"]
        return cls(
            zone_polys=polys,
            zone_ids=tuple(z.zone_id for z in city.zones),
            zone_category=tuple(z.category for z in city.zones),
            zone_paths=tuple(z.path for z in city.zones),
            zone_tree=shapely.STRtree(polys),
            street_stores=stores,
            cell_ids=c["cell_id"].to_numpy(str),
            cell_xy=c[["x", "y"]].to_numpy(float),
            cell_az=c["azimuth_deg"].to_numpy(float),
            cell_bw=c["beamwidth_deg"].to_numpy(float),
            cell_range=c["range_m"].to_numpy(float),
            cell_power=c["power_db"].to_numpy(float),
            cell_indoor=c["indoor_zone"].to_numpy(int),
            cell_from=c["valid_from"].map(pd.Timestamp.timestamp).to_numpy(float),
            cell_to=np.where(to.isna(), np.inf, to.map(lambda v: v.timestamp() if pd.notna(v) else np.inf)),
            cell_tree=cKDTree(c[["x", "y"]].to_numpy(float)),
        )


def _point_in_zone(rng: np.random.Generator, ctx: SimContext, z: int) -> tuple[float, float]:
    poly = ctx.zone_polys[z]
    minx, miny, maxx, maxy = poly.bounds
    for _ in range(200):
        x, y = rng.uniform(minx, maxx), rng.uniform(miny, maxy)
        if shapely.contains_xy(poly, x, y):
            return float(x), float(y)
    c = poly.representative_point()
    return float(c.x), float(c.y)


def _lognormal_s(rng: np.random.Generator, median_s: float, sigma: float = 0.5) -> float:
    return float(median_s * math.exp(rng.normal(0, sigma)))


def _visit_zone(b: DayBuilder, rng: np.random.Generator, ctx: SimContext, z: int, *, evening: bool = False) -> None:
    """Go to zone z and spend time there the way people use that kind of place."""
    category = ctx.zone_category[z]
    if category == "shopping_street" and not evening:
        path = ctx.zone_paths[z]
        assert path is not None
        ends = list(path.coords)
        if rng.random() < 0.5:
            ends.reverse()
        b.go(ends[0])
        stores = ctx.street_stores.get(z, [])
        if stores and rng.random() < 0.6:
            store = int(rng.choice(stores))
            sp = ctx.zone_polys[store].centroid
            mid = path.interpolate(path.project(sp))
            b.go((mid.x, mid.y), STROLL_MPS)
            inside = _point_in_zone(rng, ctx, store)
            b.go(inside, WALK_MPS)
            b.stay_until(b.t + rng.uniform(120, 1_200))
            b.go((mid.x, mid.y), WALK_MPS)
        if rng.random() < 0.35:  # window shopping: linger somewhere on the street
            b.stay_until(b.t + rng.uniform(60, 600))
        b.go(ends[1], STROLL_MPS * rng.uniform(0.8, 1.2))
        return
    b.go(_point_in_zone(rng, ctx, z))
    if evening:
        dwell = rng.uniform(3_600, 9_000)
    elif category == "mall":
        dwell = _lognormal_s(rng, 50 * 60)
    elif category == "market_square":
        dwell = _lognormal_s(rng, 20 * 60, 0.7)
    else:
        dwell = rng.uniform(90, 1_500)  # store fronts: many stops are shorter than a visit
    b.stay_until(b.t + dwell)


def plan_day(rng: np.random.Generator, ctx: SimContext, person: pd.Series, weekday: int, day_len: float) -> Plan:
    """Return one person's day: sleep, commute, work or school, errands and shopping, evenings out."""
    home = (float(person.home_x), float(person.home_y))
    has_work = not math.isnan(person.work_x)
    work = (float(person.work_x), float(person.work_y)) if has_work else home
    weekend = weekday >= 5
    b = DayBuilder(home, day_len)
    wake = rng.normal(8.5 if weekend else 6.8, 0.8 if weekend else 0.6) * 3600
    b.stay_until(wake + rng.uniform(1_200, 3_600))
    favs = [int(person.fav1), int(person.fav2), int(person.fav3)]

    def pick_zone() -> int:
        return favs[int(rng.integers(0, 3))] if rng.random() < 0.8 else int(rng.integers(0, len(ctx.zone_ids)))

    if has_work and not weekend:
        b.go(work)
        if person.role == "worker" and rng.random() < 0.3:  # lunch out near work
            b.stay_until(rng.normal(12.2, 0.4) * 3600)
            near = ctx.zone_tree.query(shapely.Point(work).buffer(900.0), predicate="intersects")
            if len(near):
                _visit_zone(b, rng, ctx, int(rng.choice(near)))
                b.go(work)
        b.stay_until(rng.normal(16.8 if person.role == "worker" else 14.5, 0.8) * 3600)
        if rng.random() < person.shop_rate:
            _visit_zone(b, rng, ctx, pick_zone())
    else:
        trips = int(rng.poisson(person.shop_rate * (2.2 if weekday == 5 else 1.3 if weekend else 1.0)))
        for _ in range(min(trips, 3)):
            b.stay_until(b.t + rng.uniform(1_800, 3 * 3_600))
            _visit_zone(b, rng, ctx, pick_zone())
            if rng.random() < 0.5:
                b.go(home)
    if weekday in (4, 5) and rng.random() < 0.25:  # Friday and Saturday evenings in the centre
        b.go(home)
        b.stay_until(rng.uniform(19.5, 21.0) * 3600)
        central = [i for i, c in enumerate(ctx.zone_category) if c in ("market_square", "shopping_street")][:4]
        _visit_zone(b, rng, ctx, int(rng.choice(central)), evening=True)
    b.go(home)
    return b.finish()


def event_times(
    rng: np.random.Generator, *, day_len: float, wake: float, bed: float, activity: float, mode: str
) -> np.ndarray:
    """Return sorted distinct whole seconds at which the phone produces an event."""
    if mode == "cdr":
        n = rng.poisson(CDR_PER_DAY * activity)
        return np.unique(np.floor(rng.uniform(wake, bed, n)))
    # Candidates at the active rate, thinned by state: active spell, idle spell, or asleep.
    rate = activity / ACTIVE_GAP_S
    cand = np.sort(rng.uniform(0, day_len, rng.poisson(rate * day_len)))
    spells = np.cumsum(rng.exponential([ACTIVE_SPELL_S, IDLE_SPELL_S] * 60))
    in_active = (np.searchsorted(spells, cand) % 2) == 0
    awake = (cand >= wake) & (cand < bed)
    keep_p = np.where(awake, np.where(in_active, 1.0, ACTIVE_GAP_S / IDLE_GAP_S), ACTIVE_GAP_S / SLEEP_GAP_S)
    return np.unique(np.floor(cand[rng.random(len(cand)) < keep_p]))


def positions(plan: Plan, times: np.ndarray) -> np.ndarray:
    """Return the (x, y) of a plan at the given times."""
    t0 = np.asarray(plan.t0)
    i = np.clip(np.searchsorted(t0, times, side="right") - 1, 0, len(t0) - 1)
    span = np.asarray(plan.t1)[i] - t0[i]
    f = np.clip(np.where(span > 0, (times - t0[i]) / np.where(span > 0, span, 1), 0), 0, 1)
    x = np.asarray(plan.x0)[i] + f * (np.asarray(plan.x1)[i] - np.asarray(plan.x0)[i])
    y = np.asarray(plan.y0)[i] + f * (np.asarray(plan.y1)[i] - np.asarray(plan.y0)[i])
    return np.column_stack([x, y])


def serving_cells(ctx: SimContext, noise_db: np.ndarray, xy: np.ndarray, epoch_s: np.ndarray) -> np.ndarray:
    """Return the index of the serving cell for each position and time: the best active sector, with noise.

    Signal = power - path loss + antenna gain (3GPP pattern) - wall loss + shadowing. Cells out of range are
    used only when no active cell is in range. Independent shadowing per event (`noise_db`, n x NEAREST standard
    normals) makes the serving cell flip between neighbours near cell edges, as real ping-pong does.
    """
    n = len(xy)
    if n == 0:
        return np.empty(0, dtype=int)
    k = min(NEAREST, len(ctx.cell_xy))
    dist, idx = ctx.cell_tree.query(xy, k=k)
    dist = np.maximum(dist.reshape(n, k), 5.0)
    idx = idx.reshape(n, k)
    cxy = ctx.cell_xy[idx]
    brg = bearing_deg(xy[:, None, 0] - cxy[..., 0], xy[:, None, 1] - cxy[..., 1])
    az, bw = ctx.cell_az[idx], ctx.cell_bw[idx]
    omni = np.isnan(az) | (bw >= 360)
    gain = np.where(omni, 0.0, -np.minimum(12.0 * (angle_diff_deg(brg, np.nan_to_num(az)) / bw) ** 2, 25.0))
    # The person's zone, when standing in a mall: macro cells lose a wall, the mall's own small cells do not.
    zone_hit = ctx.zone_tree.query(shapely.points(xy), predicate="within")
    person_zone = np.full(n, -1)
    person_zone[zone_hit[0]] = zone_hit[1]
    in_mall = np.array([pz >= 0 and ctx.zone_category[pz] == "mall" for pz in person_zone])
    cell_in = ctx.cell_indoor[idx]
    wall = np.where(
        cell_in >= 0,
        np.where(cell_in == person_zone[:, None], 0.0, WALL_LOSS_DB),
        np.where((cell_in == -1) & in_mall[:, None], WALL_LOSS_DB, 0.0),
    )
    score = ctx.cell_power[idx] - 10 * PATH_LOSS_EXP * np.log10(dist) + gain - wall
    score = score + SHADOWING_DB * noise_db[:, :k]
    active = (ctx.cell_from[idx] <= epoch_s[:, None]) & (epoch_s[:, None] < ctx.cell_to[idx])
    score = np.where(active, score, -np.inf)
    in_range = np.where(dist <= ctx.cell_range[idx], score, -np.inf)
    best = np.where(np.isfinite(in_range).any(axis=1), in_range.argmax(axis=1), score.argmax(axis=1))
    chosen = idx[np.arange(n), best]
    if not np.isfinite(score).any(axis=1).all():  # no active cell among the nearest: take the nearest active one
        for r in np.flatnonzero(~np.isfinite(score).any(axis=1)):
            ok = (ctx.cell_from <= epoch_s[r]) & (epoch_s[r] < ctx.cell_to)
            d = np.where(ok, np.hypot(*(ctx.cell_xy - xy[r]).T), np.inf)
            chosen[r] = int(d.argmin())
    return chosen


def zone_stays(ctx: SimContext, plans: list[Plan]) -> pd.DataFrame:
    """Return every maximal interval each plan spends inside each zone: plan, zone, t_in, t_out (seconds)."""
    rows_plan, rows_zone, rows_in, rows_out = [], [], [], []
    seg_plan = np.concatenate([np.full(len(p.t0), i) for i, p in enumerate(plans)]) if plans else np.empty(0)
    cols = {c: np.concatenate([np.asarray(getattr(p, c), dtype=float) for p in plans]) for c in SEG_COLUMNS}
    if len(seg_plan) == 0:
        return pd.DataFrame({"plan": [], "zone": [], "t_in": [], "t_out": []})
    moving = (cols["x0"] != cols["x1"]) | (cols["y0"] != cols["y1"])
    # Stops: the whole stop counts when its point is inside a zone.
    stop_idx = np.flatnonzero(~moving)
    pts = shapely.points(cols["x0"][stop_idx], cols["y0"][stop_idx])
    hit_pt, hit_zone = ctx.zone_tree.query(pts, predicate="within")
    s = stop_idx[hit_pt]
    rows_plan.append(seg_plan[s])
    rows_zone.append(hit_zone)
    rows_in.append(cols["t0"][s])
    rows_out.append(cols["t1"][s])
    # Legs: the parts of each straight line inside a zone, mapped back to times along the leg.
    leg_idx = np.flatnonzero(moving)
    lines = shapely.linestrings(
        np.stack(
            [
                np.column_stack([cols["x0"][leg_idx], cols["y0"][leg_idx]]),
                np.column_stack([cols["x1"][leg_idx], cols["y1"][leg_idx]]),
            ],
            axis=1,
        )
    )
    hit_leg, hit_zone = ctx.zone_tree.query(lines, predicate="intersects")
    if len(hit_leg):
        inter = shapely.intersection(lines[hit_leg], ctx.zone_polys[hit_zone])
        parts, owner = shapely.get_parts(inter, return_index=True)
        is_line = shapely.get_type_id(parts) == 1
        parts, owner = parts[is_line], owner[is_line]
        start = shapely.get_point(parts, 0)
        end = shapely.get_point(parts, -1)
        leg_line = lines[hit_leg[owner]]
        fa = shapely.line_locate_point(leg_line, start, normalized=True)
        fb = shapely.line_locate_point(leg_line, end, normalized=True)
        seg = leg_idx[hit_leg[owner]]
        t0, t1 = cols["t0"][seg], cols["t1"][seg]
        rows_plan.append(seg_plan[seg])
        rows_zone.append(hit_zone[owner])
        rows_in.append(t0 + np.minimum(fa, fb) * (t1 - t0))
        rows_out.append(t0 + np.maximum(fa, fb) * (t1 - t0))
    df = pd.DataFrame(
        {
            "plan": np.concatenate(rows_plan).astype(int),
            "zone": np.concatenate(rows_zone).astype(int),
            "t_in": np.concatenate(rows_in),
            "t_out": np.concatenate(rows_out),
        }
    )
    df = df[df.t_out > df.t_in].sort_values(["plan", "zone", "t_in"], kind="stable")
    # Merge pieces that touch: walking in, standing, walking out is one stay.
    new_stay = (df.plan != df.plan.shift()) | (df.zone != df.zone.shift()) | (df.t_in > df.t_out.shift() + 1.0)
    # Pieces of one path never overlap in time, so comparing with the previous piece is enough.
    df = df.assign(stay=new_stay.cumsum())
    return (
        df.groupby("stay", sort=False)
        .agg(plan=("plan", "first"), zone=("zone", "first"), t_in=("t_in", "min"), t_out=("t_out", "max"))
        .reset_index(drop=True)
    )


UNIFIED_SCHEMA = (
    "rec BYTE, msisdn STRING, t0 LONG, t1 LONG, ref STRING, event_type STRING, opted_out BOOLEAN, "
    "local_date STRING, export_day BOOLEAN, direction STRING"
)
REC_EVENT, REC_STAY = 0, 1
CDR_TYPES = np.array(["call_out", "call_in", "sms_out", "sms_in"])


def simulate_batch(pdf: pd.DataFrame, ctx: SimContext, *, seed: int, mode: str) -> pd.DataFrame:
    """Return the events and the true zone stays of a batch of person-days, as rows of UNIFIED_SCHEMA."""
    plans: list[Plan] = []
    ev_plan, ev_t, ev_xy, ev_noise, ev_type = [], [], [], [], []
    for i, row in enumerate(pdf.itertuples(index=False)):
        # One stream per person and day: the output does not depend on how Spark batches the rows.
        rng = np.random.default_rng([seed, 3, int(row.person_id), int(row.day_index)])
        plan = plan_day(rng, ctx, row, int(row.weekday), float(row.day_len))
        plans.append(plan)
        moving = [j for j in range(len(plan.t0)) if (plan.x0[j], plan.y0[j]) != (plan.x1[j], plan.y1[j])]
        wake = plan.t1[0] - rng.uniform(600, 2_400)
        bed = min(float(row.day_len), (plan.t1[moving[-1]] if moving else 20 * 3600) + rng.uniform(1_800, 7_200))
        times = event_times(
            rng, day_len=float(row.day_len), wake=wake, bed=bed, activity=float(row.activity), mode=mode
        )
        ev_plan.append(np.full(len(times), i))
        ev_t.append(times)
        ev_xy.append(positions(plan, times))
        ev_noise.append(rng.standard_normal((len(times), NEAREST)))
        ev_type.append(np.full(len(times), "data") if mode == "xdr" else rng.choice(CDR_TYPES, len(times)))
    plan_of = np.concatenate(ev_plan).astype(int) if ev_plan else np.empty(0, dtype=int)
    t = np.concatenate(ev_t) if ev_t else np.empty(0)
    xy = np.concatenate(ev_xy) if ev_xy else np.empty((0, 2))
    day_start = pdf.day_start.to_numpy(np.int64)
    epoch = day_start[plan_of] + t.astype(np.int64)
    noise = np.concatenate(ev_noise) if ev_noise else np.empty((0, NEAREST))
    cells = serving_cells(ctx, noise, xy, epoch.astype(float))
    n = len(epoch)
    event_type = np.concatenate(ev_type).astype(object) if ev_type else np.empty(0, dtype=object)
    events = pd.DataFrame(
        {
            "rec": np.full(n, REC_EVENT, dtype=np.int8),
            "msisdn": pdf.msisdn.to_numpy()[plan_of],
            "t0": epoch,
            "t1": np.full(n, -1, dtype=np.int64),
            "ref": ctx.cell_ids[cells].astype(object),
            "event_type": event_type,
            "opted_out": pdf.opted_out.to_numpy()[plan_of],
            "local_date": pdf.local_date.to_numpy()[plan_of],
            "export_day": pdf.export_day.to_numpy()[plan_of],
            "direction": None,
        }
    )
    st = zone_stays(ctx, plans)
    m = len(st)
    p = st.plan.to_numpy(int)
    direction = true_arrival_directions(ctx, plans, st)
    stays = pd.DataFrame(
        {
            "rec": np.full(m, REC_STAY, dtype=np.int8),
            "msisdn": pdf.msisdn.to_numpy()[p],
            "t0": day_start[p] + np.round(st.t_in.to_numpy()).astype(np.int64),
            "t1": day_start[p] + np.round(st.t_out.to_numpy()).astype(np.int64),
            "ref": np.asarray(ctx.zone_ids, dtype=object)[st.zone.to_numpy(int)],
            "event_type": None,
            "opted_out": pdf.opted_out.to_numpy()[p],
            "local_date": pdf.local_date.to_numpy()[p],
            "export_day": pdf.export_day.to_numpy()[p],
            "direction": direction,
        }
    )
    return pd.concat([events, stays[stays.t1 > stays.t0]], ignore_index=True)


OCTANTS = np.array(["N", "NE", "E", "SE", "S", "SW", "W", "NW"], dtype=object)
TRUE_ARRIVAL_LOOKBACK_S = 600.0
TRUE_ARRIVAL_MIN_DISTANCE_M = 150.0


def true_arrival_directions(ctx: SimContext, plans: list[Plan], stays: pd.DataFrame) -> np.ndarray:
    """Return per stay the octant, seen from the zone's centroid, of where the person was 10 minutes before entering.

    `unknown` when the stay starts in the first 10 minutes of the day, or that place is within 150 m of the centroid.
    """
    out = np.full(len(stays), "unknown", dtype=object)
    if len(stays) == 0:
        return out
    centroids = shapely.centroid(ctx.zone_polys)
    cx, cy = shapely.get_x(centroids), shapely.get_y(centroids)
    before = stays.t_in.to_numpy() - TRUE_ARRIVAL_LOOKBACK_S
    plan_ix, zone_ix = stays.plan.to_numpy(int), stays.zone.to_numpy(int)
    for i in np.flatnonzero(before >= 0):
        x, y = positions(plans[plan_ix[i]], np.array([before[i]]))[0]
        dx, dy = x - cx[zone_ix[i]], y - cy[zone_ix[i]]
        if math.hypot(dx, dy) >= TRUE_ARRIVAL_MIN_DISTANCE_M:
            out[i] = OCTANTS[int(((math.degrees(math.atan2(dx, dy)) % 360) + 22.5) // 45) % 8]
    return out
