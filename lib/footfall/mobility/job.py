"""The mobility job: silver events and spatial weights in, pseudonymous stays, homes, repeats and flows out."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
from pyspark import StorageLevel
from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.window import Window
from sedona.spark.sql import st_constructors as STC
from sedona.spark.sql import st_functions as STF
from sedona.spark.sql import st_predicates as STP

from footfall import schemas as S
from footfall.config import Config, MobilityConfig
from footfall.ingest.plan import STAGE as INGEST_STAGE
from footfall.lakehouse import (
    SILVER_TABLES,
    Table,
    commit_metadatas,
    data_version,
    read_arrow,
    read_rows,
    read_table,
    silver_path,
    table_exists,
)
from footfall.mobility.buckets import BUCKET, device_bucket
from footfall.mobility.calendar import iso_week, iso_week_dates
from footfall.mobility.direction import X_M, Y_M, with_arrival_direction
from footfall.mobility.expected import agg_expected_visits, expected_zone_ids
from footfall.mobility.home import agg_device_home, agg_night_votes
from footfall.mobility.home_posterior import HomeCoverage, agg_posterior_night_votes, build_home_coverage
from footfall.mobility.posterior import MODEL, Coverage, PresenceModel, build_coverage, with_posterior_presences
from footfall.mobility.presence import filter_present
from footfall.mobility.stays import DEVICE, agg_stays, filter_distinct_events, with_device_neighbours
from footfall.mobility.visits import agg_repeat_visits, agg_transitions
from footfall.mobility.windows import (
    NIGHT,
    WINDOW_DATE,
    home_nights,
    input_event_dates,
    night_event_dates,
    night_map_df,
    stay_dates,
    window_map_df,
    windows_event_dates,
)
from footfall.spatial.weights import with_zone_candidates
from footfall.stage import Built, Output, Stage, built_fingerprints, run_stage, sign_off_metadata, silver

ZONE_DISTRICT_ID = "zone_district_id"
VOTES = tuple(S.SILVER_NIGHT_VOTES.names)


# Bump when a mobility rule changes: the next run then rebuilds even though its inputs are unchanged.
MOBILITY_ALGORITHM_VERSION = "5"  # 3: the posterior presence model; 4: posterior homes; 5: expected visits
STAGE = Stage(
    name="mobility",
    # their versions decide whether a mobility run has anything new to build from
    inputs=silver(
        S.SILVER_EVENTS_TABLE,
        S.SILVER_CELL_ZONE_WEIGHTS_TABLE,
        S.SILVER_CELL_DISTRICT_WEIGHTS_TABLE,
        S.SILVER_CELL_FOOTPRINTS_TABLE,
        S.SILVER_ZONES_TABLE,
        S.SILVER_DISTRICTS_TABLE,
        S.SILVER_COVERAGE_TABLE,
        S.SILVER_TILE_ZONES_TABLE,
        S.SILVER_HOME_COVERAGE_TABLE,
        S.SILVER_HOME_TILE_DISTRICTS_TABLE,
        S.SILVER_MARKET_SHARE_TABLE,
    ),
    outputs=silver(
        S.SILVER_DEVICE_HOME_TABLE,
        S.SILVER_STAYS_TABLE,
        S.SILVER_ZONE_TRANSITIONS_TABLE,
        S.SILVER_EXPECTED_VISITS_TABLE,
        S.SILVER_NIGHT_VOTES_TABLE,
        S.SILVER_REPEAT_VISITS_TABLE,
    ),
    # the weeks are rebuilt from the stays: written last, its commit says the whole build landed
    marker=SILVER_TABLES[S.SILVER_REPEAT_VISITS_TABLE],
)


@dataclass(frozen=True)
class MobilityReport:
    """What a mobility run wrote, or that it found its inputs unchanged and wrote nothing."""

    dates: tuple[dt.date, ...]
    stays: int
    visits: int
    devices_with_home: int
    transitions: int
    skipped: bool = False


def _built_from(spark: SparkSession, config: Config) -> tuple[dict[str, Any], dict[str, str]]:
    """Return what every mobility row builds from beside its events (the spatial tables' versions, the mobility
    rules and settings), and the ingest fingerprint of each UTC event date silver holds."""
    versions = {
        t.name: data_version(spark, t.path(config.lakehouse)) for t in STAGE.inputs if t.name != S.SILVER_EVENTS_TABLE
    }
    settings = {
        "versions": versions,
        "mobility": config.mobility.model_dump(mode="json"),
        "timezone": config.timezone,
        "metric_crs": config.spatial.metric_crs,
        "algorithm": MOBILITY_ALGORITHM_VERSION,
    }
    return settings, built_fingerprints(spark, INGEST_STAGE, config.lakehouse)


def _fingerprint(settings: Mapping[str, Any], ingested: Mapping[str, str], utc: Sequence[dt.date]) -> str:
    events = {u.isoformat(): ingested.get(u.isoformat()) for u in utc}
    return hashlib.sha256(json.dumps({**settings, "events": events}, sort_keys=True).encode()).hexdigest()[:32]


def mobility_fingerprints(spark: SparkSession, config: Config, *, dates: Sequence[dt.date]) -> dict[str, str]:
    """Return per date (ISO) a hash of what its rows build from: the ingest of every UTC partition its window and
    home nights read (their ingest fingerprints), the versions of the spatial tables, the mobility rules and
    settings.

    Per date, not one for the run: a new day's ingest leaves the day before unchanged, and so a nightly run
    rebuilds the new date only (make bench, one new day). A date whose window reaches a partition ingested later
    (a time zone west of UTC, a late landing) gets a new fingerprint and is rebuilt."""
    m = config.mobility
    settings, ingested = _built_from(spark, config)
    hours = {"night_start_hour": m.night_start_hour, "night_end_hour": m.night_end_hour}
    return {
        day.isoformat(): _fingerprint(
            settings,
            ingested,
            input_event_dates([day], tz=config.timezone, lookback_s=stay_lookback_s(m), nights=m.home_nights, **hours),
        )
        for day in sorted(set(dates))
    }


# The key of the night votes' commit metadata: the fingerprint each night of the commit was voted from.
NIGHTS_BUILT = "nights"


def night_fingerprints(spark: SparkSession, config: Config, *, nights: Sequence[dt.date]) -> dict[str, str]:
    """Return per night (ISO) a hash of what its votes build from: the ingest of the UTC partitions the night spans,
    and what every mobility row builds from (`mobility_fingerprints`)."""
    m = config.mobility
    settings, ingested = _built_from(spark, config)
    hours = {"night_start_hour": m.night_start_hour, "night_end_hour": m.night_end_hour}
    return {
        night.isoformat(): _fingerprint(settings, ingested, night_event_dates(night, tz=config.timezone, **hours))
        for night in sorted(set(nights))
    }


def voted_nights(spark: SparkSession, lakehouse: Path) -> dict[str, str]:
    """Return per night (ISO) the fingerprint silver/night_votes holds its votes from (its newest commit of it)."""
    found: dict[str, str] = {}
    for meta in commit_metadatas(spark, silver_path(lakehouse, S.SILVER_NIGHT_VOTES_TABLE)):  # newest first
        for night, fingerprint in (meta.get(NIGHTS_BUILT) or {}).items():
            found.setdefault(night, fingerprint)
    return found


@dataclass(frozen=True)
class NightPlan:
    """The home nights of a run's dates: those to vote on (with the fingerprint of each), those silver holds."""

    vote: dict[str, str] = field(default_factory=dict)
    kept: list[dt.date] = field(default_factory=list)

    @property
    def vote_nights(self) -> list[dt.date]:
        return sorted(dt.date.fromisoformat(n) for n in self.vote)


