"""A stage is a contract: the registry tables it reads and writes, and the one runner every stage goes through.

A stage's `run_*` hands the runner three things: a `read` that does the I/O, a pure `build` that returns its
outputs ({Table: Output}), and the fingerprints of what it builds from. The runner does what every stage needs:

1. checks every declared input table exists, else raises MissingInputError naming the stage to run first;
2. skips when the stage's marker table says these dates were last built from the same fingerprints;
3. reads, builds, validates, then writes the outputs together (`write_together`) and the marker table last, so
   its commit says the whole build landed; every commit (CREATE TABLE included) carries the stage, the run id and
   the fingerprints in its userMetadata;
4. returns the writes' metrics, so no stage reads back what it wrote to count it.

A shared room: it imports the lakehouse, never a stage.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, TypeVar

from pyspark.sql import DataFrame, SparkSession

from footfall.config import Config
from footfall.lakehouse import (
    SILVER_TABLES,
    Table,
    Write,
    commit_metadata,
    commit_metadatas,
    has_commit,
    table_exists,
    write,
    write_together,
)

I = TypeVar("I")  # noqa: E741  what a stage's read returns
B = TypeVar("B")  # what a stage's build returns beside its tables
R = TypeVar("R")  # what a stage reports

# The key of an undated stage's one fingerprint (spatial builds the inventory whole, not per date).
UNDATED = "*"


class MissingInputError(RuntimeError):
    """A stage's input table does not exist: the message names the stage to run first; nothing was written."""


@dataclass(frozen=True)
class Stage:
    """What a stage reads and writes, as registry tables; `marker` is written last and records each build."""

    name: str
    inputs: tuple[Table, ...]
    outputs: tuple[Table, ...]
    marker: Table
    optional_inputs: tuple[Table, ...] = ()  # read when there (a lakehouse from before they existed lacks them)

    def __post_init__(self) -> None:
        if self.marker not in self.outputs:
            raise ValueError(f"stage {self.name}: its marker {self.marker.name} must be one of its outputs")


def silver(*names: str) -> tuple[Table, ...]:
    """Return the registry's silver tables of these names."""
    return tuple(SILVER_TABLES[n] for n in names)


def silver_built_by(stage: str) -> tuple[Table, ...]:
    """Return the registry's silver tables the stage `stage` builds."""
    return tuple(t for t in SILVER_TABLES.values() if t.built_by == stage)


@dataclass(frozen=True)
class Output:
    """One output table's frame and what it replaces: partition `values`, or an append."""

    df: DataFrame
    values: Sequence[dt.date | str] | None = None
    append: bool = False
    metadata: Mapping[str, object] = field(default_factory=dict)  # this commit's own, beside the run's


@dataclass(frozen=True)
class Built(Generic[B]):
    """What a stage's build returns: its output tables, how to make the marker from the other writes' metrics,
    the frames it persisted (unpersisted once written), and anything else it found (`info`).

    `first` makes the records that must land before any output (publish: the privacy budget it spends, the tables
    it creates empty); it runs with the run's commit metadata.
    """

    outputs: Mapping[Table, Output]
    marker: Output | Callable[[Mapping[str, Mapping[str, int]]], Output]
    info: B
    held: Sequence[DataFrame] = ()
    first: Callable[[], None] | None = None


@dataclass(frozen=True)
class StageResult(Generic[R]):
    """What the runner did: skipped, or the metrics of each table it wrote (by table name) and the stage's report."""

    stage: str
    run_id: str
    fingerprints: Mapping[str, str]
    skipped: bool
    metrics: Mapping[str, Mapping[str, int]] = field(default_factory=dict)
    report: R | None = None


def _exists(spark: SparkSession, table: Table, lakehouse: Path) -> bool:
    path = table.path(lakehouse)
    return has_commit(spark, path) or table_exists(spark, path)


def check_inputs(spark: SparkSession, stage: Stage, lakehouse: Path) -> None:
    """Raise MissingInputError for the first declared input table that does not exist."""
    for table in stage.inputs:
        if _exists(spark, table, lakehouse):
            continue
        first = table.built_by
        todo = f"run `footfall {first}` first" if first else "build it first"
        raise MissingInputError(
            f"{stage.name} needs {table.layer}/{table.name}, which the lakehouse lacks ({table.path(lakehouse)}): "
            f"{todo}; nothing was written"
        )


