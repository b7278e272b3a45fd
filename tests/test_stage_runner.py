"""The one stage runner: skip on an unchanged fingerprint, the run id in every commit, the error for a missing input;
and a stage's pure build on inline rows."""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Mapping
from pathlib import Path

import pytest
from pyspark.sql import SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T
from pyspark.testing import assertDataFrameEqual
from typer.testing import CliRunner

from footfall import schemas as S
from footfall.config import SpatialConfig
from footfall.lakehouse import SILVER_TABLES, Table, read_table
from footfall.stage import Built, MissingInputError, Output, Stage, built_fingerprints, run_stage
from test_spatial_job import (
    ALWAYS,
    REACH_1,
    REACH_2,
    SIDE_A,
    SIDE_B,
    SWITCHED_OFF,
    SWITCHED_ON,
    _history,
    _lonlat,
    _square,
)

TOY_SCHEMA = "n INT"


def _toy_stage(tmp_path: Path, *, inputs: tuple[Table, ...] = ()) -> Stage:
    data = Table(S.SILVER, "toy_data", T.StructType([T.StructField("n", T.IntegerType())]))
    marker = Table(S.SILVER, "toy_marker", data.schema)
    return Stage(name="toy", inputs=inputs, outputs=(data, marker), marker=marker)


def _run(
    spark: SparkSession, stage: Stage, lake: Path, *, fingerprint: str, run_id: str, value: int = 1
) -> tuple[bool, Mapping[str, Mapping[str, int]]]:
    data = stage.outputs[0]
    built: list[int] = []

    def build(n: int) -> Built[None]:
        built.append(n)
        df = spark.createDataFrame([(n,), (n + 1,)], TOY_SCHEMA)
        return Built(outputs={data: Output(df)}, marker=Output(spark.createDataFrame([(n,)], TOY_SCHEMA)), info=None)

    result = run_stage(
        spark,
        stage,
        lake,
        run_id=run_id,
        fingerprints={"2026-03-06": fingerprint},
        read=lambda: value,
        build=build,
        report=lambda _built, metrics: dict(metrics),
    )
    assert built == ([] if result.skipped else [value])  # a skip neither reads nor builds
    return result.skipped, result.metrics


def test_the_runner_skips_an_unchanged_fingerprint_and_rebuilds_a_changed_one(
    spark: SparkSession, tmp_path: Path
) -> None:
    stage, lake = _toy_stage(tmp_path), tmp_path / "lake"
    skipped, metrics = _run(spark, stage, lake, fingerprint="a", run_id="run-1")
    assert not skipped and metrics["toy_data"]["numOutputRows"] == 2 and metrics["toy_marker"]["numOutputRows"] == 1
    assert _run(spark, stage, lake, fingerprint="a", run_id="run-2") == (True, {})
    assert not _run(spark, stage, lake, fingerprint="b", run_id="run-3", value=5)[0]
    assert sorted(r["n"] for r in read_table(spark, stage.outputs[0].path(lake)).collect()) == [5, 6]
    # back to the first fingerprint: the date was last built from "b", so it is built again (not "ever built")
    assert not _run(spark, stage, lake, fingerprint="a", run_id="run-4")[0]
    assert built_fingerprints(spark, stage, lake) == {"2026-03-06": "a"}


def test_the_run_id_is_in_every_commit_of_every_output_create_included(spark: SparkSession, tmp_path: Path) -> None:
    stage, lake = _toy_stage(tmp_path), tmp_path / "lake"
    _run(spark, stage, lake, fingerprint="a", run_id="run-1")
    _run(spark, stage, lake, fingerprint="b", run_id="run-2")
    for table in stage.outputs:
        history = _history(spark, table.path(lake))
        assert history[0]["operation"] == "WRITE", table.name  # silver: created by its first write
        assert [h["run_id"] for h in history] == ["run-1", "run-2"], table.name
        assert {h["stage"] for h in history} == {"toy"}, table.name


def test_a_missing_input_names_the_stage_to_run_first_and_writes_nothing(spark: SparkSession, tmp_path: Path) -> None:
    stays = SILVER_TABLES[S.SILVER_STAYS_TABLE]
    stage, lake = _toy_stage(tmp_path, inputs=(stays,)), tmp_path / "lake"
    with pytest.raises(MissingInputError, match=r"^toy needs silver/stays, .*: run `footfall mobility` first; nothing"):
        _run(spark, stage, lake, fingerprint="a", run_id="run-1")
    assert not lake.exists()


