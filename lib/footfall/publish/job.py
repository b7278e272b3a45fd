"""The publish job: silver in, disclosure control, validation, and only then the gold tables (write-audit-publish).

1. stage every gold table for the run's dates (and their ISO weeks), materialised once so that what is
   validated is exactly what is written (noise included);
2. validate each with its Great Expectations suite; write the results to <lakehouse>/quality/;
3. only when every table passed, replace the run's partitions of each gold table (replaceWhere), each commit
   carrying userMetadata; drop the history of tables whose partitions were rewritten; register the tables.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial, reduce
from pathlib import Path
from typing import Any

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from footfall import __version__
from footfall import schemas as S
from footfall.config import Config
from footfall.lakehouse import (
    GOLD_TABLES,
    PUBLICATIONS,
    QUALITY_TABLES,
    commit_metadata,
    data_version,
    ensure_table,
    gold_dates,
    gold_path,
    read_arrow,
    read_rows,
    read_table,
    run_together,
    silver_path,
    table_exists,
    table_version,
    write,
)
from footfall.mobility.calendar import iso_week, iso_week_dates
from footfall.mobility.expected import expected_zone_ids
from footfall.mobility.windows import stay_dates
from footfall.privacy.disclosure import WITHIN_ROW_REASONS, suppression_outcomes
from footfall.privacy.extrapolation import agg_device_weights
from footfall.privacy.nesting import nested_zones_for_model
from footfall.privacy.noise import agg_privacy_ledger
from footfall.privacy.suppression import SUPPRESSION
from footfall.publish.gold import register_gold
from footfall.publish.publications import (
    finish_history_drop,
    next_sequence,
    publication_df,
    published_dates,
)
from footfall.publish.staging import SilverInputs, select_publishable, stage_gold
from footfall.stage import Built, Output, Stage, run_metadata, run_stage, silver

STAGE = Stage(
    name="publish",
    inputs=silver(
        S.SILVER_STAYS_TABLE,
        S.SILVER_SUBSCRIBERS_TABLE,
        S.SILVER_DEVICE_HOME_TABLE,
        S.SILVER_REPEAT_VISITS_TABLE,
        S.SILVER_ZONE_TRANSITIONS_TABLE,
        S.SILVER_ZONES_TABLE,
        S.SILVER_ZONE_RESOLUTION_TABLE,
        S.SILVER_MARKET_SHARE_TABLE,
        S.SILVER_CELL_ZONE_WEIGHTS_TABLE,
        S.SILVER_TILE_ZONES_TABLE,
    ),
    optional_inputs=silver(S.SILVER_EXPECTED_VISITS_TABLE),  # a lakehouse whose mobility predates them lacks it
    outputs=(*GOLD_TABLES.values(), PUBLICATIONS),
    # the publication's row names the versions of every gold table: from its commit on, readers see them together
    marker=PUBLICATIONS,
)
# The silver tables whose versions each gold commit records, so a published number can be traced to its inputs.
# Not tile_zones: spatial rewrites it with cell_zone_weights, whose version is recorded, and leaving it out keeps
# the fingerprints of earlier publications (a republication would spend privacy budget again under noise).
TRACED = tuple(t for t in (*STAGE.inputs, *STAGE.optional_inputs) if t.name != S.SILVER_TILE_ZONES_TABLE)


class PublishValidationError(RuntimeError):
    """A staged gold table failed its expectations: nothing was published. The message says where results are."""


@dataclass(frozen=True)
class PublishReport:
    """What a publish run validated and wrote: rows and suppressed cells per table, Delta versions."""

    run_id: str
    dates: tuple[str, ...]
    weeks: tuple[str, ...]
    rows: dict[str, int]
    suppressed: dict[str, dict[str, int]]  # table -> {"published", "primary", "secondary", "nested", ...} cells
    versions: dict[str, int]
    history_dropped: tuple[str, ...]
    registered: tuple[str, ...]
    quality_dir: str
    withheld_zones: tuple[str, ...] = field(default=())  # not resolvable by their cells (nested, expected aside)
    expected_zones: tuple[str, ...] = field(default=())  # publishing expected visitors instead of counts
    nested_zones: dict[str, str] = field(default_factory=dict)  # inner zone -> a zone it is nested in
    incomplete_weeks: tuple[str, ...] = field(default=())  # weeks of the dates not published: no Sunday yet
    skipped: bool = False


# Where things live and how the demo city is generated change nothing in gold (landing's content reaches the
# fingerprint through silver's versions): a moved lakehouse, or a catalog switched on, must not republish.
_NOT_IN_CONFIG_HASH: dict[str, Any] = {
    "landing": True,
    "lakehouse": True,
    "catalog": True,
    "demo": True,
    "guards": True,  # when a run stops, not what gold holds
    "privacy": {"pseudonym_key_file", "dpo_approved"},  # a sign-off changes no number (it is in the metadata)
}


def config_hash(config: Config) -> str:
    """Return a short, stable hash of the settings gold depends on, for the gold commits' metadata."""
    return hashlib.sha256(config.model_dump_json(exclude=_NOT_IN_CONFIG_HASH).encode()).hexdigest()[:16]


