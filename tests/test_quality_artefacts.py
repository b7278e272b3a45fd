"""A failed gate keeps counts of what failed, never the failing values: no quality artefact names a cell below k."""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from footfall import schemas as S
from footfall.lakehouse import QUALITY_TABLES, write
from footfall.quality import runner
from footfall.quality.runner import agg_validation_runs, validate_staged, write_data_docs, write_quality_report

K = 20
DAY = dt.date(2026, 3, 10)
HOURLY = S.GOLD_ZONE_FOOTFALL_HOURLY_TABLE
PARTITIONS = {HOURLY: [DAY.isoformat()]}
PLANTED_ZONE = "zone-planted"  # in no zone list and no suite: it can only come from the planted rows
PLANTED_COUNT = 13  # below k; the planted rows' only count
PLANTED_DWELL = 4321.5  # the planted median, below its p25: the dwell-order rule fails on it
VALUE_KEYS = ("unexpected_list", "unexpected_index", "partial_unexpected", "unexpected_rows", "unexpected_values")
ROWS = [
    ("Z1", DAY, 9, dt.datetime(2026, 3, 10, 8), K, K, K, 300.0, 600.0, 900.0, 40),
    # twice: the unique-key rule fails too, and would list the planted key
    *[(PLANTED_ZONE, DAY, 5, dt.datetime(2026, 3, 10, 4), *[PLANTED_COUNT] * 3, 5000.0, PLANTED_DWELL, 6000.0, 0)] * 2,
]


def _walk(node: Any, key: str = "") -> Iterator[tuple[str, Any]]:
    """Yield (key, value) for every value in a parsed JSON document, nested ones too."""
    yield key, node
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _walk(v, k)
    elif isinstance(node, list):
        for v in node:
            yield from _walk(v, key)


def _documents(path: Path, text: str) -> list[Any]:
    """Return the JSON documents of a file: one per line in a Delta commit, else the whole file."""
    return [json.loads(line) for line in text.splitlines()] if "_delta_log" in path.parts else [json.loads(text)]


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def test_a_failed_gate_keeps_no_value_of_the_planted_cell_anywhere_under_quality(
    spark: SparkSession, tmp_path: Path
) -> None:
    lakehouse = tmp_path / "lakehouse"
    quality_dir = lakehouse / S.QUALITY
    run_at = dt.datetime(2026, 3, 11, 2, 0)
    staged = {HOURLY: spark.createDataFrame(ROWS, S.GOLD_ZONE_FOOTFALL_HOURLY)}

    # the publish job's gate, in its order (publish/job.py run_publish)
    validations = validate_staged(staged, k=K, zone_ids=["Z1", "Z2"], partitions=PARTITIONS)
    paths = write_quality_report(validations, quality_dir=quality_dir, run_id="run-1", run_at=run_at)
    runs_df = agg_validation_runs(
        spark, validations, run_id="run-1", run_at=run_at, partitions=PARTITIONS, result_paths=paths
    )
    write(runs_df, QUALITY_TABLES[S.QUALITY_VALIDATION_RUNS_TABLE], lakehouse, append=True)

    validation = validations[HOURLY]
    assert not validation.success
    assert set(validation.failed) >= {
        "expect_column_values_to_be_between(visitors)",
        "expect_column_values_to_be_in_set(zone_id)",
        "expect_compound_columns_to_be_unique(zone_id,hour_start_utc)",
        "expect_column_pair_values_a_to_be_greater_than_b(dwell_median_s,dwell_p25_s)",
    }
    # what stays: the counts of each rule
    result = json.loads(Path(paths[HOURLY]).read_text())
    visitors = next(r for r in result["results"] if r["expectation_config"]["kwargs"].get("column") == S.VISITORS)
    assert not visitors["success"]
    assert {k: visitors["result"][k] for k in ("element_count", "unexpected_count", "missing_count")} == {
        "element_count": 3,
        "unexpected_count": 2,
        "missing_count": 0,
    }

    files = [p for p in quality_dir.rglob("*") if p.is_file()]
    assert any(p.suffix == ".html" for p in files) and any(p.suffix == ".parquet" for p in files)
    for path in files:
        if path.suffix == ".parquet":
            continue
        text = path.read_text(errors="replace")
        assert PLANTED_ZONE not in text, path
        assert str(PLANTED_DWELL) not in text, path
        if path.suffix == ".html":
            assert not re.search(rf">\s*{PLANTED_COUNT}\s*<", text), path  # a value in a rendered table cell
        if path.suffix == ".json":
            for key, value in _walk(_documents(path, text)):
                if any(name in key for name in VALUE_KEYS):
                    assert not value, (path, key, value)
                if "observed_value" in key:
                    assert not _is_number(value), (path, key, value)
    for path in (p for p in files if p.match("results/*/*.json")):
        for res in json.loads(path.read_text())["results"]:
            assert PLANTED_COUNT not in [v for _, v in _walk(res["result"]) if _is_number(v)], (path, res)

    parquet_df = spark.read.parquet(*[str(p) for p in files if p.suffix == ".parquet"])
    as_json = [r[0] for r in parquet_df.select(F.to_json(F.struct("*"))).collect()]
    assert len(as_json) == 1 and PLANTED_ZONE not in as_json[0]  # validation_runs: one row, rule names only


