"""Weekly footfall maintenance: one spark-submit of jobs/maintain.py (compaction, the 7-day VACUUM, orphans).

Deploy as footfall_daily.py (same folder, same settings). It runs on Sundays at 04:00 UTC, hours after the daily
run of 00:00 UTC; both take footfall's run lock, so one that meets the other exits 7 and Airflow retries it.
See docs/operations.md, "Maintenance".
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta

from airflow.sdk import DAG
from airflow.timetables.trigger import CronTriggerTimetable
from footfall_tasks import footfall_task

with DAG(
    dag_id="footfall_maintain",
    # maintenance reads no date: a trigger timetable, run at the time it names
    schedule=CronTriggerTimetable("0 4 * * 0", timezone="UTC"),
    start_date=datetime(2026, 1, 1, tzinfo=UTC),
    catchup=False,  # a missed week is not made up: the next run compacts what the weeks left
    max_active_runs=1,
    default_args={"retries": int(os.environ.get("FOOTFALL_RETRIES", "2")), "retry_delay": timedelta(minutes=15)},
    tags=["footfall"],
) as dag:
    footfall_task(task_id="footfall_maintain", job="maintain", args=[], name="footfall-maintain")