def _silver(spark: SparkSession, lakehouse: Path, table: str) -> DataFrame:
    return read_table(spark, silver_path(lakehouse, table))


def read_silver_inputs(
    spark: SparkSession, config: Config, *, dates: Sequence[dt.date], weeks: Sequence[str] = ()
) -> SilverInputs:
    """Return the silver frames a publish run of `dates` and `weeks` needs: stays of the dates and of every day of
    the weeks (the nesting check compares a week with its days), each with the day before (overnight visits)."""
    lh = config.lakehouse
    stay_days = stay_dates(sorted({*dates, *(d for w in weeks for d in iso_week_dates(w))}))
    return SilverInputs(
        stays_df=_silver(spark, lh, S.SILVER_STAYS_TABLE).where(F.col(S.DATE).isin(stay_days)),
        subscribers_df=_silver(spark, lh, S.SILVER_SUBSCRIBERS_TABLE),
        home_df=_silver(spark, lh, S.SILVER_DEVICE_HOME_TABLE).where(F.col(S.DATE).isin(list(dates))),
        repeat_df=_silver(spark, lh, S.SILVER_REPEAT_VISITS_TABLE),
        transitions_df=_silver(spark, lh, S.SILVER_ZONE_TRANSITIONS_TABLE).where(
            F.col(S.DATE).cast("string").isin([d.isoformat() for d in dates])
        ),
        zones_df=_silver(spark, lh, S.SILVER_ZONES_TABLE),
        resolution_df=_silver(spark, lh, S.SILVER_ZONE_RESOLUTION_TABLE),
        market_share_df=_silver(spark, lh, S.SILVER_MARKET_SHARE_TABLE),
        expected_visits_df=_silver(spark, lh, S.SILVER_EXPECTED_VISITS_TABLE).where(F.col(S.DATE).isin(stay_days))
        if table_exists(spark, silver_path(lh, S.SILVER_EXPECTED_VISITS_TABLE))
        else spark.createDataFrame([], S.SILVER_EXPECTED_VISITS),  # a lakehouse whose mobility predates them
    )


def _input_versions(spark: SparkSession, lakehouse: Path) -> dict[str, int | None]:
    return {t.name: data_version(spark, t.path(lakehouse)) for t in TRACED}


def publish_fingerprint(spark: SparkSession, config: Config) -> str:
    """Return a hash of what gold is built from: silver versions, the config and the code."""
    settings = {
        "versions": _input_versions(spark, config.lakehouse),
        "config": config_hash(config),
        "code": __version__,
    }
    return hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:32]


def complete_weeks(dates: Sequence[dt.date], *, published: set[str]) -> tuple[str, ...]:
    """Return the ISO weeks of `dates` whose Sunday is one of `dates` or was published before (gold holds it).

    A week is published once it is complete: a daily run of Tuesday does not rewrite a week that gained only
    Tuesday's visitors, which yesterday's copy against today's would give away. A week is rewritten afterwards
    only when one of its dates is run again (an objection, late data).
    """
    days = {d.isoformat() for d in dates}
    weeks = {iso_week(d) for d in dates}
    return tuple(
        sorted(w for w in weeks if (sunday := iso_week_dates(w)[-1].isoformat()) in days or sunday in published)
    )


@dataclass(frozen=True)
class PublishableZones:
    """Which zones publish what: all zones, those with counts, those with expected visitors, and the nested ones."""

    all: list[str]
    counted: list[str]
    expected: list[str]
    nested: dict[str, str]  # inner zone -> a zone it is nested in; withheld from every table


