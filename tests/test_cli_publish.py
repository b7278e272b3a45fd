"""`footfall publish` maps a failed quality gate to its own exit code, with one line instead of a stack trace."""

from __future__ import annotations

from pathlib import Path

import pytest
from pyspark.sql import SparkSession
from typer.testing import CliRunner

from footfall.cli import EXIT_VALIDATION, app


def test_a_failed_gold_validation_exits_6_with_one_line(
    spark: SparkSession, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from footfall.publish import job

    def failing(*args: object, **kwargs: object) -> None:
        raise job.PublishValidationError("gold validation failed, nothing published (zone_flows_daily: x(y))")

    monkeypatch.setattr(job, "run_publish", failing)
    config = tmp_path / "c.yaml"  # a lakehouse of its own: the command records the format in a new one
    config.write_text(f"landing: {tmp_path / 'landing'}\nlakehouse: {tmp_path / 'lake'}\n")
    result = CliRunner().invoke(app, ["publish", "--start", "2026-03-07", "--config", str(config)])
    assert result.exit_code == EXIT_VALIDATION == 6
    assert "nothing published" in result.output and "Traceback" not in result.output


def test_publish_refuses_an_end_before_its_start(spark: SparkSession) -> None:
    result = CliRunner().invoke(app, ["publish", "--start", "2026-03-07", "--end", "2026-03-06"])
    assert result.exit_code == 2
