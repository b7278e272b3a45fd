"""The default city runs in a 1 GiB JVM: nothing collects events on the driver (make test-memory).

A local session's driver is also its executor, so `spark.driver.memory 1g` in spark-defaults.conf (which local
sessions honour, as spark-submit does) bounds both. The event log proves the setting took: Spark records its
properties there.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from footfall.jars import repo_root

KEY = "footfall-memory-test-key-0123456789abcdef"


@pytest.mark.memory
@pytest.mark.pipeline
def test_the_default_city_runs_with_1_gib_of_driver_and_executor_memory(tmp_path: Path) -> None:
    conf_dir, events = tmp_path / "spark-conf", tmp_path / "eventlog"
    conf_dir.mkdir()
    events.mkdir()
    (conf_dir / "spark-defaults.conf").write_text(
        f"spark.driver.memory 1g\nspark.eventLog.enabled true\nspark.eventLog.compress false\n"
        f"spark.eventLog.dir file://{events}\n"
    )
    raw = yaml.safe_load((repo_root() / "conf" / "local.yaml").read_text())  # the default city, as `make run`
    raw |= {"landing": str(tmp_path / "landing"), "lakehouse": str(tmp_path / "lakehouse")}
    config = tmp_path / "local.yaml"
    config.write_text(yaml.safe_dump(raw))
    env = {**os.environ, "SPARK_CONF_DIR": str(conf_dir), "FOOTFALL_PSEUDONYM_KEY": KEY, "CI": "true"}
    done = subprocess.run(
        [sys.executable, "-m", "footfall.cli", "run", "--config", str(config), "--demo"],
        env=env,
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    assert "OutOfMemoryError" not in done.stdout + done.stderr
    assert "gold tables, validated" in done.stdout  # it published
    # the run's own JVM had the 1g: Spark logged it among its properties
    properties: dict[str, str] = {}
    for log in events.rglob("events_*"):  # Spark 4 writes a folder per application: events_N_..., appstatus
        for line in log.read_text().splitlines():
            event = json.loads(line)
            if event.get("Event") == "SparkListenerEnvironmentUpdate":
                properties |= dict(event["Spark Properties"])
    assert properties.get("spark.driver.memory") == "1g"
