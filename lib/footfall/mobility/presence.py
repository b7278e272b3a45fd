"""Presence models: when does an event on a cell count as the device being in a zone?

- `threshold`: present when the cell's weight for the zone (share of its footprint inside the zone) is at least
  `min_weight`. Simple and explainable; small zones whose cells are mostly elsewhere are never seen.
- `weighted`: every candidate with a positive weight counts, and carries its weight as the probability of being
  in the zone; stays keep the largest weight seen (`presence_weight`), and counts become expected values.
"""

from __future__ import annotations

from typing import Literal

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from footfall import schemas as S

PresenceModel = Literal["threshold", "weighted", "posterior"]
PRESENCE_WEIGHT = "presence_weight"


def filter_present(candidates_df: DataFrame, *, model: PresenceModel, min_weight: float) -> DataFrame:
    """Keep the (event, zone) candidates that count as presence, with `presence_weight` (1.0 under threshold)."""
    if model == "threshold":
        return candidates_df.where(F.col(S.WEIGHT) >= min_weight).withColumn(PRESENCE_WEIGHT, F.lit(1.0))
    # posterior: events are placed by posterior.py; here it only names the cells that can put a device in a zone
    if model in ("weighted", "posterior"):
        return candidates_df.where(F.col(S.WEIGHT) > 0).withColumn(PRESENCE_WEIGHT, F.col(S.WEIGHT))
    raise ValueError(f"unknown presence model {model!r}: use threshold, weighted or posterior")
