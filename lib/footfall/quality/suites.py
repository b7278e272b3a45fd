"""The expectation suites of the gold tables, run on each staged DataFrame before anything is written.

One suite per table of `schemas.GOLD_TABLES`, derived from its schema so that a new column is checked too:
exact columns, non-null keys, unique grain, every count >= k, no negative value, known codes, zone ids that
exist, and rows only in the run's partitions. Value columns may be null (suppressed cells in "null" mode):
GX's column map expectations skip nulls, so only the keys are checked for nulls.
"""

from __future__ import annotations

from collections.abc import Sequence

import great_expectations as gx
import great_expectations.expectations as gxe
from pyspark.sql import types as T

from footfall import schemas as S
from footfall.mobility.direction import OCTANTS, UNKNOWN

# published counts: each covers >= k devices (an expected count >= k sums at most 1 per device: >= k devices)
COUNT_COLUMNS = (S.VISITORS, S.VISITS, S.PASSERS_BY, S.TRAVELLERS, S.VISITORS_EXPECTED)
ZONE_ID_COLUMNS = (S.ZONE_ID, S.FROM_ZONE_ID, S.TO_ZONE_ID)
DIRECTIONS = (*OCTANTS, UNKNOWN)
# A table's grain is its non-nullable columns, unless it is narrower: the hourly key is the UTC hour start
# (the autumn DST day has two local 02:00 hours), and a zone is one row.
NARROWER_KEYS: dict[str, tuple[str, ...]] = {
    S.GOLD_ZONE_FOOTFALL_HOURLY_TABLE: (S.ZONE_ID, S.HOUR_START_UTC),
    S.GOLD_ZONE_VISITORS_EXPECTED_HOURLY_TABLE: (S.ZONE_ID, S.HOUR_START_UTC),
    S.GOLD_ZONES_TABLE: (S.ZONE_ID,),
}


def unique_key(table: str) -> tuple[str, ...]:
    """Return the columns no two rows of a gold table may share."""
    schema, _ = _gold_table(table)
    return NARROWER_KEYS.get(table) or tuple(f.name for f in schema.fields if not f.nullable)


def gold_suite(table: str, *, k: int, zone_ids: Sequence[str], partitions: Sequence[str]) -> gx.ExpectationSuite:
    """Return the expectations a staged gold table must meet before it is published.

    `zone_ids` are the zones that exist; `partitions` are the run's values of the table's partition column
    (ISO dates, or ISO weeks such as 2026-W10), compared as strings. `zones` itself is not checked against
    either: it is where the zone ids come from, and it is replaced whole.
    """
    schema, partition = _gold_table(table)
    suite = gx.ExpectationSuite(name=table)
    suite.add_expectation(gxe.ExpectTableColumnsToMatchSet(column_set=schema.fieldNames(), exact_match=True))
    for field in schema.fields:
        if not field.nullable:
            suite.add_expectation(gxe.ExpectColumnValuesToNotBeNull(column=field.name))
    key = unique_key(table)
    if len(key) == 1:
        suite.add_expectation(gxe.ExpectColumnValuesToBeUnique(column=key[0]))
    else:
        suite.add_expectation(gxe.ExpectCompoundColumnsToBeUnique(column_list=list(key)))
    for field in schema.fields:
        if isinstance(field.dataType, T.NumericType):
            suite.add_expectation(_range(field.name, k=k))
    for column, values in _value_sets(table, zone_ids=zone_ids).items():
        if column in schema.fieldNames():
            suite.add_expectation(gxe.ExpectColumnValuesToBeInSet(column=column, value_set=list(values)))
    if partition is not None and table != S.GOLD_ZONES_TABLE:
        # ISO strings: validate_staged hands dates to GX as ISO strings too
        suite.add_expectation(gxe.ExpectColumnValuesToBeInSet(column=partition, value_set=list(partitions)))
    if S.DWELL_MEDIAN_S in schema.fieldNames():
        for upper, lower in ((S.DWELL_MEDIAN_S, S.DWELL_P25_S), (S.DWELL_P75_S, S.DWELL_MEDIAN_S)):
            suite.add_expectation(
                gxe.ExpectColumnPairValuesAToBeGreaterThanB(
                    column_A=upper, column_B=lower, or_equal=True, ignore_row_if="either_value_is_missing"
                )
            )
    return suite


def _gold_table(table: str) -> tuple[T.StructType, str | None]:
    if table not in S.GOLD_TABLES:
        raise ValueError(f"not a gold table: {table!r} (known: {', '.join(S.GOLD_TABLES)})")
    return S.GOLD_TABLES[table]


def _range(column: str, *, k: int) -> gxe.ExpectColumnValuesToBeBetween:
    if column == S.HOUR:
        return gxe.ExpectColumnValuesToBeBetween(column=column, min_value=0, max_value=23)
    if column in COUNT_COLUMNS:
        return gxe.ExpectColumnValuesToBeBetween(column=column, min_value=k)
    if column == S.RESOLUTION_SCORE:
        return gxe.ExpectColumnValuesToBeBetween(column=column, min_value=0, max_value=1)
    if column == S.AREA_M2:
        return gxe.ExpectColumnValuesToBeBetween(column=column, min_value=0, strict_min=True)
    # dwell times, the extrapolated visitors (an estimate, not a count of devices: no k), anything new
    return gxe.ExpectColumnValuesToBeBetween(column=column, min_value=0)


def _value_sets(table: str, *, zone_ids: Sequence[str]) -> dict[str, Sequence[str]]:
    sets: dict[str, Sequence[str]] = {S.VISIT_DAYS: S.VISIT_DAYS_BUCKETS, S.DIRECTION: DIRECTIONS}
    if table != S.GOLD_ZONES_TABLE:
        sets |= {column: zone_ids for column in ZONE_ID_COLUMNS}
    return sets
