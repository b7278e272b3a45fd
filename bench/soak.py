"""Sixty daily runs in a row: `make soak` (docs/operations.md, "Sixty days in a row").

A small city is generated once for every day, then handed to footfall day by day, as an operator's export arrives:
each day its UTC event partition lands, and `footfall run --start D` runs in a fresh process, as the scheduler runs
it. Along the way:
- the pseudonym key rotates every `--period` days (privacy.pseudonym_period_days);
- retention keeps `--retention` days (privacy.retention_days), so the window fills early and old dates leave it;
- customers object (subscribers.csv `opted_out`), one of them back-dated to a date already published;
- a partition arrives late: part of one date's events lands a day after the rest;
- the cell inventory changes once (one cell moves);
- `footfall maintain` runs after every Sunday's run.

A soak day lasts about `--day-seconds` (100 s), not a day, so the soak compresses time where Delta counts it, or no
retention would ever come due:
- after each day it moves the modification time of every file in a Delta table one day back. The `_delta_log`'s
  cleanup (`delta.logRetentionDuration`, counted in whole days from file times) and VACUUM's age of untracked files
  then see a day pass per soak day;
- VACUUM ages deleted files by the time in their `remove` action, written by the clock; so before each maintenance
  the soak sets `delta.deletedFileRetentionDuration` to 7 soak days (7 x `--day-seconds`) instead of 7 days.
  A property commit moves no fingerprint (lakehouse.data_version).

Per day it records the run's seconds, data files and `_delta_log` bytes per table, and silver rows; it plots them
(docs/soak.png) and writes bench/results/soak.json. After the last day it checks that gold of the
dates still in retention equals one batch run over the same inputs, and that no objector's pseudonym nor an expired
pseudonym is in any file of the lakehouse, current or not.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import hashlib
import hmac
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import yaml

ROOT = Path(__file__).resolve().parents[1]
FOOTFALL = Path(sys.executable).parent / "footfall"
KEY = "footfall-soak-key-0123456789abcdef-not-a-secret"
STATIC = ("cells.csv", "districts.geojson", "zones.geojson", "market_share.csv", "generation.json")


def _run(args: list[str], *, log: Path) -> float:
    """Run a footfall command in a fresh process; return its wall seconds; raise with the log's tail on failure."""
    env = {**os.environ, "CI": "true", "FOOTFALL_PSEUDONYM_KEY": KEY}
    began = time.monotonic()
    proc = subprocess.run([str(FOOTFALL), *args], cwd=ROOT, env=env, capture_output=True, text=True)
    seconds = time.monotonic() - began
    log.write_text(proc.stdout + proc.stderr)
    if proc.returncode:
        raise RuntimeError(
            f"footfall {' '.join(args)} exited {proc.returncode}:\n{(proc.stdout + proc.stderr)[-3000:]}"
        )
    return round(seconds, 1)


def _config(work: Path, *, landing: Path, lakehouse: Path, retention: int, period: int) -> Path:
    config = yaml.safe_load((ROOT / "conf" / "local.yaml").read_text())
    config["landing"], config["lakehouse"] = str(landing), str(lakehouse)
    config["privacy"]["pseudonym_key_file"] = str(work / "no-key-file")  # the key comes from the environment
    config["privacy"]["pseudonym_period_days"] = period
    config["privacy"]["retention_days"] = retention
    # a small city publishes little at k = 20: k = 3 (signed off, as in the tests) gives gold rows to compare
    config["privacy"]["dpo_approved"] = ["publish.k"]
    config["publish"]["k"] = 3
    config["publish"]["include_low_resolution"] = True
    path = work / f"{lakehouse.name}.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def _table_stats(lakehouse: Path) -> dict[str, dict[str, int]]:
    """Per table (layer/name): data files on disk, `_delta_log` bytes, and rows of the current version."""
    from deltalake import DeltaTable

    found = {}
    for table in _delta_tables(lakehouse):
        log = table / "_delta_log"
        files = sum(1 for p in table.rglob("*.parquet") if "_delta_log" not in p.parts)
        log_bytes = sum(p.stat().st_size for p in log.rglob("*") if p.is_file())
        try:
            actions = DeltaTable(str(table)).get_add_actions(flatten=True)
            rows = int(sum(v or 0 for v in actions.column("num_records").to_pylist()))
        except Exception:  # a table whose creation never committed
            rows = 0
        found[f"{table.parent.name}/{table.name}"] = {"files": files, "log_bytes": log_bytes, "rows": rows}
    return found


