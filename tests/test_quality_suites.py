"""The gold suites pass clean staged tables and name each broken rule; the report keeps every run's results."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import great_expectations.expectations as gxe
import pytest
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import types as T
from pyspark.testing import assertDataFrameEqual

from footfall import schemas as S
from footfall.quality.runner import (
    ResultFormat,
    TableValidation,
    agg_validation_runs,
    validate_staged,
    write_quality_report,
)
from footfall.quality.suites import gold_suite, unique_key

K = 20
DAY = dt.date(2026, 10, 25)  # Europe/Berlin leaves summer time: 00:00Z and 01:00Z both start a local 02:00
WEEK = "2026-W43"
ZONE_IDS = ["Z1", "Z2"]
PARTITIONS = {t: [WEEK if p == S.WEEK else DAY.isoformat()] for t, (_, p) in S.GOLD_TABLES.items() if p}
HOURLY, FLOWS = S.GOLD_ZONE_FOOTFALL_HOURLY_TABLE, S.GOLD_ZONE_FLOWS_DAILY_TABLE
NULLS = (None,) * 7  # a cell suppressed in "null" mode: every value null

# One clean staged set; the first row of each table is the base a broken case changes.
CLEAN: dict[str, list[tuple]] = {
    HOURLY: [
        ("Z1", DAY, 2, dt.datetime(2026, 10, 25, 0), K, K, K + 1, 400.0, 900.0, 1800.0, 0),  # extrapolated: no k
        ("Z1", DAY, 2, dt.datetime(2026, 10, 25, 1), K + 1, 30, None, 300.0, 300.0, 300.0, 250),  # the second 02:00
        ("Z2", DAY, 3, dt.datetime(2026, 10, 25, 2), *NULLS),
    ],
    S.GOLD_ZONE_DEMOGRAPHICS_DAILY_TABLE: [("Z1", DAY, "25-34", "f", K), ("Z1", DAY, "unknown", "unknown", None)],
    S.GOLD_ZONE_ARRIVAL_DIRECTION_DAILY_TABLE: [("Z1", DAY, "NE", K), ("Z1", DAY, "unknown", None)],
    # wholly suppressed: a column of nulls only
    S.GOLD_ZONE_CATCHMENT_DAILY_TABLE: [("Z1", DAY, "D1", True, None), ("Z1", DAY, "unknown", False, None)],
    S.GOLD_ZONE_REPEAT_VISITS_WEEKLY_TABLE: [("Z1", WEEK, "4+", K), ("Z1", WEEK, "1", None)],
    FLOWS: [("Z1", "Z2", DAY, K), ("Z2", "Z1", DAY, None)],
    # the autumn day's two local 02:00 hours again, and a withheld hour
    S.GOLD_ZONE_VISITORS_EXPECTED_HOURLY_TABLE: [
        ("Z2", DAY, 2, dt.datetime(2026, 10, 25, 0), K),
        ("Z2", DAY, 2, dt.datetime(2026, 10, 25, 1), K + 3),
        ("Z2", DAY, 3, dt.datetime(2026, 10, 25, 2), None),
    ],
    S.GOLD_ZONES_TABLE: [("Z1", "Altstadt", "mall", 1500.0, 1.0, True), ("Z2", "Markt", "mall", 80.0, 0.0, False)],
}


def _clean_df(spark: SparkSession, table: str) -> DataFrame:
    return spark.createDataFrame(CLEAN[table], S.GOLD_TABLES[table][0])


def _broken_df(spark: SparkSession, table: str, change: dict[str, object], copies: int) -> DataFrame:
    """The table's first clean row with `change` applied (a new name adds a column), `copies` times."""
    schema = S.GOLD_TABLES[table][0]
    row = dict(zip(schema.fieldNames(), CLEAN[table][0], strict=True)) | change
    fields = [T.StructField(f.name, f.dataType, True) for f in schema.fields]  # nullable: a null key can be staged
    fields += [T.StructField(name, T.StringType(), True) for name in change if name not in schema.fieldNames()]
    return spark.createDataFrame([tuple(row.values())] * copies, T.StructType(fields))


