"""Expected visitors: zones a crisp count cannot resolve, counted as sums of presence probabilities.

A shopping street is a 24 m band: which cell serves a phone cannot tell it from the 50 m around it, so counting the
devices placed in it undercounts or overcounts with the cell layout (docs/mobility.md, "Measured accuracy"). Summing
each device's probability of being in it, under a prior that puts more people inside retail zones than around them
(`posterior.expected.zone_prior_factor`), tracks the level instead. Measured on three cities, the market square's
hourly expected visitors are within 20-26 % of the truth (median), the streets' within 30-40 %:
`posterior.expected.categories` names the categories that get them, the square by default.

Silver keeps expected visits (silver/expected_visits): visits built from the events whose posterior mass in the
zone is at least `posterior.expected.min_mass`, as the posterior model builds stays, each with the largest mass it
reached. Gold sums, per zone-hour, each device's largest mass over its expected visits in that hour
(`contributions_expected_hourly`): at most 1 per device, so a sum of at least k covers at least k people.
"""

from __future__ import annotations

from collections.abc import Iterable

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from footfall import schemas as S
from footfall.config import MobilityConfig
from footfall.mobility.calendar import with_local_hours
from footfall.mobility.stays import agg_stays
from footfall.mobility.windows import WINDOW_DATE


def agg_expected_visits(present_df: DataFrame, *, settings: MobilityConfig) -> DataFrame:
    """Return the expected visits of each (device, window date) from the (event, zone) rows the expected coverage
    put at least `posterior.expected.min_mass` on (posterior.with_posterior_presences)."""
    p = settings.posterior
    stays = agg_stays(
        present_df,
        max_gap_s=p.max_gap_s,
        min_visit_s=settings.min_visit_s,
        device_cols=(S.PSEUDO_ID, WINDOW_DATE),
        max_edge_s=p.max_edge_s,
    )
    return stays.where(F.col(S.IS_VISIT)).select(
        S.PSEUDO_ID, S.ZONE_ID, S.ENTERED_AT, S.LEFT_AT, S.DWELL_S, S.PRESENCE_WEIGHT, WINDOW_DATE
    )


def expected_zone_ids(zone_categories: Iterable[tuple[str, str]], *, settings: MobilityConfig) -> list[str]:
    """Return the zones estimated as expected visitors, from (zone_id, category) pairs: those of the expected
    categories, under the posterior model."""
    categories = settings.posterior.expected.categories
    if settings.presence_model != "posterior" or not categories:
        return []
    return sorted(zone for zone, category in zone_categories if category in categories)


def contributions_expected_hourly(expected_visits_df: DataFrame, *, tz: str) -> DataFrame:
    """Return one row per device and zone-hour its expected visits overlap: pseudo_id, zone_id, date, hour,
    hour_start_utc and presence_weight, the largest mass of those visits (a device counts at most once an hour)."""
    keys = (S.PSEUDO_ID, S.ZONE_ID, S.DATE, S.HOUR, S.HOUR_START_UTC)
    return (
        with_local_hours(expected_visits_df, tz=tz)
        .groupBy(*keys)
        .agg(F.max(S.PRESENCE_WEIGHT).alias(S.PRESENCE_WEIGHT))
        .select(*keys, S.PRESENCE_WEIGHT)
    )
