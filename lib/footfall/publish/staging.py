"""Stage every gold table: count, (optionally) bound and noise, suppress. No I/O: silver frames in, gold frames out.

Order per table (docs/privacy.md): contributions -> bound each device's contributions (noise only) -> count
distinct devices -> derive (extrapolation) -> add noise, keep the true count aside -> suppress on k -> select the
gold columns. Derived values are computed before suppression and fall with the count they derive from.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from footfall import schemas as S
from footfall.config import NoiseConfig, PublishConfig
from footfall.mobility.expected import contributions_expected_hourly
from footfall.privacy import disclosure as D
from footfall.privacy import nesting as N
from footfall.privacy.extrapolation import agg_device_weights
from footfall.privacy.noise import filter_bounded_contributions, noise_scale, with_noise, with_rounded_clamped
from footfall.publish import contributions as C
from footfall.publish.hourly import (
    HOUR_KEYS,
    agg_zone_hourly_counts,
    contributions_hourly_presence,
    contributions_hourly_visits,
)
from footfall.publish.zones import agg_gold_zones


@dataclass(frozen=True)
class SilverInputs:
    """The silver frames a publish run reads, already limited to the run's dates (stays: one day either side)."""

    stays_df: DataFrame
    subscribers_df: DataFrame
    home_df: DataFrame
    repeat_df: DataFrame
    transitions_df: DataFrame
    zones_df: DataFrame
    resolution_df: DataFrame
    market_share_df: DataFrame
    expected_visits_df: DataFrame  # silver/expected_visits, dated like stays_df


@dataclass(frozen=True)
class StagedTable:
    """A gold table's cells, marked with what disclosure control withholds, and the partitions it replaces."""

    marked_df: DataFrame
    partition_values: tuple[str, ...]


# the breakdown tables: gold table -> (its partition column, cells' key columns within the breakdown)
BREAKDOWNS: dict[str, tuple[str, tuple[str, ...]]] = {
    S.GOLD_ZONE_DEMOGRAPHICS_DAILY_TABLE: (S.DATE, (S.AGE_BAND, S.GENDER)),
    S.GOLD_ZONE_ARRIVAL_DIRECTION_DAILY_TABLE: (S.DATE, (S.DIRECTION,)),
    S.GOLD_ZONE_CATCHMENT_DAILY_TABLE: (S.DATE, (S.HOME_DISTRICT_ID, S.IS_RESIDENT)),
    S.GOLD_ZONE_REPEAT_VISITS_WEEKLY_TABLE: (S.WEEK, (S.VISIT_DAYS,)),
}


def _is_on(noise: NoiseConfig) -> bool:
    return noise.mechanism != "none"


def _bounded(contributions_df: DataFrame, *, noise: NoiseConfig, per: str, salt: str) -> DataFrame:
    if not _is_on(noise):
        return contributions_df
    return filter_bounded_contributions(contributions_df, bound=noise.contribution_bound, per=[per], salt=salt)


def with_noisy_counts(
    cells_df: DataFrame, *, value_cols: Sequence[str], noise: NoiseConfig, scale: float, seed: int | None
) -> DataFrame:
    """Keep each count's true value in <col>_true and replace the count by its rounded, clamped noisy value."""
    if not _is_on(noise):
        return cells_df
    kept = cells_df.withColumns({f"{c}{D.TRUE}": F.col(c) for c in value_cols})
    noisy = with_noise(kept, value_cols=value_cols, mechanism=noise.mechanism, scale=scale, seed=seed)
    return with_rounded_clamped(noisy, value_cols=value_cols)


def _scale(noise: NoiseConfig, *, values: int) -> float:
    return noise_scale(
        mechanism=noise.mechanism,
        epsilon=noise.epsilon,
        delta=noise.delta,
        bound=noise.contribution_bound,
        values=values,
    )


