"""Two or more versions of footfall's code, run in one sitting on one bench city: the fair comparison.

This machine's speed moves by 20-35 % between sessions (stop 48: the floor query 18.5 s against 14.9 at stop 44),
more than most single changes save. So a change is measured against the code before it, alternately, in fresh
processes: `footfall run` as `make bench` runs it (bench/pipeline.py's run_footfall, with the event log), each
version with its own lib/ on PYTHONPATH and a fresh lakehouse.

    git worktree add /tmp/before <commit>
    .venv/bin/python bench/ab.py 2000x7 --rounds 2 before=/tmp/before/lib after=lib

The city must exist (make bench generates it under data/bench). Prints one JSON line per run; writes them all to
bench/results/ab-<size>.json.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

from pipeline import run_footfall, write_config  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("size", help="SUBSCRIBERSxDAYS of a generated bench city, e.g. 2000x7")
    parser.add_argument("code", nargs="+", help="NAME=LIB: a version's lib/ folder, e.g. before=/tmp/before/lib")
    parser.add_argument("--rounds", type=int, default=1, help="each version runs once per round, in turn")
    parser.add_argument("--cities", type=Path, default=ROOT / "data" / "bench")
    parser.add_argument("--scratch", type=Path, default=ROOT / "data" / "bench" / "ab")
    parser.add_argument("--results", type=Path, default=ROOT / "bench" / "results")
    args = parser.parse_args()
    versions = dict(item.split("=", 1) for item in args.code)
    landing = args.cities / args.size / "landing"
    if not landing.is_dir():
        raise SystemExit(f"no bench city {args.size} under {args.cities}: make bench generates it")
    runs = []
    for round_ in range(args.rounds):
        for name, lib in versions.items():
            work = args.scratch / f"{args.size}-{name}-{round_}"
            shutil.rmtree(work, ignore_errors=True)
            work.mkdir(parents=True)
            config = write_config(work, landing=landing)  # conf/local.yaml's defaults, a fresh lakehouse
            os.environ["PYTHONPATH"] = str(Path(lib).resolve())
            result = run_footfall(config, work=work, name="run")
            jobs = {stage: group["jobs"] for stage, group in result["spark"]["groups"].items()}
            row = {
                "code": name,
                "round": round_,
                "wall_s": result["wall_s"],
                "stages_s": result["stages_s"],
                "jobs": jobs,
                "total_jobs": sum(jobs.values()),
            }
            print(json.dumps(row), flush=True)
            runs.append(row)
            shutil.rmtree(work / "lakehouse", ignore_errors=True)  # a 10 M-event lakehouse is a few GB
    args.results.mkdir(parents=True, exist_ok=True)
    (args.results / f"ab-{args.size}.json").write_text(json.dumps(runs, indent=1) + "\n")


if __name__ == "__main__":
    main()
