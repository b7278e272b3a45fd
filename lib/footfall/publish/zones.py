"""Gold zones: the zone list with how well the cell layout can resolve each zone."""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from footfall import schemas as S

# store fronts score about 1e-4, so 9 decimals keep five significant digits there
SCORE_DECIMALS = 9


def agg_gold_zones(zones_df: DataFrame, *, resolution_df: DataFrame) -> DataFrame:
    """Return S.GOLD_ZONES: every silver zone with its resolution_score and is_resolvable.

    A zone missing from zone_resolution gets score 0.0 and is not resolvable: nothing says a cell can see it.
    The score is rounded to SCORE_DECIMALS: it is a sum of doubles whose order follows Spark's shuffle, so two builds
    of the same layout can differ in the last bit, and a republication must not change a published number.
    """
    # category and area_m2 come from zones; resolution repeats them and would make the join ambiguous
    resolution = resolution_df.select(S.ZONE_ID, S.RESOLUTION_SCORE, S.IS_LOW_RESOLUTION)
    return (
        zones_df.join(F.broadcast(resolution), on=S.ZONE_ID, how="left")
        .withColumns(
            {
                S.RESOLUTION_SCORE: F.round(F.coalesce(F.col(S.RESOLUTION_SCORE), F.lit(0.0)), SCORE_DECIMALS),
                S.IS_RESOLVABLE: F.coalesce(~F.col(S.IS_LOW_RESOLUTION), F.lit(False)),
            }
        )
        .select(*S.GOLD_ZONES.fieldNames())
    )
