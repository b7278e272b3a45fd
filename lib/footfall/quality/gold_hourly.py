"""The expectation suite for zone_footfall_hourly, run on the staged DataFrame before anything is written."""

from __future__ import annotations

from dataclasses import dataclass

import great_expectations as gx
import great_expectations.expectations as gxe
from pyspark.sql import DataFrame

from footfall import schemas as S
from footfall.publish.hourly import DWELL_MEDIAN_S, DWELL_P25_S, DWELL_P75_S, VISITS

PUBLISHED_HOURLY_COLUMNS = (
    S.ZONE_ID,
    S.DATE,
    S.HOUR,
    S.HOUR_START_UTC,
    S.VISITORS,
    VISITS,
    S.PASSERS_BY,
    DWELL_P25_S,
    DWELL_MEDIAN_S,
    DWELL_P75_S,
)


@dataclass(frozen=True)
class SuiteResult:
    """Whether a staged table passed, and the failed expectations (type and column) for the report."""

    success: bool
    failed: tuple[str, ...]
    result_json: dict[str, object]


def hourly_suite(*, k: int, zone_ids: list[str]) -> gx.ExpectationSuite:
    """Return the expectations a published hourly table must meet (issue 7's list for this table)."""
    suite = gx.ExpectationSuite(name="zone_footfall_hourly")
    suite.add_expectation(gxe.ExpectTableColumnsToMatchSet(column_set=list(PUBLISHED_HOURLY_COLUMNS), exact_match=True))
    for key in (S.ZONE_ID, S.DATE, S.HOUR, S.HOUR_START_UTC):
        suite.add_expectation(gxe.ExpectColumnValuesToNotBeNull(column=key))
    suite.add_expectation(gxe.ExpectColumnValuesToBeInSet(column=S.ZONE_ID, value_set=zone_ids))
    suite.add_expectation(gxe.ExpectColumnValuesToBeBetween(column=S.HOUR, min_value=0, max_value=23))
    suite.add_expectation(gxe.ExpectCompoundColumnsToBeUnique(column_list=[S.ZONE_ID, S.HOUR_START_UTC]))
    # every published count describes at least k devices; counts are never negative
    suite.add_expectation(gxe.ExpectColumnValuesToBeBetween(column=S.VISITORS, min_value=k))
    for column in (VISITS, S.PASSERS_BY):
        suite.add_expectation(gxe.ExpectColumnValuesToBeBetween(column=column, min_value=0))
    suite.add_expectation(
        gxe.ExpectColumnPairValuesAToBeGreaterThanB(
            column_A=DWELL_MEDIAN_S, column_B=DWELL_P25_S, or_equal=True, ignore_row_if="either_value_is_missing"
        )
    )
    suite.add_expectation(
        gxe.ExpectColumnPairValuesAToBeGreaterThanB(
            column_A=DWELL_P75_S, column_B=DWELL_MEDIAN_S, or_equal=True, ignore_row_if="either_value_is_missing"
        )
    )
    return suite


def validate_hourly(staged_df: DataFrame, *, k: int, zone_ids: list[str]) -> SuiteResult:
    """Validate a staged hourly table with an ephemeral GX context; nothing is written here."""
    context = gx.get_context(mode="ephemeral")
    batch = (
        context.data_sources.add_spark("staged")
        .add_dataframe_asset("zone_footfall_hourly")
        .add_batch_definition_whole_dataframe("all")
        .get_batch(batch_parameters={"dataframe": staged_df})
    )
    result = batch.validate(hourly_suite(k=k, zone_ids=zone_ids))
    failed = tuple(
        f"{config.type}({config.kwargs.get('column') or ''})"
        for r in result.results
        if not r.success and (config := r.expectation_config) is not None
    )
    return SuiteResult(bool(result.success), failed, result.to_json_dict())
