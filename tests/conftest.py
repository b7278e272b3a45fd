"""One SparkSession for the whole test process, from the project's own factory."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from pyspark.sql import SparkSession

os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
# The session must load the checkout's log4j2 file, whatever the caller's shell says (test_session checks it).
os.environ.pop("FOOTFALL_LOG4J2", None)
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


@pytest.fixture(scope="session")
def daily_landing(spark: SparkSession, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Return the landing folder of one small three-day city, generated once per test process. Read-only:
    a test that changes landing copies it first."""
    from tests.daily import DAYS, SEED, SUBSCRIBERS

    from footfall.synth import GenerateOptions, generate_city

    out = tmp_path_factory.mktemp("daily-city") / "landing"
    options = GenerateOptions(subscribers=SUBSCRIBERS, days=len(DAYS), start=DAYS[0], seed=SEED)
    generate_city(spark, out=out, options=options)
    return out


# The files that take minutes, longest first: `make test` hands files to its two workers in collection order
# (--dist loadfile), so starting these first keeps one long file from running alone at the end.
_LONG_FIRST = (
    "test_pipeline.py",
    "test_daily_runs.py",
    "test_notebooks.py",
    "test_forget_pending.py",
    "test_bad_inputs.py",
    "test_spatial_job.py",
    "test_forget.py",
    "test_forget_late.py",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    rank = {name: i for i, name in enumerate(_LONG_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))  # stable: the rest keep their order


# Wall times a test records with record_property (name ending in `_s`: the notebooks', for one) are printed at the end
# of the run. Under xdist a worker's own prints never reach the terminal, but its reports' user_properties do.
_TIMINGS: list[tuple[str, str, object]] = []


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.when == "call":
        _TIMINGS.extend((report.nodeid, k, v) for k, v in report.user_properties if k.endswith("_s"))


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if _TIMINGS:
        terminalreporter.section("wall times the tests recorded")
        for nodeid, name, value in _TIMINGS:
            terminalreporter.line(f"{name}: {value} s  ({nodeid})")
