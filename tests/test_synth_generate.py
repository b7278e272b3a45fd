"""The generator end to end on a tiny city: reproducible bytes, honest bad-row counts, usable coverage."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T
from pyspark.sql.window import Window
from pyspark.testing import assertDataFrameEqual

from footfall import schemas as S
from footfall.synth import GenerateOptions, GenerationReport, generate_city

OPTIONS = GenerateOptions(
    subscribers=150, days=2, start=dt.date(2026, 3, 6), seed=11, bad_row_rate=0.03, opt_out_rate=0.05
)


# a copy: StructType.add would change the contract's own schema for every later test in the process
_EVENTS_WITH_DATE = T.StructType([*S.LANDING_EVENTS.fields, T.StructField(S.EVENT_DATE, T.StringType())])


@pytest.fixture(scope="module")
def city(spark: SparkSession, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, GenerationReport]]:
    out = tmp_path_factory.mktemp("city") / "landing"
    yield out, generate_city(spark, out=out, options=OPTIONS)


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_same_seed_same_bytes_other_seed_other_data(
    spark: SparkSession, city: tuple[Path, GenerationReport], tmp_path: Path
) -> None:
    first, _ = city
    generate_city(spark, out=tmp_path / "again", options=OPTIONS)
    a, b = _files(first), _files(tmp_path / "again")
    assert sorted(a) == sorted(b)
    assert [name for name in a if a[name] != b[name]] == []
    assert any(name.startswith("events/event_date=2026-03-07/") for name in a)

    other = GenerateOptions(**{**OPTIONS.__dict__, "seed": 12})
    generate_city(spark, out=tmp_path / "other", options=other)
    c = _files(tmp_path / "other")
    changed = [name for name in a if name in c and a[name] != c[name]]
    assert "subscribers.csv" in changed and "events/event_date=2026-03-06/part-00000.parquet" in changed


def _landing(spark: SparkSession, out: Path) -> tuple[DataFrame, DataFrame, DataFrame]:
    events = spark.read.schema(_EVENTS_WITH_DATE).parquet(str(out / "events"))
    cells = spark.read.schema(S.LANDING_CELLS).option("header", True).csv(str(out / "cells.csv"))
    subs = spark.read.schema(S.LANDING_SUBSCRIBERS).option("header", True).csv(str(out / "subscribers.csv"))
    return events, cells, subs


def test_every_row_classifies_into_the_truth_counts(spark: SparkSession, city: tuple[Path, GenerationReport]) -> None:
    """A classifier written from docs/data-contract.md alone reproduces truth/bad_rows.csv exactly."""
    out, _ = city
    events, cells, subs = _landing(spark, out)
    ts = F.try_to_timestamp(F.col(S.EVENT_TS), F.lit("yyyy-MM-dd'T'HH:mm:ssX"))
    objectors = subs.where(F.col(S.OPTED_OUT)).select(S.MSISDN, F.lit(True).alias("is_objector"))
    rows = (
        events.withColumn("ts", ts)
        .join(F.broadcast(objectors), on=S.MSISDN, how="left")
        .join(F.broadcast(cells.select(S.CELL_ID, S.VALID_FROM, S.VALID_TO)), on=S.CELL_ID, how="left")
    )
    copy_no = F.row_number().over(
        Window.partitionBy(S.MSISDN, S.EVENT_TS, S.CELL_ID, S.EVENT_TYPE, S.EVENT_DATE).orderBy(S.EVENT_TS)
    )
    kind = (
        F.when(F.col(S.MSISDN).isNull(), S.BAD_NULL_MSISDN)
        .when(F.col("is_objector"), S.BAD_OPTED_OUT)
        .when(F.col("ts").isNull(), S.BAD_TIMESTAMP)
        .when(F.to_date("ts").cast("string") != F.col(S.EVENT_DATE), S.BAD_OUT_OF_DAY)
        .when(F.col(S.VALID_FROM).isNull(), S.BAD_UNKNOWN_CELL)
        .when((F.col("ts") < F.col(S.VALID_FROM)) | (F.col("ts") >= F.col(S.VALID_TO)), S.BAD_CELL_INACTIVE)
        .when(F.col("copy_no") > 1, S.BAD_DUPLICATE)
    )
    observed = (
        rows.withColumn("copy_no", copy_no)
        .where(kind.isNotNull())
        .groupBy(F.col(S.EVENT_DATE).cast("date").alias(S.EVENT_DATE), kind.alias(S.KIND))
        .agg(F.count(F.lit(1)).cast("long").alias(S.ROWS))
    )
    truth = spark.read.schema(S.TRUTH_BAD_ROWS).option("header", True).csv(str(out / "truth" / "bad_rows.csv"))
    assertDataFrameEqual(observed, truth)
    # every kind really occurs on both days, so the comparison above tests each of them
    assert truth.count() == 2 * len(S.BAD_ROW_KINDS)


def test_valid_events_use_only_active_cells_at_their_time(
    spark: SparkSession, city: tuple[Path, GenerationReport]
) -> None:
    out, _ = city
    events, cells, _ = _landing(spark, out)
    ts = F.try_to_timestamp(F.col(S.EVENT_TS), F.lit("yyyy-MM-dd'T'HH:mm:ssX"))
    in_day = F.to_date("ts").cast("string") == F.col(S.EVENT_DATE)
    joined = (
        events.withColumn("ts", ts).where(F.col(S.MSISDN).isNotNull() & in_day).join(cells, on=S.CELL_ID, how="inner")
    )
    inactive = joined.where(
        (F.col("ts") < F.col(S.VALID_FROM)) | (F.col(S.VALID_TO).isNotNull() & (F.col("ts") >= F.col(S.VALID_TO)))
    ).count()
    truth = json.loads((out / "generation.json").read_text())
    # the only rows on inactive cells are the ones injected as such
    assert inactive == truth["bad_rows"][S.BAD_CELL_INACTIVE]
    assert joined.count() > 10 * inactive


def test_truth_tables_follow_the_contract(spark: SparkSession, city: tuple[Path, GenerationReport]) -> None:
    out, report = city
    visits = spark.read.parquet(str(out / "truth" / "visits.parquet"))
    assert [(f.name, f.dataType) for f in visits.schema] == [(f.name, f.dataType) for f in S.TRUTH_VISITS]
    assert visits.where(F.col(S.LEFT_AT) <= F.col(S.ENTERED_AT)).count() == 0
    hourly = (
        spark.read.schema(S.TRUTH_ZONE_HOURLY)
        .options(header=True, timestampFormat="yyyy-MM-dd'T'HH:mm:ss'Z'", mode="FAILFAST")
        .csv(str(out / "truth" / "zone_hourly.csv"))
    )
    zones = json.loads((out / "zones.geojson").read_text())["features"]
    assert hourly.count() == len(zones) * 2 * 24
    assert hourly.agg(F.sum(S.VISITORS)).first()[0] > 0
    assert hourly.agg(F.sum(S.PASSERS_BY)).first()[0] > 0
    homes = spark.read.option("header", True).csv(str(out / "truth" / "homes.csv"))
    assert homes.count() == OPTIONS.subscribers
    assert report.landing_rows == spark.read.parquet(str(out / "events")).count()


def test_xdr_visits_are_mostly_seen_by_a_cell_covering_the_zone(city: tuple[Path, GenerationReport]) -> None:
    _, report = city
    # Without this the data could not support any estimate of visitors; CDR is far sparser by design.
    assert report.coverage["all"] >= 0.4, report.coverage
    assert report.coverage["mall"] >= 0.6, report.coverage
