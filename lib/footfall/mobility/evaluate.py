"""`footfall evaluate`: how close the estimates come to the generator's truth (the honest answer to what cells see).

Truth is restricted to the people the pipeline may count (no objectors, no minors), so the comparison measures
the method, not the privacy rules. Figures: median absolute relative error (zone-hours with at least
`min_truth` true visitors), Pearson correlation (all zone-hours), and the share of zone-hours within +-20%,
for resolvable and low-resolution zones apart; dwell quantiles of visits; home-district agreement.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from pathlib import Path
from typing import Any

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from footfall import schemas as S
from footfall.config import Config
from footfall.ingest.pseudonym import MasterKey, period_index, period_keys_df, with_pseudo_id
from footfall.lakehouse import read_table, silver_path, table_exists
from footfall.mobility.calendar import with_local_hours
from footfall.mobility.direction import X_M, Y_M
from footfall.mobility.expected import contributions_expected_hourly
from footfall.mobility.job import with_metric_centroid
from footfall.synth.truth import agg_zone_hourly, slots_frame

EST = "estimated"
TRUE = "truth"
CATEGORIES = ("mall", "shopping_street", "market_square", "store_front")
QUARTILES = [0.25, 0.5, 0.75]


def _dwell_quartiles(true_df: DataFrame, est_df: DataFrame) -> dict[str, list[float] | None]:
    """Quartiles of visit dwell (column d), truth and estimate, and the estimate's relative error at each."""
    truth = [float(v) for v in true_df.approxQuantile("d", QUARTILES, 0.001)]
    est = [float(v) for v in est_df.approxQuantile("d", QUARTILES, 0.001)]
    errors = [round(e / t - 1, 4) for e, t in zip(est, truth, strict=True)] if truth and est else None
    return {TRUE: truth or None, EST: est or None, "relative_error": errors}


def _zone_errors(compared_df: DataFrame, *, min_truth: int) -> dict[str, dict[str, float | int | str]]:
    """Per zone: its category, MdARE and share within 20 % over zone-hours with at least min_truth true visitors."""
    rel = F.abs(F.col(EST) - F.col(TRUE)) / F.col(TRUE)
    rows = (
        compared_df.where(F.col(TRUE) >= min_truth)
        .groupBy(S.ZONE_ID, S.CATEGORY)
        .agg(
            F.percentile_approx(rel, 0.5, 10_000).alias("mdare"),
            F.avg(F.when(rel <= 0.2, 1.0).otherwise(0.0)).alias("within_20pct"),
            F.count(F.lit(1)).alias("zone_hours"),
        )
        .orderBy(S.ZONE_ID)
        .collect()
    )
    return {
        r[S.ZONE_ID]: {
            "category": r[S.CATEGORY],
            "median_abs_rel_error": round(float(r["mdare"]), 4),
            "share_within_20pct": round(float(r["within_20pct"]), 4),
            "zone_hours_compared": int(r["zone_hours"]),
        }
        for r in rows
    }


def agg_estimated_hourly(stays_df: DataFrame, *, tz: str) -> DataFrame:
    """Return zone_id, hour_start_utc, estimated visitors: distinct devices with a visit, as gold counts them.

    Every model's stays count once per device, whatever their presence_weight: that is what gold publishes
    (publish/hourly.py). Until stop 22 the weighted model was evaluated on expected values, which gold never used.
    """
    visits = with_local_hours(stays_df.where(F.col(S.IS_VISIT)), tz=tz)
    return visits.groupBy(S.ZONE_ID, S.HOUR_START_UTC).agg(F.count_distinct(S.PSEUDO_ID).cast("double").alias(EST))


