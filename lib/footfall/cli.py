"""The `footfall` command: one entry point for every job, with clear errors instead of stack traces."""

from __future__ import annotations

import datetime as dt
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from typer.core import TyperGroup

from footfall import __version__
from footfall.config import Config, load_config
from footfall.jars import (
    JarLockError,
    jars_home,
    maven_coordinates,
    parse_dependency_list,
    verify_lock,
    write_lock,
)
from footfall.lakehouse_format import ensure_format

# Exit codes are part of the interface for schedulers; docs/ingest.md lists them.
EXIT_OK = 0
EXIT_USAGE = 2
EXIT_INPUT_CONTRACT = 3
EXIT_QUALITY_GATE = 4
EXIT_SETUP = 5
EXIT_VALIDATION = 6  # a gold table failed its expectations: nothing was published (results in <lakehouse>/quality/)
EXIT_LOCKED = 7  # another footfall run holds the lakehouse
EXIT_MISSING_INPUT = 8  # a stage's input table is not in the lakehouse: the message names the stage to run first
EXIT_QUARANTINE = 9  # a landing date lost more rows to the checks than the guards allow: nothing was written
EXIT_RETENTION = 10  # a named date is older than privacy.retention_days: its pseudonymous data is gone, gold stays
EXIT_FORMAT = 11  # the lakehouse is in another format than this footfall's: `footfall migrate`, or a newer release
EXIT_INTERNAL = 70  # a bug: one line here, the traceback in the log (FOOTFALL_DEBUG=1 prints it)

# The one map from errors to exit codes, by class name so that `footfall --help` need not import Spark.
EXIT_CODES: dict[str, int] = {
    "ConfigError": EXIT_USAGE,
    "MissingDatesError": EXIT_INPUT_CONTRACT,
    "InputContractError": EXIT_INPUT_CONTRACT,
    "ReconciliationError": EXIT_QUALITY_GATE,
    "JarLockError": EXIT_SETUP,
    "PseudonymKeyError": EXIT_SETUP,
    "PublishValidationError": EXIT_VALIDATION,
    "RunLockedError": EXIT_LOCKED,
    "MissingInputError": EXIT_MISSING_INPUT,
    "QuarantineGuardError": EXIT_QUARANTINE,
    "RetentionError": EXIT_RETENTION,
    "FormatError": EXIT_FORMAT,
    "FileExistsError": EXIT_USAGE,
    "FileNotFoundError": EXIT_USAGE,
    "ValueError": EXIT_USAGE,
}


class _Commands(TyperGroup):
    """Every command runs inside `exit_codes`: the one place errors become a line and an exit code."""

    def invoke(self, ctx: Any) -> Any:
        with exit_codes():
            return super().invoke(ctx)


app = typer.Typer(
    cls=_Commands, add_completion=False, no_args_is_help=True, help="footfall: privacy-by-design footfall analytics."
)
err = Console(stderr=True)
console = Console()

ConfigOption = Annotated[Path, typer.Option("--config", "-c", help="YAML config, e.g. conf/local.yaml")]
ForceOption = Annotated[bool, typer.Option(help="rebuild even when the inputs are unchanged since the last build")]
AcceptQuarantineOption = Annotated[
    bool,
    typer.Option(
        help="ingest a landing date even when more of it is quarantined than the guards allow (exit 9 otherwise); "
        "the breach is recorded in silver/ingest_audit"
    ),
]


def _accepting(cfg: Config, accept: bool) -> Config:
    """Return `cfg` with guards.accept_quarantine set when the operator passed --accept-quarantine."""
    if not accept:
        return cfg
    return cfg.model_copy(update={"guards": cfg.guards.model_copy(update={"accept_quarantine": True})})


def fail(message: str, code: int) -> typer.Exit:
    """Print one clear error line and return the Exit to raise with `code`."""
    err.print(f"[bold red]footfall:[/] {message}", highlight=False, soft_wrap=True)
    return typer.Exit(code)


def exit_code_of(exc: BaseException) -> int | None:
    """Return the exit code of an error footfall expects (EXIT_CODES, by the nearest class), else None."""
    for cls in type(exc).__mro__:
        if cls.__name__ in EXIT_CODES:
            return EXIT_CODES[cls.__name__]
    return None


