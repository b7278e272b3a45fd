"""Shared pieces of the daily-operation tests: one generated three-day city, configs on it, gold as data."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from pyspark.sql import DataFrame, SparkSession
from pyspark.testing import assertDataFrameEqual

from footfall import schemas as S
from footfall.config import Config, parse_config

# Three local days: a Friday, a Saturday and a Sunday (2026-W10), small enough for make test.
DAYS = (dt.date(2026, 3, 6), dt.date(2026, 3, 7), dt.date(2026, 3, 8))
SUBSCRIBERS = 200
SEED = 11
K = 3
# A fixed 32-byte test key: runs outside the demo path never write a key file, they take it from the environment.
TEST_KEY = "footfall-test-key-0123456789abcdef-not-a-secret"
# What a run of lakehouse_of_run printed, next to its lakehouse (the batch's, which test_pipeline.py reads)
RUN_OUTPUT = "run-output.txt"


def daily_config(landing: Path, lakehouse: Path, **overrides: Any) -> Config:
    """Return a config on `landing` that writes to `lakehouse`, with a small k and every zone published."""
    raw: dict[str, Any] = {
        "landing": str(landing),
        "lakehouse": str(lakehouse),
        # k = 3 is past the promise of k = 20: the tests' tiny cities stand in for a signed-off deployment
        "privacy": {"pseudonym_key_file": str(lakehouse.parent / "no-key-file"), "dpo_approved": ["publish.k"]},
        "publish": {"k": K, "include_low_resolution": True},
    }
    raw.update(overrides)
    return parse_config(raw, source="test")


def write_config(config: Config, path: Path) -> Path:
    """Write `config` as YAML (for commands that take --config) and return the path."""
    import yaml

    path.write_text(yaml.safe_dump(config.model_dump(mode="json"), sort_keys=False))
    return path


def read_gold(spark: SparkSession, lakehouse: Path) -> dict[str, DataFrame]:
    """Return every gold table of a lakehouse, in the contract's column order."""
    from footfall.lakehouse import gold_path

    return {
        table: spark.read.format("delta").load(gold_path(lakehouse, table)).select(*schema.names)
        for table, (schema, _) in S.GOLD_TABLES.items()
    }


def assert_gold_equal(spark: SparkSession, actual: Path, expected: Path) -> dict[str, int]:
    """Assert every gold table of `actual` equals that of `expected`; return the rows compared per table."""
    got, want = read_gold(spark, actual), read_gold(spark, expected)
    rows = {}
    for table in S.GOLD_TABLES:
        assertDataFrameEqual(got[table], want[table], checkRowOrder=False)
        rows[table] = want[table].count()
    return rows


def run_days(config: Config, dates: list[dt.date] | None = None) -> str:
    """Run the whole pipeline for `dates` (every landing date when None); return what it printed."""
    import io

    from rich.console import Console

    from footfall.pipeline import run_pipeline

    out = io.StringIO()
    run_pipeline(config, console=Console(file=out, width=200), dates=dates)
    return out.getvalue()


def seed_spatial(source: Path, lakehouse: Path) -> Path:
    """Copy the spatial stage's silver tables of `source`, a lakehouse of the same landing and config, into the new
    `lakehouse`, and return it: its first run then skips spatial (inputs unchanged), as a second daily run does.

    Spatial is the same for every run of a city (its inputs are the inventory, not the dates), yet it is a third of
    a first run's time on a small city (45 of 113 s). Tests of what happens across dates pay it once, in the batch.
    """
    import shutil

    from footfall.lakehouse_format import ensure_format
    from footfall.spatial.job import STAGE

    ensure_format(lakehouse)  # a lakehouse of this release: copied tables alone would read as one of format 0
    for table in STAGE.outputs:
        shutil.copytree(table.path(source), table.path(lakehouse))
    return lakehouse


def lakehouse_of_run(landing: Path, folder: Path, dates: list[dt.date], *, spatial_from: Path | None = None) -> Path:
    """Return the lakehouse under `folder` of one run of `dates` on `landing`, with the test key (for fixtures
    wider than a test, where monkeypatch is not available); `spatial_from` seeds it (seed_spatial). What the run
    printed is in `folder / RUN_OUTPUT`."""
    import pytest

    lakehouse = folder / "lakehouse"
    if spatial_from is not None:
        seed_spatial(spatial_from, lakehouse)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("FOOTFALL_PSEUDONYM_KEY", TEST_KEY)
        printed = run_days(daily_config(landing, lakehouse), dates)
    (folder / RUN_OUTPUT).write_text(printed)
    return lakehouse


def assert_gold_of_day_equal(spark: SparkSession, actual: Path, expected: Path, day: dt.date) -> dict[str, int]:
    """Assert that `actual`, a lakehouse of a run of `day` alone, holds exactly `expected`'s gold of that day in
    every daily table, the same zones, and no week (a week publishes with its Sunday); return the rows compared."""
    from pyspark.sql import functions as F

    got, want = read_gold(spark, actual), read_gold(spark, expected)
    rows = {}
    for table, (_, partition) in S.GOLD_TABLES.items():
        if partition == S.WEEK:
            assert got[table].count() == 0, f"{table}: a run of {day} alone published a week"
            continue
        want_df = want[table] if partition is None else want[table].where(F.col(partition) == F.lit(day))
        assertDataFrameEqual(got[table], want_df, checkRowOrder=False)
        rows[table] = want_df.count()
    return rows
