"""What a run tells its operator: one line per stage with its summary and seconds, a live bar on a terminal, plain
timestamped lines for schedulers and CI, and footfall's own log lines on stderr."""

from __future__ import annotations

import datetime as dt
import logging
import os
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, TextIO

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

LOGGER_NAME = "footfall"
# Set by Airflow in every task's environment; CI services set CI.
_SCHEDULER_ENV = ("CI", "AIRFLOW_CTX_DAG_ID")
_JOB_GROUP = "spark.jobGroup.id"
_JOB_DESCRIPTION = "spark.job.description"


@dataclass
class StageResult:
    """One stage as it runs: the caller sets `summary`; `seconds` is filled in when the stage ends."""

    name: str
    summary: str = ""
    seconds: float = 0.0


def utc_stamp() -> str:
    """Return the current UTC time as 2026-11-28T11:02:03Z."""
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def is_plain(console: Console) -> bool:
    """Return True when output should be plain lines: not a terminal, or run by CI or Airflow."""
    return not console.is_terminal or any(os.environ.get(name) for name in _SCHEDULER_ENV)


class StageProgress:
    """Reports the stages of a run, in order: a bar and spinner on a terminal, timestamped lines otherwise."""

    def __init__(
        self,
        console: Console,
        *,
        stages: Sequence[str],
        plain: bool | None = None,
        spark: SparkSession | None = None,
    ) -> None:
        if not stages:
            raise ValueError("StageProgress needs at least one stage")
        self.console = console
        self.stages = tuple(stages)
        self.plain = is_plain(console) if plain is None else plain
        self.spark = spark
        self._seconds: dict[str, float] = {}

    @property
    def seconds(self) -> dict[str, float]:
        """Return the seconds each finished (or failed) stage took, in the order they ran."""
        return dict(self._seconds)

    @contextmanager
    def stage(self, name: str) -> Iterator[StageResult]:
        """Run the block as stage `name`: report its start, then its summary and seconds, or its failure."""
        if name not in self.stages:
            raise ValueError(f"unknown stage {name!r}; the stages are {', '.join(self.stages)}")
        result = StageResult(name)
        if self.plain:
            self._line(name, "started")
        began = time.monotonic()
        bar = None if self.plain else self._start_bar(name)
        try:
            with self._job_group(name):
                yield result
        except BaseException:
            result.seconds = self._finish(name, began, bar)
            self._line(name, f"failed after {result.seconds:.1f} s", failed=True)
            raise
        result.seconds = self._finish(name, began, bar)
        self._line(name, f"{result.summary} ({result.seconds:.1f} s)" if result.summary else f"{result.seconds:.1f} s")

    def _start_bar(self, name: str) -> Progress:
        # Transient: the bar goes when the stage ends and its one summary line stays.
        bar = Progress(
            SpinnerColumn(),
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=self.console,
            transient=True,
        )
        bar.add_task(name, total=len(self.stages), completed=self.stages.index(name))
        bar.start()
        return bar

    def _finish(self, name: str, began: float, bar: Progress | None) -> float:
        seconds = time.monotonic() - began
        if bar is not None:
            bar.stop()
        self._seconds[name] = seconds
        return seconds

    def _line(self, name: str, text: str, *, failed: bool = False) -> None:
        if self.plain:
            # Plain lines are never wrapped or styled: schedulers and grep read them.
            self.console.out(f"{utc_stamp()} {name}: {text}", highlight=False)
        else:
            mark, style = ("✗", "bold red") if failed else ("✓", "green")
            self.console.print(f"[{style}]{mark}[/] [bold]{escape(name)}[/]: {escape(text)}", highlight=False)

    @contextmanager
    def _job_group(self, name: str) -> Iterator[None]:
        """Label the block's Spark jobs with the stage (statusTracker, logs), then restore the labels before it."""
        if self.spark is None:
            yield
            return
        sc = self.spark.sparkContext
        before = {key: sc.getLocalProperty(key) for key in (_JOB_GROUP, _JOB_DESCRIPTION)}
        sc.setJobGroup(name, f"footfall {name}")
        try:
            yield
        finally:
            for key, value in before.items():
                sc.setLocalProperty(key, value)  # type: ignore[arg-type]  # None removes the property


class _StderrHandler(logging.StreamHandler[TextIO]):
    """Writes to whatever sys.stderr is at the time, so rich's live display can redirect it above the bar."""

    def __init__(self) -> None:
        logging.Handler.__init__(self)

    @property
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, value: TextIO) -> None:
        pass


def configure_logging(level: int | str = logging.INFO) -> logging.Logger:
    """Return the `footfall` logger, writing timestamped lines to stderr; safe to call more than once."""
    logger = logging.getLogger(LOGGER_NAME)
    logger.setLevel(level)
    if not any(isinstance(h, _StderrHandler) for h in logger.handlers):
        handler = _StderrHandler()
        formatter = logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s", "%Y-%m-%dT%H:%M:%SZ")
        formatter.converter = time.gmtime
        handler.setFormatter(formatter)
        logger.addHandler(handler)
        # One line per message: a root handler (Airflow's, pytest's) would print it a second time.
        logger.propagate = False
    return logger