def plan_nights(spark: SparkSession, config: Config, *, build: Sequence[dt.date], force: bool) -> NightPlan:
    """Return which home nights of the dates `build` need their votes (new, or their inputs changed) and which
    silver/night_votes holds from the same inputs."""
    needed = sorted({n for day in build for n in home_nights(day, nights=config.mobility.home_nights)})
    wanted = night_fingerprints(spark, config, nights=needed)
    voted = {} if force else voted_nights(spark, config.lakehouse)
    vote = {n: fp for n, fp in wanted.items() if voted.get(n) != fp}
    return NightPlan(vote=vote, kept=[n for n in needed if n.isoformat() not in vote])


def with_metric_centroid(df: DataFrame, *, wkb_col: str, metric_crs: str) -> DataFrame:
    """Add x_m, y_m: the centroid of a WGS84 WKB geometry, in a metric CRS."""
    centroid = STF.ST_Transform(
        STF.ST_Centroid(STC.ST_GeomFromWKB(F.col(wkb_col))), F.lit("EPSG:4326"), F.lit(metric_crs)
    )
    return df.withColumn("_c", centroid).withColumns({X_M: STF.ST_X("_c"), Y_M: STF.ST_Y("_c")}).drop("_c")


def agg_zone_district(zones_df: DataFrame, districts_df: DataFrame) -> DataFrame:
    """Return zone_id, zone_district_id: the district that holds the zone's centroid (a small Sedona join)."""
    zones = zones_df.select(S.ZONE_ID, STF.ST_Centroid(STC.ST_GeomFromWKB(S.GEOMETRY_WKB)).alias("_c"))
    districts = districts_df.select(S.DISTRICT_ID, STC.ST_GeomFromWKB(S.GEOMETRY_WKB).alias("_d"))
    return zones.join(F.broadcast(districts), STP.ST_Contains("_d", "_c"), how="inner").select(
        S.ZONE_ID, F.col(S.DISTRICT_ID).alias(ZONE_DISTRICT_ID)
    )