@contextmanager
def exit_codes() -> Iterator[None]:
    """Turn any error into one line on stderr and its exit code; unexpected ones are logged with the traceback."""
    import logging
    import os

    try:
        yield
    except (typer.Exit, KeyboardInterrupt):
        raise
    except Exception as exc:
        code = exit_code_of(exc)
        if code is None:
            logging.getLogger("footfall").debug("unexpected error", exc_info=True)
            if os.environ.get("FOOTFALL_DEBUG"):
                raise
            lines = [line.strip(": ") for line in str(exc).splitlines() if line.strip(": ")]
            # a Py4JJavaError's first line only names the call; the JVM's exception is on the next one
            message = f"internal error {type(exc).__name__}: {' '.join(lines[:2])[:300]}"
            raise fail(message + " (set FOOTFALL_DEBUG=1 for the traceback)", EXIT_INTERNAL) from None
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise fail(first, code) from None


@app.command()
def version() -> None:
    """Print the footfall version."""
    console.print(__version__)


@app.command()
def jars(
    verify: Annotated[bool, typer.Option(help="check jars/lib against jars/jars.lock")] = False,
    write_lock_from: Annotated[
        Path | None, typer.Option("--write-lock-from", help="write jars.lock from this `mvn dependency:list` output")
    ] = None,
) -> None:
    """Print the Maven coordinates of footfall's JVM dependencies, for clusters that use --packages."""
    home = jars_home()
    try:
        if write_lock_from is not None:
            locked = write_lock(home / "jars.lock", home / "lib", parse_dependency_list(write_lock_from.read_text()))
            console.print(f"wrote {home / 'jars.lock'} with {len(locked)} jars")
            return
        if verify:
            locked = verify_lock(home / "jars.lock", home / "lib")
            console.print(f"{len(locked)} jars in {home / 'lib'} match jars.lock")
            return
    except JarLockError as exc:
        raise fail(str(exc), EXIT_SETUP) from None
    console.print(",".join(maven_coordinates()), highlight=False, soft_wrap=True)


@app.command()
def generate(
    out: Annotated[Path, typer.Option(help="folder to write the export into (replaced if footfall wrote it)")],
    subscribers: Annotated[int, typer.Option(help="number of the operator's subscribers")] = 2000,
    days: Annotated[int, typer.Option(help="number of days")] = 1,
    start: Annotated[str, typer.Option(help="first day, YYYY-MM-DD")] = "2026-03-02",
    seed: Annotated[int, typer.Option(help="the same seed gives byte-identical files")] = 42,
    mode: Annotated[str, typer.Option(help="xdr (data sessions) or cdr (calls and SMS)")] = "xdr",
    bad_row_rate: Annotated[float, typer.Option(help="share of events turned into bad rows")] = 0.01,
    timezone: Annotated[str, typer.Option(help="local time of the city")] = "Europe/Berlin",
    min_visit_s: Annotated[int, typer.Option(help="a true stay this long is a visit")] = 300,
    cells: Annotated[Path | None, typer.Option(help="real layout: OpenCellID-style cell CSV")] = None,
    zones: Annotated[Path | None, typer.Option(help="real layout: zones GeoJSON (else synthetic zones)")] = None,
    districts: Annotated[Path | None, typer.Option(help="real layout: districts GeoJSON")] = None,
    picture: Annotated[Path | None, typer.Option(help="also draw the city to this PNG")] = None,
) -> None:
    """Generate a synthetic city and an operator's export of it, with the ground truth (docs/data-contract.md)."""
    from footfall.session import get_spark
    from footfall.synth import GenerateOptions, generate_city

    options = GenerateOptions(
        subscribers=subscribers,
        days=days,
        start=dt.date.fromisoformat(start),
        seed=seed,
        mode=mode,  # type: ignore[arg-type]
        bad_row_rate=bad_row_rate,
        timezone=timezone,
        min_visit_s=min_visit_s,
        cells_file=cells,
        zones_file=zones,
        districts_file=districts,
    )
    if picture is not None:
        from footfall.synth.layout import build_city
        from footfall.synth.picture import render_city

        render_city(build_city(options), picture, title=f"generated city, seed {seed}")
    report = generate_city(get_spark("footfall-generate"), out=out, options=options)
    console.print(
        f"wrote {report.landing_rows:,} event rows ({report.valid_events:,} valid) to {report.out} "
        f"in {report.seconds:.0f} s ({report.events_per_s:,.0f} rows/s)",
        highlight=False,
    )