def _delta_tables(lakehouse: Path) -> list[Path]:
    return sorted(log.parent for log in lakehouse.glob("*/*/_delta_log"))


def _age_one_day(lakehouse: Path) -> None:
    """Move every file of every Delta table one day back in time (module docstring: time is compressed)."""
    for table in _delta_tables(lakehouse):
        for path in table.rglob("*"):
            if path.is_file():
                stat = path.stat()
                os.utime(path, (stat.st_atime - 86400, stat.st_mtime - 86400))


SHORTEN = """
import sys
from footfall.session import get_spark
spark = get_spark()
for path in sys.argv[2:]:
    spark.sql(f"ALTER TABLE delta.`{path}` SET TBLPROPERTIES ('delta.deletedFileRetentionDuration' = '{sys.argv[1]}')")
"""


def _compress_file_retention(lakehouse: Path, *, day_seconds: int, log: Path) -> None:
    """Give every table a `delta.deletedFileRetentionDuration` of 7 soak days (module docstring)."""
    from deltalake import DeltaTable

    wanted = f"interval {7 * day_seconds} seconds"
    stale = [
        str(t) for t in _delta_tables(lakehouse)
        if DeltaTable(str(t)).metadata().configuration.get("delta.deletedFileRetentionDuration") != wanted
    ]  # fmt: skip
    if stale:
        env = {**os.environ, "CI": "true"}
        proc = subprocess.run(
            [sys.executable, "-c", SHORTEN, wanted, *stale], cwd=ROOT, env=env, capture_output=True, text=True
        )
        log.write_text(proc.stdout + proc.stderr)
        if proc.returncode:
            raise RuntimeError(f"setting {wanted} failed:\n{(proc.stdout + proc.stderr)[-3000:]}")


def _pseudonyms(msisdn: str, periods: range) -> set[str]:
    """Return the pseudonyms of a customer over `periods` (ingest/pseudonym.py: HMAC-SHA256 under each period's
    key; the padded keys there are RFC 2104's own padding)."""
    from footfall.ingest.pseudonym import MasterKey

    key = MasterKey(KEY.encode(), source="soak")
    return {hmac.new(key.period_key(i), msisdn.encode(), hashlib.sha256).hexdigest() for i in periods}


def _strings_in_files(lakehouse: Path, wanted: set[str]) -> list[str]:
    """Return every parquet file of the lakehouse (current or not) that holds one of `wanted` in a string column."""
    hits = []
    for path in lakehouse.rglob("*.parquet"):
        if "_delta_log" in path.parts:
            continue
        table = pq.read_table(path)
        for name, column in zip(table.column_names, table.columns, strict=True):
            if str(column.type) in ("string", "large_string") and wanted & set(column.to_pylist()):
                hits.append(f"{path.relative_to(lakehouse)}:{name}")
    return hits