def publishable_zones(spark: SparkSession, config: Config) -> PublishableZones:
    """Return which zones publish counts and which expected visitors.

    A zone publishes counts when its cells resolve it (or `include_low_resolution`) and it is not nested in another
    such zone, in the sense of the presence model (privacy/nesting.py). A zone of the expected categories
    (mobility.posterior.expected) that does not publish counts publishes expected visitors, unless it is nested in a
    zone that publishes either: its people would be a subset of that zone's.

    The spatial stage's small tables decide it, read by the driver (no Spark job when the lakehouse is local): it
    took 30 Spark jobs as joins in Spark (make bench, stop 44).
    """
    lh, m = config.lakehouse, config.mobility
    zones = read_rows(spark, silver_path(lh, S.SILVER_ZONES_TABLE), columns=[S.ZONE_ID, S.CATEGORY])
    resolution = read_rows(
        spark, silver_path(lh, S.SILVER_ZONE_RESOLUTION_TABLE), columns=[S.ZONE_ID, S.IS_LOW_RESOLUTION]
    )
    low = {r[S.ZONE_ID]: r[S.IS_LOW_RESOLUTION] for r in resolution}
    all_ids = sorted(r[S.ZONE_ID] for r in zones)
    candidates = all_ids if config.publish.include_low_resolution else [z for z in all_ids if low.get(z) is False]
    weights = read_arrow(spark, silver_path(lh, S.SILVER_CELL_ZONE_WEIGHTS_TABLE)).to_pandas()
    tile_zones = read_arrow(spark, silver_path(lh, S.SILVER_TILE_ZONES_TABLE)).to_pandas()

    def nesting(model: str, zone_ids: Sequence[str]) -> dict[str, str]:
        return nested_zones_for_model(
            model=model, min_weight=m.min_weight, weights=weights, tile_zones=tile_zones, zone_ids=zone_ids
        )

    nested = nesting(m.presence_model, candidates)
    counted = [z for z in candidates if z not in nested]
    categories = [(r[S.ZONE_ID], r[S.CATEGORY]) for r in zones]
    expected_candidates = [z for z in expected_zone_ids(categories, settings=m) if z not in candidates]
    if expected_candidates:
        # expected visitors come from the posterior on tiles: nesting by tile shares, against every published zone
        nested |= {
            z: outer
            for z, outer in nesting("posterior", [*counted, *expected_candidates]).items()
            if z in expected_candidates
        }
    expected = [z for z in expected_candidates if z not in nested]
    return PublishableZones(all_ids, counted, expected, nested)


def suppression_counts(marked: Mapping[str, DataFrame]) -> dict[str, dict[str, int]]:
    """Return per table how many values were published and how many withheld for each reason.

    One Spark job for all tables: the marked frames are checkpoints, so their outcomes come back as one narrow
    column that the driver counts (a groupBy per table took 14 jobs; make bench, stop 44).
    """
    keys = ("published", "primary", "secondary", "nested", *WITHIN_ROW_REASONS)
    counts = {table: dict.fromkeys(keys, 0) for table in marked}
    frames = [suppression_outcomes(df).select(F.lit(t).alias("table"), SUPPRESSION) for t, df in marked.items()]
    if frames:
        outcomes = reduce(DataFrame.unionByName, frames).toArrow().to_pandas()
        for (table, reason), cells in outcomes.fillna({SUPPRESSION: "published"}).value_counts().items():
            counts[table][reason] += int(cells)
    return counts


def max_device_weight(inputs: SilverInputs) -> float:
    """Return the largest weight a device extrapolates to (1.0 when no device has a home): noise's sensitivity."""
    top = agg_device_weights(inputs.home_df, market_share_df=inputs.market_share_df).agg(F.max(S.WEIGHT)).first()
    return float(top[0]) if top is not None and top[0] is not None else 1.0


@dataclass(frozen=True)
class PublishInputs:
    """What a publish run reads: the silver frames of its dates and weeks, which zones publish what, and (noise on)
    the largest device weight."""

    silver: SilverInputs
    zones: PublishableZones
    max_weight: float | None


def read_publish(
    spark: SparkSession, config: Config, *, dates: Sequence[dt.date], weeks: Sequence[str]
) -> PublishInputs:
    """Return the silver inputs of a publish run and what it decides from them before staging."""
    inputs = read_silver_inputs(spark, config, dates=dates, weeks=weeks)
    noise_on = config.publish.noise.mechanism != "none"
    return PublishInputs(
        silver=inputs,
        zones=publishable_zones(spark, config),
        max_weight=max_device_weight(inputs) if noise_on else None,
    )


@dataclass(frozen=True)
class PublishBuild:
    """The staged gold tables: the marked cells (materialised) and what each publishes, with its partitions."""

    marked: dict[str, DataFrame]
    published: dict[str, DataFrame]
    partitions: dict[str, list[str]]
    zones: PublishableZones