def stage_hourly(
    stays_df: DataFrame,
    *,
    weights_df: DataFrame,
    publish: PublishConfig,
    tz: str,
    salt: str,
    seed: int | None,
    day_devices_df: DataFrame | None = None,
    max_weight: float | None = None,
) -> DataFrame:
    """Return the marked hourly cells (before the dates are cut to the run's).

    `day_devices_df` holds the zone-days' true visitor counts (nesting.agg_zone_day_devices), the outer total of
    each hour's visitors; without it the hours are not checked against their days. `max_weight` is the largest
    device weight of `weights_df` (the caller reads it: staging does no I/O); noise needs it, as the
    extrapolation's sensitivity.
    """
    noise = publish.noise
    presence = _bounded(contributions_hourly_presence(stays_df, tz=tz), noise=noise, per=S.DATE, salt=salt)
    visits = _bounded(contributions_hourly_visits(stays_df, tz=tz), noise=noise, per=S.DATE, salt=salt)
    cells = agg_zone_hourly_counts(presence, visits, weights_df=weights_df)
    if _is_on(noise):
        # three draws on the same devices share the budget: presence (visitors or passers-by, never both in one
        # hour), visit starts, and the extrapolation, whose sensitivity is the largest weight times the bound
        if max_weight is None:
            raise ValueError("noise on the extrapolated visitors needs the largest device weight (max_weight)")
        scale = _scale(noise, values=3)
        cells = with_noisy_counts(
            cells, value_cols=[S.VISITORS, S.PASSERS_BY, S.VISITS], noise=noise, scale=scale, seed=seed
        )
        cells = with_noise(
            cells,
            value_cols=[S.VISITORS_EXTRAPOLATED],
            mechanism=noise.mechanism,
            scale=scale * max(max_weight, 1.0),
            seed=None if seed is None else seed + 7,
        )
        # quantiles of a handful of dwells are not protected by count noise: withheld when noise is on
        cells = cells.withColumns(
            {c: F.lit(None).cast("double") for c in (S.DWELL_P25_S, S.DWELL_MEDIAN_S, S.DWELL_P75_S)}
        )
    rounding = publish.extrapolation_rounding
    extrapolated = F.greatest(F.round(F.col(S.VISITORS_EXTRAPOLATED) / rounding) * rounding, F.lit(0))
    cells = cells.withColumn(S.VISITORS_EXTRAPOLATED, extrapolated.cast("long"))
    # visitors first, then their nesting in the day, then visits: a withheld visitors count takes its visits along
    marked = D.with_presence_suppression(cells, k=publish.k)
    if day_devices_df is not None:
        marked = N.with_hour_in_day_nesting(
            marked,
            day_devices_df=day_devices_df,
            k=publish.k,
            flag=D.VISITORS_SUPPRESSED,
            reason=D.VISITORS_SUPPRESSION,
        )
    marked = D.with_visits_suppression(marked, k=publish.k)
    return D.with_extrapolation_dominance(marked, max_share=publish.extrapolation_max_share)


def stage_expected_hourly(
    expected_visits_df: DataFrame, *, publish: PublishConfig, tz: str, salt: str, seed: int | None
) -> DataFrame:
    """Return the marked cells of expected visitors per zone-hour (before the dates are cut to the run's).

    Each device adds its largest presence probability in the hour, at most 1, so the sum is the expected number of
    visitors and also bounds each device's share: a sum of at least k has at least k devices behind it, none adding
    more than 1. Suppressed below k (the true sum, and the noisy one when noise is on); no published total holds
    these hours, so k alone decides. Noise has the sensitivity of a count: each device adds at most 1 to at most
    `contribution_bound` cells per date.
    """
    noise = publish.noise
    contributions = _bounded(
        contributions_expected_hourly(expected_visits_df, tz=tz), noise=noise, per=S.DATE, salt=salt
    )
    cells = contributions.groupBy(*HOUR_KEYS).agg(F.sum(S.PRESENCE_WEIGHT).alias(S.VISITORS_EXPECTED))
    if _is_on(noise):
        cells = with_noisy_counts(
            cells, value_cols=[S.VISITORS_EXPECTED], noise=noise, scale=_scale(noise, values=1), seed=seed
        )
    marked = D.with_cell_suppression(cells, k=publish.k, value_col=S.VISITORS_EXPECTED)
    return marked.withColumn(S.VISITORS_EXPECTED, F.round(S.VISITORS_EXPECTED).cast("long"))


