"""Skew: the default city with and without 10 SIM boxes (one event a second for a whole day each).

Three `footfall run`s of the default city (conf/local.yaml's demo city), each in a fresh
process on an empty lakehouse:
1. the city as generated;
2. the city plus 10 SIM boxes, with the default `ingest.max_events_per_device_day` (20,000): ingest quarantines
   their 864,000 events as implausible_rate;
3. the same, with the limit off (null): mobility gets them.

It reports each run's stage seconds, mobility's above all, and writes bench/results/skew.{json,md}.
`make bench-skew`.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import yaml

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "bench" / "results"
DAY = "2026-03-07"  # the demo's first day (a Saturday)
SIM_BOXES = 10
KEY = "footfall-bench-key-0123456789abcdef-not-a-secret"
STAGE_LINE = re.compile(r" (forget|ingest|spatial|mobility|publish): .*\((\d+\.\d) s\)$")


def footfall(*args: str) -> tuple[float, str]:
    env = {**os.environ, "CI": "true", "FOOTFALL_PSEUDONYM_KEY": KEY}
    began = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "footfall.cli", *args], env=env, capture_output=True, text=True, check=False
    )
    if proc.returncode != 0:
        raise RuntimeError(f"footfall {' '.join(args)} exited {proc.returncode}:\n{proc.stderr[-3000:]}")
    return time.monotonic() - began, proc.stdout


def add_sim_boxes(landing: Path, *, boxes: int) -> int:
    """Add `boxes` subscribers that make one event a second all of DAY (UTC), on the busiest cell; return events."""
    subscribers = (landing / "subscribers.csv").read_text().splitlines()
    district = subscribers[1].split(",")[3] or "D01"
    msisdns = [f"49170999{i:05d}" for i in range(boxes)]
    extra = [f"{m},1980,x,{district},false," for m in msisdns]
    (landing / "subscribers.csv").write_text("\n".join([*subscribers, *extra]) + "\n")
    folder = landing / "events" / f"event_date={DAY}"
    cells = ds.dataset(str(folder), format="parquet").to_table(columns=["cell_id"])
    counts = cells.group_by("cell_id").aggregate([("cell_id", "count")]).sort_by([("cell_id_count", "descending")])
    busiest = counts["cell_id"][0].as_py()
    start = dt.datetime.fromisoformat(DAY)
    stamps = pa.array([(start + dt.timedelta(seconds=s)).strftime("%Y-%m-%dT%H:%M:%SZ") for s in range(86_400)])
    tables = [
        pa.table(
            {
                "msisdn": pa.array([m] * 86_400, pa.string()),
                "event_ts": stamps,
                "cell_id": pa.array([busiest] * 86_400, pa.string()),
                "event_type": pa.array(["data"] * 86_400, pa.string()),
            }
        )
        for m in msisdns
    ]
    pq.write_table(pa.concat_tables(tables), folder / "sim-boxes.parquet")
    return 86_400 * boxes


def config(root: Path, name: str, landing: Path, *, limit: int | None) -> Path:
    raw = yaml.safe_load((REPO / "conf" / "local.yaml").read_text())
    raw |= {"landing": str(landing), "lakehouse": str(root / f"lakehouse-{name}")}
    raw["ingest"] = {"max_events_per_device_day": limit}
    path = root / f"{name}.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def stage_seconds(stdout: str) -> dict[str, float]:
    return {m.group(1): float(m.group(2)) for line in stdout.splitlines() if (m := STAGE_LINE.search(line))}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, default=REPO / "data" / "bench" / "skew")
    args = parser.parse_args(argv)
    demo = yaml.safe_load((REPO / "conf" / "local.yaml").read_text())["demo"]
    root = args.work
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    plain, boxed = root / "landing", root / "landing-sim-boxes"
    footfall("generate", "--out", str(plain), "--subscribers", str(demo["subscribers"]), "--days", str(demo["days"]),
             "--start", str(demo["start"]), "--seed", str(demo["seed"]))  # fmt: skip
    shutil.copytree(plain, boxed)
    added = add_sim_boxes(boxed, boxes=SIM_BOXES)
    runs = {
        "the default city": config(root, "plain", plain, limit=20_000),
        f"+ {SIM_BOXES} SIM boxes, limit 20,000 (quarantined)": config(root, "limited", boxed, limit=20_000),
        f"+ {SIM_BOXES} SIM boxes, no limit": config(root, "unlimited", boxed, limit=None),
    }
    results = {}
    for label, path in runs.items():
        seconds, out = footfall("run", "--config", str(path))
        results[label] = {"run_s": round(seconds, 1), **stage_seconds(out)}
        print(label, results[label], flush=True)
    doc = {"sim_box_events": added, "runs": results}
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "skew.json").write_text(json.dumps(doc, indent=2) + "\n")
    lines = [
        "# Skew: the default city with and without SIM boxes",
        "",
        f"`make bench-skew` (bench/skew.py): {SIM_BOXES} SIM boxes of one event a second for all of {DAY} (UTC), "
        f"{added:,} events, on the busiest cell. Each run is a fresh `footfall run` on an empty lakehouse, 2 cores.",
        "",
        "| run | whole run | ingest | mobility | publish |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for label, r in results.items():
        lines.append(
            f"| {label} | {r['run_s']} s | {r.get('ingest')} s | {r.get('mobility')} s | {r.get('publish')} s |"
        )
    (RESULTS / "skew.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
