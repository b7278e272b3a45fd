"""Spatial stage figures in one run and one session: `make bench` (or `python bench/spatial.py`).

1. The spatial job on the default city, for both footprint models, and how well each recovers the generator's truth.
2. Cell-to-zone weights for synthetic cells x zones: Sedona's spatial join against the naive cross join followed by
   ST_Intersects (Sedona's join planning switched off), on the same cached inputs, as a ratio.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from pyspark import StorageLevel
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from sedona.spark.sql import st_constructors as STC
from sedona.spark.sql import st_predicates as STP

from footfall import schemas as S
from footfall.config import Config, load_config
from footfall.session import get_spark
from footfall.spatial import run_spatial, with_zone_candidates
from footfall.spatial.footprints import FOOTPRINT, X_M, Y_M, with_sector_footprint
from footfall.spatial.geojson import GEOM
from footfall.spatial.weights import AREA_GEOM, area_side, footprint_side, with_overlaps, with_weight

SEDONA_JOIN_MODE = "sedona.join.optimizationmode"


# ---- 1. the default city: job time and accuracy against the generator's truth ----


def _landing(config: Config, spark: SparkSession, scratch: Path) -> Path:
    """Return the configured landing folder, or generate the demo city into `scratch` when there is none."""
    if (config.landing / "truth" / "visits.parquet").is_dir():
        return config.landing
    from footfall.pipeline import demo_options
    from footfall.synth import generate_city

    print(f"no generated city in {config.landing}: generating the demo city into {scratch}", flush=True)
    generate_city(spark, out=scratch / "landing", options=demo_options(config))
    return scratch / "landing"


def accuracy(spark: SparkSession, landing: Path, weights_df: DataFrame, *, timezone: str) -> dict[str, float]:
    """Return how well cell-to-zone weights recover the truth: visit recall, weight on the true zone, zone-hour r."""
    events_df = (
        spark.read.parquet(str(landing / "events"))
        .select(S.MSISDN, F.try_to_timestamp(S.EVENT_TS, F.lit(S.EVENT_TS_FORMAT)).alias(S.EVENT_TS), S.CELL_ID)
        .dropna()
    )
    visits_df = (
        spark.read.parquet(str(landing / "truth" / "visits.parquet"))
        .filter(F.col(S.LEFT_AT).cast("long") - F.col(S.ENTERED_AT).cast("long") >= 300)
        .withColumn("visit_id", F.monotonically_increasing_id())
    )
    in_visit_df = events_df.join(
        visits_df,
        (events_df[S.MSISDN] == visits_df[S.MSISDN])
        & events_df[S.EVENT_TS].between(visits_df[S.ENTERED_AT], visits_df[S.LEFT_AT]),
        how="inner",
    ).select("visit_id", S.ZONE_ID, S.CELL_ID)
    on_true_zone_df = in_visit_df.join(
        F.broadcast(weights_df.groupBy(S.CELL_ID, S.ZONE_ID).agg(F.max(S.WEIGHT).alias(S.WEIGHT))),
        on=[S.CELL_ID, S.ZONE_ID],
        how="left",
    ).fillna(0.0, subset=[S.WEIGHT])
    per_visit = on_true_zone_df.groupBy("visit_id").agg(F.max(S.WEIGHT).alias("best"), F.avg(S.WEIGHT).alias("mean"))
    visits = per_visit.agg(
        F.count("*").alias("n"), F.avg((F.col("best") > 0).cast("double")).alias("recall"), F.avg("mean")
    ).first()
    assert visits is not None

    local = F.from_utc_timestamp(S.EVENT_TS, timezone)
    estimate_df = (
        with_zone_candidates(events_df, weights_df=weights_df)
        .groupBy(S.ZONE_ID, F.to_date(local).alias(S.DATE), F.hour(local).alias(S.HOUR), S.MSISDN)
        .agg(F.max(S.WEIGHT).alias("p"))
        .groupBy(S.ZONE_ID, S.DATE, S.HOUR)
        .agg(F.sum("p").alias("estimate"))
    )
    truth_df = spark.read.csv(str(landing / "truth" / "zone_hourly.csv"), header=True, schema=S.TRUTH_ZONE_HOURLY)
    compared = (
        truth_df.withColumn("present", F.col(S.VISITORS) + F.col(S.PASSERS_BY))
        .join(estimate_df, on=[S.ZONE_ID, S.DATE, S.HOUR], how="left")
        .fillna(0.0, subset=["estimate"])
        .agg(F.corr("estimate", "present").alias("r"), (F.sum("estimate") / F.sum("present")).alias("ratio"))
        .first()
    )
    assert compared is not None
    return {
        "visits_with_events": int(visits["n"]),
        "visit_recall": round(float(visits["recall"]), 4),
        "mean_weight_on_true_zone": round(float(visits[2]), 5),
        "zone_hour_r": round(float(compared["r"]), 4),
        "estimate_over_truth": round(float(compared["ratio"]), 4),
    }


def bench_city(spark: SparkSession, config: Config, scratch: Path) -> list[dict[str, Any]]:
    """Time the spatial job on the default city for each model and measure its accuracy."""
    landing = _landing(config, spark, scratch)
    results = []
    for model in S.FOOTPRINT_MODELS:
        lake = scratch / f"lake-{model}"
        spatial = config.spatial.model_copy(update={"footprint_model": model})
        run_config = config.model_copy(update={"landing": landing, "lakehouse": lake, "spatial": spatial})
        report = run_spatial(spark, run_config, force=True)
        skipped = run_spatial(spark, run_config)
        weights_df = spark.read.format("delta").load(str(lake / S.SILVER / S.SILVER_CELL_ZONE_WEIGHTS_TABLE))
        figures = accuracy(spark, landing, weights_df, timezone=config.timezone)
        results.append(
            {"model": model, "job_s": round(report.seconds, 1), "skip_s": round(skipped.seconds, 1)}
            | {"rows": report.rows, "low_resolution_zones": len(report.low_resolution_zones)}
            | figures
        )
        print(
            f"spatial job, default city, {model:>7}: {report.seconds:5.1f} s (unchanged inputs: skipped in "
            f"{skipped.seconds:.1f} s); {report.rows[S.SILVER_CELL_ZONE_WEIGHTS_TABLE]} zone weights; "
            f"visit recall {figures['visit_recall']:.3f}, mean weight on the true zone "
            f"{figures['mean_weight_on_true_zone']:.4f}, zone-hour r {figures['zone_hour_r']:.3f}",
            flush=True,
        )
    return results


# ---- 2. synthetic cells x zones: Sedona's spatial join against the naive cross join ----


def synthetic_inputs(spark: SparkSession, *, cells: int, zones: int, side_m: float) -> tuple[DataFrame, DataFrame]:
    """Return cached metric footprints (sector wedges, 0.5-2 km range) and zones (20-200 m rectangles)."""
    cells_df = spark.range(cells).select(
        F.format_string("C%06d", "id").alias(S.CELL_ID),
        (F.rand(1) * side_m).alias(X_M),
        (F.rand(2) * side_m).alias(Y_M),
        (F.rand(3) * 360).alias(S.AZIMUTH_DEG),
        F.lit(65.0).alias(S.BEAMWIDTH_DEG),
        (500 + F.rand(4) * 1500).alias(S.RANGE_M),
        F.lit("2026-01-01 00:00:00").cast("timestamp").alias(S.VALID_FROM),
        F.lit(None).cast("timestamp").alias(S.VALID_TO),
    )
    zones_df = (
        spark.range(zones)
        .select(
            F.format_string("Z%05d", "id").alias(S.ZONE_ID),
            (F.rand(5) * side_m).alias("x0"),
            (F.rand(6) * side_m).alias("y0"),
            (20 + F.rand(7) * 180).alias("w"),
            (20 + F.rand(8) * 180).alias("h"),
        )
        .select(
            S.ZONE_ID,
            STC.ST_PolygonFromEnvelope("x0", "y0", F.col("x0") + F.col("w"), F.col("y0") + F.col("h")).alias(GEOM),
        )
    )
    footprints_df = with_sector_footprint(cells_df).persist(StorageLevel.MEMORY_AND_DISK)
    zones_df = zones_df.persist(StorageLevel.MEMORY_AND_DISK)
    footprints_df.count(), zones_df.count()
    return footprints_df, zones_df


def naive_overlaps(footprints_df: DataFrame, *, zones_df: DataFrame) -> DataFrame:
    """Return the same rows as with_overlaps, written as a cross join filtered by ST_Intersects."""
    crossed = footprint_side(footprints_df).crossJoin(area_side(zones_df, area_id=S.ZONE_ID))
    return with_weight(crossed.filter(STP.ST_Intersects(FOOTPRINT, AREA_GEOM)), area_id=S.ZONE_ID)


def _timed(spark: SparkSession, df: DataFrame, timeout_s: float) -> tuple[float | None, int, float, str]:
    """Return (seconds or None when cancelled, rows, sum of weights, plan's join node) for one full evaluation."""
    group = f"bench-{time.monotonic_ns()}"
    spark.sparkContext.setJobGroup(group, group, interruptOnCancel=True)
    fired = threading.Event()

    def cancel() -> None:
        fired.set()
        spark.sparkContext.cancelJobGroup(group)

    timer = threading.Timer(timeout_s, cancel)
    started = time.perf_counter()
    timer.start()
    try:
        row = df.agg(F.count("*"), F.sum(S.WEIGHT)).first()
    except Exception:
        if fired.is_set():  # cancelled by the timer: too slow to wait for
            return None, 0, 0.0, ""
        raise
    finally:
        timer.cancel()
    seconds = time.perf_counter() - started
    plan = df._jdf.queryExecution().executedPlan().toString()
    nodes = ("BroadcastIndexJoin", "RangeJoin", "BroadcastNestedLoopJoin", "CartesianProduct")
    node = next((n for n in nodes if n in plan), "?")
    assert row is not None
    return seconds, int(row[0]), float(row[1] or 0.0), node


def bench_join(spark: SparkSession, *, cells: int, zones: int, timeout_s: float) -> dict[str, Any]:
    """Time the Sedona join and the naive one on the same cached inputs; check they agree."""
    # Keep the density of the full size (20,000 cells and 5,000 zones on 30 x 30 km) at every size.
    side_m = 30_000.0 * (cells / 20_000) ** 0.5
    footprints_df, zones_df = synthetic_inputs(spark, cells=cells, zones=zones, side_m=side_m)
    try:
        sedona_df = with_overlaps(footprints_df, areas_df=zones_df, area_id=S.ZONE_ID)
        _timed(spark, sedona_df, timeout_s)  # warm-up: JIT and broadcast of the first run are not the join's cost
        timed_s, rows, total, sedona_node = _timed(spark, sedona_df, timeout_s)
        if timed_s is None:
            raise SystemExit(f"the Sedona join itself took over {timeout_s:.0f} s at {cells} x {zones}")
        sedona_s = timed_s
        spark.conf.set(SEDONA_JOIN_MODE, "none")
        try:
            naive_s, naive_rows, naive_total, naive_node = _timed(
                spark, naive_overlaps(footprints_df, zones_df=zones_df), timeout_s
            )
        finally:
            spark.conf.unset(SEDONA_JOIN_MODE)
    finally:
        footprints_df.unpersist()
        zones_df.unpersist()
    if naive_s is not None:
        assert naive_rows == rows and abs(naive_total - total) < 1e-6 * max(1.0, total), "the two joins disagree"
    result = {
        "cells": cells,
        "zones": zones,
        "pairs": rows,
        "sedona_s": round(sedona_s, 2),
        "sedona_plan": sedona_node,
        "naive_s": None if naive_s is None else round(naive_s, 2),
        "naive_plan": naive_node or f"cancelled after {timeout_s:.0f} s",
        "naive_over_sedona": None if naive_s is None else round(naive_s / sedona_s, 1),
    }
    naive = f"{naive_s:7.1f} s" if naive_s is not None else f"> {timeout_s:.0f} s (cancelled)"
    ratio = f"{naive_s / sedona_s:.1f}x" if naive_s is not None else f"> {timeout_s / sedona_s:.0f}x"
    print(
        f"weights {cells:>6,} cells x {zones:>5,} zones: {rows:>7,} pairs; Sedona {sedona_node} {sedona_s:6.1f} s, "
        f"naive cross join ({naive_node or 'cancelled'}) {naive}; naive/Sedona = {ratio}",
        flush=True,
    )
    return result


def main() -> None:
    """Run both parts and write bench/results/spatial.json."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", type=Path, default=Path("conf/local.yaml"))
    parser.add_argument("--landing", type=Path, help="a generated city (default: the config's landing folder)")
    parser.add_argument("--sizes", nargs="*", default=["2000x500", "20000x5000"], help="CELLSxZONES")
    parser.add_argument("--naive-timeout-s", type=float, default=900.0, help="cancel the naive join after this")
    parser.add_argument("--skip-city", action="store_true", help="only the synthetic join benchmark")
    parser.add_argument("--json", type=Path, default=Path("bench/results/spatial.json"))
    args = parser.parse_args()
    config = load_config(args.config)
    if args.landing is not None:
        config = config.model_copy(update={"landing": args.landing.resolve()})
    spark = get_spark("footfall-bench-spatial")
    scratch = Path(tempfile.mkdtemp(prefix="footfall-bench-spatial-"))
    results: dict[str, Any] = {}
    try:
        if not args.skip_city:
            results["city"] = bench_city(spark, config, scratch)
        results["join"] = [
            bench_join(spark, cells=int(c), zones=int(z), timeout_s=args.naive_timeout_s)
            for c, z in (size.split("x") for size in args.sizes)
        ]
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