def _subscribers(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


def _write_subscribers(path: Path, rows: list[dict[str, str]]) -> None:
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--days", type=int, default=60)
    parser.add_argument("--subscribers", type=int, default=300)
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument("--start", default="2026-01-05")  # a Monday
    parser.add_argument("--retention", type=int, default=14)
    parser.add_argument("--period", type=int, default=14)
    parser.add_argument("--out", type=Path, default=ROOT / "data" / "soak")
    parser.add_argument("--plot", type=Path, default=ROOT / "docs" / "soak.png")
    parser.add_argument("--results", type=Path, default=ROOT / "bench" / "results")
    parser.add_argument("--day-seconds", type=int, default=100, help="about how long a soak day lasts")
    parser.add_argument("--resume", action="store_true", help="go on after the last day a killed soak ran")
    parser.add_argument("--replot", action="store_true", help="redraw the chart from the results of a finished soak")
    args = parser.parse_args()
    if args.replot:
        return replot(args)

    from footfall.ingest.pseudonym import period_index

    first = dt.date.fromisoformat(args.start)
    days = [first + dt.timedelta(days=i) for i in range(args.days)]
    source = args.out / "source"
    args.out.mkdir(parents=True, exist_ok=True)
    if not (source / "generation.json").is_file():
        # one day more than the runs: the last local date reaches into the next UTC date
        _run(
            [
                "generate", "--out", str(source), "--subscribers", str(args.subscribers),
                "--days", str(args.days + 1), "--start", (first - dt.timedelta(days=1)).isoformat(),
                "--seed", str(args.seed),
            ],
            log=args.out / "generate.log",
        )  # fmt: skip
    work = args.out / "run"
    landing, events = work / "landing", work / "landing" / "events"
    done_file = work / "daily.jsonl"  # one record per day run: --resume goes on after the last
    if not (args.resume and done_file.is_file()):
        shutil.rmtree(work, ignore_errors=True)
        events.mkdir(parents=True)
        for name in STATIC:
            shutil.copy(source / name, landing / name)
        _write_subscribers(landing / "subscribers.csv", _subscribers(source / "subscribers.csv"))
        done_file.write_text("")
    subscribers = _subscribers(landing / "subscribers.csv")  # with the objections landed so far
    config = _config(work, landing=landing, lakehouse=work / "lakehouse", retention=args.retention, period=args.period)

    # the events along the way (day numbers count from 1)
    consenting = [r["msisdn"] for r in _subscribers(source / "subscribers.csv") if r["opted_out"] != "true"]
    n = len(days)  # at 60 days: objections on days 12, 25 (back-dated to day 10) and 44, late day 20, cells day 35
    objectors: dict[int, tuple[str, dt.date]] = {  # day -> (msisdn, opted_out_at)
        max(2, n // 5): (consenting[3], days[max(2, n // 5) - 1]),
        n * 5 // 12: (consenting[7], days[n // 6 - 1]),  # back-dated: known days after it was dated
        n * 11 // 15: (consenting[11], days[n * 11 // 15 - 1]),
    }
    late_day, cells_day = max(1, n // 3), n * 7 // 12

    def land(day: dt.date, *, hold_back: bool = False) -> None:
        """Land UTC partition `day` (the day before, for the first run, too); with hold_back a fifth stays behind."""
        for utc in (day - dt.timedelta(days=1), day):
            src, dst = source / "events" / f"event_date={utc}", events / f"event_date={utc}"
            if dst.exists() or not src.exists():
                continue
            dst.mkdir()
            table = pq.read_table(src)
            if hold_back and utc == day:
                cut = table.num_rows * 4 // 5
                pq.write_table(table.slice(0, cut), dst / "part-00000.parquet")
                pq.write_table(table.slice(cut), work / "late-part.parquet")
            else:
                pq.write_table(table, dst / "part-00000.parquet")

    daily: list[dict[str, Any]] = [json.loads(line) for line in done_file.read_text().splitlines()]
    for number, day in enumerate(days, start=1):
        if number <= len(daily):
            continue
        land(day, hold_back=number == late_day)
        notes = []
        if number == late_day + 1:  # the held-back fifth of the late day arrives
            shutil.move(work / "late-part.parquet", events / f"event_date={days[late_day - 1]}" / "part-00001.parquet")
            notes.append(f"late part of {days[late_day - 1]} landed")
        if number in objectors:
            msisdn, at = objectors[number]
            for row in subscribers:
                if row["msisdn"] == msisdn:
                    row["opted_out"], row["opted_out_at"] = "true", f"{at}T09:00:00Z"
            _write_subscribers(landing / "subscribers.csv", subscribers)
            notes.append(f"objection dated {at}")
        if number == cells_day:  # one cell moves 80 m north: a new inventory
            with (landing / "cells.csv").open(newline="") as handle:
                cells = list(csv.DictReader(handle))
            lat = next(k for k in cells[0] if k.lower() in ("lat", "latitude"))
            cells[0][lat] = f"{float(cells[0][lat]) + 0.0007:.6f}"
            with (landing / "cells.csv").open("w", newline="") as handle:
                writer = csv.DictWriter(handle, fieldnames=list(cells[0]))
                writer.writeheader()
                writer.writerows(cells)
            notes.append("cell inventory changed")
        seconds = _run(["run", "--config", str(config), "--start", day.isoformat()], log=work / f"run-{day}.log")
        record: dict[str, Any] = {"day": number, "date": day.isoformat(), "run_s": seconds, "notes": notes}
        if day.weekday() == 6:
            lake, log = work / "lakehouse", work / f"retention-{day}.log"
            _compress_file_retention(lake, day_seconds=args.day_seconds, log=log)
            record["maintain_s"] = _run(["maintain", "--config", str(config)], log=work / f"maintain-{day}.log")
        record["tables"] = _table_stats(work / "lakehouse")
        _age_one_day(work / "lakehouse")
        daily.append(record)
        with done_file.open("a") as handle:
            handle.write(json.dumps(record) + "\n")
        print(f"day {number} {day}: run {seconds} s {'; '.join(notes)}", flush=True)

    # one batch run over the same inputs, for the dates still in retention
    from footfall import schemas as S
    from footfall.ingest.retention import first_kept, retention_cutoff

    cutoff = retention_cutoff(days[-1], days=args.retention)  # the first local date silver still holds
    compared = max(cutoff, days[0])
    batch = _config(work, landing=landing, lakehouse=work / "batch", retention=args.retention, period=args.period)
    shutil.rmtree(work / "batch", ignore_errors=True)  # a resumed end phase measures a batch run, not its rerun
    batch_s = _run(
        ["run", "--config", str(batch), "--start", compared.isoformat(), "--end", days[-1].isoformat()],
        log=work / "batch.log",
    )
    checks = _compare(work / "lakehouse", work / "batch", since=compared)
    every_period = range(
        period_index(days[0] - dt.timedelta(days=1), period_days=args.period),
        period_index(days[-1], period_days=args.period) + 1,
    )
    objector_ids = set().union(*(_pseudonyms(m, every_period) for m, _ in objectors.values()))
    checks["objector_files"] = _strings_in_files(work / "lakehouse", objector_ids)
    # expired: a pseudonym of a period none of whose events silver keeps any more. Retention keeps, before the cut,
    # what gold of the cut's date reads (the day before's events and stays; homes from the nights before it), so
    # the period of the oldest events kept is still live in every table that derives from them.
    oldest = first_kept(S.SILVER_EVENTS_TABLE, cutoff=cutoff, period_days=args.period)
    assert isinstance(oldest, dt.date)
    expired_periods = range(
        period_index(days[0] - dt.timedelta(days=1), period_days=args.period),
        period_index(oldest, period_days=args.period),
    )
    expired_ids = set().union(*(_pseudonyms(r["msisdn"], expired_periods) for r in subscribers))
    checks["expired_files"] = _strings_in_files(work / "lakehouse" / "silver", expired_ids)
    checks["expired_periods"] = [expired_periods.start, expired_periods.stop]
    _report(daily, checks=checks, batch_s=batch_s, cutoff=cutoff, args=args)
    if checks["gold_differences"] or checks["objector_files"] or checks["expired_files"]:
        raise SystemExit(f"soak checks failed: {json.dumps(checks)[:2000]}")


def _compare(daily: Path, batch: Path, *, since: dt.date) -> dict[str, Any]:
    """Gold of the daily lakehouse against the batch's, for dates (and weeks) from `since` on."""
    from deltalake import DeltaTable

    from footfall import schemas as S

    differences, compared = [], {}
    for table, (_, partition) in S.GOLD_TABLES.items():
        frames = []
        for lake in (daily, batch):
            df = DeltaTable(str(lake / "gold" / table)).to_pandas()
            if partition == S.DATE:
                df = df[df[partition].astype(str) >= since.isoformat()]
            elif partition == S.WEEK:
                df = df[df[partition].astype(str) >= f"{since.isocalendar()[0]}-W{since.isocalendar()[1]:02d}"]
            frames.append(df.sort_values(list(df.columns)).reset_index(drop=True).astype(str))
        compared[table] = len(frames[1])
        if not frames[0].equals(frames[1]):
            differences.append(f"{table}: daily {len(frames[0])} rows, batch {len(frames[1])} rows")
    return {"gold_rows_compared": compared, "gold_differences": differences}


def _pseudonymous() -> set[str]:
    from footfall.lakehouse import DERIVED_PSEUDONYMISED, PSEUDONYMISED

    return {*PSEUDONYMISED, *DERIVED_PSEUDONYMISED}


PSEUDONYMOUS = _pseudonymous()


def _layer(table: str) -> str:
    layer, name = table.split("/", 1)
    if name in PSEUDONYMOUS:
        return "silver with pseudonyms"
    return "silver, spatial and audits" if layer == "silver" else layer


def _series(daily: list[dict[str, Any]]) -> Any:
    """Per day and layer: files on disk, `_delta_log` MB, and the largest table of the layer's files."""
    import pandas as pd

    rows = []
    for record in daily:
        layers: dict[str, dict[str, float]] = {}
        for table, stats in record["tables"].items():
            into = layers.setdefault(_layer(table), {"files": 0, "log MB": 0.0, "rows": 0, "largest": 0})
            into["files"] += stats["files"]
            into["log MB"] += stats["log_bytes"] / 1e6
            into["rows"] += stats["rows"]
            into["largest"] = max(into["largest"], stats["files"])
        for layer, stats in layers.items():
            rows.append({"day": record["day"], "layer": layer, **stats})
    return pd.DataFrame(rows)


def _report(daily: list[dict[str, Any]], *, checks: dict[str, Any], batch_s: float, cutoff: dt.date, args: Any) -> None:
    import altair as alt
    import pandas as pd

    layers = _series(daily)
    seconds = pd.DataFrame(
        [{"day": r["day"], "command": "run", "seconds": r["run_s"]} for r in daily]
        + [{"day": r["day"], "command": "maintain", "seconds": r["maintain_s"]} for r in daily if "maintain_s" in r]
    )
    pseudonymous = layers[layers.layer == "silver with pseudonyms"]
    width, height = 520, 130
    retention_full = alt.Chart(pd.DataFrame({"day": [args.retention]})).mark_rule(strokeDash=[4, 4]).encode(x="day:Q")

    def lines(frame: Any, y: str, title: str, color: str = "layer") -> Any:
        return (
            alt.Chart(frame, width=width, height=height, title=title)
            .mark_line(point=alt.OverlayMarkDef(size=12))
            .encode(x="day:Q", y=alt.Y(f"{y}:Q", title=None), color=f"{color}:N")
        ) + retention_full

    charts = [
        lines(seconds, "seconds", "seconds per command (dashed: the retention window is full)", color="command"),
        lines(layers, "files", "data files on disk, per layer (current and not yet vacuumed)"),
        lines(pseudonymous, "largest", "data files of the largest table with pseudonyms"),
        lines(layers, "log MB", "_delta_log MB, per layer"),
        lines(pseudonymous.assign(k=pseudonymous["rows"] / 1e3), "k", "silver rows with pseudonyms, thousands"),
    ]
    args.plot.parent.mkdir(parents=True, exist_ok=True)
    chart = alt.vconcat(*charts).resolve_scale(color="independent").resolve_legend(color="independent")
    chart.properties(title=f"footfall soak: {len(daily)} daily runs").save(str(args.plot))
    first, last = daily[:10], daily[-10:]
    largest = max(
        (t for t in daily[-1]["tables"] if _layer(t) == "silver with pseudonyms"),
        key=lambda t: daily[-1]["tables"][t]["files"],
    )
    on_days = [d for d in (10, 20, 30, 40, 50, 60) if d <= len(daily)]

    def on_day(day: int, column: str) -> dict[str, float]:
        return {k: round(float(v), 2) for k, v in layers[layers.day == day].set_index("layer")[column].items()}

    summary = {
        "settings": {k: str(v) for k, v in vars(args).items()},
        "retention_cutoff": cutoff.isoformat(),
        "first_10_run_s": [r["run_s"] for r in first],
        "last_10_run_s": [r["run_s"] for r in last],
        "maintain_s": [r["maintain_s"] for r in daily if "maintain_s" in r],
        "largest_table": largest,
        "largest_table_files_on_day": {d: daily[d - 1]["tables"].get(largest, {}).get("files") for d in on_days},
        "files_per_layer_on_day": {d: on_day(d, "files") for d in on_days},
        "log_mb_per_layer_on_day": {d: on_day(d, "log MB") for d in on_days},
        "batch_s": batch_s,
        "checks": checks,
        "days": daily,
    }
    args.results.mkdir(parents=True, exist_ok=True)
    (args.results / "soak.json").write_text(json.dumps(summary, indent=1))
    print(json.dumps({k: v for k, v in summary.items() if k != "days"}, indent=1))


def replot(args: Any) -> None:
    """Redraw docs/soak.png and rewrite soak.json from the soak.json of a finished soak (no run)."""
    summary = json.loads((args.results / "soak.json").read_text())
    cutoff = dt.date.fromisoformat(summary["retention_cutoff"])
    _report(summary["days"], checks=summary["checks"], batch_s=summary["batch_s"], cutoff=cutoff, args=args)


if __name__ == "__main__":
    main()