def agg_expected_hourly(stays_df: DataFrame, *, tz: str) -> DataFrame:
    """Return zone_id, hour_start_utc, expected visitors: each device counts with the largest presence_weight of its
    visits in the hour. Gold does not publish this (yet): it measures what expected counts would give."""
    per_device = (
        with_local_hours(stays_df.where(F.col(S.IS_VISIT)), tz=tz)
        .groupBy(S.ZONE_ID, S.HOUR_START_UTC, S.PSEUDO_ID)
        .agg(F.max(S.PRESENCE_WEIGHT).alias("w"))
    )
    return per_device.groupBy(S.ZONE_ID, S.HOUR_START_UTC).agg(F.sum("w").alias(EST))


def _expected_visitors_errors(
    spark: SparkSession, config: Config, *, true_hourly: DataFrame, zones: DataFrame, dates: list[dt.date]
) -> dict[str, Any]:
    """Return, per category of `posterior.expected.categories`, the error of the expected visitors gold publishes
    (silver/expected_visits summed per zone-hour, before k and rounding); empty when there are none."""
    path = silver_path(config.lakehouse, S.SILVER_EXPECTED_VISITS_TABLE)
    categories = config.mobility.posterior.expected.categories
    if config.mobility.presence_model != "posterior" or not categories or not table_exists(spark, path):
        return {}
    visits = read_table(spark, path).where(F.col(S.DATE).cast("string").isin([d.isoformat() for d in dates]))
    estimated = (
        contributions_expected_hourly(visits, tz=config.timezone)
        .groupBy(S.ZONE_ID, S.HOUR_START_UTC)
        .agg(F.sum(S.PRESENCE_WEIGHT).alias(EST))
    )
    compared = (
        true_hourly.join(estimated, on=[S.ZONE_ID, S.HOUR_START_UTC], how="left")
        .fillna(0.0, subset=[EST])
        .join(F.broadcast(zones.select(S.ZONE_ID, S.CATEGORY)), on=S.ZONE_ID, how="inner")
    )
    figures: dict[str, Any] = {}
    for c in categories:
        in_category = compared.where(F.col(S.CATEGORY) == c)
        at_k = agg_error_figures_at_k(in_category, k=config.publish.k)
        figures[c] = agg_error_figures(in_category, min_truth=5) | {"at_k": at_k}
    return figures


def agg_error_figures(compared_df: DataFrame, *, min_truth: int) -> dict[str, float | int]:
    """Return MdARE, correlation and the share within 20% from (estimated, truth) per zone-hour."""
    busy = F.col(TRUE) >= min_truth
    rel = F.abs(F.col(EST) - F.col(TRUE)) / F.col(TRUE)  # only where busy: a zone-hour with no true visitor has none
    # One aggregation, one Spark job (it was three: the figures, the spreads, then corr). The correlation is the
    # covariance over the two standard deviations, divided here: an estimate that is 0 everywhere (a zone never seen)
    # has no spread, and corr's own division by it raised DIVIDE_BY_ZERO under ANSI mode.
    row = compared_df.agg(
        F.percentile_approx(F.when(busy, rel), 0.5, 10_000).alias("mdare"),
        F.avg(F.when(busy, F.when(rel <= 0.2, 1.0).otherwise(0.0))).alias("within_20pct"),
        F.count(F.when(busy, 1)).alias("zone_hours"),
        F.stddev_pop(EST).alias("sd_est"),
        F.stddev_pop(TRUE).alias("sd_true"),
        F.covar_pop(EST, TRUE).alias("cov"),
    ).first()
    assert row is not None
    flat = not row["sd_est"] or not row["sd_true"]
    corr = None if flat else float(row["cov"]) / (float(row["sd_est"]) * float(row["sd_true"]))
    return {
        "zone_hours_compared": int(row["zone_hours"]),
        "median_abs_rel_error": round(float(row["mdare"]), 4) if row["mdare"] is not None else float("nan"),
        "share_within_20pct": round(float(row["within_20pct"]), 4) if row["within_20pct"] is not None else 0.0,
        "correlation": round(corr, 4) if corr is not None else float("nan"),
    }