@app.command()
def run(
    config: ConfigOption = Path("conf/local.yaml"),
    start: Annotated[
        str | None, typer.Option(help="first local date to process, YYYY-MM-DD (default: every landing date)")
    ] = None,
    end: Annotated[str | None, typer.Option(help="last local date, YYYY-MM-DD (default: --start)")] = None,
    demo: Annotated[
        bool, typer.Option(help="make run only: generate the demo city when landing is empty, create a development key")
    ] = False,
    accept_quarantine: AcceptQuarantineOption = False,
) -> None:
    """Run the pipeline for the dates (forget, ingest, spatial, mobility, publish) and print what it published."""
    from footfall.pipeline import run_pipeline

    cfg = _accepting(load_config(config), accept_quarantine)
    if end is not None and start is None:
        raise ValueError("--end needs --start")
    dates = _dates(start, end) if start is not None else None
    run_pipeline(cfg, console=console, dates=dates, demo=demo)


@app.command()
def ingest(
    start: Annotated[str, typer.Option(help="first event date to ingest, YYYY-MM-DD")],
    end: Annotated[str | None, typer.Option(help="last event date, YYYY-MM-DD (default: --start)")] = None,
    config: ConfigOption = Path("conf/local.yaml"),
    accept_quarantine: AcceptQuarantineOption = False,
) -> None:
    """Check the landing contract, then write pseudonymised silver tables for the dates (docs/ingest.md)."""
    import datetime as dt

    from footfall.ingest import (
        check_events_contract,
        date_range,
        load_master_key,
        run_ingest,
    )

    cfg = _accepting(load_config(config), accept_quarantine)
    dates = date_range(dt.date.fromisoformat(start), dt.date.fromisoformat(end or start))
    # Key and landing footers first: both fail in a second, before Spark starts or anything is written.
    key = load_master_key(key_file=cfg.privacy.pseudonym_key_file)
    files = check_events_contract(cfg.landing, dates)
    report = run_ingest(_stage_session(cfg, "footfall-ingest", dates, utc=True), cfg, dates=dates, key=key, files=files)
    from rich.table import Table

    counts = ("rows_read", "rows_silver", "rows_quarantined", "rows_opted_out", "rows_minor")
    table = Table(title=f"ingest run {report.run_id}")
    for column in ("event_date", *counts):
        table.add_column(column, justify="right")
    for row in report.audit:
        table.add_row(str(row["event_date"]), *(f"{row[c]:,}" for c in counts))
    console.print(table)


@app.command()
def forget(
    config: ConfigOption = Path("conf/local.yaml"),
    republish: Annotated[
        bool, typer.Option(help="republish gold for the local dates the objectors' rows fed (else they stay pending)")
    ] = True,
) -> None:
    """Delete the rows of customers whose objection is not applied yet from every silver table, and VACUUM them.

    Silver rows go at once; gold of the local dates they fed is recomputed and replaced, and gold's history of
    those tables is dropped (docs/privacy.md). With --no-republish those dates stay pending until a `footfall run`
    or `footfall forget` republishes them.
    """
    import uuid

    from footfall.ingest import clear_pending, dates_to_republish, load_master_key, run_forget
    from footfall.pipeline import print_published
    from footfall.publish.job import run_publish
    from footfall.runlock import run_lock
    from footfall.session import get_spark

    def _iso(dates: list[dt.date]) -> str:
        return ", ".join(d.isoformat() for d in dates) or "none"

    cfg = load_config(config)
    key = load_master_key(key_file=cfg.privacy.pseudonym_key_file)
    run_id = uuid.uuid4().hex
    with run_lock(Path(cfg.lakehouse), run_id=run_id):
        ensure_format(Path(cfg.lakehouse))
        spark = get_spark("footfall-forget", catalog=cfg.catalog)
        report = run_forget(spark, cfg, key=key, run_id=run_id)
        deleted = ", ".join(f"{t} {n:,}" for t, n in report.rows_deleted.items()) or "nothing"
        vacuumed = ", ".join(report.tables_vacuumed) or "nothing"
        console.print(
            f"forget run {run_id}: {report.objections_applied} new objections; rows deleted: {deleted}; "
            f"dates affected: {_iso(report.affected_dates)}; vacuumed: {vacuumed}",
            highlight=False,
            soft_wrap=True,
        )
        if not (report.pending_dates and republish):
            if report.pending_dates:
                console.print(
                    f"--no-republish: gold of {_iso(report.pending_dates)} stays pending; the next `footfall run` "
                    "or `footfall forget` republishes it",
                    highlight=False,
                    soft_wrap=True,
                )
            return
        # mobility is not rebuilt: forget deleted the objectors' rows from its tables too (every row is one device's)
        dates = dates_to_republish(spark, cfg.lakehouse, pending=report.pending_dates)
        published = run_publish(spark, cfg, dates=dates) if dates else None
        clear_pending(spark, cfg.lakehouse, dates=report.pending_dates)
        if published is not None and not published.skipped:
            print_published(published, console=console)
        console.print(
            f"gold republished: {_iso(dates)}; no longer pending: {_iso(report.pending_dates)}",
            highlight=False,
            soft_wrap=True,
        )


