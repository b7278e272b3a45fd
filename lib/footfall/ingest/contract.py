"""The landing contract (docs/data-contract.md), checked before a row is read: a clear error, or typed frames.

Parquet footers are checked on the driver with pyarrow (no Spark job per file, and the error names the file);
CSV values are checked with one Spark aggregation per file.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from footfall import schemas as S

EVENTS_DIR = "events"
CELLS_FILE = "cells.csv"
SUBSCRIBERS_FILE = "subscribers.csv"
# Identifier columns may arrive as integers (some exports do that); we read them as their decimal string.
_INTEGER_OK = frozenset({S.MSISDN, S.CELL_ID})


class InputContractError(ValueError):
    """The landing data breaks the contract; the message names the file and the column."""


@dataclass(frozen=True)
class EventFile:
    """One landing events file that passed the footer check."""

    path: Path
    event_date: dt.date
    column_types: tuple[str, ...]  # arrow types of LANDING_EVENTS' columns, to read alike files together
    rows: int  # from the footer: what a run sizes its shuffles by


def events_partition(landing: Path, day: dt.date) -> Path:
    """Return the folder of one event date in the landing area."""
    return landing / EVENTS_DIR / f"{S.EVENT_DATE}={day.isoformat()}"


def _castable_to_string(name: str, arrow_type: pa.DataType) -> bool:
    if isinstance(arrow_type, pa.DictionaryType):
        arrow_type = arrow_type.value_type
    if pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type):
        return True
    return name in _INTEGER_OK and pa.types.is_integer(arrow_type)


def _check_footer(path: Path, day: dt.date) -> EventFile:
    try:
        with pq.ParquetFile(path) as footer:
            schema, rows = footer.schema_arrow, footer.metadata.num_rows
    except (OSError, pa.ArrowException) as exc:
        raise InputContractError(f"{path}: not a readable parquet file ({exc})") from None
    types = []
    for field in S.LANDING_EVENTS.fields:
        if field.name not in schema.names:
            raise InputContractError(f"{path}: column '{field.name}' is missing")
        arrow_type = schema.field(field.name).type
        if not _castable_to_string(field.name, arrow_type):
            raise InputContractError(f"{path}: column '{field.name}' has type {arrow_type}, not castable to string")
        types.append(str(arrow_type))
    return EventFile(path=path, event_date=day, column_types=tuple(types), rows=rows)


def _parquet_files(folder: Path) -> list[Path]:
    """Return a partition folder's parquet files, without hidden and Spark/Hadoop marker files."""
    return sorted(p for p in folder.iterdir() if p.suffix == ".parquet" and not p.name.startswith((".", "_")))


def check_events_contract(landing: Path, dates: Sequence[dt.date]) -> list[EventFile]:
    """Return the events files of `dates` after checking every footer; raise InputContractError on the first problem."""
    files: list[EventFile] = []
    for day in dates:
        folder = events_partition(landing, day)
        if not folder.is_dir():
            raise InputContractError(f"{folder}: partition for {day} is missing")
        parts = _parquet_files(folder)
        if not parts:
            raise InputContractError(f"{folder}: partition for {day} has no parquet files")
        files.extend(_check_footer(p, day) for p in parts)
    return files


def landing_events_rows(landing: Path, dates: Sequence[dt.date]) -> int:
    """Return the rows the footers of `dates`' events files declare; files that break the contract count 0 (ingest
    names them when it reads them)."""
    rows = 0
    for day in dates:
        folder = events_partition(landing, day)
        for path in _parquet_files(folder) if folder.is_dir() else []:
            try:
                rows += _check_footer(path, day).rows
            except InputContractError:
                continue
    return rows


