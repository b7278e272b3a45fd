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
HOUR = "hour"  # local wall-clock hour, 0-23
HOUR_START_UTC = "hour_start_utc"  # tells the two 02:00 hours of the autumn DST day apart
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
        T.StructField("arrival_direction", T.StringType(), False),
    ]
)
TRUTH_ZONE_HOURLY = T.StructType(
    [
        T.StructField(ZONE_ID, T.StringType(), False),
        T.StructField(DATE, T.DateType(), False),
        T.StructField(HOUR, T.IntegerType(), False),
        T.StructField(HOUR_START_UTC, T.TimestampType(), False),
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

# ---- silver (<lakehouse>/silver/<table>): written by ingest; no raw identifier ever reaches them ----
PSEUDO_ID = "pseudo_id"  # HMAC-SHA256 of the msisdn under the key of the event's pseudonym period, 64 hex chars
PERIOD_START = "period_start"  # first local date (a Monday) of a pseudonym period
AGE_BAND = "age_band"  # e.g. 18-24, 65+, unknown; ages below the first band are excluded
AGE_UNKNOWN = "unknown"
REASON = "reason"
RUN_ID = "run_id"
RUN_AT = "run_at"

SILVER = "silver"
SILVER_EVENTS_TABLE = "events"
SILVER_QUARANTINE_TABLE = "quarantine_events"
SILVER_SUBSCRIBERS_TABLE = "subscribers"
SILVER_INGEST_AUDIT_TABLE = "ingest_audit"
SILVER_FORGET_AUDIT_TABLE = "forget_audit"

SILVER_EVENTS = T.StructType(
    [
        T.StructField(PSEUDO_ID, T.StringType(), False),
        T.StructField(EVENT_TS, T.TimestampType(), False),
        T.StructField(CELL_ID, T.StringType(), False),
        T.StructField(EVENT_TYPE, T.StringType(), False),
        T.StructField(EVENT_DATE, T.DateType(), False),
    ]
)
SILVER_EVENTS_PARTITION = EVENT_DATE

# Rows that failed a check, as they arrived except that the msisdn is pseudonymised (null when it was null).
SILVER_QUARANTINE_EVENTS = T.StructType(
    [
        T.StructField(PSEUDO_ID, T.StringType(), True),
        T.StructField(EVENT_TS, T.StringType(), True),  # the raw string: it may be what failed
        T.StructField(CELL_ID, T.StringType(), True),
        T.StructField(EVENT_TYPE, T.StringType(), True),
        T.StructField(EVENT_DATE, T.DateType(), False),
        T.StructField(REASON, T.StringType(), False),
        T.StructField(RUN_ID, T.StringType(), False),
    ]
)
SILVER_QUARANTINE_PARTITION = EVENT_DATE

# One row per adult, non-objecting subscriber and pseudonym period the run covered.
SILVER_SUBSCRIBERS = T.StructType(
    [
        T.StructField(PSEUDO_ID, T.StringType(), False),
        T.StructField(AGE_BAND, T.StringType(), False),
        T.StructField(GENDER, T.StringType(), True),
        T.StructField(HOME_DISTRICT_ID, T.StringType(), True),
        T.StructField(PERIOD_START, T.DateType(), False),
    ]
)
SILVER_SUBSCRIBERS_PARTITION = PERIOD_START

# Why a landing row did not reach silver/events. Quarantined rows are kept (pseudonymised); dropped rows are
# only counted. Checked in this order, the first that applies wins: BAD_ROW_KINDS, then ours.
REASON_UNKNOWN_SUBSCRIBER = "unknown_subscriber"  # msisdn not in subscribers.csv: we cannot know if they objected
REASON_BAD_EVENT_TYPE = "bad_event_type"  # null or not one of EVENT_TYPES_XDR + EVENT_TYPES_CDR
REASON_MINOR = "minor"  # a valid event of a subscriber below the first age band: dropped, never kept
# every event of a device with more events on its UTC date than config ingest.max_events_per_device_day (a SIM box)
REASON_IMPLAUSIBLE_RATE = "implausible_rate"
REASONS = (*BAD_ROW_KINDS, REASON_UNKNOWN_SUBSCRIBER, REASON_BAD_EVENT_TYPE, REASON_MINOR, REASON_IMPLAUSIBLE_RATE)
DROPPED_REASONS = (BAD_OPTED_OUT, REASON_MINOR)
QUARANTINE_REASONS = tuple(r for r in REASONS if r not in DROPPED_REASONS)

ROWS_READ = "rows_read"
ROWS_SILVER = "rows_silver"
ROWS_QUARANTINED = "rows_quarantined"
ROWS_OPTED_OUT = "rows_opted_out"
ROWS_MINOR = "rows_minor"
ROWS_BY_REASON = "rows_by_reason"
ACCEPTED_BREACH = "accepted_breach"

# One row per event date and run; rows_read = rows_silver + rows_quarantined + rows_opted_out + rows_minor.
SILVER_INGEST_AUDIT = T.StructType(
    [
        T.StructField(EVENT_DATE, T.DateType(), False),
        T.StructField(RUN_ID, T.StringType(), False),
        T.StructField(RUN_AT, T.TimestampType(), False),
        T.StructField(ROWS_READ, T.LongType(), False),
        T.StructField(ROWS_SILVER, T.LongType(), False),
        T.StructField(ROWS_QUARANTINED, T.LongType(), False),
        T.StructField(ROWS_OPTED_OUT, T.LongType(), False),
        T.StructField(ROWS_MINOR, T.LongType(), False),
        T.StructField(ROWS_BY_REASON, T.MapType(T.StringType(), T.LongType(), False), False),
        # what the guards stopped on for this date and an operator accepted (--accept-quarantine); null: nothing
        T.StructField(ACCEPTED_BREACH, T.StringType(), True),
    ]
)

OBJECTIONS_APPLIED = "objections_applied"
OBJECTIONS_THROUGH = "objections_through"
ROWS_DELETED = "rows_deleted"
AFFECTED_DATES = "affected_dates"
TABLES_VACUUMED = "tables_vacuumed"

# One row per `footfall forget` run: counts and dates, never an identifier.
SILVER_FORGET_AUDIT = T.StructType(
    [
        T.StructField(RUN_ID, T.StringType(), False),
        T.StructField(RUN_AT, T.TimestampType(), False),
        T.StructField(OBJECTIONS_APPLIED, T.LongType(), False),
        T.StructField(OBJECTIONS_THROUGH, T.TimestampType(), True),  # latest opted_out_at applied so far
        T.StructField(ROWS_DELETED, T.MapType(T.StringType(), T.LongType(), False), False),  # per table
        T.StructField(AFFECTED_DATES, T.ArrayType(T.DateType(), False), False),  # gold partitions to recompute
        T.StructField(TABLES_VACUUMED, T.ArrayType(T.StringType(), False), False),
    ]
)

SILVER_FORGET_APPLIED_TABLE = "forget_applied"
SILVER_FORGET_PENDING_TABLE = "forget_pending"
OBJECTION_TOKEN = "objection_token"  # HMAC-SHA256 of msisdn and opted_out_at under a key kept for this only

# One row per objection `forget` has applied, appended once its deletes succeeded: a token, never an identifier.
# It cannot be linked to a pseudo_id, and a new objection (a new opted_out_at) gets a new token.
SILVER_FORGET_APPLIED = T.StructType(
    [
        T.StructField(OBJECTION_TOKEN, T.StringType(), False),
        T.StructField(RUN_ID, T.StringType(), False),
        T.StructField(RUN_AT, T.TimestampType(), False),
    ]
)
# Local dates whose gold must be republished because a forget deleted rows it was built from; a date leaves
# once gold of it is republished (or when gold never held it).
SILVER_FORGET_PENDING = T.StructType(
    [
        T.StructField(DATE, T.DateType(), False),
        T.StructField(RUN_ID, T.StringType(), False),  # the forget run that made the date pending
        T.StructField(RUN_AT, T.TimestampType(), False),
    ]
)

# ---- silver spatial (<lakehouse>/silver/<table>): written by `footfall spatial`, rebuilt when its inputs change ----
# Geometries are WKB in WGS84 (EPSG:4326, x = longitude); areas are in square metres, computed in the metric CRS.
GEOMETRY_WKB = "geometry_wkb"
FOOTPRINT_WKB = "footprint_wkb"
AREA_M2 = "area_m2"
IS_REPAIRED = "is_repaired"  # the input geometry was invalid and ST_MakeValid repaired it
INVALID_REASON = "invalid_reason"  # Sedona's ST_IsValidReason for a repaired geometry, else null
FOOTPRINT_MODEL = "footprint_model"  # sector or voronoi
WEIGHT = "weight"  # area(footprint ∩ area) / area(footprint): share of a cell's footprint inside the zone/district
N_CELLS = "n_cells"
BEST_WEIGHT = "best_weight"
RESOLUTION_SCORE = "resolution_score"
IS_LOW_RESOLUTION = "is_low_resolution"
INPUTS_HASH = "inputs_hash"
METRIC_CRS = "metric_crs"
CELLS = "cells"
ZONES = "zones"
DISTRICTS = "districts"
REPAIRED_FEATURES = "repaired_features"
FOOTPRINT_MODELS = ("sector", "voronoi")

SILVER_ZONES_TABLE = "zones"
SILVER_DISTRICTS_TABLE = "districts"
SILVER_CELL_FOOTPRINTS_TABLE = "cell_footprints"
SILVER_CELL_ZONE_WEIGHTS_TABLE = "cell_zone_weights"
SILVER_CELL_DISTRICT_WEIGHTS_TABLE = "cell_district_weights"
SILVER_ZONE_RESOLUTION_TABLE = "zone_resolution"
SILVER_SPATIAL_INPUTS_TABLE = "spatial_inputs"
SILVER_MARKET_SHARE_TABLE = "market_share"  # market_share.csv as checked: residents, subscribers, share per district
# The coverage model (spatial/coverage.py, docs/spatial.md): a regular grid in the metric CRS, the probability that
# each cell serves a phone in each tile, and each tile's share inside each zone. The posterior presence model reads
# them; they hold no person and no event.
SILVER_COVERAGE_TABLE = "cell_tile_coverage"
SILVER_TILE_ZONES_TABLE = "tile_zones"
TILE_ID = "tile_id"  # row-major from the grid's south-west corner
P_SERVE = "p_serve"  # P(this cell serves | a phone in this tile), from the coverage model
SHARE = "share"  # area(tile ∩ zone) / area(tile)
SILVER_COVERAGE = T.StructType(
    [
        T.StructField(CELL_ID, T.StringType(), False),
        T.StructField(TILE_ID, T.LongType(), False),
        T.StructField(P_SERVE, T.DoubleType(), False),
    ]
)
SILVER_TILE_ZONES = T.StructType(
    [
        T.StructField(TILE_ID, T.LongType(), False),
        T.StructField(ZONE_ID, T.StringType(), False),
        T.StructField(SHARE, T.DoubleType(), False),
    ]
)
# The same model on a coarser grid over the districts, for homes (mobility/home_posterior.py): where a device spends
# the night is anywhere in the city, not only near the zones.
SILVER_HOME_COVERAGE_TABLE = "cell_home_tile_coverage"
SILVER_HOME_TILE_DISTRICTS_TABLE = "home_tile_districts"
SILVER_HOME_COVERAGE = SILVER_COVERAGE
SILVER_HOME_TILE_DISTRICTS = T.StructType(
    [
        T.StructField(TILE_ID, T.LongType(), False),
        T.StructField(DISTRICT_ID, T.StringType(), False),
        T.StructField(SHARE, T.DoubleType(), False),
    ]
)
SILVER_MARKET_SHARE = LANDING_MARKET_SHARE

SILVER_ZONES = T.StructType(
    [
        T.StructField(ZONE_ID, T.StringType(), False),
        T.StructField(NAME, T.StringType(), False),
        T.StructField(CATEGORY, T.StringType(), False),
        T.StructField(AREA_M2, T.DoubleType(), False),
        T.StructField(IS_REPAIRED, T.BooleanType(), False),
        T.StructField(INVALID_REASON, T.StringType(), True),
        T.StructField(GEOMETRY_WKB, T.BinaryType(), False),
    ]
)
SILVER_DISTRICTS = T.StructType(
    [
        T.StructField(DISTRICT_ID, T.StringType(), False),
        T.StructField(NAME, T.StringType(), False),
        T.StructField(RESIDENTS, T.LongType(), False),
        T.StructField(AREA_M2, T.DoubleType(), False),
        T.StructField(IS_REPAIRED, T.BooleanType(), False),
        T.StructField(INVALID_REASON, T.StringType(), True),
        T.StructField(GEOMETRY_WKB, T.BinaryType(), False),
    ]
)
# One row per cells.csv row (cell and validity period).
SILVER_CELL_FOOTPRINTS = T.StructType(
    [
        T.StructField(CELL_ID, T.StringType(), False),
        T.StructField(SITE_ID, T.StringType(), False),
        T.StructField(TECHNOLOGY, T.StringType(), False),
        T.StructField(AZIMUTH_DEG, T.DoubleType(), True),
        T.StructField(BEAMWIDTH_DEG, T.DoubleType(), False),
        T.StructField(RANGE_M, T.DoubleType(), False),
        T.StructField(VALID_FROM, T.TimestampType(), False),
        T.StructField(VALID_TO, T.TimestampType(), True),
        T.StructField(FOOTPRINT_MODEL, T.StringType(), False),
        T.StructField(AREA_M2, T.DoubleType(), False),
        T.StructField(FOOTPRINT_WKB, T.BinaryType(), False),
    ]
)
# One row per cell validity period and zone its footprint overlaps with a positive area; no row = weight 0.
SILVER_CELL_ZONE_WEIGHTS = T.StructType(
    [
        T.StructField(CELL_ID, T.StringType(), False),
        T.StructField(ZONE_ID, T.StringType(), False),
        T.StructField(WEIGHT, T.DoubleType(), False),
        T.StructField(VALID_FROM, T.TimestampType(), False),
        T.StructField(VALID_TO, T.TimestampType(), True),
    ]
)
SILVER_CELL_DISTRICT_WEIGHTS = T.StructType(
    [
        T.StructField(CELL_ID, T.StringType(), False),
        T.StructField(DISTRICT_ID, T.StringType(), False),
        T.StructField(WEIGHT, T.DoubleType(), False),
        T.StructField(VALID_FROM, T.TimestampType(), False),
        T.StructField(VALID_TO, T.TimestampType(), True),
    ]
)
# One row per zone, zones no cell overlaps included (n_cells 0, score 0); docs/spatial.md explains the score.
SILVER_ZONE_RESOLUTION = T.StructType(
    [
        T.StructField(ZONE_ID, T.StringType(), False),
        T.StructField(CATEGORY, T.StringType(), False),
        T.StructField(AREA_M2, T.DoubleType(), False),
        T.StructField(N_CELLS, T.LongType(), False),
        T.StructField(BEST_WEIGHT, T.DoubleType(), False),
        T.StructField(RESOLUTION_SCORE, T.DoubleType(), False),
        T.StructField(IS_LOW_RESOLUTION, T.BooleanType(), False),
    ]
)
# One row per spatial build; the job skips the rebuild when the latest row's hash equals the inputs' hash.
SILVER_SPATIAL_INPUTS = T.StructType(
    [
        T.StructField(INPUTS_HASH, T.StringType(), False),
        T.StructField(RUN_ID, T.StringType(), False),
        T.StructField(RUN_AT, T.TimestampType(), False),
        T.StructField(FOOTPRINT_MODEL, T.StringType(), False),
        T.StructField(METRIC_CRS, T.StringType(), False),
        T.StructField(CELLS, T.LongType(), False),
        T.StructField(ZONES, T.LongType(), False),
        T.StructField(DISTRICTS, T.LongType(), False),
        T.StructField(REPAIRED_FEATURES, T.ArrayType(T.StringType(), False), False),
    ]
)

# ---- silver, written by mobility: pseudonymous, never published as they stand ----
DWELL_S = "dwell_s"
IS_VISIT = "is_visit"
ARRIVAL_DIRECTION = "arrival_direction"
PREVIOUS_ZONE_ID = "previous_zone_id"
PRESENCE_WEIGHT = "presence_weight"
IS_RESIDENT = "is_resident"  # the device's home district is the zone's district
WEEK = "week"
VISIT_DAYS = "visit_days"
FROM_ZONE_ID = "from_zone_id"
TO_ZONE_ID = "to_zone_id"
GAP_S = "gap_s"
NIGHTS = "nights"
NIGHT = "night"  # a night is named by the local date it starts on

SILVER_STAYS_TABLE = "stays"
SILVER_DEVICE_HOME_TABLE = "device_home"
SILVER_REPEAT_VISITS_TABLE = "repeat_visits"
SILVER_ZONE_TRANSITIONS_TABLE = "zone_transitions"
SILVER_EXPECTED_VISITS_TABLE = "expected_visits"
SILVER_NIGHT_VOTES_TABLE = "night_votes"

# One row per stay; `date` is the local date of entry (the partition); a stay across midnight is one row here
# and counts on both days when aggregated (docs/mobility.md).
SILVER_STAYS = T.StructType(
    [
        T.StructField(PSEUDO_ID, T.StringType(), False),
        T.StructField(ZONE_ID, T.StringType(), False),
        T.StructField(ENTERED_AT, T.TimestampType(), False),
        T.StructField(LEFT_AT, T.TimestampType(), False),
        T.StructField(DWELL_S, T.LongType(), False),
        T.StructField(IS_VISIT, T.BooleanType(), False),
        T.StructField(ARRIVAL_DIRECTION, T.StringType(), False),
        T.StructField(PREVIOUS_ZONE_ID, T.StringType(), True),
        T.StructField(PRESENCE_WEIGHT, T.DoubleType(), False),
        T.StructField(IS_RESIDENT, T.BooleanType(), False),
        T.StructField(DATE, T.DateType(), False),
    ]
)
SILVER_STAYS_PARTITION = DATE
# Expected visits (mobility.posterior.expected): visits of the zones of the expected categories under a prior that
# puts more people inside zones than around them, each with the largest posterior mass it reached; gold sums the
# masses per hour rather than counting devices (docs/mobility.md, "Expected visitors"). `date` as in stays.
SILVER_EXPECTED_VISITS = T.StructType(
    [
        T.StructField(PSEUDO_ID, T.StringType(), False),
        T.StructField(ZONE_ID, T.StringType(), False),
        T.StructField(ENTERED_AT, T.TimestampType(), False),
        T.StructField(LEFT_AT, T.TimestampType(), False),
        T.StructField(DWELL_S, T.LongType(), False),
        T.StructField(PRESENCE_WEIGHT, T.DoubleType(), False),
        T.StructField(DATE, T.DateType(), False),
    ]
)
SILVER_EXPECTED_VISITS_PARTITION = DATE
# A night's vote: the district a device spent the night in, by the home model (mobility/home.py,
# home_posterior.py). A vote depends on that night's events alone, so silver keeps it: a new day computes its one
# new night, not every night behind its homes (docs/mobility.md, "Homes").
SILVER_NIGHT_VOTES = T.StructType(
    [
        T.StructField(PSEUDO_ID, T.StringType(), False),
        T.StructField(DISTRICT_ID, T.StringType(), False),
        T.StructField(NIGHT, T.DateType(), False),
    ]
)
SILVER_NIGHT_VOTES_PARTITION = NIGHT
# One row per device and date it was seen on: its home as voted by the nights before that date (docs/mobility.md).
SILVER_DEVICE_HOME = T.StructType(
    [
        T.StructField(PSEUDO_ID, T.StringType(), False),
        T.StructField(HOME_DISTRICT_ID, T.StringType(), False),
        T.StructField(NIGHTS, T.LongType(), False),
        T.StructField(DATE, T.DateType(), False),
    ]
)
SILVER_DEVICE_HOME_PARTITION = DATE
SILVER_REPEAT_VISITS = T.StructType(
    [
        T.StructField(PSEUDO_ID, T.StringType(), False),
        T.StructField(ZONE_ID, T.StringType(), False),
        T.StructField(WEEK, T.StringType(), False),
        T.StructField(VISIT_DAYS, T.LongType(), False),
    ]
)
SILVER_REPEAT_VISITS_PARTITION = WEEK
# A move from a visit to the device's next visit; `date` is the local date the device entered the second zone.
SILVER_ZONE_TRANSITIONS = T.StructType(
    [
        T.StructField(PSEUDO_ID, T.StringType(), False),
        T.StructField(FROM_ZONE_ID, T.StringType(), False),
        T.StructField(TO_ZONE_ID, T.StringType(), False),
        T.StructField("left_from_at", T.TimestampType(), False),
        T.StructField("entered_to_at", T.TimestampType(), False),
        T.StructField(GAP_S, T.LongType(), False),
        T.StructField(DATE, T.DateType(), False),
    ]
)
SILVER_ZONE_TRANSITIONS_PARTITION = DATE

# ---- gold (<lakehouse>/gold/<table>): the published contract (docs/outputs.md); every count covers >= k devices ----
GOLD = "gold"
GOLD_DATABASE = "footfall"  # the Spark catalog database the gold tables are registered in
DWELL_P25_S = "dwell_p25_s"
DWELL_MEDIAN_S = "dwell_median_s"
DWELL_P75_S = "dwell_p75_s"
VISITS = "visits"
VISITORS_EXTRAPOLATED = "visitors_extrapolated"
VISITORS_EXPECTED = "visitors_expected"
DIRECTION = "direction"
TRAVELLERS = "travellers"
IS_RESOLVABLE = "is_resolvable"
VISIT_DAYS_BUCKETS = ("1", "2", "3", "4+")
GENDER_UNKNOWN = "unknown"  # gold spells a missing gender like a missing age: never null in a key
HOME_UNKNOWN = "unknown"  # a device without a detected home (silver/device_home says so too)
# Cohort columns of staged hourly cells (never published): the devices behind presence and behind visit starts.
DEVICES_PRESENT = "devices_present"
DEVICES_VISITS = "devices_behind_visits"

GOLD_ZONE_FOOTFALL_HOURLY_TABLE = "zone_footfall_hourly"
GOLD_ZONE_DEMOGRAPHICS_DAILY_TABLE = "zone_demographics_daily"
GOLD_ZONE_ARRIVAL_DIRECTION_DAILY_TABLE = "zone_arrival_direction_daily"
GOLD_ZONE_CATCHMENT_DAILY_TABLE = "zone_catchment_daily"
GOLD_ZONE_REPEAT_VISITS_WEEKLY_TABLE = "zone_repeat_visits_weekly"
GOLD_ZONE_FLOWS_DAILY_TABLE = "zone_flows_daily"
GOLD_ZONE_VISITORS_EXPECTED_HOURLY_TABLE = "zone_visitors_expected_hourly"
GOLD_ZONES_TABLE = "zones"

# hour_start_utc keeps the two 02:00 hours of the autumn DST day apart (the key is zone_id, hour_start_utc).
GOLD_ZONE_FOOTFALL_HOURLY = T.StructType(
    [
        T.StructField(ZONE_ID, T.StringType(), False),
        T.StructField(DATE, T.DateType(), False),
        T.StructField(HOUR, T.IntegerType(), False),
        T.StructField(HOUR_START_UTC, T.TimestampType(), False),
        T.StructField(VISITORS, T.LongType(), True),
        T.StructField(VISITS, T.LongType(), True),
        T.StructField(PASSERS_BY, T.LongType(), True),
        T.StructField(DWELL_P25_S, T.DoubleType(), True),
        T.StructField(DWELL_MEDIAN_S, T.DoubleType(), True),
        T.StructField(DWELL_P75_S, T.DoubleType(), True),
        T.StructField(VISITORS_EXTRAPOLATED, T.LongType(), True),
    ]
)
# Expected visitors of zones no crisp count resolves (mobility/expected.py): per zone-hour, the sum over devices of
# each one's largest presence probability in the hour, rounded; published only when that sum is at least k.
GOLD_ZONE_VISITORS_EXPECTED_HOURLY = T.StructType(
    [
        T.StructField(ZONE_ID, T.StringType(), False),
        T.StructField(DATE, T.DateType(), False),
        T.StructField(HOUR, T.IntegerType(), False),
        T.StructField(HOUR_START_UTC, T.TimestampType(), False),
        T.StructField(VISITORS_EXPECTED, T.LongType(), True),
    ]
)
GOLD_ZONE_DEMOGRAPHICS_DAILY = T.StructType(
    [
        T.StructField(ZONE_ID, T.StringType(), False),
        T.StructField(DATE, T.DateType(), False),
        T.StructField(AGE_BAND, T.StringType(), False),
        T.StructField(GENDER, T.StringType(), False),
        T.StructField(VISITORS, T.LongType(), True),
    ]
)
GOLD_ZONE_ARRIVAL_DIRECTION_DAILY = T.StructType(
    [
        T.StructField(ZONE_ID, T.StringType(), False),
        T.StructField(DATE, T.DateType(), False),
        T.StructField(DIRECTION, T.StringType(), False),
        T.StructField(VISITORS, T.LongType(), True),
    ]
)
GOLD_ZONE_CATCHMENT_DAILY = T.StructType(
    [
        T.StructField(ZONE_ID, T.StringType(), False),
        T.StructField(DATE, T.DateType(), False),
        T.StructField(HOME_DISTRICT_ID, T.StringType(), False),
        T.StructField(IS_RESIDENT, T.BooleanType(), False),
        T.StructField(VISITORS, T.LongType(), True),
    ]
)
GOLD_ZONE_REPEAT_VISITS_WEEKLY = T.StructType(
    [
        T.StructField(ZONE_ID, T.StringType(), False),
        T.StructField(WEEK, T.StringType(), False),
        T.StructField(VISIT_DAYS, T.StringType(), False),
        T.StructField(VISITORS, T.LongType(), True),
    ]
)
GOLD_ZONE_FLOWS_DAILY = T.StructType(
    [
        T.StructField(FROM_ZONE_ID, T.StringType(), False),
        T.StructField(TO_ZONE_ID, T.StringType(), False),
        T.StructField(DATE, T.DateType(), False),
        T.StructField(TRAVELLERS, T.LongType(), True),
    ]
)
GOLD_ZONES = T.StructType(
    [
        T.StructField(ZONE_ID, T.StringType(), False),
        T.StructField(NAME, T.StringType(), False),
        T.StructField(CATEGORY, T.StringType(), False),
        T.StructField(AREA_M2, T.DoubleType(), False),
        T.StructField(RESOLUTION_SCORE, T.DoubleType(), False),
        T.StructField(IS_RESOLVABLE, T.BooleanType(), False),
    ]
)
# table -> (schema, partition column or None)
GOLD_TABLES: dict[str, tuple[T.StructType, str | None]] = {
    GOLD_ZONE_FOOTFALL_HOURLY_TABLE: (GOLD_ZONE_FOOTFALL_HOURLY, DATE),
    GOLD_ZONE_DEMOGRAPHICS_DAILY_TABLE: (GOLD_ZONE_DEMOGRAPHICS_DAILY, DATE),
    GOLD_ZONE_ARRIVAL_DIRECTION_DAILY_TABLE: (GOLD_ZONE_ARRIVAL_DIRECTION_DAILY, DATE),
    GOLD_ZONE_CATCHMENT_DAILY_TABLE: (GOLD_ZONE_CATCHMENT_DAILY, DATE),
    GOLD_ZONE_REPEAT_VISITS_WEEKLY_TABLE: (GOLD_ZONE_REPEAT_VISITS_WEEKLY, WEEK),
    GOLD_ZONE_FLOWS_DAILY_TABLE: (GOLD_ZONE_FLOWS_DAILY, DATE),
    GOLD_ZONE_VISITORS_EXPECTED_HOURLY_TABLE: (GOLD_ZONE_VISITORS_EXPECTED_HOURLY, DATE),
    GOLD_ZONES_TABLE: (GOLD_ZONES, None),
}

# One row per publication, appended after every gold table it names was written. Delta has no transaction across
# tables: readers take the newest row and read each gold table at its version, so a run killed between two gold
# writes is never seen half done (docs/outputs.md, "Reading a consistent publication").
GOLD_PUBLICATIONS_TABLE = "_publications"
SEQUENCE = "sequence"  # 1, 2, ...: the newest publication has the largest (runs are serialised by the run lock)
PUBLISHED_AT = "published_at"
DATES = "dates"
WEEKS = "weeks"
INPUTS = "inputs"  # the fingerprint of the silver versions, config and code gold was built from
CONFIG_HASH = "config_hash"
CODE_VERSION = "code_version"
TABLE_VERSIONS = "table_versions"  # gold table -> its Delta version in this publication
REWRITTEN = "rewritten"  # gold tables whose earlier files this publication replaced: their history is dropped
HISTORY_DROPPED = "history_dropped"  # set once those files are gone (VACUUM), by this run or the next
GOLD_PUBLICATIONS = T.StructType(
    [
        T.StructField(SEQUENCE, T.LongType(), False),
        T.StructField(RUN_ID, T.StringType(), False),
        T.StructField(PUBLISHED_AT, T.TimestampType(), False),
        T.StructField(DATES, T.ArrayType(T.StringType(), False), False),
        T.StructField(WEEKS, T.ArrayType(T.StringType(), False), False),
        T.StructField(INPUTS, T.StringType(), False),
        T.StructField(CONFIG_HASH, T.StringType(), False),
        T.StructField(CODE_VERSION, T.StringType(), False),
        T.StructField(TABLE_VERSIONS, T.MapType(T.StringType(), T.LongType(), False), False),
        T.StructField(REWRITTEN, T.ArrayType(T.StringType(), False), False),
        T.StructField(HISTORY_DROPPED, T.BooleanType(), False),
    ]
)

# ---- quality (<lakehouse>/quality/): validation results and the privacy ledger; no pseudonym ever ----
QUALITY = "quality"
QUALITY_VALIDATION_RUNS_TABLE = "validation_runs"
QUALITY_PRIVACY_LEDGER_TABLE = "privacy_ledger"
TABLE = "table"
PARTITIONS = "partitions"
SUCCESS = "success"
EXPECTATIONS = "expectations"
FAILED_EXPECTATIONS = "failed_expectations"
RESULT_PATH = "result_path"
MECHANISM = "mechanism"
EPSILON = "epsilon"
DELTA = "delta"
CONTRIBUTION_BOUND = "contribution_bound"
PERIOD = "period"  # the partition value a ledger row spends budget on: a date or an ISO week

# One row per gold table validated in a publish run, published or not.
QUALITY_VALIDATION_RUNS = T.StructType(
    [
        T.StructField(RUN_ID, T.StringType(), False),
        T.StructField(RUN_AT, T.TimestampType(), False),
        T.StructField(TABLE, T.StringType(), False),
        T.StructField(PARTITIONS, T.ArrayType(T.StringType(), False), False),
        T.StructField(ROWS, T.LongType(), False),
        T.StructField(SUCCESS, T.BooleanType(), False),
        T.StructField(EXPECTATIONS, T.LongType(), False),
        T.StructField(FAILED_EXPECTATIONS, T.ArrayType(T.StringType(), False), False),
        T.StructField(RESULT_PATH, T.StringType(), False),
    ]
)
# One row per gold table and partition a noisy publish run spent privacy budget on.
QUALITY_PRIVACY_LEDGER = T.StructType(
    [
        T.StructField(RUN_ID, T.StringType(), False),
        T.StructField(RUN_AT, T.TimestampType(), False),
        T.StructField(TABLE, T.StringType(), False),
        T.StructField(PERIOD, T.StringType(), False),
        T.StructField(MECHANISM, T.StringType(), False),
        T.StructField(EPSILON, T.DoubleType(), False),
        T.StructField(DELTA, T.DoubleType(), False),
        T.StructField(CONTRIBUTION_BOUND, T.LongType(), False),
    ]
)