def with_resident_flag(stays_df: DataFrame, *, home_df: DataFrame, zone_district_df: DataFrame) -> DataFrame:
    """Add is_resident: the device's home on the stay's date is the zone's district (unknown homes are visitors)."""
    return (
        stays_df.join(home_df.select(S.PSEUDO_ID, S.DATE, S.HOME_DISTRICT_ID), on=[S.PSEUDO_ID, S.DATE], how="left")
        .join(F.broadcast(zone_district_df), on=S.ZONE_ID, how="left")
        .withColumn(S.IS_RESIDENT, F.coalesce(F.col(S.HOME_DISTRICT_ID) == F.col(ZONE_DISTRICT_ID), F.lit(False)))
        .drop(S.HOME_DISTRICT_ID, ZONE_DISTRICT_ID)
    )


def with_previous_zone(stays_df: DataFrame, *, device_cols: Sequence[str] = DEVICE) -> DataFrame:
    """Add previous_zone_id: the zone of the device's previous visit (null for its first)."""
    by_device = Window.partitionBy(*device_cols).orderBy(S.ENTERED_AT, S.ZONE_ID)
    prev = F.last(F.when(F.col(S.IS_VISIT), F.col(S.ZONE_ID)), ignorenulls=True).over(
        by_device.rowsBetween(Window.unboundedPreceding, -1)
    )
    return stays_df.withColumn(S.PREVIOUS_ZONE_ID, prev)


def filter_entered_in_window(stays_df: DataFrame, *, tz: str, at_col: str = S.ENTERED_AT) -> DataFrame:
    """Keep the rows whose local date of `at_col` is their window's date, as `date`: each window owns its date."""
    entered = F.to_date(F.from_utc_timestamp(at_col, tz))
    return stays_df.where(entered == F.col(WINDOW_DATE)).withColumn(S.DATE, F.col(WINDOW_DATE)).drop(WINDOW_DATE)


def _in_dates(col: str, dates: Sequence[dt.date]) -> Column:
    return F.col(col).isin(list(dates))


