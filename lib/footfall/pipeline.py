"""The whole pipeline over the configured landing folder: generate (demo only), ingest, spatial, mobility."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from footfall import schemas as S
from footfall.config import Config
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


def run_pipeline(config: Config, *, console: Console) -> None:
    """Run every stage on every date of the landing folder and print what each wrote."""
    from footfall.ingest import check_events_contract, create_dev_key, load_master_key, run_ingest
    from footfall.mobility.job import run_mobility
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

    mobility = run_mobility(spark, config, dates=dates)
    table = Table(title=f"footfall run: {dates[0]} to {dates[-1]} in {time.monotonic() - began:.0f} s")
    for column in ("stage", "table", "rows"):
        table.add_column(column)
    table.add_row("silver", "events", f"{kept:,}")
    table.add_row("silver", "stays", f"{mobility.stays:,} ({mobility.visits:,} visits)")
    table.add_row("silver", "zone_transitions", f"{mobility.transitions:,}")
    table.add_row("silver", "device_home", f"{mobility.devices_with_home:,} devices with a home")
    console.print(table)
    console.print(f"lakehouse: {config.lakehouse}  (gold tables: not built yet, see issue 7)", highlight=False)
