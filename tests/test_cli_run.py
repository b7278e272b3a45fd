"""`footfall run` as a scheduler sees it: one line on stderr and a documented exit code, before any write."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.daily import TEST_KEY, daily_config, write_config

from footfall.runlock import run_lock


def _footfall(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "FOOTFALL_PSEUDONYM_KEY": TEST_KEY}
    cli = Path(sys.executable).parent / "footfall"
    return subprocess.run([str(cli), *args], capture_output=True, text=True, env=env, timeout=120)


def _config(tmp_path: Path) -> Path:
    landing = tmp_path / "landing"
    (landing / "events" / "event_date=2026-03-06").mkdir(parents=True)
    return write_config(daily_config(landing, tmp_path / "lakehouse"), tmp_path / "cfg.yaml")


def test_a_date_without_landing_exits_3_with_one_line(tmp_path: Path) -> None:
    done = _footfall("run", "--config", str(_config(tmp_path)), "--start", "2026-03-07")
    assert done.returncode == 3, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("footfall: no landing partition for 2026-03-07"), done.stderr
    assert not (tmp_path / "lakehouse").exists()


def test_a_second_run_exits_7_naming_the_run_that_holds_the_lakehouse(tmp_path: Path) -> None:
    config = _config(tmp_path)
    with run_lock(tmp_path / "lakehouse", run_id="the-first-run"):
        done = _footfall("run", "--config", str(config), "--start", "2026-03-06")
    assert done.returncode == 7, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "run the-first-run" in lines[0], done.stderr
