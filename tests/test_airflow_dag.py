"""The Airflow DAG (orchestration/dags/footfall_daily.py) run by `airflow dags test` publishes the same gold
for its day as one run of all the daily city's days (the shared `daily_batch`): gold does not depend on how dates are
batched (tests/test_daily_runs.py), nor on what drives the run. Airflow lives in its own venv (`make airflow`), so it
runs as a subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from pyspark.sql import SparkSession
from tests.daily import DAYS, TEST_KEY, assert_gold_of_day_equal, daily_config, write_config

from footfall import schemas as S
from footfall.lakehouse import gold_path

pytestmark = pytest.mark.integration

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


def test_dag_run_publishes_the_gold_of_its_day(
    spark: SparkSession,
    daily_landing: Path,
    daily_batch: Path,
    tmp_path: Path,
    record_property: Callable[[str, object], None],
    capsys: pytest.CaptureFixture[str],
) -> None:
    if not AIRFLOW.exists():
        pytest.fail(f"{AIRFLOW} is missing: run `make airflow` (make test does it) to create .venv-airflow")

    airflow_lakehouse = tmp_path / "airflow" / "lakehouse"
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