def stage_breakdown(
    contributions_df: DataFrame, *, table: str, publish: PublishConfig, salt: str, seed: int | None
) -> DataFrame:
    """Return the marked cells of a breakdown table (demographics, directions, catchment, repeat visits)."""
    partition, cell_keys = BREAKDOWNS[table]
    schema = S.GOLD_TABLES[table][0]
    keys = [c for c in schema.names if c != S.VISITORS]
    bounded = _bounded(contributions_df, noise=publish.noise, per=partition, salt=salt)
    cells = C.agg_distinct_devices(bounded, keys=keys)
    if _is_on(publish.noise):
        cells = with_noisy_counts(
            cells, value_cols=[S.VISITORS], noise=publish.noise, scale=_scale(publish.noise, values=1), seed=seed
        )
    return D.with_breakdown_suppression(
        cells, k=publish.k, breakdown=[S.ZONE_ID, partition], cell_keys=list(cell_keys), value_col=S.VISITORS
    )


def stage_flows(transitions_df: DataFrame, *, publish: PublishConfig, salt: str, seed: int | None) -> DataFrame:
    """Return the marked flow cells: no flow adds up to a published total, so k alone decides."""
    bounded = _bounded(C.contributions_flows(transitions_df), noise=publish.noise, per=S.DATE, salt=salt)
    cells = C.agg_distinct_devices(bounded, keys=list(C.FLOWS_KEYS), value_col=S.TRAVELLERS)
    if _is_on(publish.noise):
        cells = with_noisy_counts(
            cells, value_cols=[S.TRAVELLERS], noise=publish.noise, scale=_scale(publish.noise, values=1), seed=seed
        )
    return D.with_cell_suppression(cells, k=publish.k, value_col=S.TRAVELLERS)


def _in(col: str, values: Sequence[str]) -> Column:
    return F.col(col).cast("string").isin(list(values))


