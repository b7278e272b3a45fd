"""Kill harness: SIGKILL `footfall run` at random moments; no reader may see a partial state, the next run converges.

The scenario is a daily run that does every kind of work at once, on a small generated city:
- the lakehouse already holds the first local date (S0, published);
- since then a subscriber objected and the cell inventory changed (one azimuth);
- the run covers both dates: forget (deletes and VACUUM), ingest, spatial, mobility, publish (a rewrite of the
  first date, so gold drops its history too).

A trial copies S0, starts the run in a process group of its own, and kills the whole group (Python and its JVM)
with SIGKILL inside one target: a stage, or a VACUUM in progress (forget's, or publish's history drop). The run's
own lines anchor the kill: the harness waits for the target's first line, then a fraction of the target's length
in the reference run, drawn uniformly. Then:
- every Delta table must read, with Spark and with delta-rs (each is at a committed version);
- the gold tables of the newest publication (gold/_publications) must read at their versions and equal, as a set,
  either S0's publication or the reference's: never a mix;
- the next run, left alone, must exit 0 and publish gold equal to the uninterrupted reference, with none of the
  objector's rows left in any pseudonymised silver table, nor in any parquet file under silver/.

`python tests/killharness.py --trials 24` is the full harness (make kill-test). `make test-kill`, which CI runs after
`make test`, is a short one: tests/test_pipeline.py kills a run applying an objection twice, where consistency is
most at risk.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from daily import TEST_KEY, daily_config, write_config  # noqa: E402
from footfall import schemas as S  # noqa: E402

STAGES = ("forget", "ingest", "spatial", "mobility", "publish")
# a VACUUM in progress is a target of its own: it deletes files that older versions name
TARGETS = (*STAGES, "forget (VACUUM)", "publish (VACUUM)")
DAYS = ("2026-03-07", "2026-03-08")  # a Saturday and a Sunday: the week completes, the weekly table publishes
PSEUDONYMISED_SILVER = (
    S.SILVER_EVENTS_TABLE,
    S.SILVER_QUARANTINE_TABLE,
    S.SILVER_SUBSCRIBERS_TABLE,
    S.SILVER_STAYS_TABLE,
    S.SILVER_ZONE_TRANSITIONS_TABLE,
    S.SILVER_DEVICE_HOME_TABLE,
    S.SILVER_REPEAT_VISITS_TABLE,
)


def _env(key: str | None = TEST_KEY) -> dict[str, str]:
    """The runs' environment: plain progress lines, and the test key (None: the config's key file)."""
    env = {k: v for k, v in os.environ.items() if k != "FOOTFALL_PSEUDONYM_KEY"}
    return {**env, "CI": "true", "PYTHONUNBUFFERED": "1", **({"FOOTFALL_PSEUDONYM_KEY": key} if key else {})}


def footfall(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run the footfall CLI of this checkout's interpreter to the end."""
    cmd = [sys.executable, "-m", "footfall.cli", *args]
    proc = subprocess.run(cmd, env=_env(), capture_output=True, text=True, check=False)
    if check and proc.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} exited {proc.returncode}:\n{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}")
    return proc


# ---- what readers see ----


def delta_tables(lakehouse: Path) -> list[Path]:
    """Return every Delta table folder of the lakehouse."""
    return sorted(log.parent for log in lakehouse.rglob("_delta_log"))


def _rows(table: Any) -> list[tuple[Any, ...]]:
    """Return an arrow table's rows as sorted tuples (None sorts first), comparable across readers and runs."""
    rows = [tuple(r.values()) for r in table.to_pylist()]
    return sorted(rows, key=lambda r: tuple((v is not None, str(v)) for v in r))


Gold = dict[str, list[tuple[Any, ...]]]  # gold table -> its rows, sorted


def published_gold(lakehouse: Path) -> Gold | None:
    """Return the newest publication's gold tables read with delta-rs at their versions, or None if none."""
    from deltalake import DeltaTable

    path = lakehouse / S.GOLD / S.GOLD_PUBLICATIONS_TABLE
    if not (path / "_delta_log").is_dir():
        return None
    pubs = DeltaTable(str(path)).to_pyarrow_table().to_pylist()
    if not pubs:
        return None
    latest = max(pubs, key=lambda r: r[S.SEQUENCE])
    versions = dict(latest[S.TABLE_VERSIONS])
    gold = {}
    for table, (schema, _) in S.GOLD_TABLES.items():
        dt_ = DeltaTable(str(lakehouse / S.GOLD / table), version=versions[table])
        gold[table] = _rows(dt_.to_pyarrow_table(columns=schema.names))
    return gold