def build_publish(
    inputs: PublishInputs, config: Config, *, dates: Sequence[str], weeks: Sequence[str], salt: str
) -> PublishBuild:
    """Return every gold table of the run, disclosure control applied (publish/staging.py: pure)."""
    publish = config.publish
    staged = stage_gold(
        inputs.silver,
        publish=publish,
        tz=config.timezone,
        dates=dates,
        weeks=weeks,
        published_zone_ids=inputs.zones.counted,
        expected_zone_ids=inputs.zones.expected,
        salt=salt,
        max_weight=inputs.max_weight,
        # six tables derive from the device zone-days, four from the zone-day totals: their shuffles, once each
        shared=lambda df: df.localCheckpoint(eager=True),
    )
    # Materialise once: noise is random, and what the suites pass must be the very rows that are written. In threads
    # (run_together): each is a few small jobs behind a long plan, and one at a time they left a core idle
    # (make bench, one new day: 9 s of 24).
    checkpoint = {t: partial(s.marked_df.localCheckpoint, eager=True) for t, s in staged.items()}
    marked = run_together(inputs.silver.stays_df.sparkSession, checkpoint)
    published = {t: select_publishable(t, df, mode=publish.suppression_mode) for t, df in marked.items()}
    partitions = {t: list(s.partition_values) for t, s in staged.items()}
    return PublishBuild(marked, published, partitions, inputs.zones)


def validate_gold(
    spark: SparkSession, build: PublishBuild, *, config: Config, run_id: str, run_at: dt.datetime
) -> dict[str, Any]:
    """Validate every staged gold table with its suite, record the results (quality/) and return them per table;
    raise PublishValidationError when any table fails, before anything is published."""
    # imported here: Great Expectations takes 3 s to import, which a run that skips publish need not pay
    from footfall.quality.runner import agg_validation_runs, validate_staged, write_quality_report

    lh, partitions = config.lakehouse, build.partitions
    validations = validate_staged(build.published, k=config.publish.k, zone_ids=build.zones.all, partitions=partitions)
    quality_dir = lh / S.QUALITY
    result_paths = write_quality_report(validations, quality_dir=quality_dir, run_id=run_id, run_at=run_at)
    runs_df = agg_validation_runs(
        spark, validations, run_id=run_id, run_at=run_at, partitions=partitions, result_paths=result_paths
    )
    write(runs_df, QUALITY_TABLES[S.QUALITY_VALIDATION_RUNS_TABLE], lh, append=True)
    failed = {t: v.failed for t, v in validations.items() if not v.success}
    if failed:
        detail = "; ".join(f"{t}: {', '.join(f)}" for t, f in sorted(failed.items()))
        raise PublishValidationError(
            f"gold validation failed, nothing published ({detail}); results in {quality_dir}/results/{run_id}"
        )
    return validations


