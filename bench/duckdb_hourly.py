"""footfall's headline metric, hourly visitors per zone in local time, as one DuckDB query over the landing export.

The same rules as the pipeline (docs/ingest.md, docs/mobility.md, docs/outputs.md), written by hand so that
`make bench` can time the work against a single-node engine and check that the two agree cell for cell:
- the row checks: a row reaches silver only when it has an msisdn, no objection, a timestamp that parses and lies
  in its UTC partition, a known cell active at that time, is not an exact copy, belongs to a known subscriber, has
  a known event type, and the subscriber is at least `min_age` in the year its pseudonym period starts;
- one event per device, second and cell;
- threshold presence: the event's cell weighs at least `min_weight` for the zone (silver/cell_zone_weights, which
  the spatial stage derives from the inventory with Sedona, is an input here as it is to mobility);
- stays: present events of a device and zone at most `max_gap_s` apart; entry and exit halfway to the device's
  neighbouring events, each at most `max_gap_s // 2`; a visit lasts at least `min_visit_s`;
- visitors: distinct devices with a visit overlapping the local hour ([entered, left)).

Two simplifications: the msisdn stands in for the pseudonym (one per person within a local date, as the pseudonym
periods guarantee), and stays are built on each device's whole sequence instead of per local date's window. The
second shows: footfall builds a local date's stays from the UTC partitions its window overlaps, which end at
midnight UTC, so the day's last stay of a device whose next event lies in the next UTC partition gets no exit
extension there, and here it gets one (up to `max_gap_s // 2`). On the 10 M city that makes 2 of 240 published
cells differ by one visitor (bench/results/pipeline.md).
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pyarrow as pa

from footfall.ingest.checks import EVENT_TYPES


def hourly_visitors_sql(
    landing: Path,
    *,
    tz: str,
    min_weight: float,
    max_gap_s: int,
    min_visit_s: int,
    min_age: int,
    period_days: int,
) -> str:
    """Return the query: (zone_id, date, hour, visitors) from landing events and the table `weights`."""
    types = ", ".join(f"'{t}'" for t in EVENT_TYPES)
    cap = max_gap_s // 2
    return f"""
