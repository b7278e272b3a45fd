"""Where a run's time goes, from Spark's own event log: jobs, stages, tasks and idle time per footfall stage.

The pipeline labels every Spark job with its stage (progress.StageProgress sets the job group), so the event log
says how many actions each stage triggered, from which line of code, how long the executors were busy, and how
long the stage ran with no Spark job at all (planning, Delta log work, Python on the driver).
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

PYTHON_NODES = ("BatchEvalPython", "ArrowEvalPython", "MapInPandas", "FlatMapGroupsInPandas", "MapInArrow")


def _union_ms(intervals: list[tuple[int, int]]) -> int:
    total, end = 0, -1
    for a, b in sorted(intervals):
        if b <= end:
            continue
        total += b - max(a, end)
        end = b
    return total


def _lines(files: list[Path]) -> Iterator[str]:
    for path in files:
        with path.open() as fh:
            yield from fh


def summarise(log_files: list[Path]) -> dict[str, Any]:
    """Return per job group: jobs, stages run, tasks, busy seconds (some job running), task seconds, the top call
    sites, and across the run: SQL executions and plan nodes that run Python."""
    jobs: dict[int, dict[str, Any]] = {}
    stage_job: dict[int, int] = {}
    stages_run: dict[int, int] = {}
    task_ms: defaultdict[int, int] = defaultdict(int)
    tasks: Counter[int] = Counter()
    python_nodes: Counter[str] = Counter()
    sql_executions = 0
    for line in _lines(log_files):
        event = json.loads(line)
        kind = event.get("Event")
        if kind == "SparkListenerJobStart":
            props = event.get("Properties") or {}
            # Python actions carry their call site; jobs the JVM starts itself (Delta's log and commits, VACUUM's
            # listing, broadcasts) are named by their first stage, e.g. "toString at String.java:4220"
            stage_names = [s.get("Stage Name", "") for s in event.get("Stage Infos", [])]
            site = props.get("callSite.short") or (f"jvm: {stage_names[0]}" if stage_names else "jvm")
            job = {
                "group": props.get("spark.jobGroup.id") or "(none)",
                "call_site": site.split(" at ")[-1].split("/")[-1],
                "action": site.split(" at ")[0],
                "start": event["Submission Time"],
                "end": event["Submission Time"],
            }
            jobs[event["Job ID"]] = job
            for sid in event.get("Stage IDs", []):
                stage_job[sid] = event["Job ID"]
        elif kind == "SparkListenerJobEnd":
            if event["Job ID"] in jobs:
                jobs[event["Job ID"]]["end"] = event["Completion Time"]
        elif kind == "SparkListenerStageCompleted":
            info = event["Stage Info"]
            stages_run[info["Stage ID"]] = info.get("Number of Tasks", 0)
        elif kind == "SparkListenerTaskEnd":
            sid = event["Stage ID"]
            tasks[sid] += 1
            task_ms[sid] += int((event.get("Task Metrics") or {}).get("Executor Run Time", 0))
        elif kind.endswith("SparkListenerSQLExecutionStart"):
            sql_executions += 1
            plan = event.get("physicalPlanDescription", "")
            for node in PYTHON_NODES:
                python_nodes[node] += plan.count(node)
    groups: dict[str, dict[str, Any]] = {}
    for job in jobs.values():
        g = groups.setdefault(
            job["group"],
            {"jobs": 0, "stages": 0, "tasks": 0, "task_s": 0.0, "_iv": [], "sites": Counter(), "site_ms": Counter()},
        )
        g["jobs"] += 1
        g["_iv"].append((job["start"], job["end"]))
        site = f"{job['action']} at {job['call_site']}"
        g["sites"][site] += 1
        g["site_ms"][site] += job["end"] - job["start"]
    for sid, jid in stage_job.items():
        if sid in stages_run:
            g = groups[jobs[jid]["group"]]
            g["stages"] += 1
            g["tasks"] += tasks[sid]
            g["task_s"] += task_ms[sid] / 1000
    out: dict[str, Any] = {}
    for name, g in groups.items():
        out[name] = {
            "jobs": g["jobs"],
            "stages": g["stages"],
            "tasks": g["tasks"],
            "busy_s": round(_union_ms(g["_iv"]) / 1000, 1),
            "task_s": round(g["task_s"], 1),
            "top_call_sites": dict(g["sites"].most_common(8)),
            "slowest_call_sites_s": {k: round(v / 1000, 1) for k, v in g["site_ms"].most_common(8)},
        }
    return {"groups": out, "sql_executions": sql_executions, "python_plan_nodes": dict(python_nodes)}


def find_logs(folder: Path) -> list[Path]:
    """Return the event log files Spark wrote into `folder`, in order (one file, or the parts of a rolling log)."""
    files = [p for p in folder.rglob("*") if p.is_file() and not p.name.startswith((".", "appstatus"))]
    files.sort(key=lambda p: int(p.name.split("_")[1]) if p.name.startswith("events_") else 0)
    if not files:
        raise RuntimeError(f"no event log in {folder}")
    return files