def with_window_dates(events_df: DataFrame, *, window_map_df: DataFrame, bucketed: bool = False) -> DataFrame:
    """Return each event once per date whose window holds it, with `window_date`, clustered by device; ties gone
    unless `bucketed`.

    `bucketed`: partitioned by BUCKET (kept as a column) and sorted by bucket, device, event_ts and cell_id, as
    posterior.with_posterior_presences takes them without another shuffle or sort (the posterior model). The ties
    stay: the posterior's Python pass drops them from its sorted buckets (posterior.bucket_presences)."""
    windowed = events_df.join(F.broadcast(window_map_df), on=S.EVENT_DATE, how="inner").drop(S.EVENT_DATE)
    if not bucketed:  # every window below is clustered by device: one shuffle for all of them
        by_device = windowed.repartition(S.PSEUDO_ID)
        return by_device.transform(filter_distinct_events, device_cols=(S.PSEUDO_ID, WINDOW_DATE))
    device = (S.PSEUDO_ID, WINDOW_DATE)
    return (
        windowed.withColumn(BUCKET, device_bucket(events_df.sparkSession, device))
        .repartition(BUCKET)  # the one shuffle of the events: Python gets its buckets within it
        .sortWithinPartitions(BUCKET, *device, S.EVENT_TS, S.CELL_ID)
    )


def agg_window_stays(
    windowed_df: DataFrame,
    *,
    weights_df: DataFrame,
    settings: MobilityConfig,
    coverage: Coverage | None = None,
) -> DataFrame:
    """Return the stays of each (device, window date) from its windowed events, with `window_date`.

    `coverage` is needed by the posterior model only.
    """
    if settings.presence_model == "posterior":
        assert coverage is not None, "the posterior model needs the coverage model"
        return agg_window_posterior(windowed_df, coverage=coverage, expected_coverage=None, settings=settings).stays
    device = (S.PSEUDO_ID, WINDOW_DATE)
    present = filter_present(
        with_zone_candidates(with_device_neighbours(windowed_df, device_cols=device), weights_df=weights_df),
        model=settings.presence_model,  # type: ignore[arg-type]
        min_weight=settings.min_weight,
    )
    return agg_stays(present, max_gap_s=settings.max_gap_s, min_visit_s=settings.min_visit_s, device_cols=device)


@dataclass(frozen=True)
class PosteriorStays:
    """The posterior model's stays, the expected visits (None without an expected coverage) and the frame persisted
    for both (to unpersist once they are written)."""

    stays: DataFrame
    expected_visits: DataFrame | None
    held: list[DataFrame]


def agg_window_posterior(
    windowed_df: DataFrame, *, coverage: Coverage, expected_coverage: Coverage | None, settings: MobilityConfig
) -> PosteriorStays:
    """Return the stays of each (device, window date) under the posterior model and, with `expected_coverage`, the
    expected visits: both models in one pass of the events through Python (posterior.with_posterior_presences).

    Two passes shipped every event of a device near a zone to Python twice, each after its own neighbour window and
    shuffle (make bench, 10 M events: about 40 task-seconds for the second)."""
    device = (S.PSEUDO_ID, WINDOW_DATE)
    p = settings.posterior
    models = [PresenceModel(coverage, p.min_mass)]
    if expected_coverage is not None:
        models.append(PresenceModel(expected_coverage, p.expected.min_mass))
    present = with_posterior_presences(
        windowed_df,
        models=models,
        device_cols=device,
        window_s=p.window_s,
        max_neighbours=p.max_neighbours,
    )
    held = []
    if expected_coverage is not None:  # both read it: one pass
        present = present.persist(StorageLevel.MEMORY_AND_DISK)
        held.append(present)
    stays = agg_stays(
        present.where(F.col(MODEL) == 0).drop(MODEL),
        max_gap_s=p.max_gap_s,
        min_visit_s=settings.min_visit_s,
        device_cols=device,
        max_edge_s=p.max_edge_s,
    )
    expected = (
        agg_expected_visits(present.where(F.col(MODEL) == 1).drop(MODEL), settings=settings)
        if expected_coverage is not None
        else None
    )
    return PosteriorStays(stays, expected, held)