def stage_gold(
    inputs: SilverInputs,
    *,
    publish: PublishConfig,
    tz: str,
    dates: Sequence[str],
    weeks: Sequence[str],
    published_zone_ids: Sequence[str],
    salt: str,
    seed: int | None = None,
    expected_zone_ids: Sequence[str] = (),
    max_weight: float | None = None,
    shared: Callable[[DataFrame], DataFrame] | None = None,
) -> dict[str, StagedTable]:
    """Return every gold table's marked cells for the run's dates and weeks, limited to the zones that publish:
    `published_zone_ids` in the tables of counts, `expected_zone_ids` in the expected visitors. With noise on,
    `max_weight` is the largest device weight (`max_device_weight`, read by the caller).

    `inputs.stays_df` must hold every date of `weeks` (and the day before each date): the nesting check compares
    each week with all of its days.

    `shared`, when given, materialises the frames several tables derive from (the device zone-days and the
    zone-day totals), so that their shuffles run once and not once per table (the job passes an eager
    localCheckpoint; staging itself stays pure).
    """
    zones, k = list(published_zone_ids), publish.k
    stays = inputs.stays_df.where(F.col(S.ZONE_ID).isin(zones))
    # the zone-days' true visitor counts, the outer total of hours, flows and (all days of a week) weeks
    once = shared or (lambda df: df)
    all_days = once(C.device_zone_days(stays, tz=tz))
    day_devices = once(N.agg_zone_day_devices(all_days))
    weights = agg_device_weights(inputs.home_df, market_share_df=inputs.market_share_df)
    hourly = stage_hourly(
        stays,
        weights_df=weights,
        publish=publish,
        tz=tz,
        salt=salt,
        seed=seed,
        day_devices_df=day_devices,
        max_weight=max_weight,
    )
    staged = {S.GOLD_ZONE_FOOTFALL_HOURLY_TABLE: StagedTable(hourly.where(_in(S.DATE, dates)), tuple(dates))}

    days = all_days.where(_in(S.DATE, dates))
    daily = {
        S.GOLD_ZONE_DEMOGRAPHICS_DAILY_TABLE: C.contributions_demographics(days, subscribers_df=inputs.subscribers_df),
        S.GOLD_ZONE_ARRIVAL_DIRECTION_DAILY_TABLE: C.contributions_arrival_direction(days),
        S.GOLD_ZONE_CATCHMENT_DAILY_TABLE: C.contributions_catchment(days, home_df=inputs.home_df),
        S.GOLD_ZONE_REPEAT_VISITS_WEEKLY_TABLE: C.contributions_repeat_visits(
            inputs.repeat_df.where(F.col(S.ZONE_ID).isin(zones) & _in(S.WEEK, weeks))
        ),
    }
    for i, (table, contributions_df) in enumerate(daily.items(), start=1):
        marked = stage_breakdown(
            contributions_df, table=table, publish=publish, salt=salt, seed=None if seed is None else seed + 100 * i
        )
        partition = S.GOLD_TABLES[table][1]
        if partition == S.WEEK:
            marked = N.with_day_in_week_nesting(marked, day_devices_df=day_devices, k=k)
        staged[table] = StagedTable(marked, tuple(weeks if partition == S.WEEK else dates))

    moves = inputs.transitions_df.where(
        F.col(S.FROM_ZONE_ID).isin(zones) & F.col(S.TO_ZONE_ID).isin(zones) & _in(S.DATE, dates)
    )
    flows = stage_flows(moves, publish=publish, salt=salt, seed=None if seed is None else seed + 1000)
    flows = N.with_flow_in_day_nesting(flows, day_devices_df=day_devices, k=k)
    staged[S.GOLD_ZONE_FLOWS_DAILY_TABLE] = StagedTable(flows, tuple(dates))
    expected = stage_expected_hourly(
        inputs.expected_visits_df.where(F.col(S.ZONE_ID).isin(list(expected_zone_ids))),
        publish=publish,
        tz=tz,
        salt=salt,
        seed=None if seed is None else seed + 2000,
    )
    staged[S.GOLD_ZONE_VISITORS_EXPECTED_HOURLY_TABLE] = StagedTable(expected.where(_in(S.DATE, dates)), tuple(dates))
    staged[S.GOLD_ZONES_TABLE] = StagedTable(agg_gold_zones(inputs.zones_df, resolution_df=inputs.resolution_df), ())
    return staged


VALUE_COLS = {
    S.GOLD_ZONE_FLOWS_DAILY_TABLE: S.TRAVELLERS,
    S.GOLD_ZONE_VISITORS_EXPECTED_HOURLY_TABLE: S.VISITORS_EXPECTED,
}


def select_publishable(table: str, marked_df: DataFrame, *, mode: str) -> DataFrame:
    """Return what a marked gold table publishes: suppressed values deleted or nulled, the gold columns only."""
    schema = S.GOLD_TABLES[table][0]
    if table == S.GOLD_ZONES_TABLE:
        return marked_df.select(*schema.names)
    if table == S.GOLD_ZONE_FOOTFALL_HOURLY_TABLE:
        return D.select_published_hourly(marked_df, mode=mode)  # type: ignore[arg-type]
    value_col = VALUE_COLS.get(table, S.VISITORS)
    return D.select_published(marked_df, value_col=value_col, mode=mode, columns=schema.names)  # type: ignore[arg-type]
