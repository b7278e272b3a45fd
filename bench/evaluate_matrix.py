"""Accuracy of footfall against the generator's truth: every presence model, in xdr and cdr mode, on three seeds.

`python bench/evaluate_matrix.py` (one Spark session; `make bench` runs it): for each seed and mode, generate the
default city, ingest it and build the spatial tables (Voronoi footprints and the coverage model), then for each
presence model build stays and evaluate them. Seed 42 is the default city, the one the posterior model's settings
were tuned on; the other seeds are cities the tuning never saw. The mobility stage's time is measured for each model
in the same run, so the cost of the posterior model is a ratio against the threshold model on the same machine.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import tempfile
import time
from pathlib import Path
from typing import Any

from footfall.config import Config, parse_config
from footfall.ingest import check_events_contract, create_dev_key, load_master_key, run_ingest
from footfall.mobility.evaluate import CATEGORIES, run_evaluate
from footfall.mobility.job import run_mobility
from footfall.pipeline import landing_dates
from footfall.session import get_spark
from footfall.spatial import check_spatial_inputs, run_spatial
from footfall.synth import GenerateOptions, generate_city

# Each variant is a presence model and its settings. threshold: the defaults before the posterior models, homes
# included (footprint votes, nights 22:00-06:00), so that its column is the "before". posterior-zone-prior: the
# posterior with a prior that puts 64 times the density inside zones and a low presence threshold, read as expected
# counts (hourly_visitors_expected).
VARIANTS: dict[str, dict[str, Any]] = {
    "threshold": {
        "presence_model": "threshold",
        "home_model": "footprint",
        "night_start_hour": 22,
        "night_end_hour": 6,
    },
    "weighted": {"presence_model": "weighted"},
    "posterior": {"presence_model": "posterior"},
    "posterior-zone-prior": {
        "presence_model": "posterior",
        "posterior": {"zone_prior_factor": 64.0, "min_mass": 0.02},
    },
}
MODELS = ("threshold", "weighted", "posterior", "posterior-zone-prior")
# Only the street picture's run keeps its hourly curves in the JSON (bench/evaluate_report.py): all of them would be
# some 7,000 lines per run.
PICTURE_RUN = (42, "xdr")


def _config(root: Path, *, presence: str) -> Config:
    return parse_config(
        {
            "landing": str(root / "landing"),
            "lakehouse": str(root / "lakehouse"),
            "privacy": {"pseudonym_key_file": str(root / "key")},
            "mobility": VARIANTS[presence],
        },
        source="bench",
    )


def _line(figures: dict[str, Any]) -> str:
    head = f"seed {figures['seed']} {figures['mode']} {figures['variant']:>9}"
    parts = [f"{head} ({figures['mobility_s']:.0f} s):"]
    for category in CATEGORIES:
        c = figures["by_category"][category]
        h, d = c["hourly_visitors"], c["dwell_s_quantiles"]["relative_error"]
        x, xk = c["hourly_visitors_expected"], c["hourly_visitors_expected_at_k"]
        parts.append(
            f"{category} MdARE {h['median_abs_rel_error']} w20 {h['share_within_20pct']} r {h['correlation']}"
            f" (expected: {x['median_abs_rel_error']} / {x['share_within_20pct']};"
            f" at k: {xk['median_abs_rel_error']} over {xk['zone_hours_published']})"
            f" dwell {d} tvd {c['arrival_direction']['mean_total_variation_distance']};"
        )
    parts.append(f"home {figures['home_district']['est_true']}")
    return " ".join(parts)


def main() -> None:
    """Print one line per combination and write all figures as JSON."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--subscribers", type=int, default=3000)
    parser.add_argument("--days", type=int, default=2)
    parser.add_argument("--seeds", nargs="+", type=int, default=[42, 7, 99])
    parser.add_argument("--modes", nargs="+", default=["xdr", "cdr"])
    parser.add_argument("--models", nargs="+", default=list(MODELS))
    parser.add_argument("--json", type=Path, default=Path("bench/results/evaluate_matrix.json"))
    args = parser.parse_args()
    spark = get_spark("footfall-bench-evaluate")
    results: list[dict[str, Any]] = []
    for seed in args.seeds:
        for mode in args.modes:
            root = Path(tempfile.mkdtemp(prefix=f"footfall-eval-{seed}-{mode}-"))
            create_dev_key(root / "key")
            options = GenerateOptions(
                subscribers=args.subscribers, days=args.days, start=dt.date(2026, 3, 7), mode=mode, seed=seed
            )
            generate_city(spark, out=root / "landing", options=options)
            base = _config(root, presence="threshold")
            dates = landing_dates(base.landing)
            key = load_master_key(key_file=base.privacy.pseudonym_key_file)
            run_ingest(spark, base, dates=dates, key=key, files=check_events_contract(base.landing, dates))
            run_spatial(spark, base, inputs=check_spatial_inputs(base.landing, base.spatial))
            for presence in args.models:
                cfg = _config(root, presence=presence)
                started = time.perf_counter()
                run_mobility(spark, cfg, dates=dates, force=True)
                seconds = time.perf_counter() - started
                figures = run_evaluate(spark, cfg, truth=cfg.landing, dates=dates, key=key, out=None)
                figures.update(seed=seed, mode=mode, variant=presence, mobility_s=round(seconds, 1))
                if (seed, mode) != PICTURE_RUN:
                    del figures["hourly_curves"]
                results.append(figures)
                print(_line(figures), flush=True)
                args.json.parent.mkdir(parents=True, exist_ok=True)
                args.json.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
