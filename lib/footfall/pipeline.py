"""The whole pipeline for a date range; at this stage it only proves the stack and reports it."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console
from rich.table import Table

from footfall.config import Config
from footfall.session import get_spark, session_jars, stack_versions


def run_pipeline(config: Config, *, console: Console) -> None:
    """Start the session, then print the stack versions, the jars and where data lands."""
    spark = get_spark("footfall-run")
    table = Table(title="footfall stack", show_header=False)
    for name, value in stack_versions(spark).items():
        table.add_row(name, value)
    console.print(table)
    console.print("jars (spark.jars):")
    for jar in session_jars(spark):
        console.print(f"  {Path(jar).name}", highlight=False)
    console.print(f"landing:   {config.landing}", highlight=False)
    console.print(f"lakehouse: {config.lakehouse}", highlight=False)