def read_coverage_tables(spark: SparkSession, lakehouse: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Return the coverage (cell_id, tile_id, p_serve) and tile_zones rows, read once for every model built on them."""
    # read by the driver with pyarrow when local: Spark's read and toArrow ran 5 jobs and 2 s per table
    coverage = read_arrow(spark, silver_path(lakehouse, S.SILVER_COVERAGE_TABLE)).to_pandas()
    tile_zones = read_arrow(spark, silver_path(lakehouse, S.SILVER_TILE_ZONES_TABLE)).to_pandas()
    return coverage, tile_zones


def load_home_coverage(spark: SparkSession, lakehouse: Path) -> HomeCoverage:
    """Read the home grid and the subscriber density behind its prior (posterior homes; a few MB for a city)."""
    coverage = read_arrow(spark, silver_path(lakehouse, S.SILVER_HOME_COVERAGE_TABLE)).to_pandas()
    tiles = read_arrow(spark, silver_path(lakehouse, S.SILVER_HOME_TILE_DISTRICTS_TABLE)).to_pandas()
    shares = read_arrow(
        spark, silver_path(lakehouse, S.SILVER_MARKET_SHARE_TABLE), columns=[S.DISTRICT_ID, S.SUBSCRIBERS]
    )
    return build_home_coverage(coverage, tiles, shares.to_pandas())


def stay_lookback_s(settings: MobilityConfig) -> int:
    """How far before local midnight a date's window starts: the longest gap a stay or an arrival looks back."""
    gap = settings.posterior.max_gap_s if settings.presence_model == "posterior" else settings.max_gap_s
    return max(gap, settings.arrival_lookback_s)


def needed_event_dates(config: Config, *, dates: Sequence[dt.date]) -> list[dt.date]:
    """Return the UTC event dates a mobility run of `dates` reads: the windows of the dates and of the day before
    each, and the nights behind their homes."""
    m = config.mobility
    return input_event_dates(
        stay_dates(dates),
        tz=config.timezone,
        lookback_s=stay_lookback_s(m),
        nights=m.home_nights,
        night_start_hour=m.night_start_hour,
        night_end_hour=m.night_end_hour,
    )


@dataclass(frozen=True)
class MobilityInputs:
    """What a mobility run builds from: silver frames pruned to the run's partitions, the coverage models loaded
    for the posterior (None under the other models), and the stays silver holds on the other days of the weeks."""

    window_events_df: DataFrame  # the events of the dates' windows
    night_events_df: DataFrame  # the events of the nights to vote on
    kept_votes_df: DataFrame  # the votes silver holds of the other nights behind the homes
    vote_nights: list[dt.date]
    weights_df: DataFrame
    district_weights_df: DataFrame
    footprints_df: DataFrame
    zones_df: DataFrame
    districts_df: DataFrame
    week_stays_df: DataFrame  # the stays of the run's ISO weeks on the days it does not build
    coverage: Coverage | None
    home_coverage: HomeCoverage | None
    expected_zones: list[str]
    expected_coverage: Coverage | None


def read_mobility(
    spark: SparkSession, config: Config, *, build: Sequence[dt.date], nights: NightPlan
) -> MobilityInputs:
    """Return what mobility reads for the dates `build`: each read prunes to its own partitions (the windows' dates,
    the dates of the nights to vote on, the votes of the others, the other days of the weeks), the coverage models
    are loaded into memory."""
    m, tz, lh = config.mobility, config.timezone, config.lakehouse
    hours = {"night_start_hour": m.night_start_hour, "night_end_hour": m.night_end_hour}
    events = read_table(spark, silver_path(lh, S.SILVER_EVENTS_TABLE)).select(
        S.PSEUDO_ID, S.EVENT_TS, S.CELL_ID, S.EVENT_DATE
    )
    window_days = windows_event_dates(build, tz=tz, lookback_s=stay_lookback_s(m))
    night_days = sorted({u for night in nights.vote_nights for u in night_event_dates(night, tz=tz, **hours)})
    votes_path = silver_path(lh, S.SILVER_NIGHT_VOTES_TABLE)
    zones_df = read_table(spark, silver_path(lh, S.SILVER_ZONES_TABLE))
    zone_rows = read_rows(spark, silver_path(lh, S.SILVER_ZONES_TABLE), columns=[S.ZONE_ID, S.CATEGORY])
    expected_zones = expected_zone_ids([(r[S.ZONE_ID], r[S.CATEGORY]) for r in zone_rows], settings=m)
    posterior = m.presence_model == "posterior"
    coverage_tables = read_coverage_tables(spark, lh) if posterior else None
    week_days = [d for w in sorted({iso_week(d) for d in build}) for d in iso_week_dates(w) if d not in set(build)]
    stays_path = silver_path(lh, S.SILVER_STAYS_TABLE)
    return MobilityInputs(
        window_events_df=events.where(_in_dates(S.EVENT_DATE, window_days)),
        night_events_df=events.where(_in_dates(S.EVENT_DATE, night_days)),
        kept_votes_df=read_table(spark, votes_path).where(_in_dates(NIGHT, nights.kept)).select(*VOTES)
        if nights.kept
        else spark.createDataFrame([], S.SILVER_NIGHT_VOTES).select(*VOTES),
        vote_nights=nights.vote_nights,
        weights_df=read_table(spark, silver_path(lh, S.SILVER_CELL_ZONE_WEIGHTS_TABLE)),
        district_weights_df=read_table(spark, silver_path(lh, S.SILVER_CELL_DISTRICT_WEIGHTS_TABLE)),
        footprints_df=read_table(spark, silver_path(lh, S.SILVER_CELL_FOOTPRINTS_TABLE)),
        zones_df=zones_df,
        districts_df=read_table(spark, silver_path(lh, S.SILVER_DISTRICTS_TABLE)),
        week_stays_df=read_table(spark, stays_path).where(_in_dates(S.DATE, week_days)).select(*S.SILVER_STAYS.names)
        if table_exists(spark, stays_path)
        else spark.createDataFrame([], S.SILVER_STAYS),  # mobility's first run
        coverage=build_coverage(*coverage_tables, zone_prior_factor=m.posterior.zone_prior_factor)
        if coverage_tables is not None
        else None,
        home_coverage=load_home_coverage(spark, lh) if m.home_model == "posterior" else None,
        expected_zones=expected_zones,
        expected_coverage=build_coverage(
            *coverage_tables, zone_prior_factor=m.posterior.expected.zone_prior_factor, only_zones=expected_zones
        )
        if coverage_tables is not None and expected_zones
        else None,
    )


@dataclass(frozen=True)
class MobilityBuild:
    """mobility's tables by registry table, and the frames it persisted (to unpersist once they are written)."""

    tables: dict[Table, DataFrame]
    weeks: list[str]
    held: list[DataFrame]


def build_mobility(inputs: MobilityInputs, config: Config, *, build: Sequence[dt.date]) -> MobilityBuild:
    """Return stays, homes, flows and expected visits of the dates `build` and the repeat visits of their ISO weeks
    (pure: no read, write or collect; the frames stays and flows derive from are persisted)."""
    m, tz, metric = config.mobility, config.timezone, config.spatial.metric_crs
    spark = inputs.window_events_df.sparkSession
    lookback = stay_lookback_s(m)
    hours = {"night_start_hour": m.night_start_hour, "night_end_hour": m.night_end_hour}
    zones_df = inputs.zones_df

    # stays per (device, window date)
    device = (S.PSEUDO_ID, WINDOW_DATE)
    windows = window_map_df(spark, build, tz=tz, lookback_s=lookback)
    windowed = with_window_dates(
        inputs.window_events_df, window_map_df=windows, bucketed=m.presence_model == "posterior"
    )
    expected_window: DataFrame | None = None
    held_presence: list[DataFrame] = []
    if m.presence_model == "posterior":
        assert inputs.coverage is not None, "the posterior model needs the coverage model"
        posterior = agg_window_posterior(
            windowed, coverage=inputs.coverage, expected_coverage=inputs.expected_coverage, settings=m
        )
        window_stays, expected_window, held_presence = posterior.stays, posterior.expected_visits, posterior.held
    else:
        window_stays = agg_window_stays(windowed, weights_df=inputs.weights_df, settings=m)
    # Persisted: stays and flows both derive from them, and without it the sorts over every windowed event (two
    # per event and window) run once for each (make bench, 10 M events: 37 task-seconds).
    window_stays = window_stays.persist(StorageLevel.MEMORY_AND_DISK)
    expected_visits = (
        expected_window.transform(filter_entered_in_window, tz=tz)
        if expected_window is not None
        else spark.createDataFrame([], S.SILVER_EXPECTED_VISITS)  # replaces the partitions: no stale rows remain
    )
    # Cells that may count as presence in a zone: an arrival comes from a cell that is none of the zone's.
    counts_as_presence = filter_present(inputs.weights_df, model=m.presence_model, min_weight=m.min_weight)  # type: ignore[arg-type]
    cells = (
        with_metric_centroid(inputs.footprints_df, wkb_col=S.FOOTPRINT_WKB, metric_crs=metric)
        .groupBy(S.CELL_ID)
        .agg(F.first(X_M).alias(X_M), F.first(Y_M).alias(Y_M))
    )
    zones = with_metric_centroid(zones_df, wkb_col=S.GEOMETRY_WKB, metric_crs=metric).select(S.ZONE_ID, X_M, Y_M)
    if inputs.home_coverage is not None:
        voted = agg_posterior_night_votes(
            inputs.night_events_df, coverage=inputs.home_coverage, tz=tz, event_cap_s=m.home_event_cap_s, **hours
        )
    else:
        voted = agg_night_votes(inputs.night_events_df, district_weights_df=inputs.district_weights_df, tz=tz, **hours)
    # the nights voted on now (their events' UTC dates hold parts of the nights either side: those are not whole)
    # are written and join the votes silver kept of the others
    new_votes = voted.where(_in_dates(NIGHT, inputs.vote_nights)).select(*VOTES)
    home = agg_device_home(
        new_votes.unionByName(inputs.kept_votes_df),
        night_map_df=night_map_df(spark, build, nights=m.home_nights),
        # the devices each window sees, aggregated before any shuffle (not from `windowed`, which shuffles every event)
        devices_df=inputs.window_events_df.join(F.broadcast(windows), on=S.EVENT_DATE, how="inner")
        .select(S.PSEUDO_ID, F.col(WINDOW_DATE).alias(S.DATE))
        .distinct(),
        min_nights=m.min_nights,
    )
    stays = (
        with_arrival_direction(
            window_stays,
            cell_centroids_df=cells,
            zone_centroids_df=zones,
            candidates_df=counts_as_presence.select(S.CELL_ID, S.ZONE_ID),
            lookback_s=m.arrival_lookback_s,
            min_distance_m=m.min_arrival_distance_m,
        )
        .transform(with_previous_zone, device_cols=device)
        .transform(filter_entered_in_window, tz=tz)
        .transform(with_resident_flag, home_df=home, zone_district_df=agg_zone_district(zones_df, inputs.districts_df))
    )
    # a flow belongs to the date the device entered its second zone: that window sees both visits
    moves = agg_transitions(window_stays, max_transition_s=m.max_transition_s, device_cols=device).transform(
        filter_entered_in_window, tz=tz, at_col="entered_to_at"
    )
    frames = {
        S.SILVER_NIGHT_VOTES_TABLE: new_votes,
        S.SILVER_DEVICE_HOME_TABLE: home,
        S.SILVER_STAYS_TABLE: stays,
        S.SILVER_ZONE_TRANSITIONS_TABLE: moves,
        S.SILVER_EXPECTED_VISITS_TABLE: expected_visits,
    }
    held = {name: df.persist(StorageLevel.MEMORY_AND_DISK) for name, df in frames.items()}
    # weekly: from every stay of the weeks the run touches, the built ones and those silver holds on the other days
    weeks = sorted({iso_week(d) for d in build})
    week_stays = held[S.SILVER_STAYS_TABLE].select(*S.SILVER_STAYS.names).unionByName(inputs.week_stays_df)
    repeat = agg_repeat_visits(week_stays, tz=tz).where(F.col(S.WEEK).isin(weeks))
    return MobilityBuild(
        tables={SILVER_TABLES[name]: df for name, df in held.items()}
        | {SILVER_TABLES[S.SILVER_REPEAT_VISITS_TABLE]: repeat},
        weeks=weeks,
        held=[*held.values(), window_stays, *held_presence],
    )


def _report(frames: Mapping[Table, DataFrame], *, dates: Sequence[dt.date]) -> MobilityReport:
    """Count what the run built for `dates` (not the days before), from the frames still held: nothing read back."""
    stays, home, moves = (frames[SILVER_TABLES[t]] for t in (S.SILVER_STAYS_TABLE, S.SILVER_DEVICE_HOME_TABLE,
                                                             S.SILVER_ZONE_TRANSITIONS_TABLE))  # fmt: skip
    counts = (
        stays.where(_in_dates(S.DATE, dates))
        .agg(F.count(F.lit(1)).alias("n"), F.count(F.when(F.col(S.IS_VISIT), 1)).alias("v"))
        .first()
    )
    assert counts is not None
    homes = home.where(_in_dates(S.DATE, dates) & (F.col(S.HOME_DISTRICT_ID) != "unknown"))
    n_homes = homes.select(S.PSEUDO_ID).distinct().count()
    n_moves = moves.where(_in_dates(S.DATE, dates)).count()
    return MobilityReport(tuple(dates), int(counts["n"]), int(counts["v"]), n_homes, n_moves)


def run_mobility(
    spark: SparkSession,
    config: Config,
    *,
    dates: Sequence[dt.date],
    force: bool = False,
    run_id: str | None = None,
) -> MobilityReport:
    """Build stays, homes and flows of the dates and the day before each (a publication reads both) unless they
    were built from the same inputs (mobility_fingerprints), and the repeat visits of their ISO weeks; replace those
    partitions of the mobility silver tables.

    Each date is built from its own window of events only (mobility/windows.py), so the rows of a date do not
    depend on which other dates the run covers. Raise MissingInputError when an input table is missing.
    """
    build: list[dt.date] = []  # the dates to build: those of stay_dates(dates) not built from what they read now
    nights: list[NightPlan] = []  # the home nights of those dates: which to vote on, which silver holds

    def fingerprints() -> dict[str, str]:
        wanted = mobility_fingerprints(spark, config, dates=stay_dates(dates))
        last = {} if force else built_fingerprints(spark, STAGE, config.lakehouse)
        stale = {day: fp for day, fp in wanted.items() if last.get(day) != fp}
        build[:] = sorted(dt.date.fromisoformat(day) for day in stale)
        nights[:] = [plan_nights(spark, config, build=build, force=force)] if stale else []
        return stale or wanted  # none stale: the runner finds every date built, and skips

    def built(inputs: MobilityInputs) -> Built[MobilityBuild]:
        out = build_mobility(inputs, config, build=build)
        repeat, votes = SILVER_TABLES[S.SILVER_REPEAT_VISITS_TABLE], SILVER_TABLES[S.SILVER_NIGHT_VOTES_TABLE]
        voted = nights[0].vote
        outputs = {t: Output(df, build) for t, df in out.tables.items() if t not in (repeat, votes)}
        if voted:  # each night's fingerprint goes with its votes' commit (voted_nights reads them)
            outputs[votes] = Output(out.tables[votes], inputs.vote_nights, metadata={NIGHTS_BUILT: voted})
        return Built(
            outputs=outputs,
            marker=Output(out.tables[repeat], out.weeks),
            info=out,
            held=out.held,
        )

    result = run_stage(
        spark,
        STAGE,
        config.lakehouse,
        run_id=run_id or uuid.uuid4().hex,
        fingerprints=fingerprints,
        force=force,
        metadata=sign_off_metadata(config),
        read=lambda: read_mobility(spark, config, build=build, nights=nights[0]),
        build=built,
        report=lambda out, _metrics: _report(out.info.tables, dates=dates),
    )
    return result.report or MobilityReport(tuple(dates), 0, 0, 0, 0, skipped=True)
