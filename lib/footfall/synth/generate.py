"""`footfall generate`: a city, its people and a mobile operator's export of them, plus the ground truth."""

from __future__ import annotations

import datetime as dt
import json
import math
import shutil
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import shapely
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from footfall import schemas as S
from footfall.synth import faults, output, truth
from footfall.synth.geo import wedge
from footfall.synth.layout import City, build_city
from footfall.synth.movement import REC_EVENT, REC_STAY, UNIFIED_SCHEMA, SimContext, simulate_batch
from footfall.synth.options import GenerateOptions
from footfall.synth.people import CHUNK, people_chunk

PEOPLE_SCHEMA = (
    "person_id LONG, msisdn STRING, birth_year INT, gender STRING, home_district INT, master_district_id STRING, "
    "home_x DOUBLE, home_y DOUBLE, work_x DOUBLE, work_y DOUBLE, role STRING, activity DOUBLE, shop_rate DOUBLE, "
    "fav1 INT, fav2 INT, fav3 INT, opted_out BOOLEAN, opted_out_at TIMESTAMP"
)
PERSON_DAYS_PER_PARTITION = 2_500


@dataclass(frozen=True)
class GenerationReport:
    """What a run wrote and how long it took (timing is not written to disk: the files must be reproducible)."""

    out: Path
    landing_rows: int
    valid_events: int
    stays: int
    bad_rows: dict[str, int]
    coverage: dict[str, float]
    seconds: float

    @property
    def events_per_s(self) -> float:
        """Return landing rows written per second of wall time."""
        return self.landing_rows / self.seconds if self.seconds else float("nan")


def _prepare_out(out: Path) -> None:
    if out.exists() and any(out.iterdir()) and not (out / "generation.json").exists():
        raise FileExistsError(f"{out} is not empty and was not written by footfall generate; choose another --out")
    shutil.rmtree(out, ignore_errors=True)
    (out / "truth").mkdir(parents=True)


def _days_frame(spark: SparkSession, options: GenerateOptions) -> DataFrame:
    """One row per simulated local day; the day after the period is simulated too, for its first UTC hours."""
    rows = []
    for i in range(options.days + 1):
        day = options.start + dt.timedelta(days=i)
        start, end = truth.local_day_bounds(day, options.timezone)
        rows.append(
            (
                i,
                day.isoformat(),
                int(start.timestamp()),
                int((end - start).total_seconds()),
                day.weekday(),
                i < options.days,
            )
        )
    return spark.createDataFrame(
        rows, "day_index INT, local_date STRING, day_start LONG, day_len LONG, weekday INT, export_day BOOLEAN"
    )


def _people(spark: SparkSession, city: City, options: GenerateOptions) -> DataFrame:
    chunks = math.ceil(options.subscribers / CHUNK)
    o = options

    def make(batches: Any) -> Any:
        for batch in batches:
            for chunk in batch["id"]:
                yield people_chunk(
                    city,
                    chunk=int(chunk),
                    total=o.subscribers,
                    seed=o.seed,
                    start=o.start,
                    days=o.days,
                    opt_out_rate=o.opt_out_rate,
                )

    return spark.range(chunks, numPartitions=max(1, min(chunks, spark.sparkContext.defaultParallelism))).mapInPandas(
        make, PEOPLE_SCHEMA
    )


def _simulate(person_days_df: DataFrame, city: City, options: GenerateOptions) -> DataFrame:
    seed, mode = options.seed, options.mode

    def run(batches: Any) -> Any:
        ctx = SimContext.of(city)
        for pdf in batches:
            yield simulate_batch(pdf, ctx, seed=seed, mode=mode)

    return person_days_df.mapInPandas(run, UNIFIED_SCHEMA)


def _cells_frame(spark: SparkSession, city: City) -> DataFrame:
    c = city.cells[["cell_id", "valid_from", "valid_to"]]
    rows = [
        (r.cell_id, r.valid_from.to_pydatetime(), None if pd.isna(r.valid_to) else r.valid_to.to_pydatetime())
        for r in c.itertuples(index=False)
    ]
    return spark.createDataFrame(rows, f"{S.CELL_ID} STRING, {S.VALID_FROM} TIMESTAMP, {S.VALID_TO} TIMESTAMP")


