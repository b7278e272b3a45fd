"""One SparkSession for the whole test process, from the project's own factory."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator

import pytest
from pyspark.sql import SparkSession

os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
# Spark hands timestamps to Python in the process's local time zone: pin it, so tests read UTC everywhere.
os.environ["TZ"] = "UTC"
time.tzset()


@pytest.fixture(scope="session")
def spark() -> Iterator[SparkSession]:
    """Return a local[2] session with Delta and Sedona, few shuffle partitions; never stopped inside a test."""
    from footfall.session import get_spark

    session = get_spark(
        "footfall-tests",
        master="local[2]",
        overrides={"spark.sql.shuffle.partitions": "2", "spark.default.parallelism": "2"},
    )
    yield session
    session.stop()