def _expectation(type_: str, kwargs: dict[str, Any], result: dict[str, Any]) -> dict[str, Any]:
    no_exception = {"raised_exception": False, "exception_message": None, "exception_traceback": None}
    return {
        "success": False,
        "expectation_config": {"type": type_, "kwargs": kwargs, "meta": {}},
        "result": result,
        "exception_info": no_exception,
        "meta": {},
    }


# A result file as GX wrote it before results were cut down: values of the failing rows, a count as observed value.
OLD_RESULT = {
    "success": False,
    "suite_name": HOURLY,
    "meta": {"run_id": {"run_name": "run-0", "run_time": "2026-03-01T02:00:00+00:00"}},
    "statistics": {"evaluated_expectations": 3, "successful_expectations": 0, "unsuccessful_expectations": 3},
    "results": [
        _expectation(
            "expect_column_values_to_be_in_set",
            {"column": S.ZONE_ID, "value_set": ["Z1"]},
            {
                "element_count": 3,
                "unexpected_count": 2,
                "unexpected_percent": 66.7,
                "missing_count": 0,
                "partial_unexpected_list": [PLANTED_ZONE, PLANTED_ZONE],
                "partial_unexpected_counts": [{"value": PLANTED_ZONE, "count": 2}],
                "partial_unexpected_index_list": [1, 2],
            },
        ),
        _expectation(
            "expect_column_min_to_be_between",
            {"column": S.VISITORS, "min_value": K},
            {"observed_value": PLANTED_COUNT, "element_count": 3, "missing_count": 0},
        ),
        _expectation(
            "expect_table_columns_to_match_set",
            {"column_set": [S.ZONE_ID], "exact_match": True},
            {"observed_value": [S.PSEUDO_ID, S.ZONE_ID], "details": {"mismatched": {"unexpected": [S.PSEUDO_ID]}}},
        ),
    ],
}


def test_a_rebuilt_site_renders_no_old_value_and_results_keep_counts_and_column_names_only(tmp_path: Path) -> None:
    old = tmp_path / "results" / "run-0" / f"{HOURLY}.json"
    old.parent.mkdir(parents=True)
    old.write_text(json.dumps(OLD_RESULT))
    write_data_docs(tmp_path)  # the whole site, from every result file
    pages = list((tmp_path / "data_docs").rglob("*.html"))
    assert len(pages) == 2  # the index and run-0's page
    for page in pages:
        text = page.read_text()
        assert PLANTED_ZONE not in text and not re.search(rf">\s*{PLANTED_COUNT}\s*<", text), page

    kept = runner.summary_only(OLD_RESULT)
    assert [r["result"] for r in kept["results"]] == [
        {"element_count": 3, "unexpected_count": 2, "unexpected_percent": 66.7, "missing_count": 0},
        {"element_count": 3, "missing_count": 0},
        OLD_RESULT["results"][2]["result"],  # the table's column names: schema, not data
    ]
    assert {k: v for k, v in kept.items() if k != "results"} == {k: v for k, v in OLD_RESULT.items() if k != "results"}