def _validate(staged: dict[str, DataFrame], result_format: ResultFormat = "SUMMARY") -> dict[str, TableValidation]:
    return validate_staged(staged, k=K, zone_ids=ZONE_IDS, partitions=PARTITIONS, result_format=result_format)


@pytest.fixture(scope="module")
def clean_validations(spark: SparkSession) -> dict[str, TableValidation]:
    return _validate({table: _clean_df(spark, table) for table in S.GOLD_TABLES}, "BOOLEAN_ONLY")


def test_clean_tables_pass_with_both_autumn_0200_hours_counts_of_k_and_suppressed_nulls(
    clean_validations: dict[str, TableValidation],
) -> None:
    assert {t: v.failed for t, v in clean_validations.items()} == {t: () for t in S.GOLD_TABLES}
    assert all(v.success for v in clean_validations.values())
    assert {t: v.rows for t, v in clean_validations.items()} == {t: len(rows) for t, rows in CLEAN.items()}


@pytest.mark.parametrize(
    ("table", "change", "copies", "failed"),
    [
        pytest.param(HOURLY, {S.VISITORS: K - 1}, 1, "expect_column_values_to_be_between(visitors)", id="k-1"),
        pytest.param(HOURLY, {S.DWELL_P25_S: -1.0}, 1, "expect_column_values_to_be_between(dwell_p25_s)", id="neg"),
        pytest.param(
            HOURLY,
            {S.VISITORS_EXTRAPOLATED: -1},
            1,
            "expect_column_values_to_be_between(visitors_extrapolated)",
            id="negative-extrapolation",
        ),
        pytest.param(HOURLY, {S.HOUR: 24}, 1, "expect_column_values_to_be_between(hour)", id="hour-24"),
        pytest.param(HOURLY, {}, 2, "expect_compound_columns_to_be_unique(zone_id,hour_start_utc)", id="duplicate-key"),
        pytest.param(HOURLY, {S.ZONE_ID: None}, 1, "expect_column_values_to_not_be_null(zone_id)", id="null-key"),
        pytest.param(HOURLY, {S.ZONE_ID: "Z9"}, 1, "expect_column_values_to_be_in_set(zone_id)", id="unknown-zone"),
        pytest.param(
            HOURLY, {S.DATE: dt.date(2026, 10, 26)}, 1, "expect_column_values_to_be_in_set(date)", id="other-date"
        ),
        pytest.param(
            HOURLY,
            {S.DWELL_MEDIAN_S: 300.0},
            1,
            "expect_column_pair_values_a_to_be_greater_than_b(dwell_median_s,dwell_p25_s)",
            id="dwell-order",
        ),
        pytest.param(HOURLY, {S.PSEUDO_ID: "ab12"}, 1, "expect_table_columns_to_match_set()", id="extra-column"),
        pytest.param(
            S.GOLD_ZONE_ARRIVAL_DIRECTION_DAILY_TABLE,
            {S.DIRECTION: "NNE"},
            1,
            "expect_column_values_to_be_in_set(direction)",
            id="unknown-direction",
        ),
        pytest.param(
            S.GOLD_ZONE_REPEAT_VISITS_WEEKLY_TABLE,
            {S.VISIT_DAYS: "5"},
            1,
            "expect_column_values_to_be_in_set(visit_days)",
            id="visit-days-5",
        ),
        pytest.param(
            S.GOLD_ZONE_REPEAT_VISITS_WEEKLY_TABLE,
            {S.WEEK: "2026-W44"},
            1,
            "expect_column_values_to_be_in_set(week)",
            id="other-week",
        ),
        pytest.param(FLOWS, {S.TO_ZONE_ID: "Z9"}, 1, "expect_column_values_to_be_in_set(to_zone_id)", id="flow-to"),
        pytest.param(
            S.GOLD_ZONE_VISITORS_EXPECTED_HOURLY_TABLE,
            {S.VISITORS_EXPECTED: K - 1},
            1,
            "expect_column_values_to_be_between(visitors_expected)",
            id="expected-k-1",
        ),
        pytest.param(
            S.GOLD_ZONE_VISITORS_EXPECTED_HOURLY_TABLE,
            {},
            2,
            "expect_compound_columns_to_be_unique(zone_id,hour_start_utc)",
            id="expected-duplicate-key",
        ),
        pytest.param(
            S.GOLD_ZONES_TABLE, {S.AREA_M2: 0.0}, 1, "expect_column_values_to_be_between(area_m2)", id="area-0"
        ),
        pytest.param(
            S.GOLD_ZONES_TABLE,
            {S.RESOLUTION_SCORE: 1.5},
            1,
            "expect_column_values_to_be_between(resolution_score)",
            id="resolution-1.5",
        ),
    ],
)
def test_each_broken_rule_fails_its_table_and_only_that_rule(
    spark: SparkSession, table: str, change: dict[str, object], copies: int, failed: str
) -> None:
    # BOOLEAN_ONLY: half the Spark jobs, the same verdicts
    validation = _validate({table: _broken_df(spark, table, change, copies)}, "BOOLEAN_ONLY")[table]
    assert not validation.success
    assert validation.failed == (failed,)


