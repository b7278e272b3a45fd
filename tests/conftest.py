"""One SparkSession for the whole test process, from the project's own factory."""

from __future__ import annotations

import functools
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from pyspark.sql import SparkSession

import footfall.pipeline as _pipeline
from footfall.session import JVM_BASE, java_options, log4j2_config

os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
# The session must load the checkout's log4j2 file, whatever the caller's shell says (test_session checks it).
os.environ.pop("FOOTFALL_LOG4J2", None)
# Spark hands timestamps to Python in the process's local time zone: pin it, so tests read UTC everywhere.
os.environ["TZ"] = "UTC"
time.tzset()


# The test session's settings on top of the factory's: two cores, so two shuffle partitions.
# (Tried for issue 28: interpreted evaluation, spark.sql.codegen.factoryMode NO_CODEGEN with AQE off, ran one day of
# the daily city in 62 and 36 s, cold and warm, against 81 and 51 s; but Sedona's ST_Union_Aggr fails in it with a
# ClassCastException in merge (test_spatial_geometry's three-sector Voronoi). Whole-stage codegen off or AQE off
# alone gained nothing beyond the machine's noise. So the tests run Spark's defaults, as the product does.)
#
# The JVM flags of the test processes change how the JVM spends its CPU, never a result. make test runs two JVMs on
# two cores, so CPU is what a test waits for. Serial GC: no GC threads taking the other process's core (the factory's
# ParallelGC suits one large run). C2 later: thousands of small queries each generate classes that are used a few
# hundred times, and C2 compiled them again after C1 had; with the C2 thresholds raised tenfold they stay in C1 code.
# (issue 28, one day of the test city on 2 cores, cold / warm / warm: factory flags 79.6 / 43.2 / 39.2 s, serial GC
# 73.5 / 34.6 / 36.0 s, C2 later 78.1 / 39.5 / 34.8 s; C1 alone made warm runs slower, 58 s.)
TEST_JVM = (
    f"{JVM_BASE} -XX:+UseSerialGC -XX:Tier4InvocationThreshold=50000 -XX:Tier4MinInvocationThreshold=20000 "
    "-XX:Tier4CompileThreshold=60000 -XX:Tier4BackEdgeThreshold=400000"
)
TEST_SESSION = {
    "spark.sql.shuffle.partitions": "2",
    "spark.default.parallelism": "2",
    "spark.driver.extraJavaOptions": java_options(TEST_JVM, log4j2=log4j2_config()),
}


@pytest.fixture(scope="session")
def spark() -> Iterator[SparkSession]:
    """Return a local[2] session with Delta and Sedona, few shuffle partitions; never stopped inside a test."""
    from footfall.session import get_spark

    session = get_spark("footfall-tests", master="local[2]", overrides=TEST_SESSION)
    yield session
    session.stop()


