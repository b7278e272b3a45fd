"""The `footfall` command: one entry point for every job, with clear errors instead of stack traces."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from footfall import __version__
from footfall.config import ConfigError, load_config
from footfall.jars import (
    JarLockError,
    jars_home,
    maven_coordinates,
    parse_dependency_list,
    verify_lock,
    write_lock,
)

# Exit codes are part of the interface for schedulers; docs/operations.md lists them.
EXIT_OK = 0
EXIT_USAGE = 2
EXIT_INPUT_CONTRACT = 3
EXIT_QUALITY_GATE = 4
EXIT_SETUP = 5

app = typer.Typer(add_completion=False, no_args_is_help=True, help="footfall: privacy-by-design footfall analytics.")
err = Console(stderr=True)
out = Console()

ConfigOption = Annotated[Path, typer.Option("--config", "-c", help="YAML config, e.g. conf/local.yaml")]


def fail(message: str, code: int) -> typer.Exit:
    """Print one clear error line and return the Exit to raise with `code`."""
    err.print(f"[bold red]footfall:[/] {message}", highlight=False, soft_wrap=True)
    return typer.Exit(code)


@app.command()
def version() -> None:
    """Print the footfall version."""
    out.print(__version__)


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
            out.print(f"wrote {home / 'jars.lock'} with {len(locked)} jars")
            return
        if verify:
            locked = verify_lock(home / "jars.lock", home / "lib")
            out.print(f"{len(locked)} jars in {home / 'lib'} match jars.lock")
            return
    except JarLockError as exc:
        raise fail(str(exc), EXIT_SETUP) from None
    out.print(",".join(maven_coordinates()), highlight=False, soft_wrap=True)


@app.command()
def run(config: ConfigOption = Path("conf/local.yaml")) -> None:
    """Run the pipeline end to end on the configured landing folder and print what it published."""
    from footfall.pipeline import run_pipeline

    try:
        cfg = load_config(config)
        run_pipeline(cfg, console=out)
    except (ConfigError, JarLockError) as exc:
        raise fail(str(exc), EXIT_USAGE if isinstance(exc, ConfigError) else EXIT_SETUP) from None


def main() -> None:
    """Console-script entry point."""
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    main()
