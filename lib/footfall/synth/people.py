"""The people: who they are, where they live and work, which zones they like. One pandas chunk at a time."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import shapely

from footfall.synth.layout import City

CHUNK = 5_000  # people per chunk; each chunk has its own random stream, so results do not depend on partitioning

PEOPLE_COLUMNS = {
    "person_id": "int64",
    "msisdn": "str",
    "birth_year": "Int32",
    "gender": "str",
    "home_district": "int32",
    "master_district_id": "str",
    "home_x": "float64",
    "home_y": "float64",
    "work_x": "float64",
    "work_y": "float64",
    "role": "str",
    "activity": "float64",
    "shop_rate": "float64",
    "fav1": "int32",
    "fav2": "int32",
    "fav3": "int32",
    "opted_out": "bool",
    "opted_out_at": "datetime64[us, UTC]",
}


def msisdn_of(person_id: np.ndarray, seed: int) -> np.ndarray:
    """Return distinct German-mobile-looking numbers: a bijection of person_id below 10^8, shifted by the seed."""
    body = (person_id.astype(np.int64) * 7_919 + 12_345 + (seed % 9_973) * 1_000_003) % 10**8
    return np.char.add("4917", np.char.zfill(body.astype(str), 8))


def _points_in(rng: np.random.Generator, poly: shapely.Geometry, n: int) -> np.ndarray:
    """Return n uniform random points inside a polygon, by rejection from its bounding box."""
    minx, miny, maxx, maxy = poly.bounds
    out = np.empty((0, 2))
    while len(out) < n:
        cand = np.column_stack([rng.uniform(minx, maxx, 4 * n + 8), rng.uniform(miny, maxy, 4 * n + 8)])
        out = np.vstack([out, cand[shapely.contains_xy(poly, cand[:, 0], cand[:, 1])]])
    return out[:n]


def people_chunk(
    city: City, *, chunk: int, total: int, seed: int, start: dt.date, days: int, opt_out_rate: float
) -> pd.DataFrame:
    """Return the people with ids [chunk*CHUNK, min(total, (chunk+1)*CHUNK)), drawn from the chunk's own stream."""
    rng = np.random.default_rng([seed, 2, chunk])
    ids = np.arange(chunk * CHUNK, min(total, (chunk + 1) * CHUNK), dtype=np.int64)
    n = len(ids)
    districts = city.districts
    weight = np.array([d.residents * d.market_share for d in districts], dtype=float)
    home = rng.choice(len(districts), size=n, p=weight / weight.sum())
    home_xy = np.empty((n, 2))
    for d in np.unique(home):
        mask = home == d
        home_xy[mask] = _points_in(rng, districts[d].polygon, int(mask.sum()))

    age = np.clip(rng.normal(43, 19, n), 10, 92).astype(int)
    birth_year = pd.array(start.year - age, dtype="Int32")
    birth_year[rng.random(n) < 0.02] = pd.NA
    gender = rng.choice(np.array(["f", "m", "x", ""], dtype=object), size=n, p=[0.49, 0.485, 0.01, 0.015])

    # The customer master's district is the billing address: mostly right, sometimes stale, sometimes missing.
    stale = rng.random(n) < 0.08
    master = np.where(stale, rng.integers(0, len(districts), n), home)
    master_id = np.array([districts[i].district_id for i in master], dtype=object)
    master_id[rng.random(n) < 0.02] = ""

    role = np.where(age < 18, "student", np.where((age <= 66) & (rng.random(n) < 0.72), "worker", "other"))
    cx, cy = city.boundary.centroid.x, city.boundary.centroid.y
    work = np.column_stack([cx + rng.normal(0, 1_600, n), cy + rng.normal(0, 1_600, n)])
    inside = shapely.contains_xy(city.boundary, work[:, 0], work[:, 1])
    work[~inside] = home_xy[~inside] + rng.normal(0, 500, (int((~inside).sum()), 2))
    school = home_xy + rng.normal(0, 700, (n, 2))
    work = np.where((role == "student")[:, None], school, work)
    work[role == "other"] = np.nan

    zone_xy = np.array([[z.polygon.centroid.x, z.polygon.centroid.y] for z in city.zones])
    attraction = np.array([z.attraction for z in city.zones])
    favs = np.empty((n, 3), dtype=np.int32)
    for i in range(n):
        dist = np.hypot(*(zone_xy - home_xy[i]).T)
        w = attraction * np.exp(-dist / 2_500.0)
        favs[i] = rng.choice(len(city.zones), size=3, replace=False, p=w / w.sum())

    opted = rng.random(n) < opt_out_rate
    # Objections arrive before the period or during it (those must be honoured retroactively).
    period_s = days * 86_400
    offset = rng.uniform(-60 * 86_400, period_s, n)
    opted_at = pd.Timestamp(start, tz="UTC") + pd.to_timedelta(np.round(offset), unit="s")
    opted_at = opted_at.where(opted, pd.NaT)

    return pd.DataFrame(
        {
            "person_id": ids,
            "msisdn": msisdn_of(ids, seed),
            "birth_year": birth_year,
            "gender": gender,
            "home_district": home.astype(np.int32),
            "master_district_id": master_id,
            "home_x": home_xy[:, 0],
            "home_y": home_xy[:, 1],
            "work_x": work[:, 0],
            "work_y": work[:, 1],
            "role": role,
            "activity": np.exp(rng.normal(-0.125, 0.5, n)),  # mean 1
            "shop_rate": rng.uniform(0.15, 0.6, n),
            "fav1": favs[:, 0],
            "fav2": favs[:, 1],
            "fav3": favs[:, 2],
            "opted_out": opted,
            "opted_out_at": opted_at,
        }
    )
