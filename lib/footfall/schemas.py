"""Every table's contract in one place: column names, Spark schemas, partition columns.

Landing tables are what an operator exports (docs/data-contract.md); silver and gold tables are ours.
"""

from __future__ import annotations

from pyspark.sql import types as T

# ---- landing: events (DIR/events/event_date=YYYY-MM-DD/*.parquet) ----
MSISDN = "msisdn"
EVENT_TS = "event_ts"  # ISO-8601 UTC string in landing, e.g. 2026-03-02T08:15:03Z; parsed at ingest
CELL_ID = "cell_id"
EVENT_TYPE = "event_type"
EVENT_DATE = "event_date"  # partition column: the UTC date of event_ts

LANDING_EVENTS = T.StructType(
    [
        T.StructField(MSISDN, T.StringType(), True),
        T.StructField(EVENT_TS, T.StringType(), True),
        T.StructField(CELL_ID, T.StringType(), True),
        T.StructField(EVENT_TYPE, T.StringType(), True),
    ]
)
LANDING_EVENTS_PARTITION = EVENT_DATE
EVENT_TS_FORMAT = "yyyy-MM-dd'T'HH:mm:ssX"
EVENT_TYPES_XDR = ("data",)
EVENT_TYPES_CDR = ("call_out", "call_in", "sms_out", "sms_in")

# ---- landing: cells (DIR/cells.csv) ----
SITE_ID = "site_id"
LAT = "lat"
LON = "lon"
AZIMUTH_DEG = "azimuth_deg"  # null for omni cells
BEAMWIDTH_DEG = "beamwidth_deg"  # 360 for omni cells
RANGE_M = "range_m"
TECHNOLOGY = "technology"
VALID_FROM = "valid_from"
VALID_TO = "valid_to"  # null = still active

LANDING_CELLS = T.StructType(
    [
        T.StructField(CELL_ID, T.StringType(), False),
        T.StructField(SITE_ID, T.StringType(), False),
        T.StructField(LAT, T.DoubleType(), False),
        T.StructField(LON, T.DoubleType(), False),
        T.StructField(AZIMUTH_DEG, T.DoubleType(), True),
        T.StructField(BEAMWIDTH_DEG, T.DoubleType(), False),
        T.StructField(RANGE_M, T.DoubleType(), False),
        T.StructField(TECHNOLOGY, T.StringType(), False),
        T.StructField(VALID_FROM, T.TimestampType(), False),
        T.StructField(VALID_TO, T.TimestampType(), True),
    ]
)

# ---- landing: subscribers (DIR/subscribers.csv) ----
BIRTH_YEAR = "birth_year"
GENDER = "gender"  # f, m, x or null
HOME_DISTRICT_ID = "home_district_id"
OPTED_OUT = "opted_out"
OPTED_OUT_AT = "opted_out_at"

LANDING_SUBSCRIBERS = T.StructType(
    [
        T.StructField(MSISDN, T.StringType(), False),
        T.StructField(BIRTH_YEAR, T.IntegerType(), True),
        T.StructField(GENDER, T.StringType(), True),
        T.StructField(HOME_DISTRICT_ID, T.StringType(), True),
        T.StructField(OPTED_OUT, T.BooleanType(), False),
        T.StructField(OPTED_OUT_AT, T.TimestampType(), True),
    ]
)
GENDERS = ("f", "m", "x")

# ---- landing: market share (DIR/market_share.csv) ----
DISTRICT_ID = "district_id"
RESIDENTS = "residents"
SUBSCRIBERS = "subscribers"
MARKET_SHARE = "market_share"

LANDING_MARKET_SHARE = T.StructType(
    [
        T.StructField(DISTRICT_ID, T.StringType(), False),
        T.StructField(RESIDENTS, T.LongType(), False),
        T.StructField(SUBSCRIBERS, T.LongType(), False),
        T.StructField(MARKET_SHARE, T.DoubleType(), False),
    ]
)

# ---- landing: zones and districts (GeoJSON properties) ----
ZONE_ID = "zone_id"
NAME = "name"
CATEGORY = "category"
ZONE_CATEGORIES = ("shopping_street", "mall", "store_front", "market_square")

# ---- truth (DIR/truth/): what really happened; the pipeline never reads it ----
ENTERED_AT = "entered_at"
LEFT_AT = "left_at"
DATE = "date"
HOUR = "hour"
VISITORS = "visitors"
PASSERS_BY = "passers_by"
KIND = "kind"
ROWS = "rows"

TRUTH_VISITS = T.StructType(
    [
        T.StructField(MSISDN, T.StringType(), False),
        T.StructField(ZONE_ID, T.StringType(), False),
        T.StructField(ENTERED_AT, T.TimestampType(), False),
        T.StructField(LEFT_AT, T.TimestampType(), False),
    ]
)
TRUTH_ZONE_HOURLY = T.StructType(
    [
        T.StructField(ZONE_ID, T.StringType(), False),
        T.StructField(DATE, T.DateType(), False),
        T.StructField(HOUR, T.IntegerType(), False),
        T.StructField(VISITORS, T.LongType(), False),
        T.StructField(PASSERS_BY, T.LongType(), False),
    ]
)
TRUTH_HOMES = T.StructType(
    [
        T.StructField(MSISDN, T.StringType(), False),
        T.StructField(HOME_DISTRICT_ID, T.StringType(), False),
    ]
)
TRUTH_BAD_ROWS = T.StructType(
    [
        T.StructField(EVENT_DATE, T.DateType(), False),
        T.StructField(KIND, T.StringType(), False),
        T.StructField(ROWS, T.LongType(), False),
    ]
)

# Kinds of bad rows the generator injects, in the order ingest checks them (the first that applies wins).
BAD_NULL_MSISDN = "null_msisdn"
BAD_OPTED_OUT = "opted_out"  # a valid event of a customer who objected: dropped, never quarantined
BAD_TIMESTAMP = "bad_timestamp"
BAD_OUT_OF_DAY = "out_of_day"
BAD_UNKNOWN_CELL = "unknown_cell"
BAD_CELL_INACTIVE = "cell_inactive"
BAD_DUPLICATE = "duplicate"
BAD_ROW_KINDS = (
    BAD_NULL_MSISDN,
    BAD_OPTED_OUT,
    BAD_TIMESTAMP,
    BAD_OUT_OF_DAY,
    BAD_UNKNOWN_CELL,
    BAD_CELL_INACTIVE,
    BAD_DUPLICATE,
)