def countable_people(spark: SparkSession, landing: Path, *, first_day: dt.date, min_age: int) -> DataFrame:
    """Return the msisdns the pipeline may count: no objection, not a minor (as ingest decides)."""
    subs = spark.read.schema(S.LANDING_SUBSCRIBERS).option("header", True).csv(str(landing / "subscribers.csv"))
    age = F.lit(first_day.year) - F.col(S.BIRTH_YEAR)
    return subs.where(~F.col(S.OPTED_OUT) & (F.col(S.BIRTH_YEAR).isNull() | (age >= min_age))).select(S.MSISDN)


def agg_error_figures_at_k(compared_df: DataFrame, *, k: int) -> dict[str, float | int]:
    """Return the error of the zone-hours gold would publish: those whose estimate reaches k.

    The matrix's MdARE is taken over zone-hours with at least 5 true visitors, most of which an expected value below k
    keeps out of gold. What a buyer reads is the rest: here a zone-hour counts when its estimate is at least k, and a
    published estimate with no true visitor behind it counts with its full size as error (the truth is floored at 1),
    so overcounts in empty hours are not dropped from the median. `busy_published` is the share of zone-hours with at
    least k true visitors whose estimate reaches k.
    """
    rel = F.abs(F.col(EST) - F.col(TRUE)) / F.greatest(F.col(TRUE), F.lit(1.0))
    row = (
        compared_df.agg(
            F.count(F.when(F.col(EST) >= k, 1)).alias("published"),
            F.percentile_approx(F.when(F.col(EST) >= k, rel), 0.5, 10_000).alias("mdare"),
            F.avg(F.when(F.col(EST) >= k, F.when(rel <= 0.2, 1.0).otherwise(0.0))).alias("within_20pct"),
            F.avg(F.when(F.col(TRUE) >= k, F.when(F.col(EST) >= k, 1.0).otherwise(0.0))).alias("busy_published"),
        )
    ).first()
    assert row is not None
    return {
        "k": k,
        "zone_hours_published": int(row["published"]),
        "median_abs_rel_error": round(float(row["mdare"]), 4) if row["mdare"] is not None else float("nan"),
        "share_within_20pct": round(float(row["within_20pct"]), 4) if row["within_20pct"] is not None else 0.0,
        "busy_published": round(float(row["busy_published"]), 4) if row["busy_published"] is not None else 0.0,
    }