def _once_per_run(
    tmp_path_factory: pytest.TempPathFactory, worker_id: str, name: str, build: Callable[[Path], None]
) -> Path:
    """Return the folder `name` that `build` fills, built once per `pytest` run: under xdist the first worker that needs
    it builds it while the others wait on a file lock, then every worker reads the same folder."""
    import fcntl
    import shutil

    if worker_id == "master":  # no xdist: this process is the run
        folder = tmp_path_factory.mktemp(name) / name
        build(folder)
        return folder
    root = tmp_path_factory.getbasetemp().parent  # shared by the run's workers
    folder, done = root / name, root / f"{name}.done"
    with (root / f"{name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not done.exists():
            shutil.rmtree(folder, ignore_errors=True)  # what a worker whose build failed left half-written
            build(folder)
            done.touch()
    return folder


@pytest.fixture(scope="session")
def daily_landing(spark: SparkSession, tmp_path_factory: pytest.TempPathFactory, worker_id: str) -> Path:
    """Return the landing folder of one small three-day city, generated once per test run (shared by the xdist
    workers). Read-only: a test that changes landing copies it first."""
    from tests.daily import DAYS, SEED, SUBSCRIBERS

    from footfall.synth import GenerateOptions, generate_city

    options = GenerateOptions(subscribers=SUBSCRIBERS, days=len(DAYS), start=DAYS[0], seed=SEED)
    return _once_per_run(
        tmp_path_factory, worker_id, "daily-landing", lambda out: generate_city(spark, out=out, options=options)
    )


@pytest.fixture(scope="session")
def daily_batch(daily_landing: Path, tmp_path_factory: pytest.TempPathFactory, worker_id: str) -> Path:
    """Return the lakehouse of one run over the three days of `daily_landing`: the reference gold that every
    batching, the Airflow DAG and the cluster must give. Built once per test run (shared by the xdist workers).
    Read-only: copy it first."""
    from tests.daily import DAYS, lakehouse_of_run

    def build(folder: Path) -> None:
        lakehouse_of_run(daily_landing, folder, list(DAYS))

    return _once_per_run(tmp_path_factory, worker_id, "daily-batch", build) / "lakehouse"


@pytest.fixture(scope="session")
def daily_friday(
    daily_landing: Path, daily_batch: Path, tmp_path_factory: pytest.TempPathFactory, worker_id: str
) -> Path:
    """Return the lakehouse of a run of the city's Friday alone (DAYS[0]), from the batch's spatial tables: the day
    the daily order (test_daily_order.py) and the out-of-order runs (test_daily_runs.py) go on from, and the
    published day an objection reaches (test_forget_pending.py). Built once per test run (shared by the xdist
    workers). Read-only: copy it first."""
    from tests.daily import DAYS, lakehouse_of_run

    def build(folder: Path) -> None:
        lakehouse_of_run(daily_landing, folder, [DAYS[0]], spatial_from=daily_batch)

    return _once_per_run(tmp_path_factory, worker_id, "daily-friday", build) / "lakehouse"


# The files that take longest, longest first (measured in make test, issue 28): `make test` hands whole files to its
# two workers in this order (--dist loadfile --no-loadscope-reorder; xdist would otherwise start with the files that
# hold the most tests, and a file of one two-minute test would run alone at the end). test_daily_runs.py goes first:
# it builds the shared daily city and its batch run (about four minutes) while the other worker runs the long files
# that do not need them; the files that read the batch come after those, when it is there to read, so that no
# worker waits on the batch's lock. The many short files come last, so the two workers end close together.
_LONG_FIRST = (
    "test_daily_runs.py",  # builds the shared daily city and its batch, then Friday alone and the out-of-order runs
    "test_forget.py",  # from here to test_ingest_job.py: about five minutes that need no batch
    "test_spatial_job.py",
    "test_stage_runner.py",
    "test_bad_inputs.py",
    "test_ingest_job.py",
    "test_pipeline.py",  # reads the batch
    "test_daily_order.py",  # the batch's days in order, from Friday alone
    "test_forget_pending.py",  # an objection on Friday alone
    "test_maintenance.py",  # maintenance of Friday alone
    "test_forget_late.py",
    "test_mobility_evaluate.py",
    "test_forget_dates.py",
    "test_retention.py",
    "test_publish_staging.py",
    "test_privacy_within_row.py",
    "test_privacy_nesting.py",
    "test_synth_generate.py",
    "test_ingest_generated.py",
    "test_pseudonym_periods.py",
    "test_lakehouse_writes.py",
    "test_commit_log.py",
    "test_publications.py",
    "test_ingest_contract.py",
    "test_quality_suites.py",
    "test_notebooks.py",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    rank = {name: i for i, name in enumerate(_LONG_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))  # stable: the rest keep their order


# The guard on whole-pipeline runs. Every run_pipeline that completes in a test process is counted and put on
# the test's teardown report (also under xdist); a test that completes one, in a fixture or itself, must carry the
# `pipeline` marker, or its teardown fails. Runs in a subprocess (the CLI, a notebook's kernel, spark-submit) are
# not counted: their tests carry the marker by hand. The summary prints the count and the ten slowest tests.
_RUNS = [0]
_RUNS_AT_START = pytest.StashKey[int]()


def _counted(run: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(run)
    def counted(*args: Any, **kwargs: Any) -> Any:
        result = run(*args, **kwargs)
        _RUNS[0] += 1
        return result

    return counted


_pipeline.run_pipeline = _counted(_pipeline.run_pipeline)  # type: ignore[method-assign]


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    ran = _RUNS[0] - item.stash.get(_RUNS_AT_START, _RUNS[0])
    marked = item.get_closest_marker("pipeline") is not None
    if call.when == "teardown":
        item.user_properties += [("pipeline_runs", ran), ("pipeline_marked", marked)]
    outcome = yield
    report = outcome.get_result()
    if call.when == "teardown" and ran and not marked and report.passed:
        report.outcome = "failed"
        report.longrepr = f"{item.nodeid} completed {ran} whole-pipeline runs without the `pipeline` marker"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[None]:
    item.stash[_RUNS_AT_START] = _RUNS[0]  # before setup: a module fixture's run counts for its first test
    yield


_DURATIONS: dict[str, float] = {}
_PIPELINE: dict[str, tuple[int, bool]] = {}


# Wall times a test records with record_property (name ending in `_s`: the notebooks', for one) are printed at the end
# of the run. Under xdist a worker's own prints never reach the terminal, but its reports' user_properties do.
_TIMINGS: list[tuple[str, str, object]] = []


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    _DURATIONS[report.nodeid] = _DURATIONS.get(report.nodeid, 0.0) + report.duration
    if report.when == "call":
        _TIMINGS.extend((report.nodeid, k, v) for k, v in report.user_properties if k.endswith("_s"))
    if report.when == "teardown":
        props = dict(report.user_properties)
        _PIPELINE[report.nodeid] = (int(props.get("pipeline_runs", 0)), bool(props.get("pipeline_marked", False)))


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if _DURATIONS:
        terminalreporter.section("the ten slowest tests (setup + call + teardown)")
        for nodeid, seconds in sorted(_DURATIONS.items(), key=lambda kv: -kv[1])[:10]:
            terminalreporter.line(f"{seconds:8.1f} s  {nodeid}")
        runs = sum(n for n, _ in _PIPELINE.values())
        marked = sum(1 for _, m in _PIPELINE.values() if m)
        terminalreporter.line(
            f"total {sum(_DURATIONS.values()):.0f} test-seconds in {len(_DURATIONS)} tests; whole-pipeline runs in "
            f"the test processes: {runs}; tests marked `pipeline` (in-process or subprocess runs): {marked}"
        )
    if _TIMINGS:
        terminalreporter.section("wall times the tests recorded")
        for nodeid, name, value in _TIMINGS:
            terminalreporter.line(f"{name}: {value} s  ({nodeid})")