def latest_gold(lakehouse: Path) -> Gold:
    """Return every gold table at its own latest version: what a reader that skips gold/_publications sees."""
    from deltalake import DeltaTable

    return {
        table: _rows(DeltaTable(str(lakehouse / S.GOLD / table)).to_pyarrow_table(columns=schema.names))
        for table, (schema, _) in S.GOLD_TABLES.items()
    }


def read_every_table(lakehouse: Path, spark: Any | None) -> list[str]:
    """Read every Delta table with delta-rs, and the gold ones with Spark too (when given); return the problems."""
    from deltalake import DeltaTable

    problems = []
    for path in delta_tables(lakehouse):
        try:
            DeltaTable(str(path)).to_pyarrow_table()
        except Exception as exc:  # any failure to read a committed version is what the harness looks for
            problems.append(f"delta-rs cannot read {path.relative_to(lakehouse)}: {exc}")
        if spark is not None and path.parent.name == S.GOLD:  # what analysts read with Spark; delta-rs reads all
            try:
                spark.read.format("delta").load(str(path)).count()
            except Exception as exc:
                problems.append(f"Spark cannot read {path.relative_to(lakehouse)}: {str(exc).splitlines()[0]}")
    return problems


def objector_rows(lakehouse: Path, pseudo_ids: Sequence[str]) -> dict[str, int]:
    """Return, per silver table folder, the objector's rows in ANY parquet file there (current or not).

    A killed write can leave a file of 0 bytes, which holds no row. A non-empty file that does not read cannot be
    cleared, so it counts as found (key "<table> (unreadable file)").
    """
    found = {}
    for table in PSEUDONYMISED_SILVER:
        folder = lakehouse / S.SILVER / table
        files = [p for p in folder.rglob("*.parquet") if "_delta_log" not in p.parts and p.stat().st_size > 0]
        n = unreadable = 0
        for path in files:
            try:
                data = ds.dataset(str(path), format="parquet").to_table(columns=[S.PSEUDO_ID])
            except pa.ArrowInvalid:
                unreadable += 1
                continue
            n += pc.sum(pc.is_in(data[S.PSEUDO_ID], value_set=pa.array(list(pseudo_ids)))).as_py() or 0
        if n:
            found[table] = int(n)
        if unreadable:
            found[f"{table} (unreadable file)"] = unreadable
    return found


# ---- the scenario ----


@dataclass
class Scenario:
    """The generated city, S0 (first date published), and the reference: the same run, not interrupted."""

    root: Path
    landing: Path
    s0: Path  # the lakehouse before the run
    s0_gold: Gold
    ref_gold: Gold
    objector_ids: list[str]
    windows: dict[str, tuple[float, float]]  # target -> (start, end) seconds after the reference run started
    ref_seconds: float


def _pick_objector(landing: Path) -> str:
    """Return the adult subscriber with the most events on the first date who has not objected."""
    with (landing / "subscribers.csv").open(newline="") as f:
        adults = {
            r["msisdn"]
            for r in csv.DictReader(f)
            if r["opted_out"] == "false" and r["birth_year"].isdigit() and int(r["birth_year"]) <= 2000
        }
    events = ds.dataset(str(landing / "events" / f"event_date={DAYS[0]}"), format="parquet").to_table(
        columns=["msisdn"]
    )
    counts = events.group_by("msisdn").aggregate([("msisdn", "count")]).to_pylist()
    return max((c for c in counts if c["msisdn"] in adults), key=lambda c: c["msisdn_count"])["msisdn"]


def _object(landing: Path, msisdn: str) -> None:
    path = landing / "subscribers.csv"
    with path.open(newline="") as f:
        rows = list(csv.reader(f))
    header = rows[0]
    i, at = header.index("opted_out"), header.index("opted_out_at")
    for row in rows[1:]:
        if row[0] == msisdn:
            row[i], row[at] = "true", f"{DAYS[1]}T12:00:00Z"
    with path.open("w", newline="") as f:
        csv.writer(f).writerows(rows)


