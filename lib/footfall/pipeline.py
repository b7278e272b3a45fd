"""The whole pipeline over the configured landing folder: generate (demo only), forget, ingest, spatial, mobility,
publish."""

from __future__ import annotations

import datetime as dt
import importlib
import os
import threading
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from pyspark.sql import SparkSession
from rich.console import Console
from rich.table import Table

from footfall import schemas as S
from footfall.config import Config
from footfall.ingest.contract import InputContractError, events_partition, landing_events_rows
from footfall.ingest.plan import landing_dates
from footfall.ingest.pseudonym import ENV_KEY, MasterKey
from footfall.lakehouse_format import ensure_format
from footfall.privacy.disclosure import DOMINANCE, ROW_NESTED, WITH_VISITORS, WITHIN_ROW_REASONS
from footfall.progress import StageProgress
from footfall.publish.job import PublishReport
from footfall.runlock import run_lock
from footfall.session import get_spark, size_shuffle, stack_versions

if TYPE_CHECKING:
    from footfall.synth import GenerateOptions


def demo_options(config: Config) -> GenerateOptions:
    """Return the generator options of the config's demo city."""
    from footfall.synth import GenerateOptions

    demo = config.demo
    return GenerateOptions(
        subscribers=demo.subscribers,
        days=demo.days,
        start=demo.start,
        seed=demo.seed,
        mode=demo.mode,  # type: ignore[arg-type]
        bad_row_rate=demo.bad_row_rate,
        timezone=config.timezone,
    )


def ensure_landing(config: Config, *, console: Console) -> None:
    """Generate the demo city into the landing folder unless an export (generated or real) is already there."""
    from footfall.synth import generate_city

    landing = Path(config.landing)
    if (landing / "events").is_dir():
        console.print(f"landing: using the export in {landing}", highlight=False, soft_wrap=True)
        return
    options = demo_options(config)
    console.print(
        f"landing: generating a city of {options.subscribers:,} subscribers over {options.days} days "
        f"into {landing} ...",
        highlight=False,
        soft_wrap=True,
    )
    report = generate_city(get_spark("footfall-run", catalog=config.catalog), out=landing, options=options)
    console.print(
        f"landing: {report.landing_rows:,} event rows in {report.seconds:.0f} s", highlight=False, soft_wrap=True
    )


def _by_reason(audit: Sequence[dict[str, object]]) -> str:
    """Return what the checks took out of the run's rows, per reason, largest first: 'quarantined: duplicate 1,234,
    ...; dropped: minor 56,789, opted_out 2,345' (docs/ingest.md, reason codes)."""
    totals: dict[str, int] = {}
    for row in audit:
        for reason, rows in dict(row[S.ROWS_BY_REASON]).items():  # type: ignore[call-overload]
            totals[reason] = totals.get(reason, 0) + int(rows)

    def listed(reasons: Sequence[str]) -> str:
        found = sorted(((n, r) for r, n in totals.items() if r in reasons and n), reverse=True)
        return ", ".join(f"{r} {n:,}" for n, r in found) or "none"

    return f"quarantined: {listed(S.QUARANTINE_REASONS)}; dropped: {listed(S.DROPPED_REASONS)}"


def print_published(report: PublishReport, *, console: Console) -> None:
    """Print what a publish run wrote: rows per gold table and the cells disclosure control withheld."""
    table = Table(title=f"gold tables (footfall.*) for {report.dates[0]} to {report.dates[-1]}")
    for column in ("table", "rows", "cells", "< k", "secondary", "nested", "in row"):
        table.add_column(column, justify="left" if column == "table" else "right")
    for name, rows in report.rows.items():
        cells = report.suppressed.get(name)
        counts = (
            ("",) * 5
            if cells is None
            else (
                *(f"{cells.get(c, 0):,}" for c in ("published", "primary", "secondary", "nested")),
                f"{sum(cells.get(c, 0) for c in WITHIN_ROW_REASONS):,}",
            )
        )
        table.add_row(name, f"{rows:,}", *counts)
    console.print(table)
    console.print(
        "cells: values published; < k: withheld because fewer than k people; secondary: withheld so that no "
        "withheld value can be derived by subtraction; nested: withheld because a count it is part of (its day, "
        "its week's day) exceeds it by fewer than k people; in row: withheld for another value of the same row",
        highlight=False,
        soft_wrap=True,
    )
    hourly = report.suppressed.get(S.GOLD_ZONE_FOOTFALL_HOURLY_TABLE)
    if hourly is not None:
        console.print(
            f"in row: {hourly.get(ROW_NESTED, 0):,} visits whose hour's visitors exceed them by fewer than k, "
            f"{hourly.get(WITH_VISITORS, 0):,} visits withheld with the visitors they bound, "
            f"{hourly.get(DOMINANCE, 0):,} extrapolated values one person's weight dominates",
            highlight=False,
            soft_wrap=True,
        )
    if report.withheld_zones:
        console.print(
            f"zones withheld as not resolvable by their cells: {len(report.withheld_zones)} "
            f"(listed in footfall.zones with is_resolvable = false)",
            highlight=False,
            soft_wrap=True,
        )
    if report.expected_zones:
        console.print(
            f"zones published as expected visitors per hour instead of counts: {len(report.expected_zones)} "
            f"(footfall.{S.GOLD_ZONE_VISITORS_EXPECTED_HOURLY_TABLE}; docs/outputs.md)",
            highlight=False,
            soft_wrap=True,
        )
    if report.nested_zones:
        console.print(
            "zones withheld as nested in another zone (everyone counted there is counted in it too): "
            f"{len(report.nested_zones)}",
            highlight=False,
            soft_wrap=True,
        )
    if report.incomplete_weeks:
        console.print(
            f"weeks not yet published (published once their Sunday has run): {', '.join(report.incomplete_weeks)}",
            highlight=False,
            soft_wrap=True,
        )
    if report.history_dropped:
        console.print(
            f"rewritten partitions: history dropped for {', '.join(report.history_dropped)}",
            highlight=False,
            soft_wrap=True,
        )
    console.print(f"validation results: {report.quality_dir}", highlight=False, soft_wrap=True)