def run_evaluate(
    spark: SparkSession, config: Config, *, truth: Path, dates: list[dt.date], key: MasterKey, out: Path | None
) -> dict[str, Any]:
    """Compare silver stays and homes with the truth under `truth` (a generator output folder)."""
    tz = config.timezone
    people = countable_people(spark, truth, first_day=dates[0], min_age=config.privacy.age_bands[0])
    visits = spark.read.parquet(str(truth / "truth" / "visits.parquet")).join(people, on=S.MSISDN, how="left_semi")
    zones = read_table(spark, silver_path(config.lakehouse, S.SILVER_ZONE_RESOLUTION_TABLE))
    true_hourly = agg_zone_hourly(
        visits, slots_frame(spark, dates, tz), zones.select(S.ZONE_ID), min_visit_s=config.mobility.min_visit_s
    ).select(S.ZONE_ID, S.HOUR_START_UTC, F.col(S.VISITORS).alias(TRUE))
    stays = read_table(spark, silver_path(config.lakehouse, S.SILVER_STAYS_TABLE)).where(
        F.col(S.DATE).cast("string").isin([d.isoformat() for d in dates])
    )
    compared = (
        true_hourly.join(agg_estimated_hourly(stays, tz=tz), on=[S.ZONE_ID, S.HOUR_START_UTC], how="left")
        .fillna(0.0, subset=[EST])
        .join(F.broadcast(zones.select(S.ZONE_ID, S.CATEGORY, S.IS_LOW_RESOLUTION)), on=S.ZONE_ID, how="inner")
        .cache()
    )
    figures: dict[str, Any] = {
        "presence_model": config.mobility.presence_model,
        "footprint_model": config.spatial.footprint_model,
        "dates": [d.isoformat() for d in dates],
        "hourly_visitors": {
            "resolvable_zones": agg_error_figures(compared.where(~F.col(S.IS_LOW_RESOLUTION)), min_truth=5),
            "low_resolution_zones": agg_error_figures(compared.where(F.col(S.IS_LOW_RESOLUTION)), min_truth=5),
        },
    }
    min_visit = config.mobility.min_visit_s
    true_visits = visits.where(F.unix_timestamp(S.LEFT_AT) - F.unix_timestamp(S.ENTERED_AT) >= min_visit).withColumn(
        "d", F.unix_timestamp(S.LEFT_AT) - F.unix_timestamp(S.ENTERED_AT)
    )
    est_visits = stays.where(F.col(S.IS_VISIT)).withColumn("d", F.col(S.DWELL_S))
    figures["dwell_s_quantiles"] = _dwell_quartiles(true_visits, est_visits)
    figures["arrival_direction"] = _direction_agreement(true_visits, est_visits)
    by_category: dict[str, Any] = {}
    for category in CATEGORIES:
        ids = [r[S.ZONE_ID] for r in zones.where(F.col(S.CATEGORY) == category).select(S.ZONE_ID).collect()]
        in_zones = F.col(S.ZONE_ID).isin(ids)
        by_category[category] = {
            "zones": len(ids),
            "hourly_visitors": agg_error_figures(compared.where(F.col(S.CATEGORY) == category), min_truth=5),
            "dwell_s_quantiles": _dwell_quartiles(true_visits.where(in_zones), est_visits.where(in_zones)),
            "arrival_direction": _direction_agreement(true_visits.where(in_zones), est_visits.where(in_zones)),
        }
    expected = (
        true_hourly.join(agg_expected_hourly(stays, tz=tz), on=[S.ZONE_ID, S.HOUR_START_UTC], how="left")
        .fillna(0.0, subset=[EST])
        .join(F.broadcast(zones.select(S.ZONE_ID, S.CATEGORY)), on=S.ZONE_ID, how="inner")
    )
    for category in CATEGORIES:
        in_category = expected.where(F.col(S.CATEGORY) == category)
        by_category[category]["hourly_visitors_expected"] = agg_error_figures(in_category, min_truth=5)
        by_category[category]["hourly_visitors_expected_at_k"] = agg_error_figures_at_k(in_category, k=config.publish.k)
    figures["by_category"] = by_category
    figures["expected_visitors"] = _expected_visitors_errors(
        spark, config, true_hourly=true_hourly, zones=zones, dates=dates
    )
    figures["by_zone"] = _zone_errors(compared, min_truth=5)
    measured = _measured_resolution(spark, config, visits=visits, stays=stays, dates=dates, key=key)
    figures["measured_resolution"] = measured
    figures["nearest_resolvable_zone"] = _nearest_resolvable(spark, config, resolution_df=zones)
    model_scores = {r[S.ZONE_ID]: r[S.RESOLUTION_SCORE] for r in zones.select(S.ZONE_ID, S.RESOLUTION_SCORE).collect()}
    for zone_id, row in figures["by_zone"].items():
        row["resolution_score"] = round(float(model_scores.get(zone_id, 0.0)), 4)
        row["measured_resolution"] = measured.get(zone_id)
    curves = compared.select(S.ZONE_ID, S.HOUR_START_UTC, TRUE, EST).join(
        expected.select(S.ZONE_ID, S.HOUR_START_UTC, F.col(EST).alias("expected")),
        on=[S.ZONE_ID, S.HOUR_START_UTC],
        how="left",
    )
    figures["hourly_curves"] = [
        {
            S.ZONE_ID: r[S.ZONE_ID],
            S.HOUR_START_UTC: r[S.HOUR_START_UTC].isoformat(),
            TRUE: r[TRUE],
            EST: r[EST],
            "expected": r["expected"],
        }
        for r in curves.orderBy(S.ZONE_ID, S.HOUR_START_UTC).collect()
    ]
    figures["home_district"] = _home_agreement(spark, config, truth=truth, dates=dates, key=key)
    compared.unpersist()
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(figures, indent=2) + "\n")
    return figures