def _turn_a_cell(landing: Path) -> None:
    """Change one sector's azimuth: a new inventory version, so spatial and mobility rebuild."""
    path = landing / "cells.csv"
    with path.open(newline="") as f:
        rows = list(csv.reader(f))
    a = rows[0].index("azimuth_deg")
    for row in rows[1:]:
        if row[a] not in ("", "-1"):
            row[a] = str((int(float(row[a])) + 30) % 360)
            break
    with path.open("w", newline="") as f:
        csv.writer(f).writerows(rows)


def _pseudo_ids(lakehouse: Path) -> set[str]:
    from deltalake import DeltaTable

    table = DeltaTable(str(lakehouse / S.SILVER / S.SILVER_EVENTS_TABLE)).to_pyarrow_table(columns=[S.PSEUDO_ID])
    return set(pc.unique(table[S.PSEUDO_ID]).to_pylist())


def _config(root: Path, landing: Path, lakehouse: Path) -> Path:
    return write_config(daily_config(landing, lakehouse), root / f"{lakehouse.name}.yaml")


def build_scenario(root: Path, *, subscribers: int = 150, seed: int = 7) -> Scenario:
    """Generate the city, publish its first date (S0), change the inputs, and run the reference uninterrupted,
    timing its stages: the windows kill times are drawn in."""
    landing, s0, ref = root / "landing", root / "s0", root / "ref"
    footfall("generate", "--out", str(landing), "--subscribers", str(subscribers), "--days", "2",
             "--start", DAYS[0], "--seed", str(seed))  # fmt: skip
    footfall("run", "--config", str(_config(root, landing, s0)), "--start", DAYS[0])
    objector = _pick_objector(landing)
    _object(landing, objector)
    _turn_a_cell(landing)
    shutil.copytree(s0, ref)
    run = KilledRun.start(_config(root, landing, ref))
    if (code := run.wait()) != 0:
        raise RuntimeError(f"the reference run exited {code}:\n{''.join(run.lines[-40:])}")
    s0_gold, ref_gold = published_gold(s0), published_gold(ref)
    assert s0_gold is not None and ref_gold is not None
    objector_ids = sorted(_pseudo_ids(s0) - _pseudo_ids(ref))
    if not objector_ids:
        raise RuntimeError(f"the objector {objector[:4]}... had no rows in S0: pick another seed")
    return Scenario(root, landing, s0, s0_gold, ref_gold, objector_ids, run.windows(), run.seconds)


def resume_scenario(root: Path, timing: dict[str, Any]) -> Scenario:
    """Return the scenario `build_scenario` left in `root`, with its reference run's `timing`."""
    s0, ref = root / "s0", root / "ref"
    s0_gold, ref_gold = published_gold(s0), published_gold(ref)
    assert s0_gold is not None and ref_gold is not None
    objector_ids = sorted(_pseudo_ids(s0) - _pseudo_ids(ref))
    windows = {k: (float(a), float(b)) for k, (a, b) in timing["windows"].items()}
    return Scenario(root, root / "landing", s0, s0_gold, ref_gold, objector_ids, windows, float(timing["seconds"]))


# ---- one run, to be killed ----


def marker(target: str) -> str:
    """Return the text of the line a target starts with: "ingest: started", "forget: VACUUM of"."""
    stage, _, vacuum = target.partition(" (")
    return f" {stage}: VACUUM of" if vacuum else f" {stage}: started"