def _stage_session(cfg: Config, name: str, dates: list[dt.date] | None = None, *, utc: bool = False) -> Any:
    """Return the session of a stage command that writes: the lakehouse's format checked before Spark starts, the
    named dates checked against the retention (docs/privacy.md, "Retention") before anything is written."""
    from footfall.ingest.retention import refuse_expired
    from footfall.session import get_spark

    ensure_format(Path(cfg.lakehouse))
    spark = get_spark(name, catalog=cfg.catalog)
    refuse_expired(spark, cfg, dates or [], utc=utc)
    return spark


@app.command()
def migrate(config: ConfigOption = Path("conf/local.yaml")) -> None:
    """Bring the lakehouse to this footfall's format, one step at a time (idempotent; a killed migration goes on
    from its last completed step). A lakehouse in a newer format is refused (docs/operations.md, Upgrades)."""
    import uuid

    from footfall.lakehouse_format import FORMAT, migrate, stored_format
    from footfall.runlock import run_lock

    cfg = load_config(config)
    lakehouse = Path(cfg.lakehouse)
    with run_lock(lakehouse, run_id=uuid.uuid4().hex):
        before = stored_format(lakehouse)
        steps = migrate(lakehouse)
    done = f"format {before} to {FORMAT} ({len(steps)} steps)" if steps else f"already in format {FORMAT}"
    console.print(f"migrate: lakehouse {lakehouse}: {done}", highlight=False, soft_wrap=True)


@app.command()
def maintain(config: ConfigOption = Path("conf/local.yaml")) -> None:
    """Compact every table's small files (OPTIMIZE) and delete the files no version of the last 7 days reads,
    orphans of killed writes included; weekly, under the run lock (docs/operations.md, Maintenance). Changes no row:
    the next run rebuilds nothing."""
    import uuid

    from footfall.maintenance import run_maintain
    from footfall.runlock import run_lock
    from footfall.session import get_spark

    cfg = load_config(config)
    run_id = uuid.uuid4().hex
    with run_lock(Path(cfg.lakehouse), run_id=run_id):
        ensure_format(Path(cfg.lakehouse))
        spark = get_spark("footfall-maintain", catalog=cfg.catalog)
        report = run_maintain(spark, cfg, run_id=run_id)
    changed = sum(1 for removed, _ in report.compacted.values() if removed)
    published = f"; gold republished as publication {report.publication}" if report.publication else ""
    dropped = f"; gold history drop finished: {', '.join(report.history_dropped)}" if report.history_dropped else ""
    console.print(
        f"maintain run {run_id}: compacted {changed} of {len(report.compacted)} tables ({report.files_removed:,} "
        f"files into {report.files_added:,}); vacuumed {len(report.vacuumed)} tables at their 7-day retention"
        f"{published}{dropped}",
        highlight=False,
        soft_wrap=True,
    )


@app.command()
def spatial(
    config: ConfigOption = Path("conf/local.yaml"),
    force: Annotated[bool, typer.Option(help="rebuild even when the inputs' content hash is unchanged")] = False,
) -> None:
    """Build cell footprints, cell-to-zone/district weights and zone resolution (docs/spatial.md)."""
    from footfall.spatial import check_spatial_inputs, run_spatial

    cfg = load_config(config)
    # File and GeoJSON structure first: both fail in a second, before Spark starts or anything is written.
    inputs = check_spatial_inputs(cfg.landing, cfg.spatial)
    report = run_spatial(_stage_session(cfg, "footfall-spatial"), cfg, inputs=inputs, force=force)
    if report.skipped:
        console.print(
            f"spatial: inputs unchanged (hash {report.inputs_hash[:12]}), skipped the rebuild; --force rebuilds",
            highlight=False,
        )
        return
    for repair in report.repaired:
        err.print(f"[yellow]footfall:[/] repaired invalid geometry: {repair}", highlight=False, soft_wrap=True)
    rows = ", ".join(f"{table} {n:,}" for table, n in report.rows.items())
    low = ", ".join(report.low_resolution_zones) or "none"
    console.print(
        f"spatial: built {cfg.spatial.footprint_model} footprints in {report.seconds:.1f} s (hash "
        f"{report.inputs_hash[:12]}); rows: {rows}; zones below resolution "
        f"{cfg.spatial.min_resolution_score}: {low}",
        highlight=False,
    )


