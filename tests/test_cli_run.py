"""`footfall run` as a scheduler sees it: one line on stderr and a documented exit code, before any write."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
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


def test_jobs_run_pipeline_never_writes_a_key_file(tmp_path: Path) -> None:
    """The spark-submit entry point without a key stops with exit 5; it does not invent one."""
    config = _config(tmp_path)
    env = {k: v for k, v in os.environ.items() if k != "FOOTFALL_PSEUDONYM_KEY"}
    job = Path(__file__).resolve().parents[1] / "jobs" / "run_pipeline.py"
    done = subprocess.run(
        [sys.executable, str(job), "--config", str(config), "--start", "2026-03-06"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert done.returncode == 5 and "no pseudonym key" in done.stderr, done.stderr
    assert not (tmp_path / "no-key-file").exists()


def test_only_a_demo_run_without_the_key_variable_creates_the_development_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """--demo creates the key file only when FOOTFALL_PSEUDONYM_KEY is unset (a held lock stops each run right
    after the key step, before Spark)."""
    import io

    from rich.console import Console

    from footfall.pipeline import run_pipeline
    from footfall.runlock import RunLockedError

    config = daily_config(_config(tmp_path).parent / "landing", tmp_path / "lakehouse")
    key_file = config.privacy.pseudonym_key_file
    with run_lock(tmp_path / "lakehouse", run_id="holder"):
        monkeypatch.setenv("FOOTFALL_PSEUDONYM_KEY", TEST_KEY)
        with pytest.raises(RunLockedError):
            run_pipeline(config, console=Console(file=io.StringIO()), dates=None, demo=True)
        assert not key_file.exists()
        monkeypatch.delenv("FOOTFALL_PSEUDONYM_KEY")
        out = io.StringIO()
        with pytest.raises(RunLockedError):
            run_pipeline(config, console=Console(file=out, width=300), dates=None, demo=True)
        assert key_file.stat().st_mode & 0o077 == 0
        assert f"created a development pseudonym key in {key_file}" in out.getvalue()


def test_a_demo_run_generates_its_city_once_then_uses_the_export(spark: object, tmp_path: Path) -> None:
    """`make run` on a fresh clone: the demo generates the configured city into an empty landing folder, and the
    next run uses the export it finds there (a real export too) instead of generating again."""
    import io

    from rich.console import Console

    from footfall.pipeline import ensure_landing

    config = daily_config(tmp_path / "landing", tmp_path / "lakehouse", demo={"subscribers": 20, "days": 1})
    out = io.StringIO()
    ensure_landing(config, console=Console(file=out, width=300))
    assert f"landing: generating a city of 20 subscribers over 1 days into {tmp_path / 'landing'}" in out.getvalue()
    partitions = sorted(p.name for p in (tmp_path / "landing" / "events").iterdir())
    assert partitions == [f"event_date={config.demo.start.isoformat()}"]
    out = io.StringIO()
    ensure_landing(config, console=Console(file=out, width=300))
    assert out.getvalue().strip() == f"landing: using the export in {tmp_path / 'landing'}"
