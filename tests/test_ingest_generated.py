"""Ingest on a generated city reconciles exactly, reason by reason, with the generator's truth/bad_rows.csv."""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

import pytest
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from footfall import schemas as S
from footfall.config import parse_config
from footfall.ingest import run_ingest
from footfall.lakehouse import silver_path
from test_ingest_fixtures import master_key


@pytest.mark.integration
def test_ingest_reconciles_with_generated_bad_rows(spark: SparkSession, tmp_path: Path) -> None:
    from footfall.synth import GenerateOptions, generate_city

    start = dt.date(2026, 3, 2)
    landing = tmp_path / "landing"
    options = GenerateOptions(subscribers=200, days=1, start=start, seed=7, mode="xdr", bad_row_rate=0.02)
    generate_city(spark, out=landing, options=options)
    config = parse_config({"landing": str(landing), "lakehouse": str(tmp_path / "lake")}, source="test")

    report = run_ingest(spark, config, dates=[start], key=master_key())

    with (landing / "truth" / "bad_rows.csv").open() as handle:
        truth = {(dt.date.fromisoformat(r["event_date"]), r["kind"]): int(r["rows"]) for r in csv.DictReader(handle)}
    assert sum(truth.values()) > 0 and {k for _, k in truth} <= set(S.BAD_ROW_KINDS)
    # What ingest counted for each generator kind, from the audit (dropped and quarantined alike) ...
    counted = {(row[S.EVENT_DATE], kind): n for row in report.audit for kind, n in row[S.ROWS_BY_REASON].items() if n}
    assert {k: v for k, v in counted.items() if k[1] in S.BAD_ROW_KINDS} == truth
    # ... and nothing the generator did not inject (minors are valid rows, dropped by design, not bad ones).
    assert {k for k in counted if k[1] not in S.BAD_ROW_KINDS} <= {(start, S.REASON_MINOR)}
    # ... and what the quarantine table really holds.
    quarantine = spark.read.format("delta").load(silver_path(config.lakehouse, S.SILVER_QUARANTINE_TABLE))
    per_reason = quarantine.groupBy(S.EVENT_DATE, S.REASON).agg(F.count(F.lit(1)).alias("n")).collect()
    held = {(r[S.EVENT_DATE], r[S.REASON]): r["n"] for r in per_reason}
    assert held == {k: v for k, v in truth.items() if k[1] != S.BAD_OPTED_OUT}
    row = report.audit[0]
    assert row[S.ROWS_READ] == row[S.ROWS_SILVER] + row[S.ROWS_QUARANTINED] + row[S.ROWS_OPTED_OUT] + row[S.ROWS_MINOR]
