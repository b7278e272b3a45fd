"""Daily operation: runs by date give the same gold however the dates are batched, reruns touch nothing, one run
at a time, no key file outside the demo path, and the Airflow DAG publishes the gold of its day. All on the shared
three-day city (tests/daily.py) and one batch run of it, in one file so that one test process builds them."""

from __future__ import annotations

import datetime as dt
import io
import json
import os
import shutil
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from pyspark.sql import SparkSession
from rich.console import Console
from tests.daily import (
    DAYS,
    TEST_KEY,
    assert_gold_equal,
    assert_gold_of_day_equal,
    daily_config,
    run_days,
    seed_spatial,
    write_config,
)

from footfall import schemas as S
from footfall.lakehouse import gold_path
from footfall.pipeline import MissingDatesError, run_pipeline

pytestmark = pytest.mark.integration

# The out-of-order runs start from the shared run of Friday alone (conftest.py, daily_friday), itself from the batch's
# spatial tables (tests/daily.py, seed_spatial): spatial depends on the inventory only, and its own skip is what a
# second daily run does anyway. The in-order runs are in test_daily_order.py, a file of their own, so that make
# test's two processes run both orders at once on the one batch both compare with (conftest.py, daily_batch).


@pytest.fixture(autouse=True)
def _key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FOOTFALL_PSEUDONYM_KEY", TEST_KEY)


