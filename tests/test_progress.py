"""Stage progress: plain timestamped lines for schedulers, a live bar on a terminal, one summary line per stage."""

from __future__ import annotations

import io
import logging
import re

import pytest
from pyspark.sql import SparkSession
from rich.console import Console

from footfall.progress import LOGGER_NAME, StageProgress, configure_logging, is_plain

STAMP = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ"


def console(*, terminal: bool) -> tuple[Console, io.StringIO]:
    out = io.StringIO()
    return Console(file=out, force_terminal=terminal, width=60), out


@pytest.fixture(autouse=True)
def no_scheduler(monkeypatch: pytest.MonkeyPatch) -> None:
    """The tests decide plain or rich themselves, wherever they run (CI sets $CI)."""
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.delenv("AIRFLOW_CTX_DAG_ID", raising=False)


def test_plain_prints_start_and_summary_lines_with_utc_stamps_and_seconds() -> None:
    con, out = console(terminal=False)
    progress = StageProgress(con, stages=["ingest", "publish"])
    summary = "38,039 rows read, 33,941 to silver/events, and a line longer than the console is wide"
    with progress.stage("ingest") as stage:
        stage.summary = summary
    with progress.stage("publish"):
        pass
    lines = out.getvalue().splitlines()
    assert len(lines) == 4  # never wrapped, however long
    assert re.fullmatch(rf"{STAMP} ingest: started", lines[0])
    assert re.fullmatch(rf"{STAMP} ingest: {re.escape(summary)} \(\d+\.\d s\)", lines[1])
    assert re.fullmatch(rf"{STAMP} publish: \d+\.\d s", lines[3])
    assert list(progress.seconds) == ["ingest", "publish"]
    assert all(s >= 0 for s in progress.seconds.values())


def test_a_failed_stage_says_so_with_its_seconds_and_re_raises() -> None:
    con, out = console(terminal=False)
    progress = StageProgress(con, stages=["spatial"])
    with pytest.raises(KeyError, match="zone"), progress.stage("spatial") as stage:
        stage.summary = "never printed"
        raise KeyError("zone")
    last = out.getvalue().splitlines()[-1]
    assert re.fullmatch(rf"{STAMP} spatial: failed after \d+\.\d s", last)
    assert "never printed" not in out.getvalue()
    assert "spatial" in progress.seconds


def test_terminal_shows_one_summary_line_per_stage_without_stamps() -> None:
    con, out = console(terminal=True)
    progress = StageProgress(con, stages=["ingest", "mobility"])
    assert not progress.plain
    with progress.stage("mobility") as stage:
        stage.summary = "802 stays [772 visits]"  # brackets are text, not rich markup
    text = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", out.getvalue())
    assert "✓ mobility: 802 stays [772 visits] (" in text
    assert "started" not in text and not re.search(STAMP, text)


def test_plain_when_not_a_terminal_or_under_ci_or_airflow(monkeypatch: pytest.MonkeyPatch) -> None:
    assert is_plain(console(terminal=False)[0])
    tty = console(terminal=True)[0]
    assert not is_plain(tty)
    monkeypatch.setenv("AIRFLOW_CTX_DAG_ID", "footfall_daily")
    assert is_plain(tty)
    assert StageProgress(tty, stages=["ingest"], plain=False).plain is False  # the caller's choice wins


def test_unknown_stage_is_a_mistake() -> None:
    progress = StageProgress(console(terminal=False)[0], stages=["ingest"])
    with pytest.raises(ValueError, match="unknown stage 'ingets'"), progress.stage("ingets"):
        pass


def test_spark_jobs_carry_the_stage_as_job_group_and_labels_are_restored(spark: SparkSession) -> None:
    sc = spark.sparkContext
    progress = StageProgress(console(terminal=False)[0], stages=["ingest"], spark=spark)
    with progress.stage("ingest"):
        assert sc.getLocalProperty("spark.jobGroup.id") == "ingest"
        spark.range(3).count()
    assert sc.statusTracker().getJobIdsForGroup("ingest")
    assert sc.getLocalProperty("spark.jobGroup.id") is None
    assert sc.getLocalProperty("spark.job.description") is None


def test_configure_logging_writes_stamped_lines_to_stderr_once(capsys: pytest.CaptureFixture[str]) -> None:
    logger = logging.getLogger(LOGGER_NAME)
    handlers, level, propagate = list(logger.handlers), logger.level, logger.propagate
    try:
        assert configure_logging() is configure_logging(level="DEBUG") is logger
        assert logger.level == logging.DEBUG
        logging.getLogger(f"{LOGGER_NAME}.ingest").info("quarantined %d rows", 12)
        err = capsys.readouterr().err
        assert re.fullmatch(rf"{STAMP} INFO footfall\.ingest: quarantined 12 rows\n", err)  # one line, not two
    finally:
        logger.handlers[:] = handlers
        logger.setLevel(level)
        logger.propagate = propagate
