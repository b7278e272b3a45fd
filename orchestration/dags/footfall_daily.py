"""Daily footfall run: one spark-submit of jobs/run_pipeline.py for the local day that ended.

Deploy: run `make airflow` (a separate .venv-airflow: the Spark provider's pyspark-client would overwrite the
project's pyspark), put this folder on the scheduler's DAGS_FOLDER (or symlink the file into it), and set
  - connection `spark_default`: the master, e.g. AIRFLOW_CONN_SPARK_DEFAULT='{"conn_type":"spark","host":"local[2]"}'
  - FOOTFALL_CONFIG: the YAML config, relative to the repo root or absolute (default conf/local.yaml)
  - FOOTFALL_PSEUDONYM_KEY: the master pseudonym key (production never uses the key file)
  - optional: FOOTFALL_HOME (repo root), FOOTFALL_SPARK_SUBMIT, FOOTFALL_SPARK_HOME, JAVA_HOME, FOOTFALL_RETRIES.
See docs/operations.md.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta

from airflow.sdk import DAG
from airflow.timetables.interval import CronDataIntervalTimetable
from footfall_tasks import footfall_task

with DAG(
    dag_id="footfall_daily",
    # A data-interval timetable (not "@daily", a trigger timetable in Airflow 3): ds is the day that ended.
    schedule=CronDataIntervalTimetable("0 0 * * *", timezone="UTC"),
    start_date=datetime(2026, 1, 1, tzinfo=UTC),
    catchup=False,  # backfills are explicit (`airflow backfill create`), never a surprise after a pause
    max_active_runs=1,  # one run per lakehouse: footfall's own lock is per host, this holds across workers
    # `airflow dags test` waits out retry_delay between tries: tests set FOOTFALL_RETRIES=0 to fail at once.
    default_args={"retries": int(os.environ.get("FOOTFALL_RETRIES", "2")), "retry_delay": timedelta(minutes=5)},
    tags=["footfall"],
) as dag:
    footfall_task(task_id="footfall_run", job="run_pipeline", args=["--start", "{{ ds }}"], name="footfall-daily")