STAGES = ("forget", "ingest", "spatial", "mobility", "publish")


def _ingest_todo(
    spark: SparkSession, config: Config, *, requested: list[dt.date], run_dates: list[dt.date], key: MasterKey
) -> list[dt.date]:
    """Return the landing dates this run ingests: those the run dates need that silver lacks, and the requested
    ones whose inputs changed since their last ingest."""
    from footfall.ingest.plan import ingest_fingerprints, last_fingerprints, plan_ingest
    from footfall.mobility.job import needed_event_dates

    needed = needed_event_dates(config, dates=run_dates)
    available = landing_dates(Path(config.landing))
    return plan_ingest(
        requested=requested,
        needed=needed,
        available=available,
        current=ingest_fingerprints(config, [d for d in set(requested) | set(needed) if d in available], key=key),
        last=last_fingerprints(spark, config.lakehouse),
    )


class MissingDatesError(ValueError):
    """A requested date has no landing partition: nothing was written."""


def check_requested_dates(landing: Path, dates: Sequence[dt.date]) -> None:
    """Raise MissingDatesError naming the first requested date whose landing partition is missing."""
    available = set(landing_dates(landing))
    missing = [d for d in dates if d not in available]
    if missing:
        folder = events_partition(landing, missing[0])
        more = f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""
        raise MissingDatesError(
            f"no landing partition for {missing[0]}{more}: {folder} does not exist; nothing was written"
        )


def _import_validation_in_background() -> None:
    """Import Great Expectations (3-4 s, publish/job.py imports it lazily) while Spark works on ingest, when the
    Python process mostly waits. Only for a run with new work: a rerun that skips every stage would pay it."""
    threading.Thread(target=importlib.import_module, args=("footfall.quality.runner",), daemon=True).start()