def read_landing_events(spark: SparkSession, files: Sequence[EventFile]) -> DataFrame:
    """Return the landing events of `files` as LANDING_EVENTS (all strings) plus the `event_date` partition."""
    groups: dict[tuple[str, ...], list[EventFile]] = defaultdict(list)
    for f in files:
        groups[f.column_types].append(f)
    frames = []
    for group in groups.values():
        # basePath makes Spark take event_date from each file's folder, which the contract check matched to a date.
        base = str(group[0].path.parent.parent)
        raw = spark.read.option("basePath", base).parquet(*[str(f.path) for f in group])
        frames.append(
            raw.select(
                *[F.col(c.name).cast(T.StringType()).alias(c.name) for c in S.LANDING_EVENTS.fields],
                F.col(S.EVENT_DATE).cast(T.DateType()).alias(S.EVENT_DATE),
            )
        )
    if not frames:
        raise InputContractError("no landing events files to read")
    out = frames[0]
    for frame in frames[1:]:
        out = out.unionByName(frame)
    return out


def _csv_header(path: Path) -> list[str]:
    if not path.is_file():
        raise InputContractError(f"{path}: file is missing")
    with path.open(newline="") as handle:
        header = next(csv.reader(handle), None)
    if not header:
        raise InputContractError(f"{path}: file is empty, expected a header line")
    return [h.strip() for h in header]


def _type_name(data_type: T.DataType) -> str:
    return data_type.simpleString()


# Landing CSV files (path, mtime, size, contract) whose values passed the checks in this process.
_CHECKED: set[tuple[str, int, int, str, str | None, str]] = set()


def check_utf8(path: Path, *, chunk_bytes: int = 1 << 24) -> None:
    """Raise InputContractError naming the line of the first byte sequence that is not UTF-8.

    Spark's CSV reader would turn such bytes into U+FFFD silently, changing a value (a district id, say).
    Decoded in C, chunk by chunk: about a second per GB.
    """
    decoder = codecs.getincrementaldecoder("utf-8")()
    lines_before = 0
    with path.open("rb") as handle:
        while chunk := handle.read(chunk_bytes):
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError as exc:
                line = lines_before + chunk.count(b"\n", 0, exc.start) + 1
                raise InputContractError(
                    f"{path}: line {line} is not UTF-8 (byte 0x{chunk[exc.start]:02x}); landing files are UTF-8"
                ) from None
            lines_before += chunk.count(b"\n")
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            raise InputContractError(f"{path}: the last line is not UTF-8 (it ends mid-character)") from None


def read_landing_csv(
    spark: SparkSession,
    path: Path,
    schema: T.StructType,
    *,
    unique: str | None = None,
    allowed: Mapping[str, Sequence[str]] | None = None,
    ranges: Sequence[tuple[str, str, Column]] = (),
) -> DataFrame:
    """Return a landing CSV typed as `schema` after checking its encoding, header, types, nulls, uniqueness,
    allowed values and `ranges`: (column, problem, a condition on the typed columns true for a bad row)."""
    # forget and ingest read subscribers.csv in the same run: the file is checked once per version
    if not path.is_file():
        raise InputContractError(f"{path}: file is missing")
    stat = path.stat()
    problems = str([(name, problem) for name, problem, _ in ranges])
    version = (str(path.resolve()), stat.st_mtime_ns, stat.st_size, schema.json(), unique, str(allowed) + problems)
    if version not in _CHECKED:
        check_utf8(path)  # first: the header is read as text
    header = _csv_header(path)
    for field in schema.fields:
        if field.name not in header:
            raise InputContractError(f"{path}: column '{field.name}' is missing from the header")
    # The header read above gives the columns: Spark need not run a job to find them. Every value is a string
    # until the checks below have looked at it.
    as_read = T.StructType([T.StructField(name, T.StringType()) for name in header])
    raw = spark.read.schema(as_read).option("header", True).csv(str(path))
    raw = raw.select(*[F.trim(F.col(f.name)).alias(f.name) for f in schema.fields])
    raw = raw.select(*[F.when(F.col(f.name) != "", F.col(f.name)).alias(f.name) for f in schema.fields])
    typed = raw.select(*[F.col(f.name).try_cast(f.dataType).alias(f.name) for f in schema.fields])
    if version not in _CHECKED:
        _check_csv_values(raw, path=path, schema=schema, unique=unique, allowed=allowed or {})
        _check_ranges(typed, path=path, ranges=ranges)
        _CHECKED.add(version)
    return typed


