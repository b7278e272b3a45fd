"""Bad rows as operators really export them, injected into valid events, each kind counted."""

from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T
from pyspark.sql.window import Window

from footfall import schemas as S

# Kinds injected into rows (opted_out is not injected: it is every event of a customer who objected).
INJECTED = (
    S.BAD_NULL_MSISDN,
    S.BAD_TIMESTAMP,
    S.BAD_OUT_OF_DAY,
    S.BAD_UNKNOWN_CELL,
    S.BAD_CELL_INACTIVE,
    S.BAD_DUPLICATE,
)
UNPARSEABLE_TS = ("not-a-timestamp", "2026-13-45T25:61:00Z", "", "03/02/2026 08:15")
TS_OUT = "yyyy-MM-dd'T'HH:mm:ss'Z'"


def _uniform(seed: int, salt: str, *cols: str) -> Column:
    """A deterministic uniform in [0, 1) from the row's content: the same row gets the same draw in every run."""
    return (F.abs(F.xxhash64(F.lit(seed), F.lit(salt), *cols)) % 1_000_000_007) / F.lit(1_000_000_007.0)


def with_fault_kind(events_df: DataFrame, *, seed: int, rate: float) -> DataFrame:
    """Add `fault`: the kind of bad row this event becomes, or null. Objectors' events are never touched."""
    u = _uniform(seed, "fault", S.MSISDN, "t0", S.CELL_ID)
    pick = F.floor(_uniform(seed, "kind", S.MSISDN, "t0", S.CELL_ID) * len(INJECTED)).cast("int")
    kinds = F.array(*[F.lit(k) for k in INJECTED])
    return events_df.withColumn(
        "fault", F.when(~F.col(S.OPTED_OUT) & (u < rate), F.element_at(kinds, pick + 1)).otherwise(F.lit(None))
    )


def with_inactive_cells(events_df: DataFrame, cells_df: DataFrame, *, seed: int) -> DataFrame:
    """Give each `cell_inactive` fault a cell that is switched off (or not yet on) at the event's time.

    Where no cell in the inventory qualifies at that time, the fault becomes `unknown_cell`, so the counts
    always say what the row really is.
    """
    changed = cells_df.where(
        (F.col(S.VALID_FROM) > F.lit("2000-01-01").cast("timestamp")) | F.col(S.VALID_TO).isNotNull()
    ).select(F.col(S.CELL_ID).alias("inactive_cell"), S.VALID_FROM, S.VALID_TO)
    wanted = events_df.where(F.col("fault") == S.BAD_CELL_INACTIVE).select(S.MSISDN, "t0", S.CELL_ID)
    ts = F.timestamp_seconds("t0")
    candidates = wanted.join(
        F.broadcast(changed),
        (ts < F.col(S.VALID_FROM)) | (F.col(S.VALID_TO).isNotNull() & (ts >= F.col(S.VALID_TO))),
        how="inner",
    )
    by_row = Window.partitionBy(S.MSISDN, "t0", S.CELL_ID).orderBy(F.xxhash64(F.lit(seed), "inactive_cell"))
    chosen = candidates.withColumn("n", F.row_number().over(by_row)).where("n = 1").drop("n", S.VALID_FROM, S.VALID_TO)
    joined = events_df.join(chosen, on=[S.MSISDN, "t0", S.CELL_ID], how="left")
    is_inactive = F.col("fault") == S.BAD_CELL_INACTIVE
    return joined.withColumn(
        "fault",
        F.when(is_inactive & F.col("inactive_cell").isNull(), F.lit(S.BAD_UNKNOWN_CELL)).otherwise(F.col("fault")),
    )


def with_faults_applied(events_df: DataFrame, *, seed: int) -> DataFrame:
    """Return landing rows (msisdn, event_ts, cell_id, event_type, event_date, fault, opted_out), faults applied.

    `event_date` stays the partition of the original event; a duplicate adds a second, identical row.
    """
    fault = F.col("fault")
    good_ts = F.date_format(F.timestamp_seconds("t0"), TS_OUT)
    garbage = F.element_at(
        F.array(*[F.lit(v) for v in UNPARSEABLE_TS]),
        (F.abs(F.xxhash64(F.lit(seed), "t0")) % len(UNPARSEABLE_TS)).cast("int") + 1,
    )
    shift_days = (F.abs(F.xxhash64(F.lit(seed), S.MSISDN, "t0")) % 3 + 1) * F.when(F.col("t0") % 2 == 0, 1).otherwise(
        -1
    )
    out_of_day = F.date_format(F.timestamp_seconds(F.col("t0") + shift_days * 86_400), TS_OUT)
    rows = events_df.select(
        F.when(fault == S.BAD_NULL_MSISDN, F.lit(None).cast(T.StringType())).otherwise(F.col(S.MSISDN)).alias(S.MSISDN),
        F.when(fault == S.BAD_TIMESTAMP, F.when(F.col("t0") % 5 == 0, F.lit(None)).otherwise(garbage))
        .when(fault == S.BAD_OUT_OF_DAY, out_of_day)
        .otherwise(good_ts)
        .alias(S.EVENT_TS),
        F.when(fault == S.BAD_UNKNOWN_CELL, F.concat(F.lit("X"), F.col(S.CELL_ID)))
        .when(fault == S.BAD_CELL_INACTIVE, F.col("inactive_cell"))
        .otherwise(F.col(S.CELL_ID))
        .alias(S.CELL_ID),
        S.EVENT_TYPE,
        S.EVENT_DATE,
        "fault",
        S.OPTED_OUT,
    )
    copies = rows.where(fault == S.BAD_DUPLICATE)
    originals = rows.withColumn("fault", F.when(fault == S.BAD_DUPLICATE, F.lit(None)).otherwise(fault))
    return originals.unionByName(copies)


def agg_bad_rows(landing_df: DataFrame) -> DataFrame:
    """Return truth/bad_rows: rows per (event_date, kind), objectors' events included as `opted_out`."""
    kind = F.when(F.col(S.OPTED_OUT), F.lit(S.BAD_OPTED_OUT)).otherwise(F.col("fault"))
    return (
        landing_df.where(kind.isNotNull())
        .groupBy(F.col(S.EVENT_DATE).cast("date").alias(S.EVENT_DATE), kind.alias(S.KIND))
        .agg(F.count(F.lit(1)).cast("long").alias(S.ROWS))
        .orderBy(S.EVENT_DATE, S.KIND)
    )