def run_pipeline(
    config: Config,
    *,
    console: Console,
    dates: Sequence[dt.date] | None = None,
    demo: bool = False,
    run_id: str | None = None,
) -> PublishReport:
    """Run every stage for `dates` (every landing date when None), print what each did, return what was published.

    Order: forget, ingest of what the dates need, spatial, mobility, publish; each stage skips when its inputs are
    unchanged since it last ran, and every commit a stage makes carries the run id. `demo` (only `make run`) may
    generate the demo city and a development key.
    """
    from footfall.ingest import check_events_contract, create_dev_key, load_master_key, run_forget, run_ingest
    from footfall.ingest.forget import clear_pending, dates_to_republish
    from footfall.ingest.retention import dates_in_retention, held_dates, run_retention
    from footfall.mobility.job import run_mobility
    from footfall.publish.job import run_publish
    from footfall.spatial import check_spatial_inputs, run_spatial

    began = time.monotonic()
    run_id = run_id or uuid.uuid4().hex
    landing = Path(config.landing)
    if demo:
        ensure_landing(config, console=console)
    if not landing.is_dir():
        raise InputContractError(f"{landing}: the landing folder (config 'landing') does not exist; nothing written")
    requested = sorted(set(dates)) if dates else landing_dates(landing)
    if not requested:
        raise MissingDatesError(f"no landing partitions in {landing / 'events'}: nothing to run")
    check_requested_dates(landing, requested)
    if demo and ENV_KEY not in os.environ and create_dev_key(config.privacy.pseudonym_key_file):
        console.print(
            f"created a development pseudonym key in {config.privacy.pseudonym_key_file} (git-ignored)",
            highlight=False,
            soft_wrap=True,
        )
    key = load_master_key(key_file=config.privacy.pseudonym_key_file)

    with run_lock(Path(config.lakehouse), run_id=run_id):
        ensure_format(Path(config.lakehouse))  # before Spark starts: a lakehouse of another format is refused at once
        spark = get_spark("footfall-run", catalog=config.catalog)
        # Retention before anything is written: a named date older than it stops the run, older landing dates are
        # left out (docs/privacy.md, "Retention").
        in_retention, cutoff = dates_in_retention(
            requested,
            newest_held=max(held_dates(spark, config.lakehouse), default=None),
            days=config.privacy.retention_days,
            explicit=bool(dates),
        )
        if len(in_retention) < len(requested):
            console.print(
                f"landing: {len(requested) - len(in_retention)} dates before {cutoff} left out: older than "
                f"privacy.retention_days ({config.privacy.retention_days})",
                highlight=False,
                soft_wrap=True,
            )
        requested = in_retention
        # Sized by the landing rows of the dates, not only by what ingest reads: mobility shuffles them too.
        size_shuffle(spark, events=landing_events_rows(landing, requested))
        versions = ", ".join(f"{k} {v}" for k, v in stack_versions(spark).items())
        console.print(
            f"run {run_id[:12]}: {requested[0]} to {requested[-1]}; {versions}", highlight=False, soft_wrap=True
        )
        progress = StageProgress(console, stages=STAGES, spark=spark)

        # Objections first: they reach every date silver holds, also dates no longer in landing. Gold of the local
        # dates they touched, by this forget or an earlier one whose republication failed, is republished with the
        # run's dates. Mobility need not rebuild those: forget deleted the objectors' rows from its tables too, which
        # leaves exactly what a rebuild without them gives (every mobility row is one device's).
        with progress.stage("forget") as st:
            forgot = run_forget(spark, config, key=key)
            expired = run_retention(spark, config, cutoff=cutoff)
            # gold of a date older than the retention cannot be rebuilt: its silver is gone, its gold stays
            republish = [
                d for d in dates_to_republish(spark, config.lakehouse, pending=forgot.pending_dates) if d >= cutoff
            ]
            again = f"gold of {len(republish)} dates to republish" if republish else "no gold to republish"
            st.summary = (
                f"{forgot.objections_applied} new objections, their rows gone from silver; {again}"
                if forgot.objections_applied
                else f"no new objections; {again}, pending since an earlier forget"
                if republish
                else "no new objections"
            ) + (
                f"; retention: dates before {cutoff} deleted from {len(expired.tables)} tables and vacuumed"
                if expired.tables
                else ""
            )
        run_dates = sorted(set(requested) | set(republish))
        with progress.stage("ingest") as st:
            todo = _ingest_todo(spark, config, requested=requested, run_dates=requested, key=key)
            if todo or republish:
                _import_validation_in_background()
            if todo:
                ingest = run_ingest(
                    spark, config, dates=todo, key=key, files=check_events_contract(landing, todo), run_id=run_id
                )
                read = sum(int(r[S.ROWS_READ]) for r in ingest.audit)
                kept = sum(int(r[S.ROWS_SILVER]) for r in ingest.audit)
                st.summary = (
                    f"{len(todo)} landing dates ({todo[0]} to {todo[-1]}), {read:,} rows read, {kept:,} to "
                    f"silver/events, the rest {_by_reason(ingest.audit)} (reconciled per date)"
                    + "".join(f"; accepted: {r[S.ACCEPTED_BREACH]}" for r in ingest.audit if r.get(S.ACCEPTED_BREACH))
                )
            else:
                st.summary = "skipped: every landing date the run needs is in silver and unchanged"
        with progress.stage("spatial") as st:
            spatial = run_spatial(spark, config, inputs=check_spatial_inputs(landing, config.spatial), run_id=run_id)
            st.summary = (
                "skipped: inputs unchanged, kept the weights"
                if spatial.skipped
                else f"{config.spatial.footprint_model} footprints, {spatial.rows.get('cell_zone_weights', 0)} "
                f"cell-zone weights; {len(spatial.low_resolution_zones)} zones below resolution "
                f"{config.spatial.min_resolution_score}"
                # a repaired polygon is not the one its sender drew: say so (recorded in silver/spatial_inputs)
                + (
                    f"; repaired {len(spatial.repaired)} geometries ({', '.join(spatial.repaired)})"
                    if spatial.repaired
                    else ""
                )
            )
        with progress.stage("mobility") as st:
            mobility = run_mobility(spark, config, dates=requested, run_id=run_id)
            st.summary = (
                "skipped: inputs unchanged since these dates were built"
                if mobility.skipped
                else f"{mobility.stays:,} stays ({mobility.visits:,} visits), {mobility.transitions:,} flows, "
                f"{mobility.devices_with_home:,} devices with a home"
            )
        with progress.stage("publish") as st:
            published = run_publish(spark, config, dates=run_dates, run_id=run_id)
            st.summary = (
                "skipped: gold of these dates is already built from the same inputs"
                if published.skipped
                else f"{sum(published.rows.values()):,} rows in {len(published.rows)} gold tables, validated"
            )
        # gold of the pending dates is current now (republished, or skipped as built from the purged silver)
        clear_pending(spark, config.lakehouse, dates=forgot.pending_dates)
        if not published.skipped:
            print_published(published, console=console)
        console.print(
            f"footfall run: {run_dates[0]} to {run_dates[-1]} in {time.monotonic() - began:.0f} s; "
            f"lakehouse {config.lakehouse}; query with Spark (footfall.<table>), delta-rs or DuckDB (docs/outputs.md)",
            highlight=False,
            soft_wrap=True,
        )
    return published