def _nearest_resolvable(spark: SparkSession, config: Config, *, resolution_df: DataFrame) -> dict[str, dict[str, Any]]:
    """Per zone that is not resolvable, the nearest resolvable zone and the distance between their centroids (m):
    what a retailer can buy instead of a store front no cell can resolve."""
    zones = with_metric_centroid(
        read_table(spark, silver_path(config.lakehouse, S.SILVER_ZONES_TABLE)),
        wkb_col=S.GEOMETRY_WKB,
        metric_crs=config.spatial.metric_crs,
    ).join(resolution_df.select(S.ZONE_ID, S.IS_LOW_RESOLUTION), on=S.ZONE_ID, how="inner")
    rows = zones.select(S.ZONE_ID, X_M, Y_M, S.IS_LOW_RESOLUTION).collect()
    resolvable = [r for r in rows if not r[S.IS_LOW_RESOLUTION]]
    nearest: dict[str, dict[str, Any]] = {}
    for r in rows:
        if not r[S.IS_LOW_RESOLUTION] or not resolvable:
            continue
        best = min(resolvable, key=lambda o: math.hypot(o[X_M] - r[X_M], o[Y_M] - r[Y_M]))
        distance = math.hypot(best[X_M] - r[X_M], best[Y_M] - r[Y_M])
        nearest[r[S.ZONE_ID]] = {S.ZONE_ID: best[S.ZONE_ID], "distance_m": round(distance)}
    return nearest


def _measured_resolution(
    spark: SparkSession, config: Config, *, visits: DataFrame, stays: DataFrame, dates: list[dt.date], key: MasterKey
) -> dict[str, float]:
    """Per zone, the share of its estimated visitor-hours whose device really was in the zone in that hour.

    The resolution score measured against the truth: the same question the model score answers from the coverage
    model alone ("how much of the estimate comes from people really inside?"). Truth counts any stay, pass-bys too.
    """
    tz, period_days = config.timezone, config.privacy.pseudonym_period_days
    keys = period_keys_df(
        spark,
        key=key,
        periods={period_index(d, period_days=period_days) for d in dates}
        | {period_index(d + dt.timedelta(days=1), period_days=period_days) for d in dates},
    )
    truth = (
        with_local_hours(visits, tz=tz)
        .transform(with_pseudo_id, keys_df=keys, period_days=period_days, date_col=S.DATE)
        .select(S.PSEUDO_ID, S.ZONE_ID, S.HOUR_START_UTC)
        .distinct()
        .withColumn("_inside", F.lit(1))
    )
    estimated = (
        with_local_hours(stays.where(F.col(S.IS_VISIT)), tz=tz)
        .select(S.PSEUDO_ID, S.ZONE_ID, S.HOUR_START_UTC)
        .distinct()
    )
    rows = (
        estimated.join(truth, on=[S.PSEUDO_ID, S.ZONE_ID, S.HOUR_START_UTC], how="left")
        .groupBy(S.ZONE_ID)
        .agg(F.avg(F.coalesce(F.col("_inside"), F.lit(0))).alias("_share"))
        .collect()
    )
    return {r[S.ZONE_ID]: round(float(r["_share"]), 4) for r in rows}


