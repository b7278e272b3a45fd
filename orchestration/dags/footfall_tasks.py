"""What footfall's DAGs share: where the checkout and its venv are, and one spark-submit task of a footfall job.

Not a DAG: footfall_daily.py and footfall_maintain.py import it (Airflow puts the DAG folder on sys.path).
"""

from __future__ import annotations

import os
from glob import glob
from pathlib import Path

from airflow.providers.apache.spark.operators.spark_submit import SparkSubmitOperator

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


def footfall_task(*, task_id: str, job: str, args: list[str], name: str) -> SparkSubmitOperator:
    """Return the task that spark-submits jobs/<job>.py with --config and `args`, on the project's venv."""
    return SparkSubmitOperator(
        task_id=task_id,
        conn_id="spark_default",  # the master lives in the connection, so one DAG serves local and cluster
        application=str(REPO / f"jobs/{job}.py"),
        application_args=["--config", str(CONFIG), *args],
        spark_binary=os.environ.get("FOOTFALL_SPARK_SUBMIT", str(VENV / "bin/spark-submit")),
        jars=",".join(sorted(glob(str(REPO / "jars/lib/*.jar")))),
        env_vars=SPARK_ENV,
        # footfall's log4j2 config: the task log shows footfall's lines, not the JVM's warnings
        conf={
            "spark.driver.extraJavaOptions": (
                f"-Duser.timezone=UTC -Dlog4j2.configurationFile={REPO / 'conf/log4j2.properties'}"
            )
        },
        name=name,
    )
