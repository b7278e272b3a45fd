"""The subscribers dimension: one pseudonymised row per adult, non-objecting subscriber and pseudonym period."""

from __future__ import annotations

from collections.abc import Sequence

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from footfall import schemas as S
from footfall.ingest.pseudonym import with_pseudo_id


def age_band_labels(age_bands: Sequence[int]) -> list[str]:
    """Return the label of each band: '18-24', ..., '65+' for lower bounds (18, 25, ..., 65)."""
    uppers = [f"-{b - 1}" for b in age_bands[1:]] + ["+"]
    return [f"{low}{up}" for low, up in zip(age_bands, uppers, strict=True)]


def age_band_col(age: Column, *, age_bands: Sequence[int]) -> Column:
    """Return the band label of an age column; null age gives 'unknown', an age below the first band gives null."""
    band = F.when(age.isNull(), F.lit(S.AGE_UNKNOWN))
    labels = age_band_labels(age_bands)
    for low, label in reversed(list(zip(age_bands, labels, strict=True))):
        band = band.when(age >= low, F.lit(label))
    return band


def with_subscriber_dimension(
    subscribers_df: DataFrame,
    *,
    period_starts_df: DataFrame,
    keys_df: DataFrame,
    period_days: int,
    age_bands: Sequence[int],
) -> DataFrame:
    """Return S.SILVER_SUBSCRIBERS for every period in `period_starts_df` (one column, period_start).

    Objectors and subscribers younger than the first band in that period are left out. Age is the age reached
    in the calendar year the period starts in (the contract gives only the birth year). A period start is its own
    local date, so each row gets the pseudonym its subscriber's events of that period get.
    """
    age = F.year(F.col(S.PERIOD_START)) - F.col(S.BIRTH_YEAR)
    return (
        subscribers_df.where(~F.col(S.OPTED_OUT))
        .crossJoin(F.broadcast(period_starts_df.select(S.PERIOD_START)))
        .withColumn(S.AGE_BAND, age_band_col(age, age_bands=age_bands))
        .where(F.col(S.AGE_BAND).isNotNull())
        .transform(with_pseudo_id, keys_df=keys_df, period_days=period_days, date_col=S.PERIOD_START)
        .select(*[f.name for f in S.SILVER_SUBSCRIBERS.fields])
    )
