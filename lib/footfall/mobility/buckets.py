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
import pyarrow as pa
import pyarrow.compute as pc
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


# Arrow buckets (`applyInArrow`): the devices of a bucket as one Arrow table, no pandas frame. The pandas path paid
# for a frame of every event, a sort of 64-character pseudonyms and a groupby to find the devices (make bench, 10 M
# events: most of the posterior's Python stage besides the kernel).


def sorted_by(table: pa.Table, keys: Sequence[str]) -> pa.Table:
    """Return `table` ordered by `keys` (ascending, no nulls): as it is when it already is, which is how Spark
    hands over a bucket whose partition was sorted, else sorted (a check of adjacent rows costs far less)."""
    n = table.num_rows
    if n < 2:
        return table
    later_ok = np.zeros(n - 1, dtype=bool)  # row i+1 is already known to come after row i
    tied = np.ones(n - 1, dtype=bool)  # rows i and i+1 are equal on the keys so far
    for key in keys:
        col = table.column(key)
        a, b = col.slice(0, n - 1), col.slice(1)
        later_ok |= tied & pc.less(a, b).to_numpy(zero_copy_only=False)
        tied &= pc.equal(a, b).to_numpy(zero_copy_only=False)
    if (later_ok | tied).all():
        return table
    return table.sort_by([(k, "ascending") for k in keys])


def distinct_sorted(table: pa.Table, keys: Sequence[str]) -> pa.Table:
    """Return a table sorted by `keys` with only the first of each run of rows equal on them (as it is when there
    are none): Spark's dropDuplicates, done where the rows are already sorted."""
    n = table.num_rows
    if n < 2:
        return table
    tied = np.ones(n - 1, dtype=bool)
    for key in keys:
        col = table.column(key)
        tied &= pc.equal(col.slice(0, n - 1), col.slice(1)).to_numpy(zero_copy_only=False)
    if not tied.any():
        return table
    return table.filter(pa.array(np.concatenate([[True], ~tied])))


def device_starts(table: pa.Table, cols: Sequence[str]) -> np.ndarray:
    """Return the first row of each run of equal `cols` in a table sorted by them, then the number of rows."""
    n = table.num_rows
    if n == 0:
        return np.zeros(1, dtype=np.int64)
    changed = np.zeros(n - 1, dtype=bool)
    for c in cols:
        col = table.column(c)
        changed |= pc.not_equal(col.slice(0, n - 1), col.slice(1)).to_numpy(zero_copy_only=False)
    return np.concatenate([[0], np.flatnonzero(changed) + 1, [n]]).astype(np.int64)


def epoch_seconds(col: pa.ChunkedArray) -> np.ndarray:
    """Return a timestamp column as whole epoch seconds (int64, rounded down)."""
    micros = pc.cast(col, pa.timestamp("us")).cast(pa.int64()).to_numpy(zero_copy_only=False)
    return np.floor_divide(micros, 1_000_000)


def index_of(col: pa.ChunkedArray, values: pa.Array) -> np.ndarray:
    """Return each row's position in `values` (int64), -1 where it is not there."""
    return pc.fill_null(pc.index_in(col, value_set=values), -1).to_numpy(zero_copy_only=False).astype(np.int64)
