"""The whole pipeline against Spark's own floor and DuckDB, on the same generated events: `make bench`.

For each size (SUBSCRIBERSxDAYS; the cities are generated once into data/bench/ and reused):
1. `footfall run` in a fresh process, as a data team runs it: wall time, seconds per stage from its plain output,
   peak resident memory of the Python driver and of the JVM, and Spark's event log (bench/eventlog.py);
2. the same run again with nothing new (every stage should skip);
3. Spark's floor in a fresh process: read the events, count distinct devices per cell and UTC hour; session start
   and query timed apart;
4. `footfall run` under the threshold rules (THRESHOLD_RULES) on a lakehouse of its own, and DuckDB's
   implementation of the headline metric under the same rules (bench/duckdb_hourly.py), checked cell for cell
   against that run's published hourly visitors.
With --next-day SUBSCRIBERSxDAYS: the last date of that city added by `footfall run --start` to a lakehouse holding
the dates before it, as a scheduler runs it every night, and then run again.
Results go to bench/results/pipeline.json and pipeline.md (with --label, e.g. before/after, kept side by side).
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
import threading
import time
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

from eventlog import find_logs, summarise  # noqa: E402

STAGE_LINE = re.compile(r"^\S+Z (forget|ingest|spatial|mobility|publish): .*\((\d+(?:\.\d+)?) s\)$")
STAGES = ("forget", "ingest", "spatial", "mobility", "publish")
FOOTFALL = Path(sys.executable).parent / "footfall"


class PeakMemory:
    """Samples the peak resident memory (VmHWM) of a process tree every 0.2 s: the Python driver and the JVM."""

    def __init__(self, pid: int) -> None:
        self.root = pid
        self.peak_kib: dict[str, int] = {"python": 0, "java": 0}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _tree(self) -> list[int]:
        children: dict[int, list[int]] = {}
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
                except (OSError, IndexError, ValueError):
                    continue
                children.setdefault(ppid, []).append(int(entry.name))
        out, todo = [], [self.root]
        while todo:
            pid = todo.pop()
            out.append(pid)
            todo.extend(children.get(pid, []))
        return out

    def _run(self) -> None:
        while not self._stop.wait(0.2):
            for pid in self._tree():
                try:
                    status = Path(f"/proc/{pid}/status").read_text()
                except OSError:
                    continue
                name = re.search(r"^Name:\s+(\S+)", status, re.M)
                hwm = re.search(r"^VmHWM:\s+(\d+) kB", status, re.M)
                if not (name and hwm):
                    continue
                # the driver is the root (a `footfall` script or python), its JVM a `java` child
                kind = "java" if name.group(1) == "java" else "python" if pid == self.root else None
                if kind:
                    self.peak_kib[kind] = max(self.peak_kib[kind], int(hwm.group(1)))


# Settings a size needs on top of the session factory's (--spark-default KEY=VALUE), recorded with its results.
EXTRA_SPARK_DEFAULTS: list[str] = []


def _spark_conf_dir(folder: Path, *, event_log: Path) -> Path:
    """A SPARK_CONF_DIR whose spark-defaults.conf turns the event log on (the session factory sets the rest)."""
    folder.mkdir(parents=True, exist_ok=True)
    event_log.mkdir(parents=True, exist_ok=True)
    extra = "".join(f"{line}\n" for line in EXTRA_SPARK_DEFAULTS)
    (folder / "spark-defaults.conf").write_text(
        f"spark.eventLog.enabled true\nspark.eventLog.dir file://{event_log}\nspark.eventLog.compress false\n{extra}"
    )
    return folder


def ensure_city(size: str, *, cities: Path) -> Path:
    """Generate SUBSCRIBERSxDAYS from Monday 2026-03-02 into cities/<size>/landing once; return that folder."""
    n, days = (int(v) for v in size.split("x"))
    landing = cities / size / "landing"
    if not (landing / "generation.json").is_file():
        cmd = [str(FOOTFALL), "generate", "--out", str(landing), "--subscribers", str(n), "--days", str(days)]
        subprocess.run(cmd, check=True, cwd=ROOT)
    return landing


# The rules bench/duckdb_hourly.py implements: threshold presence, footprint homes, no expected visitors.
THRESHOLD_RULES: dict[str, Any] = {
    "presence_model": "threshold",
    "home_model": "footprint",
    "posterior": {"expected": {"categories": []}},
}


def write_config(work: Path, *, landing: Path, mobility: dict[str, Any] | None = None) -> Path:
    """A config like conf/local.yaml, pointing at this size's landing and a fresh lakehouse; `mobility` settings
    merged over the defaults'."""
    config = yaml.safe_load((ROOT / "conf" / "local.yaml").read_text())
    for key, value in (mobility or {}).items():
        if isinstance(value, dict):
            for sub, v in value.items():
                config["mobility"][key].setdefault(sub, {})
                config["mobility"][key][sub] = {**config["mobility"][key][sub], **v} if isinstance(v, dict) else v
        else:
            config["mobility"][key] = value
    config["landing"] = str(landing)
    config["lakehouse"] = str(work / "lakehouse")
    config["privacy"]["pseudonym_key_file"] = str(work / "key")
    from footfall.ingest import create_dev_key

    create_dev_key(work / "key")
    path = work / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def run_footfall(config: Path, *, work: Path, name: str, args: tuple[str, ...] = ()) -> dict[str, Any]:
    """Run `footfall run` (with `args`, e.g. --start) in a fresh process; return wall seconds, stage seconds, peak
    memory, event log summary."""
    log_dir = work / f"eventlog-{name}"
    env = {
        **os.environ,
        "CI": "true",  # plain, timestamped stage lines
        "SPARK_CONF_DIR": str(_spark_conf_dir(work / f"conf-{name}", event_log=log_dir)),
    }
    began = time.monotonic()
    proc = subprocess.Popen(
        [str(FOOTFALL), "run", "--config", str(config), *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    with PeakMemory(proc.pid) as memory:
        out, _ = proc.communicate()
    wall = time.monotonic() - began
    (work / f"{name}.log").write_text(out)
    if proc.returncode:
        raise RuntimeError(f"footfall run failed ({proc.returncode}); see {work / f'{name}.log'}:\n{out[-3000:]}")
    stages = {m.group(1): float(m.group(2)) for line in out.splitlines() if (m := STAGE_LINE.match(line))}
    return {
        "wall_s": round(wall, 1),
        "stages_s": stages,
        "session_and_setup_s": round(wall - sum(stages.values()), 1),
        "peak_rss_mib": {k: round(v / 1024) for k, v in memory.peak_kib.items()},
        "spark": summarise(find_logs(log_dir)),
    }


FLOOR = """
import json, sys, time
t0 = time.monotonic()
from footfall.session import get_spark
from pyspark.sql import functions as F
spark = get_spark("footfall-bench-floor")
t1 = time.monotonic()
events = spark.read.parquet(sys.argv[1] + "/events")
ts = F.try_to_timestamp(F.col("event_ts"), F.lit("yyyy-MM-dd'T'HH:mm:ssX"))
(events.groupBy("cell_id", F.date_trunc("hour", ts).alias("hour"))
    .agg(F.countDistinct("msisdn").alias("devices")).write.format("noop").mode("overwrite").save())
t2 = time.monotonic()
print(json.dumps({"session_s": round(t1 - t0, 1), "query_s": round(t2 - t1, 1)}))
"""


def run_floor(landing: Path) -> dict[str, Any]:
    """Spark's floor in a fresh process: session start, then the scan and distinct count, timed apart."""
    out = subprocess.run(
        [sys.executable, "-c", FLOOR, str(landing)], cwd=ROOT, check=True, capture_output=True, text=True
    ).stdout
    return json.loads(out.strip().splitlines()[-1])


def run_duckdb(landing: Path, *, config: Path) -> dict[str, Any]:
    """Time DuckDB's hourly visitors; compare them with gold's published cells."""
    import pyarrow.compute as pc
    from deltalake import DeltaTable
    from duckdb_hourly import hourly_visitors, hourly_visitors_sql

    from footfall.config import load_config

    cfg = load_config(config)
    lakehouse = Path(cfg.lakehouse)
    weights = DeltaTable(str(lakehouse / "silver" / "cell_zone_weights")).to_pyarrow_table()
    sql = hourly_visitors_sql(
        landing,
        tz=cfg.timezone,
        min_weight=cfg.mobility.min_weight,
        max_gap_s=cfg.mobility.max_gap_s,
        min_visit_s=cfg.mobility.min_visit_s,
        min_age=cfg.privacy.age_bands[0],
        period_days=cfg.privacy.pseudonym_period_days,
    )
    began = time.monotonic()
    result = hourly_visitors(sql, weights=weights)
    seconds = time.monotonic() - began
    gold = DeltaTable(str(lakehouse / "gold" / "zone_footfall_hourly")).to_pyarrow_table(
        columns=["zone_id", "date", "hour", "visitors"]
    )
    gold = gold.filter(pc.is_valid(gold["visitors"]))
    ours = {(r["zone_id"], r["date"], r["hour"]): r["visitors"] for r in result.to_pylist()}
    cells = gold.to_pylist()
    diffs = [abs((ours.get((r["zone_id"], r["date"], r["hour"])) or 0) - r["visitors"]) for r in cells]
    equal = sum(1 for d in diffs if d == 0)
    # how far the differing cells are off: the local date's window ends at midnight UTC (docs/scale.md)
    rel = [d / r["visitors"] for d, r in zip(diffs, cells, strict=True) if d]
    return {
        "query_s": round(seconds, 2),
        "published_cells": len(cells),
        "equal_cells": equal,
        "max_abs_diff": max(diffs, default=0),
        "max_rel_diff": round(max(rel, default=0.0), 4),
        "total_abs_diff": sum(diffs),
        "gold_visitors": sum(r["visitors"] for r in cells),
    }


def count_events(landing: Path) -> int:
    import pyarrow.dataset as ds

    return ds.dataset(landing / "events", format="parquet", partitioning="hive").count_rows()


def bench_size(size: str, *, cities: Path, scratch: Path) -> dict[str, Any]:
    landing = ensure_city(size, cities=cities)
    work = scratch / size
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    config = write_config(work, landing=landing)
    events = count_events(landing)
    print(f"{size}: {events:,} landing events", flush=True)
    first = run_footfall(config, work=work, name="run")
    print(f"{size}: footfall run {first['wall_s']} s {first['stages_s']}", flush=True)
    rerun = run_footfall(config, work=work, name="rerun")
    print(f"{size}: rerun with nothing new {rerun['wall_s']} s", flush=True)
    floor = run_floor(landing)
    print(f"{size}: Spark floor {floor}", flush=True)
    # DuckDB implements the threshold rules: it is compared with a footfall run under those, on its own lakehouse
    rules = scratch / f"{size}-threshold"
    shutil.rmtree(rules, ignore_errors=True)
    rules.mkdir(parents=True)
    rules_config = write_config(rules, landing=landing, mobility=THRESHOLD_RULES)
    threshold = run_footfall(rules_config, work=rules, name="run")
    print(f"{size}: footfall run, threshold rules {threshold['wall_s']} s {threshold['stages_s']}", flush=True)
    duck = run_duckdb(landing, config=rules_config)
    print(f"{size}: DuckDB {duck}", flush=True)
    wall = first["wall_s"]
    return {
        "size": size,
        "events": events,
        "footfall": first,
        "rerun": {k: rerun[k] for k in ("wall_s", "stages_s")},
        "floor": floor,
        "threshold": {k: threshold[k] for k in ("wall_s", "stages_s", "session_and_setup_s")},
        "duckdb": duck,
        "events_per_s": {
            "footfall": round(events / wall),
            "floor": round(events / floor["query_s"]),
            "duckdb": round(events / duck["query_s"]),
        },
        "ratios": {
            "footfall_rate_over_floor_rate": round(floor["query_s"] / wall, 3),
            "threshold_over_duckdb_time": round(threshold["wall_s"] / duck["query_s"], 1),
        },
    }


def bench_next_day(size: str, *, cities: Path, scratch: Path) -> dict[str, Any]:
    """The run a scheduler makes every night: SUBSCRIBERSxDAYS generated, the first DAYS-1 local dates run as one
    date range (set-up, reported apart), then the last date run by itself and timed, then that date again."""
    landing = ensure_city(size, cities=cities)
    days = int(size.split("x")[1])
    first, last = dt.date(2026, 3, 2), dt.date(2026, 3, 2) + dt.timedelta(days=days - 1)
    work = scratch / f"{size}-next-day"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    config = write_config(work, landing=landing)
    before = (str(first), str(last - dt.timedelta(days=1)))
    setup = run_footfall(config, work=work, name="setup", args=("--start", before[0], "--end", before[1]))
    print(f"{size}: set-up, {before[0]}..{before[1]} {setup['wall_s']} s", flush=True)
    day = run_footfall(config, work=work, name="day", args=("--start", str(last)))
    print(f"{size}: day {last} {day['wall_s']} s {day['stages_s']}", flush=True)
    again = run_footfall(config, work=work, name="day-again", args=("--start", str(last)))
    print(f"{size}: day {last} again {again['wall_s']} s", flush=True)
    return {
        "size": size,
        "date": str(last),
        "setup": {k: setup[k] for k in ("wall_s", "stages_s")},
        "day": day,
        "again": {k: again[k] for k in ("wall_s", "stages_s")},
    }


def next_day_markdown(r: dict[str, Any]) -> list[str]:
    d, s = r["day"], r["day"]["stages_s"]
    jobs = sum(g["jobs"] for g in d["spark"]["groups"].values())
    return [
        "",
        f"One new day: {r['date']} added to a lakehouse holding the {int(r['size'].split('x')[1]) - 1} days before "
        f"it ({r['size']} city, those days run as one date range first: {r['setup']['wall_s']:.0f} s):",
        "",
        "| run | wall | forget | ingest | spatial | mobility | publish | session + setup | Spark jobs | again |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
        f"| `footfall run --start {r['date']}` | {d['wall_s']:.0f} s "
        + " ".join(f"| {s.get(st, 0):.0f} s" for st in STAGES)
        + f" | {d['session_and_setup_s']:.0f} s | {jobs} | {r['again']['wall_s']:.0f} s |",
    ]


def _rules_table(results: list[dict[str, Any]]) -> list[str]:
    """The defaults (posterior) against Spark's floor; the threshold rules against DuckDB, which implements them."""
    rows = [
        "| events | footfall run (defaults) | forget | ingest | spatial | mobility | publish | session + setup "
        "| rerun | peak driver / JVM | Spark floor (+ session) | footfall ÷ floor rate |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in results:
        f, s = r["footfall"], r["footfall"]["stages_s"]
        rows.append(
            f"| {r['events'] / 1e6:.2f} M | {f['wall_s']:.0f} s ({r['events_per_s']['footfall']:,}/s) "
            + " ".join(f"| {s.get(st, 0):.0f} s" for st in STAGES)
            + f" | {f['session_and_setup_s']:.0f} s | {r['rerun']['wall_s']:.0f} s "
            f"| {f['peak_rss_mib']['python']:,} / {f['peak_rss_mib']['java']:,} MiB "
            f"| {r['floor']['query_s']:.1f} s (+{r['floor']['session_s']:.0f} s) "
            f"| {r['ratios']['footfall_rate_over_floor_rate']:.3f} |"
        )
    rows += [
        "",
        "The threshold rules (threshold presence, footprint homes, no expected visitors), which bench/duckdb_hourly.py "
        "implements, against DuckDB:",
        "",
        "| events | footfall run (threshold rules) | mobility | DuckDB | footfall ÷ DuckDB time | equal cells "
        "| differing cells: largest difference |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in results:
        t, d = r["threshold"], r["duckdb"]
        rows.append(
            f"| {r['events'] / 1e6:.2f} M | {t['wall_s']:.0f} s | {t['stages_s'].get('mobility', 0):.0f} s "
            f"| {d['query_s']:.1f} s | {r['ratios']['threshold_over_duckdb_time']:.1f} x "
            f"| {d['equal_cells']} of {d['published_cells']} | {d['max_abs_diff']} ({d['max_rel_diff']:.1%}) |"
        )
    return rows


def markdown(label: str, results: list[dict[str, Any]], machine: str, next_day: dict[str, Any] | None = None) -> str:
    rows = [f"### {label} ({machine})", ""]
    if all("threshold" in r for r in results):
        rows += _rules_table(results)
    else:  # measured before the threshold-rules run joined the bench: DuckDB against the default's gold
        rows += [
            "| events | footfall run | ingest | spatial | mobility | publish | session + setup | rerun "
            "| peak driver / JVM | Spark floor (+ session) | DuckDB | footfall ÷ floor rate | footfall ÷ DuckDB time "
            "| equal cells |",
            "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
        ]
        for r in results:
            f, s = r["footfall"], r["footfall"]["stages_s"]
            rows.append(
                f"| {r['events'] / 1e6:.2f} M | {f['wall_s']:.0f} s ({r['events_per_s']['footfall']:,}/s) "
                + " ".join(f"| {s.get(st, 0):.0f} s" for st in ("ingest", "spatial", "mobility", "publish"))
                + f" | {f['session_and_setup_s']:.0f} s | {r['rerun']['wall_s']:.0f} s "
                f"| {f['peak_rss_mib']['python']:,} / {f['peak_rss_mib']['java']:,} MiB "
                f"| {r['floor']['query_s']:.1f} s (+{r['floor']['session_s']:.0f} s) | {r['duckdb']['query_s']:.1f} s "
                f"| {r['ratios']['footfall_rate_over_floor_rate']:.3f} "
                f"| {r['ratios']['footfall_over_duckdb_time']:.1f} x "
                f"| {r['duckdb']['equal_cells']} of {r['duckdb']['published_cells']} |"
            )
    if len(results) > 1:
        a, b = results[0], results[-1]
        rows += [
            "",
            f"t({b['size']}) / t({a['size']}) = {b['footfall']['wall_s'] / a['footfall']['wall_s']:.2f} "
            f"for {b['events'] / a['events']:.1f} x the events",
        ]
    rows += (
        []
        if not results
        else [
            "",
            "Spark jobs per stage of the largest run (event log):",
            "",
            "| stage | jobs | stages | tasks | busy | task time |",
            "| --- | ---: | ---: | ---: | ---: | ---: |",
        ]
    )
    for name, g in results[-1]["footfall"]["spark"]["groups"].items() if results else ():
        rows.append(f"| {name} | {g['jobs']} | {g['stages']} | {g['tasks']} | {g['busy_s']} s | {g['task_s']} s |")
    if next_day:
        rows += next_day_markdown(next_day)
    return "\n".join(rows) + "\n"


def render(doc: dict[str, Any]) -> str:
    """Return pipeline.md: a section per label of pipeline.json, in the order they were measured."""
    return (
        "# make bench: footfall against Spark's floor and DuckDB\n\n"
        "Written by `bench/pipeline.py`; figures from one machine, each label one run of `make bench`.\n\n"
        + "\n".join(markdown(label, d["results"], d["machine"], d.get("next_day")) for label, d in doc.items())
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", nargs="*", default=["2000x7", "20000x7"], help="SUBSCRIBERSxDAYS")
    parser.add_argument("--cities", type=Path, default=ROOT / "data" / "bench", help="generated cities, reused")
    parser.add_argument("--scratch", type=Path, default=ROOT / "data" / "bench" / "runs")
    parser.add_argument("--label", default="current", help="name of this measurement, e.g. before or after")
    parser.add_argument("--results", type=Path, default=ROOT / "bench" / "results")
    parser.add_argument("--next-day", help="SUBSCRIBERSxDAYS: time the last day added to a lakehouse of the others")
    parser.add_argument("--spark-default", action="append", default=[], help="KEY=VALUE for spark-defaults.conf")
    args = parser.parse_args()
    EXTRA_SPARK_DEFAULTS.extend(kv.replace("=", " ", 1) for kv in args.spark_default)
    results = [bench_size(size, cities=args.cities, scratch=args.scratch) for size in args.sizes]
    next_day = bench_next_day(args.next_day, cities=args.cities, scratch=args.scratch) if args.next_day else None
    machine = f"{os.cpu_count()} cores, {dt.date.today()}"
    args.results.mkdir(parents=True, exist_ok=True)
    path = args.results / "pipeline.json"
    doc = json.loads(path.read_text()) if path.is_file() else {}
    if args.spark_default:
        machine += f"; spark-defaults: {', '.join(args.spark_default)}"
    doc[args.label] = {"machine": machine, "results": results, "next_day": next_day}
    path.write_text(json.dumps(doc, indent=2, default=str) + "\n")
    (args.results / "pipeline.md").write_text(render(doc))
    print(markdown(args.label, results, machine, next_day))


if __name__ == "__main__":
    main()
