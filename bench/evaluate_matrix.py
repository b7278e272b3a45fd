"""Accuracy of footfall against the generator's truth, for both presence models x both footprint models x xdr/cdr.

`python bench/evaluate_matrix.py` (one Spark session): generate the default city in each mode, ingest it, then
for each footprint model build the weights, and for each presence model build stays and evaluate them.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import tempfile
from pathlib import Path
from typing import Any

from footfall.config import Config, parse_config
from footfall.ingest import check_events_contract, create_dev_key, load_master_key, run_ingest
from footfall.mobility.evaluate import run_evaluate
from footfall.mobility.job import run_mobility
from footfall.pipeline import landing_dates
from footfall.session import get_spark
from footfall.spatial import check_spatial_inputs, run_spatial
from footfall.synth import GenerateOptions, generate_city


def _config(root: Path, *, footprint: str, presence: str) -> Config:
    return parse_config(
        {
            "landing": str(root / "landing"),
            "lakehouse": str(root / "lakehouse"),
            "privacy": {"pseudonym_key_file": str(root / "key")},
            "spatial": {"footprint_model": footprint},
            "mobility": {"presence_model": presence},
        },
        source="bench",
    )


def main() -> None:
    """Print one line per combination and write all figures as JSON."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--subscribers", type=int, default=3000)
    parser.add_argument("--days", type=int, default=2)
    parser.add_argument("--modes", nargs="+", default=["xdr", "cdr"])
    parser.add_argument("--json", type=Path, default=Path("bench/results/evaluate_matrix.json"))
    args = parser.parse_args()
    spark = get_spark("footfall-bench-evaluate")
    results: list[dict[str, Any]] = []
    for mode in args.modes:
        root = Path(tempfile.mkdtemp(prefix=f"footfall-eval-{mode}-"))
        create_dev_key(root / "key")
        options = GenerateOptions(subscribers=args.subscribers, days=args.days, start=dt.date(2026, 3, 6), mode=mode)
        generate_city(spark, out=root / "landing", options=options)
        base = _config(root, footprint="sector", presence="threshold")
        dates = landing_dates(base.landing)
        key = load_master_key(key_file=base.privacy.pseudonym_key_file)
        run_ingest(spark, base, dates=dates, key=key, files=check_events_contract(base.landing, dates))
        for footprint in ("sector", "voronoi"):
            cfg = _config(root, footprint=footprint, presence="threshold")
            run_spatial(spark, cfg, inputs=check_spatial_inputs(cfg.landing, cfg.spatial), force=True)
            for presence in ("threshold", "weighted"):
                cfg = _config(root, footprint=footprint, presence=presence)
                run_mobility(spark, cfg, dates=dates)
                figures = run_evaluate(spark, cfg, truth=cfg.landing, dates=dates, key=key, out=None)
                figures["mode"] = mode
                results.append(figures)
                res, low = (
                    figures["hourly_visitors"]["resolvable_zones"],
                    figures["hourly_visitors"]["low_resolution_zones"],
                )
                print(
                    f"{mode} {footprint:>7} {presence:>9}: resolvable MdARE {res['median_abs_rel_error']}"
                    f" r {res['correlation']} within20 {res['share_within_20pct']};"
                    f" low-res MdARE {low['median_abs_rel_error']} r {low['correlation']};"
                    f" dwell {figures['dwell_s_quantiles']};"
                    f" direction TVD {figures['arrival_direction']['mean_total_variation_distance']};"
                    f" home {figures['home_district']['est_true']}",
                    flush=True,
                )
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
