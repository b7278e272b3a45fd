"""Many devices per Python call: the per-device models run in buckets of devices, not one call per device.

`applyInPandas` grouped by device calls Python once per device (or device-night), and each call costs a
pandas frame, a sort and an Arrow conversion of a few rows: on the default city those calls, not the models' NumPy,
were most of the mobility stage (stop 25 profile: 9,000 device-windows and 16,000 device-nights). Grouping by a hash
bucket of the device sends a few thousand devices per call instead; inside, the devices are contiguous slices of one
sorted frame.

The bucket count is BUCKETS_PER_PARTITION times `spark.sql.shuffle.partitions`, which the session factory scales
with the input (session.py), so a call holds a bounded share of the events however large the day.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np
import pandas as pd
from pyspark.sql import Column, SparkSession
from pyspark.sql import functions as F

BUCKET = "_bucket"
BUCKETS_PER_PARTITION = 16


def device_bucket(spark: SparkSession, device_cols: Sequence[str]) -> Column:
    """Return the bucket of a row's device: a hash of its device columns over the bucket count."""
    buckets = BUCKETS_PER_PARTITION * int(spark.conf.get("spark.sql.shuffle.partitions") or 200)
    return F.pmod(F.xxhash64(*device_cols), F.lit(buckets))


def group_slices(ordered: pd.DataFrame, cols: Sequence[str]) -> Iterator[tuple[int, int]]:
    """Yield (start, end) of each run of equal `cols` in a frame sorted by them."""
    if len(ordered) == 0:
        return
    codes = ordered.groupby(list(cols), sort=False, dropna=False).ngroup().to_numpy()
    bounds = np.concatenate([[0], np.flatnonzero(np.diff(codes)) + 1, [len(ordered)]])
    yield from zip(bounds[:-1].tolist(), bounds[1:].tolist(), strict=True)