def _dates(start: str, end: str | None) -> list[dt.date]:
    from footfall.ingest import date_range

    return date_range(dt.date.fromisoformat(start), dt.date.fromisoformat(end or start))


@app.command()
def mobility(
    start: Annotated[str, typer.Option(help="first event date, YYYY-MM-DD")],
    end: Annotated[str | None, typer.Option(help="last event date, YYYY-MM-DD (default: --start)")] = None,
    config: ConfigOption = Path("conf/local.yaml"),
    force: ForceOption = False,
) -> None:
    """Build stays, visits, arrival directions, homes, repeat visits and flows from silver (docs/mobility.md)."""
    from footfall.mobility.job import run_mobility

    cfg = load_config(config)
    dates = _dates(start, end)
    report = run_mobility(_stage_session(cfg, "footfall-mobility", dates), cfg, dates=dates, force=force)
    if report.skipped:
        console.print("mobility: inputs unchanged since these dates were built, skipped; --force rebuilds")
        return
    console.print(
        f"mobility: {report.stays:,} stays ({report.visits:,} visits), {report.transitions:,} flows, "
        f"{report.devices_with_home:,} devices with a home",
        highlight=False,
    )


@app.command()
def publish(
    start: Annotated[str, typer.Option(help="first date to publish, YYYY-MM-DD")],
    end: Annotated[str | None, typer.Option(help="last date, YYYY-MM-DD (default: --start)")] = None,
    config: ConfigOption = Path("conf/local.yaml"),
    force: ForceOption = False,
) -> None:
    """Apply disclosure control, validate, and only then replace the dates' gold partitions (docs/outputs.md)."""
    from footfall.pipeline import print_published
    from footfall.publish.job import run_publish

    cfg = load_config(config)
    dates = _dates(start, end)
    report = run_publish(_stage_session(cfg, "footfall-publish", dates), cfg, dates=dates, force=force)
    if report.skipped:
        registered = f"; {len(report.registered)} views footfall.* registered" if report.registered else ""
        console.print(
            f"publish: gold of these dates is already built from the same inputs, skipped{registered}; --force rebuilds"
        )
        return
    print_published(report, console=console)


@app.command()
def evaluate(
    truth: Annotated[Path, typer.Option(help="a `footfall generate` output folder (with truth/)")],
    start: Annotated[str, typer.Option(help="first date, YYYY-MM-DD")],
    end: Annotated[str | None, typer.Option(help="last date, YYYY-MM-DD (default: --start)")] = None,
    out: Annotated[Path | None, typer.Option(help="write the figures as JSON here")] = None,
    config: ConfigOption = Path("conf/local.yaml"),
) -> None:
    """Compare the estimates in silver with the generator's truth and print the error figures."""
    import json

    from footfall.ingest import load_master_key
    from footfall.mobility.evaluate import run_evaluate
    from footfall.session import get_spark

    cfg = load_config(config)
    dates = _dates(start, end)
    key = load_master_key(key_file=cfg.privacy.pseudonym_key_file)
    figures = run_evaluate(
        get_spark("footfall-evaluate", catalog=cfg.catalog), cfg, truth=truth, dates=dates, key=key, out=out
    )
    console.print_json(json.dumps(figures))


@app.command()
def report(
    lakehouse: Annotated[Path, typer.Option(help="the lakehouse folder (with gold/ and silver/)")],
    out: Annotated[Path, typer.Option(help="the HTML file to write")] = Path("report.html"),
    zone: Annotated[str | None, typer.Option(help="only this zone's section (the map still shows the city)")] = None,
    start: Annotated[str | None, typer.Option(help="first date, YYYY-MM-DD (default: every published date)")] = None,
    end: Annotated[str | None, typer.Option(help="last date, YYYY-MM-DD (default: --start)")] = None,
) -> None:
    """Write the newest publication as one self-contained HTML page with charts, read without Spark (docs/report.md)."""
    from footfall.report import write_report

    console.print(str(write_report(lakehouse, out, zone=zone, start=start, end=end)), highlight=False, soft_wrap=True)


def main(args: list[str] | None = None) -> None:
    """Console-script and spark-submit entry point (errors become one line and an exit code in `_Commands`)."""
    from footfall.progress import configure_logging

    configure_logging()
    try:
        app(args)
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    main()