def cell_zone_overlap(city: City) -> pd.DataFrame:
    """Return (cell_id, zone_id, category) for every cell whose nominal footprint intersects a zone."""
    c = city.cells
    footprints = [
        wedge(r.x, r.y, None if math.isnan(r.azimuth_deg) else r.azimuth_deg, r.beamwidth_deg, r.range_m)
        for r in c.itertuples(index=False)
    ]
    tree = shapely.STRtree([z.polygon for z in city.zones])
    cell_i, zone_i = tree.query(footprints, predicate="intersects")
    return pd.DataFrame(
        {
            S.CELL_ID: c["cell_id"].to_numpy()[cell_i],
            S.ZONE_ID: [city.zones[j].zone_id for j in zone_i],
            S.CATEGORY: [city.zones[j].category for j in zone_i],
        }
    ).sort_values([S.CELL_ID, S.ZONE_ID], ignore_index=True)


def generate_city(spark: SparkSession, *, out: Path, options: GenerateOptions) -> GenerationReport:
    """Write a city, its subscribers, their events and the ground truth under `out` (docs/data-contract.md)."""
    began = time.monotonic()
    out = Path(out)
    city = build_city(options)  # first: a bad layout must fail before anything is written
    _prepare_out(out)
    output.write_cells_csv(city, out / "cells.csv")
    output.write_zones_geojson(city, out / "zones.geojson")
    output.write_districts_geojson(city, out / "districts.geojson")

    people_df = _people(spark, city, options).persist()
    days_df = _days_frame(spark, options)
    n_person_days = options.subscribers * (options.days + 1)
    partitions = max(spark.sparkContext.defaultParallelism, math.ceil(n_person_days / PERSON_DAYS_PER_PARTITION))
    person_days = people_df.crossJoin(F.broadcast(days_df)).repartition(partitions, "person_id", "day_index")

    work = out / "_work"
    _simulate(person_days, city, options).write.mode("overwrite").parquet(str(work / "sim"))
    sim_df = spark.read.parquet(str(work / "sim"))

    start_s = int(dt.datetime.combine(options.start, dt.time(), tzinfo=dt.UTC).timestamp())
    end_s = start_s + options.days * 86_400
    events_df = sim_df.where((F.col("rec") == REC_EVENT) & F.col("t0").between(start_s, end_s - 1)).select(
        S.MSISDN,
        "t0",
        F.col("ref").alias(S.CELL_ID),
        S.EVENT_TYPE,
        S.OPTED_OUT,
        F.to_date(F.timestamp_seconds("t0")).alias(S.EVENT_DATE),
    )
    landing_df = (
        events_df.transform(faults.with_fault_kind, seed=options.seed, rate=options.bad_row_rate)
        .transform(faults.with_inactive_cells, _cells_frame(spark, city), seed=options.seed)
        .transform(faults.with_faults_applied, seed=options.seed)
    )
    landing_df.write.mode("overwrite").parquet(str(work / "landing"))
    landing_df = spark.read.parquet(str(work / "landing"))

    events_cols = [S.MSISDN, S.EVENT_TS, S.CELL_ID, S.EVENT_TYPE]
    output.write_parquet_folder(
        landing_df.select(*events_cols, F.col(S.EVENT_DATE).cast("string").alias(S.EVENT_DATE))
        .repartition(S.EVENT_DATE)
        .sortWithinPartitions(S.EVENT_DATE, *events_cols),
        out / "events",
        partition_by=S.EVENT_DATE,
    )
    bad_rows_df = faults.agg_bad_rows(landing_df)
    output.write_single_csv(bad_rows_df, out / "truth" / "bad_rows.csv")

    visits_df = sim_df.where((F.col("rec") == REC_STAY) & F.col("export_day")).select(
        S.MSISDN,
        F.col("ref").alias(S.ZONE_ID),
        F.timestamp_seconds("t0").alias(S.ENTERED_AT),
        F.timestamp_seconds("t1").alias(S.LEFT_AT),
        F.col("direction").alias(S.ARRIVAL_DIRECTION),
    )
    output.write_parquet_folder(
        visits_df.coalesce(1).sortWithinPartitions(S.MSISDN, S.ENTERED_AT, S.ZONE_ID), out / "truth" / "visits.parquet"
    )
    zones_df = spark.createDataFrame(
        [(z.zone_id, z.category) for z in city.zones], f"{S.ZONE_ID} STRING, {S.CATEGORY} STRING"
    )
    export_days = [options.start + dt.timedelta(days=i) for i in range(options.days)]
    hourly_df = truth.agg_zone_hourly(
        visits_df, truth.slots_frame(spark, export_days, options.timezone), zones_df, min_visit_s=options.min_visit_s
    )
    output.write_single_csv(hourly_df.orderBy(S.ZONE_ID, S.HOUR_START_UTC), out / "truth" / "zone_hourly.csv")

    _write_people_tables(spark, people_df, city, out)

    overlap = cell_zone_overlap(city)
    overlap.to_csv(out / "truth" / "cell_zone_overlap.csv", index=False, lineterminator="\n")
    valid_df = landing_df.where(F.col("fault").isNull()).select(
        S.MSISDN, F.to_timestamp(S.EVENT_TS, faults.TS_OUT).alias("ts"), S.CELL_ID
    )
    coverage_rows = truth.agg_visit_coverage(
        visits_df.join(F.broadcast(zones_df), on=S.ZONE_ID, how="inner"),
        valid_df,
        spark.createDataFrame(overlap[[S.CELL_ID, S.ZONE_ID]]),
        min_visit_s=options.min_visit_s,
    ).collect()
    coverage = {r[S.CATEGORY]: round(float(r["share_seen"]), 4) for r in coverage_rows}
    total_visits = sum(r["visits"] for r in coverage_rows)
    coverage["all"] = round(sum(r["visits_seen"] for r in coverage_rows) / total_visits, 4) if total_visits else 0.0

    bad: dict[str, int] = {
        str(r[S.KIND]): int(r["n"]) for r in bad_rows_df.groupBy(S.KIND).agg(F.sum(S.ROWS).alias("n")).collect()
    }
    bad = dict(sorted(bad.items()))

    landing_rows = landing_df.count()
    to_silver = landing_rows - sum(bad.values())
    stays = visits_df.count()
    people_df.unpersist()
    shutil.rmtree(work)
    summary = {
        "options": {k: str(v) if isinstance(v, Path | dt.date) else v for k, v in asdict(options).items()},
        "city": {
            "fictional": city.is_fictional,
            "cells": len(city.cells),
            "sites": int(city.cells.site_id.nunique()),
            "zones": len(city.zones),
            "districts": len(city.districts),
        },
        "landing_rows": landing_rows,
        "valid_events": to_silver,  # rows that pass every check of ingest
        "true_stays": stays,
        "bad_rows": bad,
        "visit_coverage_by_category": dict(sorted(coverage.items())),
    }
    (out / "generation.json").write_text(json.dumps(summary, indent=2, sort_keys=True) + "\n")
    return GenerationReport(out, landing_rows, to_silver, stays, bad, coverage, time.monotonic() - began)


