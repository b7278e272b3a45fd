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


def test_forget_reaches_the_mobility_tables_too(spark: SparkSession, ran: tuple[Config, str]) -> None:
    """A customer who objects after the run vanishes from stays, homes, repeats and flows, in every version."""
    import csv
    import datetime as dt

    from delta.tables import DeltaTable

    from footfall.ingest import load_master_key, run_forget
    from footfall.ingest.pseudonym import period_index, period_keys_df, with_pseudo_id
    from footfall.ingest.tables import DERIVED_PSEUDONYMISED

    config, _ = ran
    key = load_master_key(key_file=config.privacy.pseudonym_key_file)
    day = dt.date(2026, 3, 7)
    period = config.privacy.pseudonym_period_days
    subscribers = Path(config.landing) / "subscribers.csv"
    rows = list(csv.DictReader(subscribers.open()))
    keys = period_keys_df(spark, key=key, periods={period_index(day, period_days=period)})
    candidates = spark.createDataFrame(
        [(r["msisdn"], day) for r in rows if r["opted_out"] == "false"], "msisdn STRING, event_date DATE"
    )
    pseudo_of = {
        r["msisdn"]: r[S.PSEUDO_ID]
        for r in with_pseudo_id(candidates.withColumn("m", F.col("msisdn")), keys_df=keys, period_days=period)
        .select("m", S.PSEUDO_ID)
        .withColumnRenamed("m", "msisdn")
        .collect()
    }
    homes = read_table(spark, silver_path(config.lakehouse, S.SILVER_DEVICE_HOME_TABLE))
    stays = read_table(spark, silver_path(config.lakehouse, S.SILVER_STAYS_TABLE))
    in_both = {r[S.PSEUDO_ID] for r in stays.join(homes, on=S.PSEUDO_ID, how="left_semi").select(S.PSEUDO_ID).collect()}
    objector = next(m for m, p in sorted(pseudo_of.items()) if p in in_both)
    target = pseudo_of[objector]

    for r in rows:
        if r["msisdn"] == objector:
            r["opted_out"], r["opted_out_at"] = "true", "2026-03-09T08:00:00Z"
    with subscribers.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    run_forget(spark, config, key=key)

    for table in DERIVED_PSEUDONYMISED:
        path = silver_path(config.lakehouse, table)
        for version in [h["version"] for h in DeltaTable.forPath(spark, path).history().select("version").collect()]:
            try:
                held = spark.read.format("delta").option("versionAsOf", version).load(path)
                assert held.where(F.col(S.PSEUDO_ID) == target).count() == 0, (table, version)
            except Exception as exc:  # a version whose files VACUUM removed can no longer be read: that is the point
                if isinstance(exc, AssertionError):
                    raise
                assert "FILE_NOT_EXIST" in str(exc) or "does not exist" in str(exc), exc