def built_fingerprints(spark: SparkSession, stage: Stage, lakehouse: Path) -> dict[str, str]:
    """Return per date (ISO, or UNDATED) the fingerprint it was last built from, from the marker table's commits;
    nothing when an output table is missing (a build never finished, or someone removed it)."""
    found: dict[str, str] = {}
    if not all(_exists(spark, table, lakehouse) for table in stage.outputs):
        return found
    for meta in commit_metadatas(spark, stage.marker.path(lakehouse)):  # newest first
        if meta.get("stage") != stage.name:
            continue
        fingerprints = meta.get("fingerprints")
        if fingerprints is None and "inputs" in meta:  # before the runner: one fingerprint for the commit's dates
            fingerprints = dict.fromkeys(meta.get("dates") or [], meta["inputs"])
        for key, fingerprint in (fingerprints or {}).items():
            found.setdefault(key, fingerprint)
    return found


def is_built(built: Mapping[str, str], fingerprints: Mapping[str, str]) -> bool:
    """Return True when every date (or the undated build) was last built from the same fingerprint."""
    return bool(fingerprints) and all(built.get(key) == fp for key, fp in fingerprints.items())


def sign_off_metadata(config: Config) -> dict[str, Any]:
    """Return the userMetadata that records which settings past the privacy promise a data-protection officer
    signed off (privacy.dpo_approved), for every commit of a run (docs/privacy.md)."""
    return {"dpo_approved": list(config.privacy.dpo_approved)}


def run_metadata(stage: Stage, *, run_id: str, fingerprints: Mapping[str, str]) -> dict[str, Any]:
    """Return the userMetadata every commit of a stage's run carries."""
    return {"stage": stage.name, "run_id": run_id, "fingerprints": dict(fingerprints)}


def write_outputs(
    spark: SparkSession,
    stage: Stage,
    lakehouse: Path,
    built: Built[Any],
    *,
    metadata: Mapping[str, object],
) -> dict[str, dict[str, int]]:
    """Write the outputs together, then the marker; every commit, CREATE TABLE included, carries `metadata`."""
    undeclared = [t.name for t in built.outputs if t not in stage.outputs or t == stage.marker]
    if undeclared:
        raise ValueError(f"stage {stage.name} wrote {undeclared}: not among its declared outputs, or its marker")
    writes = {
        t.name: Write(o.df, t, o.values, o.append, user_metadata={**metadata, **o.metadata})
        for t, o in built.outputs.items()
    }
    with commit_metadata(spark, metadata):
        if built.first is not None:
            built.first()
        metrics = write_together(lakehouse, writes)
        last = built.marker if isinstance(built.marker, Output) else built.marker(metrics)
        metrics[stage.marker.name] = write(
            last.df,
            stage.marker,
            lakehouse,
            values=last.values,
            append=last.append,
            user_metadata={**metadata, **last.metadata},
        )
    return metrics


def run_stage(
    spark: SparkSession,
    stage: Stage,
    lakehouse: Path,
    *,
    run_id: str,
    fingerprints: Mapping[str, str] | Callable[[], Mapping[str, str]],
    read: Callable[[], I],
    build: Callable[[I], Built[B]],
    report: Callable[[Built[B], Mapping[str, Mapping[str, int]]], R],
    force: bool = False,
    validate: Callable[[Built[B]], None] | None = None,
    built: Callable[[], Mapping[str, str]] | None = None,
    metadata: Mapping[str, object] | None = None,
) -> StageResult[R]:
    """Run a stage: check its inputs, skip when built from the same fingerprints, else read, build, validate, write.

    `fingerprints` (or the function that computes them once the inputs are known to exist) maps each date the run
    builds (ISO, or UNDATED) to a hash of what it builds from;
    `built` overrides where the last build's fingerprints are read from (default: the marker's commits);
    `validate` raises before anything is written; `report` summarises the build while its frames are still held;
    `metadata` joins the run's userMetadata in every commit.
    """
    check_inputs(spark, stage, lakehouse)
    if callable(fingerprints):
        fingerprints = fingerprints()
    if not force and is_built((built or (lambda: built_fingerprints(spark, stage, lakehouse)))(), fingerprints):
        return StageResult(stage.name, run_id, fingerprints, skipped=True)
    outputs = build(read())
    try:
        if validate is not None:
            validate(outputs)
        meta = {**(metadata or {}), **run_metadata(stage, run_id=run_id, fingerprints=fingerprints)}
        metrics = write_outputs(spark, stage, lakehouse, outputs, metadata=meta)
        summary = report(outputs, metrics)
    finally:
        for df in outputs.held:
            df.unpersist()
    return StageResult(stage.name, run_id, fingerprints, skipped=False, metrics=metrics, report=summary)