def _check_ranges(typed: DataFrame, *, path: Path, ranges: Sequence[tuple[str, str, Column]]) -> None:
    if not ranges:
        return
    aggs = []
    for i, (name, _, bad) in enumerate(ranges):
        aggs += [
            F.count(F.when(bad, 1)).alias(f"n{i}"),
            F.first(F.when(bad, F.col(name)), ignorenulls=True).alias(f"e{i}"),
        ]
    result = typed.agg(*aggs).first()
    assert result is not None
    for i, (name, problem, _) in enumerate(ranges):
        if result[f"n{i}"]:
            example = result[f"e{i}"]
            raise InputContractError(f"{path}: column '{name}' has {result[f'n{i}']} {problem} (e.g. {str(example)!r})")


def _check_csv_values(
    raw: DataFrame, *, path: Path, schema: T.StructType, unique: str | None, allowed: Mapping[str, Sequence[str]]
) -> None:
    """Raise InputContractError naming `path` and the column when a value breaks the contract."""
    checks: list[tuple[str, str, Column, bool]] = []  # (column, problem, bad-row condition, show an example)
    for f in schema.fields:
        value = F.col(f.name)
        # Identifiers never go into a message; other values help the operator find the row.
        show = f.name != S.MSISDN
        if not f.nullable:
            checks.append((f.name, "empty values", value.isNull(), False))
        if not isinstance(f.dataType, T.StringType):
            problem = f"values that are not {_type_name(f.dataType)}"
            checks.append((f.name, problem, value.isNotNull() & value.try_cast(f.dataType).isNull(), show))
        if f.name in allowed:
            problem = f"values outside {', '.join(allowed[f.name])}"
            checks.append((f.name, problem, value.isNotNull() & ~value.isin(*allowed[f.name]), show))
    aggs = []
    for i, (name, _, bad, _) in enumerate(checks):
        aggs.append(F.count(F.when(bad, 1)).alias(f"n{i}"))
        aggs.append(F.first(F.when(bad, F.col(name)), ignorenulls=True).alias(f"e{i}"))
    if unique is not None:
        aggs.append((F.count(unique) - F.count_distinct(unique)).alias("dupes"))
    result = raw.agg(*aggs).first()
    assert result is not None
    for i, (name, problem, _, show) in enumerate(checks):
        if result[f"n{i}"]:
            example = f" (e.g. {result[f'e{i}']!r})" if show and result[f"e{i}"] is not None else ""
            raise InputContractError(f"{path}: column '{name}' has {result[f'n{i}']} {problem}{example}")
    if unique is not None and result["dupes"]:
        raise InputContractError(f"{path}: column '{unique}' has {result['dupes']} repeated values; it must be unique")


def read_subscribers(spark: SparkSession, landing: Path) -> DataFrame:
    """Return subscribers.csv typed as LANDING_SUBSCRIBERS, after the contract check."""
    # Nobody is born after this year: a typo there would make an adult a minor (dropped) or the reverse.
    this_year = dt.datetime.now(dt.UTC).year
    future = (S.BIRTH_YEAR, "values after this year", F.col(S.BIRTH_YEAR) > F.lit(this_year))
    return read_landing_csv(
        spark,
        landing / SUBSCRIBERS_FILE,
        S.LANDING_SUBSCRIBERS,
        unique=S.MSISDN,
        allowed={S.GENDER: S.GENDERS},
        ranges=[future],
    )


def read_cells(spark: SparkSession, landing: Path) -> DataFrame:
    """Return cells.csv typed as LANDING_CELLS, after the contract check."""
    return read_landing_csv(spark, landing / CELLS_FILE, S.LANDING_CELLS)
