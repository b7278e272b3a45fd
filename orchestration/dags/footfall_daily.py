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
from glob import glob
from pathlib import Path

from airflow.providers.apache.spark.operators.spark_submit import SparkSubmitOperator
from airflow.sdk import DAG
from airflow.timetables.interval import CronDataIntervalTimetable

# The DAG runs from the repo checkout, so everything it needs is found from there, not from Airflow's venv.
REPO = Path(os.environ.get("FOOTFALL_HOME", Path(__file__).resolve().parents[2])).resolve()
VENV = REPO / ".venv"
CONFIG = REPO / os.environ.get("FOOTFALL_CONFIG", "conf/local.yaml")  # an absolute value replaces REPO

# spark-submit started from Airflow's venv sees neither the project's pyspark nor its Python (exit 127):
# point it at the project venv explicitly.
SPARK_ENV = {
    "SPARK_HOME": os.environ.get("FOOTFALL_SPARK_HOME", str(VENV / "lib/python3.11/site-packages/pyspark")),
    "PYSPARK_PYTHON": str(VENV / "bin/python"),
}
if os.environ.get("JAVA_HOME"):
    SPARK_ENV["JAVA_HOME"] = os.environ["JAVA_HOME"]
# FOOTFALL_PSEUDONYM_KEY is deliberately not in env_vars: env_vars is a template field, so Airflow would store
# the rendered key in its database and show it in the UI (its name matches no masked word). spark-submit
# inherits the worker's environment (the hook copies os.environ under env_vars), which passes the key through.

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
    SparkSubmitOperator(
        task_id="footfall_run",
        conn_id="spark_default",  # the master lives in the connection, so one DAG serves local and cluster
        application=str(REPO / "jobs/run_pipeline.py"),
        application_args=["--config", str(CONFIG), "--start", "{{ ds }}"],
        spark_binary=os.environ.get("FOOTFALL_SPARK_SUBMIT", str(VENV / "bin/spark-submit")),
        jars=",".join(sorted(glob(str(REPO / "jars/lib/*.jar")))),
        env_vars=SPARK_ENV,
        # footfall's log4j2 config: the task log shows footfall's lines, not the JVM's warnings
        conf={
            "spark.driver.extraJavaOptions": (
                f"-Duser.timezone=UTC -Dlog4j2.configurationFile={REPO / 'conf/log4j2.properties'}"
            )
        },
        name="footfall-daily",
    )