@dataclass
class KilledRun:
    """`footfall run` in a process group of its own, its plain lines timed as they arrive."""

    proc: subprocess.Popen[str]
    began: float
    lines: list[str] = field(default_factory=list)
    stamps: list[tuple[float, str]] = field(default_factory=list)  # (seconds since start, line)
    seconds: float = 0.0

    @classmethod
    def start(cls, config: Path, *, key: str | None = TEST_KEY) -> KilledRun:
        cmd = [sys.executable, "-m", "footfall.cli", "run", "--config", str(config)]
        proc = subprocess.Popen(
            cmd, env=_env(key), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True
        )
        run = cls(proc, time.monotonic())
        threading.Thread(target=run._read, daemon=True).start()
        return run

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line)
            self.stamps.append((time.monotonic() - self.began, line))

    def stage_at(self, seconds: float) -> str:
        """Return the stage that had started last at `seconds` ("session" before the first), with " (VACUUM)" once
        a VACUUM of that stage had started (forget's, or publish's history drop)."""
        stage, vacuum = "session", False
        for at, line in self.stamps:
            if at > seconds:
                break
            for name in STAGES:
                if f" {name}: started" in line:
                    stage, vacuum = name, False
            if "VACUUM of" in line and "started" in line:
                vacuum = True
        return f"{stage} (VACUUM)" if vacuum else stage

    def windows(self) -> dict[str, tuple[float, float]]:
        """Return each target's (start, end) seconds: a stage from its started line to the next stage's, a VACUUM
        from its stage's first VACUUM line to the same end."""
        starts = [(at, n) for at, line in self.stamps for n in STAGES if f" {n}: started" in line]
        ends = [at for at, _ in starts[1:]] + [self.seconds]
        windows = {n: (at, end) for (at, n), end in zip(starts, ends, strict=True)}
        for stage, (_, end) in list(windows.items()):
            vacuums = [at for at, line in self.stamps if marker(f"{stage} (VACUUM)") in line]
            if vacuums:
                windows[f"{stage} (VACUUM)"] = (vacuums[0], end)
        return windows

    def wait(self) -> int:
        code = self.proc.wait()
        self.seconds = time.monotonic() - self.began
        time.sleep(0.2)  # let the reader thread take the last lines
        return code

    def wait_for(self, ready: Callable[[], bool], *, timeout_s: float = 600) -> None:
        """Return as soon as `ready()` holds (polled every 20 ms), the run ends, or `timeout_s` has passed."""
        while not ready() and self.proc.poll() is None and time.monotonic() - self.began < timeout_s:
            time.sleep(0.02)

    def kill_when(self, ready: Callable[[], bool], *, timeout_s: float = 600) -> tuple[str, bool]:
        """SIGKILL the whole process group as soon as `ready()` holds; as `kill_at`."""
        self.wait_for(ready, timeout_s=timeout_s)
        return self.kill_at(0.0)

    def saw(self, text: str) -> bool:
        """Return True once a line holding `text` has arrived."""
        return any(text in line for line in self.lines)

    def kill_at(self, seconds: float) -> tuple[str, bool]:
        """SIGKILL the whole process group `seconds` after start; return the stage then, and whether it was alive."""
        while (left := seconds - (time.monotonic() - self.began)) > 0 and self.proc.poll() is None:
            time.sleep(min(left, 0.05))
        at = time.monotonic() - self.began
        alive = self.proc.poll() is None
        if alive:
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.wait()
        return self.stage_at(at), alive


# ---- trials ----


@dataclass
class Trial:
    number: int
    target: str  # the stage, or VACUUM, the kill was aimed at
    kill_at_s: float  # seconds after the run started
    killed_in: str  # the stage running at the kill, from the run's own lines
    killed: bool  # False: the run had finished before the kill
    partial_states: list[str]
    converged: bool
    detail: str = ""


def check_state(lakehouse: Path, *, whole: Sequence[Gold], spark: Any | None) -> list[str]:
    """Return the partial states a reader could see now (empty: none); `whole` are the publications it may see."""
    problems = read_every_table(lakehouse, spark)
    try:
        gold = published_gold(lakehouse)
    except Exception as exc:  # an unreadable publication is a partial state
        return [*problems, f"the newest publication does not read: {exc}"]
    if gold not in whole:
        differing = sorted(t for t in S.GOLD_TABLES if gold is None or all(gold[t] != w[t] for w in whole))
        problems.append(
            "the newest publication mixes tables of different publications" if not differing
            else f"the newest publication is none of the expected ones: {', '.join(differing)}"
        )  # fmt: skip
    return problems