@pytest.mark.pipeline
def test_days_run_out_of_order_give_the_gold_of_one_batch(
    spark: SparkSession,
    daily_friday: Path,
    daily_landing: Path,
    daily_batch: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The hard order: Friday alone, then Sunday before the Saturday it builds on (a visit that spans midnight counts
    into the next day; the week completes without its Saturday), then Saturday last (a later date and the week it
    builds on are published already, and must be republished with it)."""
    lakehouse = tmp_path / "lakehouse"
    shutil.copytree(daily_friday, lakehouse)
    config = daily_config(daily_landing, lakehouse)
    for day in (DAYS[2], DAYS[1]):
        run_days(config, [day])
    rows = assert_gold_equal(spark, config.lakehouse, daily_batch)
    with capsys.disabled():
        print(f"\n[daily] out of order vs one batch: {len(rows)} gold tables, {sum(rows.values())} rows equal: {rows}")
    assert rows[S.GOLD_ZONE_FOOTFALL_HOURLY_TABLE] > 0 and rows[S.GOLD_ZONE_CATCHMENT_DAILY_TABLE] > 0


def test_a_week_is_published_once_its_sunday_hasrun_days() -> None:
    from footfall.publish.job import complete_weeks

    friday, sunday, monday = dt.date(2026, 3, 6), dt.date(2026, 3, 8), dt.date(2026, 3, 9)
    assert complete_weeks([friday], published=set()) == ()
    assert complete_weeks([friday, sunday, monday], published=set()) == ("2026-W10",)
    # a date of a published week run again (an objection, late data) rewrites the whole, complete week
    assert complete_weeks([friday], published={sunday.isoformat()}) == ("2026-W10",)
    assert complete_weeks([monday], published={sunday.isoformat()}) == ()


def test_a_date_without_landing_stops_before_writing(daily_landing: Path, tmp_path: Path) -> None:
    config = daily_config(daily_landing, tmp_path / "lakehouse")
    missing = DAYS[-1] + dt.timedelta(days=1)
    with pytest.raises(MissingDatesError, match=f"no landing partition for {missing}"):
        run_pipeline(config, console=Console(file=io.StringIO()), dates=[DAYS[0], missing])
    assert not (tmp_path / "lakehouse").exists()


def test_only_the_demo_path_creates_a_key(daily_landing: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """With the key in the environment no run writes a key file, demo or not; without a key, a run stops with a
    setup error instead of inventing one."""
    from footfall.ingest import PseudonymKeyError

    config = daily_config(daily_landing, tmp_path / "lakehouse")
    key_file = config.privacy.pseudonym_key_file
    monkeypatch.delenv("FOOTFALL_PSEUDONYM_KEY")
    with pytest.raises(PseudonymKeyError, match="no pseudonym key"):
        run_pipeline(config, console=Console(file=io.StringIO()), dates=[DAYS[0]])
    assert not key_file.exists() and not (tmp_path / "lakehouse").exists()


def test_a_second_run_stops_at_once_while_one_holds_the_lakehouse(daily_landing: Path, tmp_path: Path) -> None:
    """The lock names the holder; it is released when the holder ends, also when it is killed."""
    import os
    import signal
    import subprocess
    import sys

    from footfall.runlock import RunLockedError

    lakehouse = tmp_path / "lakehouse"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from pathlib import Path; from footfall.runlock import run_lock\n"
            f"with run_lock(Path({str(lakehouse)!r}), run_id='holder-run'):\n"
            "    print('held', flush=True); time.sleep(600)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        config = daily_config(daily_landing, lakehouse)
        with pytest.raises(RunLockedError, match=r"run holder-run .* is running on lakehouse"):
            run_pipeline(config, console=Console(file=io.StringIO()), dates=[DAYS[0]])
        assert json.loads((lakehouse / "_footfall.lock").read_text())["run_id"] == "holder-run"
        assert not (lakehouse / S.SILVER).exists()
    finally:
        os.kill(holder.pid, signal.SIGKILL)
        holder.wait()
    from footfall.runlock import run_lock

    with run_lock(lakehouse, run_id="after-crash") as path:  # the killed holder left no stale lock
        assert json.loads(path.read_text())["run_id"] == "after-crash"


# The Airflow DAG (orchestration/dags/footfall_daily.py) run by `airflow dags test`: it publishes the same gold for
# its day as the batch of all three days, so gold depends neither on how dates are batched nor on what drives the run.
# Airflow lives in its own venv (`make airflow`), so it runs as a subprocess. It takes three to four minutes on
# 2 cores, so it has a target of its own, `make test-airflow`, which .ci/run runs after `make test`.
REPO = Path(__file__).resolve().parents[1]
AIRFLOW = REPO / ".venv-airflow/bin/airflow"
DAY = DAYS[1]
# `airflow dags test <logical date>`: Airflow 3 renders ds from the logical date itself (the data interval,
# inferred for a manual run, is the day before). A scheduled run's logical date is its interval start.
LOGICAL_DATE = DAY.isoformat()


def _run(cmd: list[str | Path], env: dict[str, str], cwd: Path) -> tuple[subprocess.CompletedProcess[str], float]:
    started = time.monotonic()
    done = subprocess.run([str(c) for c in cmd], env=env, cwd=cwd, capture_output=True, text=True, timeout=900)
    elapsed = time.monotonic() - started
    if done.returncode != 0:
        pytest.fail(
            f"{' '.join(map(str, cmd[:3]))} exited {done.returncode} after {elapsed:.0f} s\n"
            f"--- stdout (tail) ---\n{done.stdout[-4000:]}\n--- stderr (tail) ---\n{done.stderr[-4000:]}"
        )
    return done, elapsed


def _clean_env(**extra: str) -> dict[str, str]:
    """The caller's environment without Airflow, footfall or a Spark gateway of this test process, plus `extra`."""
    drop = ("AIRFLOW", "FOOTFALL_", "PYSPARK_GATEWAY", "SPARK_HOME")
    return {k: v for k, v in os.environ.items() if not k.startswith(drop)} | extra


@pytest.mark.airflow
@pytest.mark.pipeline
def test_dag_run_publishes_the_gold_of_its_day(
    spark: SparkSession,
    daily_landing: Path,
    daily_batch: Path,
    tmp_path: Path,
    record_property: Callable[[str, object], None],
    capsys: pytest.CaptureFixture[str],
) -> None:
    if not AIRFLOW.exists():
        pytest.fail(f"{AIRFLOW} is missing: run `make airflow` (make test-airflow does it) to create .venv-airflow")

    airflow_lakehouse = tmp_path / "airflow" / "lakehouse"
    seed_spatial(daily_batch, airflow_lakehouse)  # the DAG's run need not build the city's spatial tables again
    airflow_config = write_config(daily_config(daily_landing, airflow_lakehouse), tmp_path / "airflow.yaml")

    airflow_env = _clean_env(
        AIRFLOW_HOME=str(tmp_path / "airflow-home"),  # SQLite metadata DB, logs and config in there
        AIRFLOW__CORE__LOAD_EXAMPLES="False",
        AIRFLOW__CORE__DAGS_FOLDER=str(REPO / "orchestration/dags"),
        AIRFLOW_CONN_SPARK_DEFAULT=json.dumps({"conn_type": "spark", "host": "local[2]"}),
        FOOTFALL_CONFIG=str(airflow_config),
        FOOTFALL_PSEUDONYM_KEY=TEST_KEY,
        FOOTFALL_RETRIES="0",  # dags test would otherwise wait out the 5-minute retry delay on a failure
    )
    _run([AIRFLOW, "db", "migrate"], airflow_env, tmp_path)
    dag_run, dag_seconds = _run([AIRFLOW, "dags", "test", "footfall_daily", LOGICAL_DATE], airflow_env, tmp_path)
    record_property("airflow_dags_test_seconds", round(dag_seconds, 1))
    with capsys.disabled():
        print(f"\n[airflow] `airflow dags test footfall_daily {LOGICAL_DATE}` wall time: {dag_seconds:.1f} s")

    log = dag_run.stdout + dag_run.stderr
    assert f"--start {DAY.isoformat()}" in log, "ds did not render to the day under test"
    assert "state=success" in log, log[-4000:]
    # The key reaches spark-submit through the environment only: never in Airflow's output or its database.
    assert TEST_KEY not in log, "the pseudonym key leaked into Airflow's output"
    assert TEST_KEY.encode() not in (tmp_path / "airflow-home/airflow.db").read_bytes(), "the key is in Airflow's DB"

    rows = assert_gold_of_day_equal(spark, airflow_lakehouse, daily_batch, DAY)
    for table, (_, partition) in S.GOLD_TABLES.items():
        if partition == S.DATE:
            gold = spark.read.format("delta").load(gold_path(airflow_lakehouse, table))
            # a table may be empty (no flow between malls on a small city); none holds another date
            assert {r[0] for r in gold.select(S.DATE).distinct().collect()} <= {DAY}, f"{table}: not only {DAY}"
    assert rows[S.GOLD_ZONE_FOOTFALL_HOURLY_TABLE] > 0, f"no gold for {DAY}: {rows}"

    # The weekly maintenance DAG (orchestration/dags/footfall_maintain.py) on the same lakehouse: it runs, and the
    # newest publication reads the same gold.
    maintain_run, maintain_seconds = _run(
        [AIRFLOW, "dags", "test", "footfall_maintain", LOGICAL_DATE], airflow_env, tmp_path
    )
    record_property("airflow_maintain_dags_test_seconds", round(maintain_seconds, 1))
    maintain_log = maintain_run.stdout + maintain_run.stderr
    assert "jobs/maintain.py" in maintain_log and "state=success" in maintain_log, maintain_log[-4000:]
    assert assert_gold_of_day_equal(spark, airflow_lakehouse, daily_batch, DAY) == rows
