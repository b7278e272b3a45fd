"""The whole pipeline over the configured landing folder: generate (demo only), forget, ingest, spatial, mobility,
publish."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from footfall import schemas as S
from footfall.config import Config
from footfall.publish.job import PublishReport
from footfall.session import get_spark, session_jars, stack_versions


def ensure_landing(config: Config, *, console: Console) -> None:
    """Generate the demo city into the landing folder unless an export (generated or real) is already there."""
    from footfall.synth import GenerateOptions, generate_city

    landing = Path(config.landing)
    if (landing / "events").is_dir():
        console.print(f"landing: using the export in {landing}", highlight=False)
        return
    demo = config.demo
    options = GenerateOptions(
        subscribers=demo.subscribers,
        days=demo.days,
        start=demo.start,
        seed=demo.seed,
        mode=demo.mode,  # type: ignore[arg-type]
        bad_row_rate=demo.bad_row_rate,
        timezone=config.timezone,
    )
    console.print(
        f"landing: generating a city of {options.subscribers:,} subscribers over {options.days} days "
        f"into {landing} ...",
        highlight=False,
    )
    report = generate_city(get_spark("footfall-run"), out=landing, options=options)
    console.print(f"landing: {report.landing_rows:,} event rows in {report.seconds:.0f} s", highlight=False)


def landing_dates(landing: Path) -> list[dt.date]:
    """Return the event dates present in the landing folder, from its partition folders."""
    prefix = f"{S.EVENT_DATE}="
    return sorted(dt.date.fromisoformat(p.name[len(prefix) :]) for p in (landing / "events").glob(f"{prefix}*"))


def print_published(report: PublishReport, *, console: Console) -> None:
    """Print what a publish run wrote: rows per gold table and the cells disclosure control withheld."""
    table = Table(title=f"gold tables (footfall.*) for {report.dates[0]} to {report.dates[-1]}")
    for column in ("table", "rows", "cells", "< k", "secondary"):
        table.add_column(column, justify="left" if column == "table" else "right")
    for name, rows in report.rows.items():
        cells = report.suppressed.get(name)
        counts = (
            ("", "", "") if cells is None else tuple(f"{cells[c]:,}" for c in ("published", "primary", "secondary"))
        )
        table.add_row(name, f"{rows:,}", *counts)
    console.print(table)
    console.print(
        "cells: values published; < k: withheld because fewer than k people; secondary: withheld so that no "
        "withheld value can be derived by subtraction",
        highlight=False,
    )
    if report.withheld_zones:
        console.print(
            f"zones withheld as not resolvable by their cells: {len(report.withheld_zones)} "
            f"(listed in footfall.zones with is_resolvable = false)",
            highlight=False,
        )
    if report.history_dropped:
        console.print(f"rewritten partitions: history dropped for {', '.join(report.history_dropped)}", highlight=False)
    console.print(f"validation results: {report.quality_dir}", highlight=False)


def run_pipeline(config: Config, *, console: Console) -> PublishReport:
    """Run every stage on every date of the landing folder, print what each wrote, and return what was published."""
    from footfall.ingest import check_events_contract, create_dev_key, load_master_key, run_forget, run_ingest
    from footfall.mobility.job import run_mobility
    from footfall.publish.job import run_publish
    from footfall.spatial import check_spatial_inputs, run_spatial

    began = time.monotonic()
    spark = get_spark("footfall-run")
    versions = ", ".join(f"{k} {v}" for k, v in stack_versions(spark).items())
    console.print(f"stack: {versions}; {len(session_jars(spark))} jars in spark.jars", highlight=False)
    if create_dev_key(config.privacy.pseudonym_key_file):
        console.print(
            f"created a development pseudonym key in {config.privacy.pseudonym_key_file} (git-ignored)", highlight=False
        )
    ensure_landing(config, console=console)
    dates = landing_dates(Path(config.landing))
    key = load_master_key(key_file=config.privacy.pseudonym_key_file)

    # Objections first: they reach every date silver holds, also dates no longer in landing.
    forgot = run_forget(spark, config, key=key)
    if forgot.affected_dates:
        console.print(
            f"forget: {forgot.objections_applied} new objections; their rows are gone from "
            f"{len(forgot.affected_dates)} dates, which are rebuilt and republished",
            highlight=False,
        )
    ingest = run_ingest(spark, config, dates=dates, key=key, files=check_events_contract(config.landing, dates))
    read = sum(int(r[S.ROWS_READ]) for r in ingest.audit)
    kept = sum(int(r[S.ROWS_SILVER]) for r in ingest.audit)
    console.print(
        f"ingest: {len(dates)} dates, {read:,} rows read, {kept:,} to silver/events "
        f"(the rest quarantined or dropped, reconciled per date)",
        highlight=False,
    )

    spatial = run_spatial(spark, config, inputs=check_spatial_inputs(config.landing, config.spatial))
    low = len(spatial.low_resolution_zones)
    console.print(
        "spatial: inputs unchanged, kept the weights"
        if spatial.skipped
        else f"spatial: {config.spatial.footprint_model} footprints, {spatial.rows.get('cell_zone_weights', 0)} "
        f"cell-zone weights; {low} zones below resolution {config.spatial.min_resolution_score}",
        highlight=False,
    )

    run_dates = sorted(set(dates) | set(forgot.affected_dates))
    mobility = run_mobility(spark, config, dates=run_dates)
    console.print(
        f"mobility: {mobility.stays:,} stays ({mobility.visits:,} visits), {mobility.transitions:,} flows, "
        f"{mobility.devices_with_home:,} devices with a home",
        highlight=False,
    )
    published = run_publish(spark, config, dates=run_dates)
    print_published(published, console=console)
    console.print(
        f"footfall run: {run_dates[0]} to {run_dates[-1]} in {time.monotonic() - began:.0f} s; "
        f"lakehouse {config.lakehouse}; query with Spark (footfall.<table>), delta-rs or DuckDB (docs/outputs.md)",
        highlight=False,
    )
    return published