def test_zones_are_checked_for_neither_zone_ids_nor_partitions_and_keys_are_the_grain() -> None:
    suite = gold_suite(S.GOLD_ZONES_TABLE, k=K, zone_ids=[], partitions=[])
    assert not [e for e in suite.expectations if isinstance(e, gxe.ExpectColumnValuesToBeInSet)]
    assert unique_key(S.GOLD_ZONES_TABLE) == (S.ZONE_ID,)
    assert unique_key(S.GOLD_ZONE_CATCHMENT_DAILY_TABLE) == (S.ZONE_ID, S.DATE, S.HOME_DISTRICT_ID, S.IS_RESIDENT)
    with pytest.raises(ValueError, match="not a gold table"):
        gold_suite("zone_footfall_daily", k=K, zone_ids=ZONE_IDS, partitions=[])


def test_report_keeps_each_run_and_validation_runs_has_a_row_per_table(
    spark: SparkSession, clean_validations: dict[str, TableValidation], tmp_path: Path
) -> None:
    # SUMMARY, as the publish job runs: the result keeps how many dates were unexpected, not which
    broken = _validate({FLOWS: _broken_df(spark, FLOWS, {S.DATE: dt.date(2026, 10, 26)}, 1)})
    validations = clean_validations | broken
    run_at = dt.datetime(2026, 10, 26, 3, 0)

    paths = write_quality_report(validations, quality_dir=tmp_path, run_id="run-1", run_at=run_at)
    write_quality_report(broken, quality_dir=tmp_path, run_id="run-2", run_at=run_at + dt.timedelta(days=1))

    assert paths == {t: str(tmp_path / "results" / "run-1" / f"{t}.json") for t in S.GOLD_TABLES}
    for table, path in paths.items():
        result = json.loads(Path(path).read_text())
        assert (result["suite_name"], result["success"]) == (table, table != FLOWS)
        assert result["meta"]["run_id"] == {"run_name": "run-1", "run_time": "2026-10-26T03:00:00+00:00"}
    flows = json.loads(Path(paths[FLOWS]).read_text())
    assert [r["result"] for r in flows["results"] if not r["success"]] == [
        {
            "element_count": 1,
            "unexpected_count": 1,
            "unexpected_percent": 100.0,
            "unexpected_percent_total": 100.0,
            "unexpected_percent_nonmissing": 100.0,
            "missing_count": 0,
            "missing_percent": 0.0,
        }
    ]
    index = (tmp_path / "data_docs" / "index.html").read_text()
    assert "run-1" in index and "run-2" in index
    assert len(list((tmp_path / "data_docs" / "validations").rglob("*.html"))) == len(S.GOLD_TABLES) + 1

    runs_df = agg_validation_runs(
        spark, validations, run_id="run-1", run_at=run_at, partitions=PARTITIONS, result_paths=paths
    )
    expected = [
        (
            "run-1",
            run_at,
            t,
            PARTITIONS.get(t, []),
            1 if t == FLOWS else len(CLEAN[t]),
            t != FLOWS,
            validations[t].expectations,
            ["expect_column_values_to_be_in_set(date)"] if t == FLOWS else [],
            paths[t],
        )
        for t in S.GOLD_TABLES
    ]
    assert runs_df.schema == S.QUALITY_VALIDATION_RUNS
    assertDataFrameEqual(runs_df, spark.createDataFrame(expected, S.QUALITY_VALIDATION_RUNS))
