"""Run the gold suites on staged DataFrames, and keep what they found: result JSON, Data Docs, validation_runs.

The publish job calls, in order: `validate_staged` (a Spark job per table, then GX on pandas; no I/O),
`write_quality_report` (files under <lakehouse>/quality/), `agg_validation_runs` (the rows it appends to
quality/validation_runs), and writes gold only if every table passed. The result JSON under quality/results/ is
the record; the Data Docs site under quality/data_docs/ is rendered from it by GX and can be rebuilt from it at
any time (`write_data_docs`).

Counts only, never values. The staged rows that fail a rule are cells that must not be published (a count
below k, a zone that is withheld), so no artefact under quality/ may hold them, and an analyst can read all of
it. GX runs with no unexpected values (`partial_unexpected_count` 0, `exclude_unexpected_values`), and each
expectation result is then cut down to its counts (`SUMMARY_KEYS`: element, unexpected and missing counts and
their percentages) before anything is kept, in memory or on disk: no partial_unexpected_list or _counts, no
unexpected index lists or rows, no `observed_value` (the min or max of a count column is a count), no
`details`. The one exception is the exact-columns rule (`SCHEMA_EXPECTATIONS`), whose observed value is the
table's column names: schema, not data. Data Docs are rendered from results cut down the same way, also the
result JSON of runs written before this rule, so rebuilding the site brings no value back (those old files
themselves are left as they are).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, cast

import great_expectations as gx
from great_expectations.core import ExpectationSuiteValidationResult
from great_expectations.core.expectation_validation_result import ExpectationSuiteValidationResultSchema
from great_expectations.core.run_identifier import RunIdentifier
from great_expectations.data_context import AbstractDataContext
from great_expectations.data_context.types.base import ProgressBarsConfig
from great_expectations.data_context.types.resource_identifiers import (
    ExpectationSuiteIdentifier,
    ValidationResultIdentifier,
)
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from footfall import schemas as S
from footfall.quality.suites import gold_suite

if TYPE_CHECKING:
    from great_expectations.data_context.store.store import DataDocsSiteConfigTypedDict

ResultFormat = Literal["BOOLEAN_ONLY", "BASIC", "SUMMARY"]  # COMPLETE only adds values, which are not kept

RESULTS_DIR = "results"  # <quality>/results/<run_id>/<table>.json
DATA_DOCS_DIR = "data_docs"  # <quality>/data_docs/index.html
DATA_DOCS_SITE = "footfall"
RESULT_FORMAT: ResultFormat = "SUMMARY"  # counts per expectation; values are neither asked for nor kept
BATCH = "staged"
# What a kept expectation result holds: how many rows were checked, failed or missing, never a value of one.
SUMMARY_KEYS = (
    "element_count",
    "unexpected_count",
    "unexpected_percent",
    "unexpected_percent_total",
    "unexpected_percent_nonmissing",
    "missing_count",
    "missing_percent",
)
# Their observed value and details are the table's column names (which one is extra or missing), not data.
SCHEMA_EXPECTATIONS = frozenset({"expect_table_columns_to_match_set"})


@dataclass(frozen=True)
class TableValidation:
    """One staged gold table's verdict: success, how many expectations ran and which failed, the GX result."""

    table: str
    success: bool
    expectations: int
    failed: tuple[str, ...]  # "expectation_type(column[,column])", e.g. expect_column_values_to_be_between(visitors)
    rows: int
    result_json: dict[str, Any]


def validate_staged(
    staged: Mapping[str, DataFrame],
    *,
    k: int,
    zone_ids: Sequence[str],
    partitions: Mapping[str, Sequence[str]],
    result_format: ResultFormat = RESULT_FORMAT,
) -> dict[str, TableValidation]:
    """Return each staged table's validation against its gold suite; nothing is written.

    Each staged table is collected once (one Spark job) and validated by GX's pandas engine, in the driver: on
    Spark every expectation is a job of its own or more, about 35 small jobs and 6 s per publication (make bench,
    docs/scale.md), for tables that hold one row per published cell. Gold is bounded by zones x hours x dates, not
    by events (a day of 10,000 zones is at most 240,000 hourly rows), so it fits the driver; materialise the
    staged DataFrames first (cache or checkpoint), so that what is validated is what gets written. Dates become
    ISO strings, as the suites' partition values are. A table missing from `partitions` has no allowed partition
    value, so any row of it fails. `result_format` "BOOLEAN_ONLY" keeps no counts; no format keeps values.
    """
    context = _context()
    source = context.data_sources.add_pandas("staged")
    validations = {}
    for table, staged_df in staged.items():
        suite = gold_suite(table, k=k, zone_ids=zone_ids, partitions=partitions.get(table, ()))
        rows_df = _for_pandas(staged_df).toPandas()
        batch = (
            source.add_dataframe_asset(table)
            .add_batch_definition_whole_dataframe(BATCH)
            .get_batch(batch_parameters={"dataframe": rows_df})
        )
        result = batch.validate(suite, result_format=_gx_result_format(result_format))
        validations[table] = TableValidation(
            table=table,
            success=bool(result.success),
            expectations=len(result.results),
            failed=_failed(result),
            rows=len(rows_df),
            result_json=summary_only(result.to_json_dict()),
        )
    return validations