def _write_people_tables(spark: SparkSession, people_df: DataFrame, city: City, out: Path) -> None:
    """Write subscribers.csv (customer master), truth/homes.csv and market_share.csv."""
    district_ids = spark.createDataFrame(
        [(i, d.district_id, d.residents) for i, d in enumerate(city.districts)],
        f"home_district INT, {S.DISTRICT_ID} STRING, {S.RESIDENTS} LONG",
    )
    blank_to_null = lambda c: F.when(F.col(c) == "", F.lit(None)).otherwise(F.col(c))  # noqa: E731
    subscribers = people_df.select(
        S.MSISDN,
        S.BIRTH_YEAR,
        blank_to_null(S.GENDER).alias(S.GENDER),
        blank_to_null("master_district_id").alias(S.HOME_DISTRICT_ID),
        S.OPTED_OUT,
        S.OPTED_OUT_AT,
    )
    output.write_single_csv(subscribers.orderBy(S.MSISDN), out / "subscribers.csv")
    homes = people_df.join(F.broadcast(district_ids), on="home_district", how="inner")
    output.write_single_csv(
        homes.select(S.MSISDN, F.col(S.DISTRICT_ID).alias(S.HOME_DISTRICT_ID)).orderBy(S.MSISDN),
        out / "truth" / "homes.csv",
    )
    per_district = homes.groupBy(S.DISTRICT_ID).agg(F.count(F.lit(1)).alias(S.SUBSCRIBERS))
    share = district_ids.join(per_district, on=S.DISTRICT_ID, how="left").fillna(0, subset=[S.SUBSCRIBERS])
    output.write_single_csv(
        share.select(
            S.DISTRICT_ID,
            S.RESIDENTS,
            F.col(S.SUBSCRIBERS).cast("long"),
            F.round(F.col(S.SUBSCRIBERS) / F.col(S.RESIDENTS), 6).alias(S.MARKET_SHARE),
        ).orderBy(S.DISTRICT_ID),
        out / "market_share.csv",
    )