def run_trial(sc: Scenario, number: int, *, target: str, fraction: float, spark: Any | None) -> Trial:
    """Kill one run `fraction` of the way into `target` (timed by the reference run, from the target's first
    line in this run), check what readers see, then let the next run finish and compare."""
    lakehouse = sc.root / f"trial-{number:02d}"
    shutil.rmtree(lakehouse, ignore_errors=True)
    shutil.copytree(sc.s0, lakehouse)
    config = _config(sc.root, sc.landing, lakehouse)
    run = KilledRun.start(config)
    start, end = sc.windows[target]
    run.wait_for(lambda: run.saw(marker(target)))
    kill_at_s = time.monotonic() - run.began + fraction * (end - start)
    killed_in, killed = run.kill_at(kill_at_s)
    partial = check_state(lakehouse, whole=[sc.s0_gold, sc.ref_gold], spark=spark)
    again = KilledRun.start(config)
    code = again.wait()
    detail = ""
    converged = code == 0 and published_gold(lakehouse) == sc.ref_gold
    if code != 0:
        detail = f"the next run exited {code}: {''.join(again.lines[-5:]).strip()}"
    elif not converged:
        detail = "the next run published gold that differs from the uninterrupted run"
    left = objector_rows(lakehouse, sc.objector_ids)
    if left:
        converged = False
        detail += f"; objector rows left: {left}"
    shutil.rmtree(lakehouse, ignore_errors=True)
    return Trial(number, target, round(kill_at_s, 1), killed_in, killed, partial, converged, detail)


def plan_kills(sc: Scenario, trials: int, *, seed: int) -> list[tuple[str, float]]:
    """Return (target, fraction) per trial: the reference run's targets in turn, the fraction of the target's
    length uniform in [0, 1)."""
    rng = random.Random(seed)
    targets = [t for t in TARGETS if t in sc.windows]
    return [(targets[i % len(targets)], rng.random()) for i in range(trials)]


def report(trials: Sequence[Trial]) -> str:
    """Return the harness's table and totals as Markdown."""
    lines = [
        "| trial | aimed at | killed at | killed in | partial states | converged |",
        "| ---: | --- | ---: | --- | ---: | :---: |",
    ]
    for t in trials:
        killed_at = f"{t.kill_at_s:.1f} s" if t.killed else f"{t.kill_at_s:.1f} s (had finished)"
        lines.append(
            f"| {t.number} | {t.target} | {killed_at} | {t.killed_in} | {len(t.partial_states)} | "
            f"{'yes' if t.converged else 'NO: ' + t.detail} |"
        )
    partial = sum(len(t.partial_states) for t in trials)
    converged = sum(t.converged for t in trials)
    lines += ["", f"trials {len(trials)}, partial states seen {partial}, runs that converged {converged}"]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=24)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--first", type=int, default=1, help="start at this trial of the plan (resume a stopped run)")
    parser.add_argument("--work", type=Path, default=REPO / "data" / "kill")
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "kill.md")
    args = parser.parse_args(argv)
    began = time.monotonic()
    timing = args.work / "reference.json"  # the reference run's timing: a resumed run (--first) reuses the scenario
    if args.first > 1 and timing.exists():
        sc = resume_scenario(args.work, json.loads(timing.read_text()))
    else:
        shutil.rmtree(args.work, ignore_errors=True)
        args.work.mkdir(parents=True)
        sc = build_scenario(args.work)
        timing.write_text(json.dumps({"windows": sc.windows, "seconds": sc.ref_seconds}))
    windows = ", ".join(f"{n} {a:.0f}-{b:.0f} s" for n, (a, b) in sc.windows.items())
    print(f"reference run {sc.ref_seconds:.0f} s: {windows}", flush=True)

    from footfall.session import get_spark

    spark = get_spark("footfall-kill-harness")
    trials = []
    for i, (target, fraction) in enumerate(plan_kills(sc, args.trials, seed=args.seed), start=1):
        if i < args.first:
            continue
        trial = run_trial(sc, i, target=target, fraction=fraction, spark=spark)
        trials.append(trial)
        print(json.dumps(trial.__dict__), flush=True)
        text = report(trials)  # after every trial: a harness stopped early still leaves its table
        header = (
            f"# Kill harness\n\n`python tests/killharness.py --trials {args.trials} --seed {args.seed}"
            f"{f' --first {args.first}' if args.first > 1 else ''}` (make kill-test), {len(trials)} trials in "
            f"{time.monotonic() - began:.0f} s; "
            f"reference run {sc.ref_seconds:.0f} s ({windows}).\n\n"
        )
        args.out.write_text(header + text + "\n")
    print(report(trials))
    ok = all(not t.partial_states and t.converged for t in trials)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