def _home_agreement(
    spark: SparkSession, config: Config, *, truth: Path, dates: list[dt.date], key: MasterKey
) -> dict[str, float | int]:
    """Share of devices whose estimated home equals the true home, and the customer master's agreement."""
    period_days = config.privacy.pseudonym_period_days
    # homes are per date, voted by the nights before it: the last date has seen the most nights
    last = max(dates)
    keys = period_keys_df(spark, key=key, periods={period_index(last, period_days=period_days)})
    homes = spark.read.option("header", True).csv(str(truth / "truth" / "homes.csv"))
    subs = spark.read.schema(S.LANDING_SUBSCRIBERS).option("header", True).csv(str(truth / "subscribers.csv"))
    joined = (
        homes.withColumnRenamed(S.HOME_DISTRICT_ID, "true_home")
        .join(subs.select(S.MSISDN, F.col(S.HOME_DISTRICT_ID).alias("master_home")), on=S.MSISDN, how="inner")
        .withColumn(S.DATE, F.lit(last))
        .transform(with_pseudo_id, keys_df=keys, period_days=period_days, date_col=S.DATE)
        .join(
            read_table(spark, silver_path(config.lakehouse, S.SILVER_DEVICE_HOME_TABLE)),
            on=[S.PSEUDO_ID, S.DATE],
            how="inner",
        )
    )
    row = joined.agg(
        F.count(F.lit(1)).alias("devices"),
        F.avg(F.when(F.col(S.HOME_DISTRICT_ID) != "unknown", 1.0).otherwise(0.0)).alias("known"),
        F.avg(F.when(F.col(S.HOME_DISTRICT_ID) == F.col("true_home"), 1.0).otherwise(0.0)).alias("est_true"),
        F.avg(F.when(F.col(S.HOME_DISTRICT_ID) == F.col("master_home"), 1.0).otherwise(0.0)).alias("est_master"),
        F.avg(F.when(F.col("master_home") == F.col("true_home"), 1.0).otherwise(0.0)).alias("master_true"),
    ).first()
    assert row is not None
    return {k: (round(float(row[k]), 4) if k != "devices" else int(row[k])) for k in row.asDict()}


def _direction_shares(visits_df: DataFrame, *, name: str) -> DataFrame:
    known = visits_df.where(F.col(S.ARRIVAL_DIRECTION) != "unknown")
    per_zone = known.groupBy(S.ZONE_ID).agg(F.count(F.lit(1)).alias("_n"))
    return (
        known.groupBy(S.ZONE_ID, S.ARRIVAL_DIRECTION)
        .agg(F.count(F.lit(1)).alias("_k"))
        .join(per_zone, on=S.ZONE_ID, how="inner")
        .select(S.ZONE_ID, S.ARRIVAL_DIRECTION, (F.col("_k") / F.col("_n")).alias(name))
    )


def _direction_agreement(true_visits_df: DataFrame, est_visits_df: DataFrame) -> dict[str, float]:
    """Compare per zone the distribution of arrival octants: mean total variation distance (0 same, 1 disjoint)."""
    shares = (
        _direction_shares(true_visits_df, name=TRUE)
        .join(_direction_shares(est_visits_df, name=EST), on=[S.ZONE_ID, S.ARRIVAL_DIRECTION], how="full_outer")
        .fillna(0.0, subset=[TRUE, EST])
    )
    tvd = shares.groupBy(S.ZONE_ID).agg((F.sum(F.abs(F.col(TRUE) - F.col(EST))) / 2).alias("tvd"))
    known = lambda df: df.agg(F.avg(F.when(F.col(S.ARRIVAL_DIRECTION) != "unknown", 1.0).otherwise(0.0))).first()[0]  # noqa: E731
    row = tvd.agg(F.avg("tvd"), F.count(F.lit(1))).first()
    assert row is not None
    return {
        "zones": int(row[1]),
        "mean_total_variation_distance": round(float(row[0] or 0.0), 4),
        "share_known_truth": round(float(known(true_visits_df) or 0.0), 4),
        "share_known_estimated": round(float(known(est_visits_df) or 0.0), 4),
    }