def run_publish(
    spark: SparkSession,
    config: Config,
    *,
    dates: Sequence[dt.date],
    run_id: str | None = None,
    force: bool = False,
) -> PublishReport:
    """Stage, validate and publish the gold tables for `dates`; raise PublishValidationError if any table fails.

    Skipped (nothing written, `skipped` set) when gold of the dates was built from the same inputs, unless `force`.
    Raise MissingInputError when a silver table it reads is missing.
    """
    run_id = run_id or uuid.uuid4().hex
    run_at = dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)
    lh, publish = config.lakehouse, config.publish
    date_strs = tuple(sorted({d.isoformat() for d in dates}))
    fingerprint = publish_fingerprint(spark, config)
    fingerprints = dict.fromkeys(date_strs, fingerprint)
    # before any gold write: a run killed after its publication landed left that publication's old files behind
    finish_history_drop(spark, lh)
    weeks = complete_weeks(dates, published={d.isoformat() for d in gold_dates(spark, lh)})
    metadata = {
        "run_id": run_id,
        "config_hash": config_hash(config),
        "k": publish.k,
        "suppression_mode": publish.suppression_mode,
        "noise": publish.noise.mechanism,
        "code_version": __version__,
        "dpo_approved": list(config.privacy.dpo_approved),
        "input_versions": _input_versions(spark, lh),
        "inputs": fingerprint,
        "dates": list(date_strs),
    }
    found: dict[str, Any] = {}  # what validation counted and which versions the publication names

    def built(inputs: PublishInputs) -> Built[PublishBuild]:
        out = build_publish(inputs, config, dates=date_strs, weeks=weeks, salt=run_id)
        # no complete week: the weekly table is created, nothing written
        empty = [t for t in out.published if not out.partitions[t] and t != S.GOLD_ZONES_TABLE]

        def first() -> None:
            if publish.noise.mechanism != "none":  # budget is recorded before anything is published with it
                _append_ledger(spark, config, partitions=out.partitions, run_id=run_id, run_at=run_at)
            for table in empty:
                ensure_table(spark, GOLD_TABLES[table], lh)

        def publication(metrics: Mapping[str, Mapping[str, int]]) -> Output:
            rewritten = [  # zones hold no counts of people: their history may stay
                t for t, m in metrics.items() if m.get("numRemovedFiles", 0) > 0 and t != S.GOLD_ZONES_TABLE
            ]
            versions = {t: v for t in out.published if (v := table_version(spark, gold_path(lh, t))) is not None}
            found["versions"] = versions
            row_df = publication_df(
                spark,
                sequence=next_sequence(spark, lh),
                run_id=run_id,
                published_at=run_at,
                dates=date_strs,
                weeks=weeks,
                inputs=fingerprint,
                config_hash=config_hash(config),
                code_version=__version__,
                table_versions=versions,
                rewritten=rewritten,
            )
            return Output(row_df, append=True, metadata={"partitions": []})

        return Built(
            outputs={
                GOLD_TABLES[t]: Output(df, out.partitions[t], metadata={"partitions": out.partitions[t]})
                for t, df in out.published.items()
                if t not in empty
            },
            marker=publication,
            info=out,
            first=first,
        )

    run_meta = {**metadata, **run_metadata(STAGE, run_id=run_id, fingerprints=fingerprints)}

    def validate(b: Built[PublishBuild]) -> None:
        with commit_metadata(spark, run_meta):  # the validation runs' commits are the run's too
            found["validations"] = validate_gold(spark, b.info, config=config, run_id=run_id, run_at=run_at)

    def report(b: Built[PublishBuild], _metrics: Mapping[str, Mapping[str, int]]) -> PublishReport:
        out, zones = b.info, b.info.zones
        with commit_metadata(spark, {**run_meta, "partitions": []}):  # the history drop is its run's commit too
            dropped = finish_history_drop(spark, lh)
        withheld = set(zones.all) - set(zones.counted) - set(zones.nested) - set(zones.expected)
        return PublishReport(
            run_id=run_id,
            dates=date_strs,
            weeks=weeks,
            rows={t: v.rows for t, v in found["validations"].items()},
            suppressed=suppression_counts({t: df for t, df in out.marked.items() if t != S.GOLD_ZONES_TABLE}),
            versions=found["versions"],
            history_dropped=tuple(dropped),
            registered=tuple(register_gold(spark, lh)),
            quality_dir=str(lh / S.QUALITY),
            withheld_zones=tuple(sorted(withheld)),
            nested_zones=zones.nested,
            expected_zones=tuple(zones.expected),
            incomplete_weeks=tuple(sorted({iso_week(d) for d in dates} - set(weeks))),
        )

    result = run_stage(
        spark,
        STAGE,
        lh,
        run_id=run_id,
        fingerprints=fingerprints,
        force=force,
        # the publications table decides, not the commits: its rows outlive the log, which Delta trims
        built=lambda: dict.fromkeys(published_dates(spark, lh, fingerprint=fingerprint), fingerprint),
        read=lambda: read_publish(spark, config, dates=dates, weeks=weeks),
        build=built,
        validate=validate,
        report=report,
        metadata=metadata,
    )
    if result.report is None:
        # Nothing to write, but a persistent catalog switched on since the last publication still gets the views.
        registered = tuple(register_gold(spark, lh))
        return PublishReport(run_id, date_strs, weeks, {}, {}, {}, (), registered, str(lh / S.QUALITY), skipped=True)
    return result.report


def _append_ledger(
    spark: SparkSession, config: Config, *, partitions: dict[str, list[str]], run_id: str, run_at: dt.datetime
) -> None:
    noise = config.publish.noise
    ledgers = [
        agg_privacy_ledger(
            spark.createDataFrame([(v,) for v in values], f"{S.PERIOD} STRING"),
            table=table,
            period_col=S.PERIOD,
            mechanism=noise.mechanism,
            epsilon=noise.epsilon,
            delta=noise.delta if noise.mechanism == "gaussian" else 0.0,
            bound=noise.contribution_bound,
            run_id=run_id,
            run_at=run_at,
        )
        for table, values in partitions.items()
        if table != S.GOLD_ZONES_TABLE and values
    ]
    ledger_df = reduce(DataFrame.unionByName, ledgers)
    write(ledger_df, QUALITY_TABLES[S.QUALITY_PRIVACY_LEDGER_TABLE], config.lakehouse, append=True)  # one commit


def gold_exists(spark: SparkSession, lakehouse: Path) -> bool:
    """Return True when the hourly gold table exists (a publish run has succeeded before)."""
    return table_exists(spark, gold_path(lakehouse, S.GOLD_ZONE_FOOTFALL_HOURLY_TABLE))