def _for_pandas(df: DataFrame) -> DataFrame:
    """Return `df` with its date columns as ISO strings (the suites name partitions so) and the rest unchanged."""
    return df.select(
        *[
            F.col(f.name).cast("string").alias(f.name) if isinstance(f.dataType, T.DateType) else F.col(f.name)
            for f in df.schema.fields
        ]
    )


def write_quality_report(
    validations: Mapping[str, TableValidation], *, quality_dir: Path, run_id: str, run_at: dt.datetime
) -> dict[str, str]:
    """Write each table's result JSON and add the run to the Data Docs site; return table -> result path.

    `run_at` is UTC (naive is read as UTC). The JSON is GX's validation result, with the run in `meta.run_id`.
    """
    run = RunIdentifier(run_name=run_id, run_time=_utc(run_at))
    run_dir = Path(quality_dir) / RESULTS_DIR / run_id
    run_dir.mkdir(parents=True, exist_ok=True)
    paths = {}
    for table, validation in validations.items():
        result_json = {**validation.result_json}
        result_json["meta"] = {**result_json.get("meta", {}), "run_id": run.to_json_dict()}
        path = run_dir / f"{table}.json"
        path.write_text(json.dumps(result_json, indent=2, sort_keys=True) + "\n")
        paths[table] = str(path)
    write_data_docs(Path(quality_dir), run_id=run_id)
    return paths


def write_data_docs(quality_dir: Path, *, run_id: str | None = None) -> Path:
    """Render the Data Docs site from the result JSON under quality_dir; return its index.html.

    With `run_id`, only that run's pages are (re)rendered and the index is rebuilt; without, every page.
    """
    context = _context()
    site = {
        "class_name": "SiteBuilder",
        "show_how_to_buttons": False,  # GX's "how to" call-to-action buttons
        "store_backend": {
            "class_name": "TupleFilesystemStoreBackend",
            "base_directory": str(Path(quality_dir).resolve() / DATA_DOCS_DIR),
        },
        "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
    }
    context.add_data_docs_site(DATA_DOCS_SITE, cast("DataDocsSiteConfigTypedDict", site))
    store = context.validation_results_store
    schema = ExpectationSuiteValidationResultSchema()
    rendered = []
    for path in sorted((Path(quality_dir) / RESULTS_DIR).glob("*/*.json")):
        result_json = summary_only(json.loads(path.read_text()))  # files of earlier runs may still hold values
        result: ExpectationSuiteValidationResult = schema.load(result_json)
        key = ValidationResultIdentifier(
            expectation_suite_identifier=ExpectationSuiteIdentifier(name=result.suite_name),
            run_id=RunIdentifier(**result_json["meta"]["run_id"]),
            batch_identifier=BATCH,
        )
        store.set(key, result)
        if run_id is None or path.parent.name == run_id:
            rendered.append(key)
    context.build_data_docs(site_names=[DATA_DOCS_SITE], resource_identifiers=rendered)
    return Path(quality_dir) / DATA_DOCS_DIR / "index.html"


def agg_validation_runs(
    spark: SparkSession,
    validations: Mapping[str, TableValidation],
    *,
    run_id: str,
    run_at: dt.datetime,
    partitions: Mapping[str, Sequence[str]],
    result_paths: Mapping[str, str],
) -> DataFrame:
    """Return one quality/validation_runs row per validated table (published or not)."""
    rows = [
        (
            run_id,
            _utc(run_at),
            table,
            list(partitions.get(table, ())),
            validation.rows,
            validation.success,
            validation.expectations,
            list(validation.failed),
            result_paths[table],
        )
        for table, validation in sorted(validations.items())
    ]
    return spark.createDataFrame(rows, S.QUALITY_VALIDATION_RUNS)


def summary_only(result_json: Mapping[str, Any]) -> dict[str, Any]:
    """Return a GX suite validation result (JSON dict) whose expectation results keep counts only, no values."""
    results = []
    for expectation in result_json.get("results") or ():
        config = expectation.get("expectation_config") or {}
        keep: tuple[str, ...] = SUMMARY_KEYS
        if config.get("type") in SCHEMA_EXPECTATIONS:
            keep += ("observed_value", "details")
        summary = {k: v for k, v in (expectation.get("result") or {}).items() if k in keep}
        results.append({**expectation, "result": summary})
    return {**result_json, "results": results}


def _gx_result_format(result_format: ResultFormat) -> dict[str, Any]:
    # GX computes no unexpected values at all with these (1.24); summary_only is what guarantees none is kept
    return {
        "result_format": result_format,
        "partial_unexpected_count": 0,
        "exclude_unexpected_values": True,
        "include_unexpected_rows": False,
        "return_unexpected_index_query": False,
    }


def _context() -> AbstractDataContext:
    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)  # no tqdm bars in job logs
    return context


def _failed(result: ExpectationSuiteValidationResult) -> tuple[str, ...]:
    failed = []
    for r in result.results:
        if r.success:
            continue
        config = r.expectation_config
        if config is None:  # not seen in GX 1.24, but a failure must never go unnamed
            failed.append("unknown_expectation()")
            continue
        kwargs = config.kwargs
        columns = [kwargs["column"]] if "column" in kwargs else list(kwargs.get("column_list") or ())
        columns += [kwargs[c] for c in ("column_A", "column_B") if c in kwargs]
        failed.append(f"{config.type}({','.join(columns)})")
    return tuple(failed)


def _utc(ts: dt.datetime) -> dt.datetime:
    return ts.replace(tzinfo=dt.UTC) if ts.tzinfo is None else ts.astimezone(dt.UTC)
