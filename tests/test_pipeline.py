"""The whole pipeline on a tiny generated city, as `make run` runs it: every stage writes, the rules hold."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from pyspark.sql import SparkSession
from pyspark.sql import functions as F
from rich.console import Console

from footfall import schemas as S
from footfall.config import Config, parse_config
from footfall.ingest.tables import read_table, silver_path
from footfall.mobility.direction import OCTANTS, UNKNOWN

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def ran(spark: SparkSession, tmp_path_factory: pytest.TempPathFactory) -> tuple[Config, str]:
    root = tmp_path_factory.mktemp("pipeline")
    config = parse_config(
        {
            "landing": str(root / "landing"),
            "lakehouse": str(root / "lakehouse"),
            "privacy": {"pseudonym_key_file": str(root / "key")},
            "demo": {"subscribers": 250, "days": 1, "start": "2026-03-07", "seed": 5},
        },
        source="test",
    )
    from footfall.pipeline import run_pipeline

    out = io.StringIO()
    run_pipeline(config, console=Console(file=out, width=200))
    return config, out.getvalue()


def test_every_stage_reports_and_writes(spark: SparkSession, ran: tuple[Config, str]) -> None:
    config, printed = ran
    assert "created a development pseudonym key" in printed
    assert "generating a city of 250 subscribers" in printed
    for table in (
        S.SILVER_EVENTS_TABLE,
        S.SILVER_CELL_ZONE_WEIGHTS_TABLE,
        S.SILVER_STAYS_TABLE,
        S.SILVER_DEVICE_HOME_TABLE,
        S.SILVER_ZONE_TRANSITIONS_TABLE,
        S.SILVER_REPEAT_VISITS_TABLE,
    ):
        assert read_table(spark, silver_path(config.lakehouse, table)).count() > 0, table


def test_stays_follow_the_rules(spark: SparkSession, ran: tuple[Config, str]) -> None:
    config, _ = ran
    stays = read_table(spark, silver_path(config.lakehouse, S.SILVER_STAYS_TABLE))
    m = config.mobility
    broken = stays.where(
        (F.col(S.LEFT_AT) < F.col(S.ENTERED_AT))
        | (F.col(S.IS_VISIT) != (F.col(S.DWELL_S) >= m.min_visit_s))
        | ~F.col(S.ARRIVAL_DIRECTION).isin(*OCTANTS, UNKNOWN)
        | (F.col(S.DATE) != F.to_date(F.from_utc_timestamp(S.ENTERED_AT, config.timezone)))
    )
    assert broken.count() == 0
    assert stays.where(F.col(S.ARRIVAL_DIRECTION) != UNKNOWN).count() > 0
    assert stays.where(F.col(S.PREVIOUS_ZONE_ID).isNotNull()).count() > 0


def test_no_python_udf_in_the_per_event_path(spark: SparkSession, ran: tuple[Config, str]) -> None:
    from footfall.mobility.presence import filter_present
    from footfall.mobility.stays import agg_stays, with_device_neighbours
    from footfall.spatial.weights import with_zone_candidates

    config, _ = ran
    events = read_table(spark, silver_path(config.lakehouse, S.SILVER_EVENTS_TABLE)).select(
        S.PSEUDO_ID, S.EVENT_TS, S.CELL_ID
    )
    weights = read_table(spark, silver_path(config.lakehouse, S.SILVER_CELL_ZONE_WEIGHTS_TABLE))
    stays = agg_stays(
        filter_present(
            with_zone_candidates(with_device_neighbours(events.repartition(S.PSEUDO_ID)), weights_df=weights),
            model="threshold",
            min_weight=0.05,
        ),
        max_gap_s=900,
        min_visit_s=300,
    )
    plan = stays._jdf.queryExecution().executedPlan().toString()
    for node in ("BatchEvalPython", "ArrowEvalPython", "PythonUDF", "CartesianProduct", "RangeJoin"):
        assert node not in plan, node
    assert "BroadcastHashJoin" in plan and "Window" in plan
    # one shuffle by device serves both windows
    assert plan.count("Exchange hashpartitioning(pseudo_id") == 1, plan


def test_a_second_run_reuses_landing_and_weights(spark: SparkSession, ran: tuple[Config, str]) -> None:
    from footfall.pipeline import run_pipeline

    config, _ = ran
    out = io.StringIO()
    run_pipeline(config, console=Console(file=out, width=200))
    printed = out.getvalue()
    assert "using the export in" in printed and "spatial: inputs unchanged" in printed
    assert "created a development pseudonym key" not in printed
    assert Path(config.privacy.pseudonym_key_file).stat().st_mode & 0o077 == 0