WITH raw AS (
    SELECT msisdn, event_ts, cell_id, event_type, CAST(event_date AS DATE) AS event_date,
           try_strptime(event_ts, '%Y-%m-%dT%H:%M:%SZ') AS ts
    FROM read_parquet('{landing}/events/*/*.parquet', hive_partitioning = true)
),
subscribers AS (
    SELECT msisdn, lower(opted_out) = 'true' AS opted_out, TRY_CAST(birth_year AS INTEGER) AS birth_year
    FROM read_csv('{landing}/subscribers.csv', all_varchar = true)
),
cells AS (
    SELECT cell_id, strptime(valid_from, '%Y-%m-%dT%H:%M:%SZ') AS valid_from,
           try_strptime(valid_to, '%Y-%m-%dT%H:%M:%SZ') AS valid_to
    FROM read_csv('{landing}/cells.csv', all_varchar = true)
),
checked AS (
    SELECT r.msisdn, r.ts, r.cell_id, r.event_type, s.opted_out, s.birth_year,
           s.msisdn IS NOT NULL AS known,
           r.ts IS NOT NULL AND CAST(r.ts AS DATE) = r.event_date AS in_day,
           CAST(timezone('{tz}', CAST(r.ts AS TIMESTAMPTZ)) AS DATE) AS local_date,
           row_number() OVER (
               PARTITION BY r.msisdn, r.event_ts, r.cell_id, r.event_type, r.event_date ORDER BY r.event_ts
           ) AS copy_no
    FROM raw r LEFT JOIN subscribers s USING (msisdn)
),
silver AS (
    SELECT DISTINCT c.msisdn, c.ts, c.cell_id
    FROM checked c
    WHERE c.msisdn IS NOT NULL AND NOT coalesce(c.opted_out, false) AND c.in_day
      AND EXISTS (
          SELECT 1 FROM cells x
          WHERE x.cell_id = c.cell_id AND x.valid_from <= c.ts AND (x.valid_to IS NULL OR c.ts < x.valid_to)
      )
      AND c.copy_no = 1 AND c.known AND c.event_type IN ({types})
      AND NOT coalesce(
          year(DATE '1970-01-05' + CAST(floor((c.local_date - DATE '1970-01-05') / {period_days}) * {period_days}
               AS INTEGER)) - c.birth_year < {min_age},
          false)
),
neighbours AS (
    SELECT msisdn, ts, cell_id,
           lag(ts) OVER w AS prev_ts, lead(ts) OVER w AS next_ts
    FROM silver
    WINDOW w AS (PARTITION BY msisdn ORDER BY ts, cell_id)
),
present AS (
    SELECT n.*, w.zone_id
    FROM neighbours n JOIN weights w
      ON n.cell_id = w.cell_id AND n.ts >= w.valid_from AND (w.valid_to IS NULL OR n.ts < w.valid_to)
    WHERE w.weight >= {min_weight}
),
gaps AS (
    SELECT *, CASE WHEN lag(ts) OVER z IS NULL OR epoch(ts) - epoch(lag(ts) OVER z) > {max_gap_s}
                   THEN 1 ELSE 0 END AS starts
    FROM present
    WINDOW z AS (PARTITION BY msisdn, zone_id ORDER BY ts, cell_id)
),
numbered AS (
    SELECT *, sum(starts) OVER (PARTITION BY msisdn, zone_id ORDER BY ts, cell_id
                                ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS stay_no
    FROM gaps
),
stays AS (
    SELECT msisdn, zone_id, min(ts) AS first_ts, max(ts) AS last_ts,
           arg_min(prev_ts, (ts, cell_id)) AS prev_ts, arg_max(next_ts, (ts, cell_id)) AS next_ts
    FROM numbered GROUP BY msisdn, zone_id, stay_no
),
timed AS (
    SELECT msisdn, zone_id,
           CASE WHEN prev_ts IS NULL THEN 0
                ELSE least(floor(abs(epoch(first_ts) - epoch(prev_ts)) / 2), {cap}) END AS ext_in,
           CASE WHEN next_ts IS NULL THEN 0
                ELSE least(floor(abs(epoch(next_ts) - epoch(last_ts)) / 2), {cap}) END AS ext_out,
           first_ts, last_ts
    FROM stays
),
visits AS (
    SELECT msisdn, zone_id,
           first_ts - to_seconds(CAST(ext_in AS BIGINT)) AS entered_at,
           last_ts + to_seconds(CAST(ext_out AS BIGINT)) AS left_at
    FROM timed
    WHERE epoch(last_ts) - epoch(first_ts) + ext_in + ext_out >= {min_visit_s}
),
hours AS (
    SELECT msisdn, zone_id,
           unnest(generate_series(
               date_trunc('hour', entered_at),
               date_trunc('hour', CASE WHEN left_at > entered_at THEN left_at - INTERVAL 1 SECOND ELSE entered_at END),
               INTERVAL 1 HOUR)) AS hour_start_utc
    FROM visits
)
SELECT zone_id, CAST(timezone('{tz}', CAST(hour_start_utc AS TIMESTAMPTZ)) AS DATE) AS date,
       CAST(hour(timezone('{tz}', CAST(hour_start_utc AS TIMESTAMPTZ))) AS INTEGER) AS hour,
       count(DISTINCT msisdn) AS visitors
FROM hours
GROUP BY ALL
"""


def hourly_visitors(sql: str, *, weights: pa.Table) -> pa.Table:
    """Run `hourly_visitors_sql` in a fresh in-memory DuckDB; `weights` is silver/cell_zone_weights as Arrow."""
    con = duckdb.connect()
    try:
        con.execute("SET TimeZone = 'UTC'")
        con.register("weights", weights)
        return con.sql(sql).to_arrow_table()
    finally:
        con.close()