def test_the_cli_exits_8_on_a_missing_input_without_a_jvm(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from footfall import session
    from footfall.cli import EXIT_MISSING_INPUT, app
    from footfall.mobility import job

    def missing(*args: object, **kwargs: object) -> None:
        raise MissingInputError("mobility needs silver/events, which the lakehouse lacks: run `footfall ingest` first")

    monkeypatch.setattr(job, "run_mobility", missing)
    monkeypatch.setattr(session, "get_spark", lambda *a, **k: None)  # no JVM: the error comes before any Spark
    config = tmp_path / "c.yaml"  # a lakehouse of its own: the command records the format in a new one
    config.write_text(f"landing: {tmp_path / 'landing'}\nlakehouse: {tmp_path / 'lake'}\n")
    result = CliRunner().invoke(app, ["mobility", "--start", "2026-03-07", "--config", str(config)])
    assert result.exit_code == EXIT_MISSING_INPUT == 8
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and "run `footfall ingest` first" in lines[0], result.output


def test_spatial_build_on_inline_rows_gives_the_weights_of_the_formulas(spark: SparkSession) -> None:
    from footfall.spatial.geojson import DISTRICTS, ZONES
    from footfall.spatial.job import SpatialRead, build_spatial, read_areas

    settings = SpatialConfig(footprint_model="sector", min_resolution_score=0.5, resolution_model="footprint")
    zones = [
        ("A", "half", "mall", json.dumps(_square(0, 0, SIDE_A))),
        ("B", "whole", "market_square", json.dumps(_square(2000, 0, SIDE_B))),
    ]
    zones_df, _ = read_areas(spark, zones, ZONES, settings.metric_crs)
    districts_df, _ = read_areas(
        spark, [("D1", "all", 1000, json.dumps(_square(0, 0, 12_000)))], DISTRICTS, settings.metric_crs
    )
    (lon1, lat1), (lon2, lat2) = _lonlat(0, 0), _lonlat(2000, 0)
    ts = dt.datetime.fromisoformat
    cells_df = spark.createDataFrame(
        [
            ("C1", "S1", lat1, lon1, 90.0, 180.0, REACH_1, "LTE", ts(ALWAYS[:-1]), None),
            ("C2", "S2", lat2, lon2, None, 360.0, REACH_2, "LTE-small", ts(SWITCHED_ON[:-1]), ts(SWITCHED_OFF[:-1])),
        ],
        S.LANDING_CELLS,
    )
    market_share_df = spark.createDataFrame([("D1", 1000, 250, 0.25)], S.LANDING_MARKET_SHARE)
    read = SpatialRead(zones_df, districts_df, cells_df, market_share_df, repaired=[])

    frames, held = build_spatial(read, settings)
    try:
        w_a = (SIDE_A**2 / 2) / (math.pi * REACH_1**2 / 2)  # half the square over half the disc
        w_b = SIDE_B**2 / (math.pi * REACH_2**2)  # the whole square inside the disc
        expected = spark.createDataFrame(
            [("C1", "A", w_a, ts(ALWAYS[:-1]), None), ("C2", "B", w_b, ts(SWITCHED_ON[:-1]), ts(SWITCHED_OFF[:-1]))],
            "cell_id STRING, zone_id STRING, weight DOUBLE, valid_from TIMESTAMP, valid_to TIMESTAMP",
        )
        weights = frames[SILVER_TABLES[S.SILVER_CELL_ZONE_WEIGHTS_TABLE]]
        assertDataFrameEqual(weights.select(*expected.columns), expected, rtol=1e-2)
        resolution = frames[SILVER_TABLES[S.SILVER_ZONE_RESOLUTION_TABLE]]
        assertDataFrameEqual(
            resolution.select(S.ZONE_ID, S.N_CELLS, S.IS_LOW_RESOLUTION),
            spark.createDataFrame([("A", 1, True), ("B", 1, False)], resolution.select(
                S.ZONE_ID, S.N_CELLS, S.IS_LOW_RESOLUTION).schema),
        )  # fmt: skip
        assertDataFrameEqual(frames[SILVER_TABLES[S.SILVER_MARKET_SHARE_TABLE]], market_share_df)
        assert frames[SILVER_TABLES[S.SILVER_ZONES_TABLE]].where(F.col(S.IS_REPAIRED)).count() == 0
    finally:
        for df in held:
            df.unpersist()


def test_mobility_before_ingest_names_ingest_and_writes_nothing(spark: SparkSession, tmp_path: Path) -> None:
    from footfall.config import Config
    from footfall.mobility.job import run_mobility

    config = Config(landing=tmp_path / "landing", lakehouse=tmp_path / "lake")
    with pytest.raises(MissingInputError, match=r"^mobility needs silver/events, .*: run `footfall ingest` first"):
        run_mobility(spark, config, dates=[dt.date(2026, 3, 6)])
    assert not config.lakehouse.exists()


def test_publish_staging_reads_nothing_so_noise_needs_the_weight_from_the_read(spark: SparkSession) -> None:
    from footfall.config import PublishConfig
    from footfall.publish.job import max_device_weight
    from footfall.publish.staging import stage_gold
    from test_publish_staging import DAY, TZ, _devices, _inputs

    inputs = _inputs(spark, _devices(5))
    config = PublishConfig.model_validate({"k": 3, "noise": {"mechanism": "laplace"}})
    args = {"publish": config, "tz": TZ, "dates": [DAY.isoformat()], "weeks": [], "published_zone_ids": ["Z1"]}
    with pytest.raises(ValueError, match="largest device weight"):
        stage_gold(inputs, salt="s", seed=1, **args)  # type: ignore[arg-type]
    # the read's weight: homes in D2, 500 subscribers of 1000 residents, so each device stands for 2 people
    assert max_device_weight(inputs) == pytest.approx(2.0)
    staged = stage_gold(inputs, salt="s", seed=1, max_weight=2.0, **args)  # type: ignore[arg-type]
    assert staged[S.GOLD_ZONE_FOOTFALL_HOURLY_TABLE].partition_values == (DAY.isoformat(),)


def test_a_build_recorded_before_the_runner_still_counts_as_built(spark: SparkSession, tmp_path: Path) -> None:
    """mobility's commits used to say {stage, inputs, dates}: an existing lakehouse is not rebuilt for it."""
    from footfall.lakehouse import write

    stage, lake = _toy_stage(tmp_path), tmp_path / "lake"
    legacy = {"stage": "toy", "inputs": "fp-old", "dates": ["2026-03-05", "2026-03-06"]}
    for table in stage.outputs:
        write(spark.createDataFrame([(1,)], TOY_SCHEMA), table, lake, user_metadata=legacy)
    assert built_fingerprints(spark, stage, lake) == {"2026-03-05": "fp-old", "2026-03-06": "fp-old"}
    assert _run(spark, stage, lake, fingerprint="fp-old", run_id="run-1") == (True, {})
    assert not _run(spark, stage, lake, fingerprint="fp-new", run_id="run-2")[0]
