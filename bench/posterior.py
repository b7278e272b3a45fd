"""The posterior's Python work on one local day of a bench city: the NumPy model per device (posterior.zone_masses,
the stop-25 loop) against the compiled kernel (posterior.devices_presence), on the events that reach Python.

One process, no Spark: it reads the silver tables of a lakehouse `bench/pipeline.py` left (delta-rs), checks that
both give the same (event, zone) rows and masses, and appends the timings to bench/results/posterior.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import time
from pathlib import Path

import numpy as np
import pandas as pd
from deltalake import DeltaTable

from footfall import schemas as S
from footfall.config import PosteriorConfig
from footfall.mobility.buckets import group_slices
from footfall.mobility.posterior import Coverage, build_coverage, devices_presence, zone_masses

ROOT = Path(__file__).resolve().parents[1]


def numpy_rows(pdf: pd.DataFrame, cov: Coverage, p: PosteriorConfig) -> list[tuple]:
    """The (event, zone, mass, prev_mass, next_mass) rows of the NumPy model, one device at a time."""
    seconds = pdf[S.EVENT_TS].to_numpy("datetime64[s]").astype(np.int64)
    cells = pdf[S.CELL_ID].to_numpy()
    rows = []
    for a, b in group_slices(pdf, [S.PSEUDO_ID]):
        m = zone_masses(cov, cells[a:b], seconds[a:b], window_s=p.window_s, max_neighbours=p.max_neighbours)
        padded = np.vstack([np.zeros((1, m.shape[1])), m, np.zeros((1, m.shape[1]))])
        for e, z in zip(*np.nonzero(m >= p.min_mass), strict=True):
            rows.append((a + int(e), cov.zone_ids[z], m[e, z], padded[e, z], padded[e + 2, z]))
    return sorted(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--lakehouse", type=Path, default=ROOT / "data" / "bench" / "runs" / "20000x7" / "lakehouse")
    parser.add_argument("--day", type=dt.date.fromisoformat, default=dt.date(2026, 3, 4), help="UTC event date")
    parser.add_argument("--results", type=Path, default=ROOT / "bench" / "results" / "posterior.md")
    args = parser.parse_args()
    silver, p = args.lakehouse / S.SILVER, PosteriorConfig()
    cov = build_coverage(
        DeltaTable(str(silver / S.SILVER_COVERAGE_TABLE)).to_pandas(),
        DeltaTable(str(silver / S.SILVER_TILE_ZONES_TABLE)).to_pandas(),
        zone_prior_factor=p.zone_prior_factor,
    )
    events = DeltaTable(str(silver / S.SILVER_EVENTS_TABLE)).to_pandas(
        columns=[S.PSEUDO_ID, S.EVENT_TS, S.CELL_ID], filters=[(S.EVENT_DATE, "=", args.day)]
    )
    touching = [c for c in cov.cell_index if cov.touches_zones(c)]
    devices = set(events.loc[events[S.CELL_ID].isin(touching), S.PSEUDO_ID])
    events = events[events[S.PSEUDO_ID].isin(devices)]  # what reaches Python: devices with an event on a zone cell
    events = events.sort_values([S.PSEUDO_ID, S.EVENT_TS, S.CELL_ID], kind="stable").reset_index(drop=True)
    settings = {"window_s": p.window_s, "max_neighbours": p.max_neighbours, "min_mass": p.min_mass}

    began = time.perf_counter()
    want = numpy_rows(events, cov, p)
    t_numpy = time.perf_counter() - began
    devices_presence(events.iloc[:1000].reset_index(drop=True), cov, device_cols=[S.PSEUDO_ID], **settings)  # compile
    began = time.perf_counter()
    got_df = devices_presence(events, cov, device_cols=[S.PSEUDO_ID], **settings)
    t_kernel = time.perf_counter() - began
    got = sorted(
        zip(
            got_df.index,
            got_df[S.ZONE_ID],
            got_df[S.PRESENCE_WEIGHT],
            got_df["prev_mass"],
            got_df["next_mass"],
            strict=True,
        )
    )
    same = [r[:2] for r in got] == [r[:2] for r in want]
    diff = float(np.abs(np.array([r[2:] for r in got]) - np.array([r[2:] for r in want])).max()) if same else None
    n = len(events)
    line = (
        f"| {dt.date.today()} | {args.day} | {n:,} of {len(devices):,} devices | {len(cov.cell_index)} cells, "
        f"{np.mean([len(t) for t in cov.tiles]):.0f} tiles a cell, {len(cov.zone_ids)} zones | "
        f"{t_numpy:.1f} s ({t_numpy / n * 1e6:.1f} µs) | {t_kernel:.1f} s ({t_kernel / n * 1e6:.1f} µs) | "
        f"{t_numpy / t_kernel:.1f} x | {len(want):,} rows, {'the same' if same else 'DIFFERENT'}; "
        f"masses within {diff} |"
    )
    print(line)
    if not args.results.exists():
        args.results.write_text(
            "# The posterior's Python work: NumPy per device against the compiled kernel (bench/posterior.py)\n\n"
            "| measured | UTC day | events reaching Python | coverage | NumPy per device | kernel | speed-up | rows |\n"
            "| --- | --- | ---: | --- | ---: | ---: | ---: | --- |\n"
        )
    with args.results.open("a") as out:
        out.write(line + "\n")
    if not same:
        raise SystemExit("the kernel's rows differ from the NumPy model's")


if __name__ == "__main__":
    main()
