"""Generator throughput at two sizes, in one run and one session: `make bench` (or `python bench/generate.py`)."""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
from pathlib import Path

from footfall.session import get_spark
from footfall.synth import GenerateOptions, generate_city


def main() -> None:
    """Generate each size into a temporary folder and print rows, seconds and rows/s; write a JSON of them."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", nargs="+", default=["2000x2", "20000x7"], help="SUBSCRIBERSxDAYS")
    parser.add_argument("--mode", default="xdr", choices=["xdr", "cdr"])
    parser.add_argument("--json", type=Path, default=Path("bench/results/generate.json"))
    args = parser.parse_args()
    spark = get_spark("footfall-bench-generate")
    results = []
    for size in args.sizes:
        n, d = (int(v) for v in size.split("x"))
        out = Path(tempfile.mkdtemp(prefix="footfall-bench-"))
        try:
            r = generate_city(
                spark, out=out / "landing", options=GenerateOptions(subscribers=n, days=d, mode=args.mode)
            )
        finally:
            shutil.rmtree(out, ignore_errors=True)
        results.append(
            {
                "size": size,
                "mode": args.mode,
                "rows": r.landing_rows,
                "seconds": round(r.seconds, 1),
                "rows_per_s": round(r.events_per_s),
                "visit_coverage": r.coverage,
            }
        )
        print(
            f"generate {size:>9} {args.mode}: {r.landing_rows:>11,} rows in {r.seconds:6.1f} s "
            f"= {r.events_per_s:>9,.0f} rows/s; visit coverage {r.coverage['all']:.2f}",
            flush=True,
        )
    if len(results) > 1:
        print(f"throughput ratio largest/smallest: {results[-1]['rows_per_s'] / results[0]['rows_per_s']:.2f}")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
