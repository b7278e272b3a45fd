"""A Delta table's commits, read from its `_delta_log` folder by the driver: no Spark job, no snapshot.

`DeltaTable.history()` runs a Spark job per call, and a run asked for its table versions, its write metrics and
its stages' fingerprints about 85 times (issue 29: 6 s of a 40 s day). A commit file is one JSON action per
line; its `commitInfo` holds the version's operation metrics and userMetadata, as history shows them.

Only a lakehouse on a local (or mounted) file system is read this way; for any other scheme these functions return
None, and the caller asks Delta.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote

LOG = "_delta_log"
# A commit file is named by its version, 20 digits, then ".json" (checkpoints and .crc files are not commits).
_DIGITS = 20
_NAME_LENGTH = _DIGITS + len(".json")


def local_log(path: str) -> Path | None:
    """Return the `_delta_log` folder of the table at `path` when it is local, else None (s3a://, abfss://, ...)."""
    if "://" in path and not path.startswith("file://"):
        return None
    return Path(path.removeprefix("file://").removeprefix("file:")) / LOG


def _log_names(path: str) -> list[str] | None:
    """Return the names in the table's log folder ([] when there is no log); None when the table is not local."""
    log = local_log(path)
    if log is None:
        return None
    try:
        return os.listdir(log)
    except FileNotFoundError:
        return []


def versions(path: str) -> list[int] | None:
    """Return the versions whose commit files the table's log holds, newest first; [] when there is no log; None
    when the table is not local."""
    names = _log_names(path)
    return None if names is None else _commits(names)[::-1]


def has_commit(path: str) -> bool | None:
    """Return True when the local table at `path` has a commit: its log holds a commit file or a complete classic
    checkpoint (or one of another kind); None when the table is not local."""
    names = _log_names(path)
    if names is None:
        return None
    checkpoints = _checkpoints(names)
    return bool(_commits(names)) or checkpoints is None or bool(checkpoints)


def _commits(names: list[str]) -> list[int]:
    """Return the versions of the commit files among a log folder's `names`, oldest first."""
    return sorted(
        int(name[:_DIGITS])
        for name in names
        if len(name) == _NAME_LENGTH and name.endswith(".json") and name[:_DIGITS].isdigit()
    )


def commit_info(path: str, version: int) -> dict[str, Any]:
    """Return the commitInfo action of `version` of the (local) table at `path` ({} when it has none)."""
    log = local_log(path)
    assert log is not None, path
    with (log / f"{version:0{_DIGITS}d}.json").open(encoding="utf-8") as lines:
        for line in lines:
            action = json.loads(line)
            if "commitInfo" in action:
                return dict(action["commitInfo"])
    return {}


def latest(path: str) -> tuple[int, dict[str, Any]] | None:
    """Return the newest version of the local table at `path` and its commitInfo; None when not local or no log."""
    found = versions(path)
    if not found:
        return None
    return found[0], commit_info(path, found[0])


# A classic checkpoint: <version>.checkpoint.parquet, or <version>.checkpoint.<part>.<parts>.parquet in parts. Any
# other checkpoint name (a v2 checkpoint, <version>.checkpoint.<uuid>.json or .parquet with sidecars) is not read here.
_CHECKPOINT = re.compile(r"^(\d{20})\.checkpoint(?:\.(\d{10})\.(\d{10}))?\.parquet$")


@dataclass(frozen=True)
class Snapshot:
    """The live files of a table's newest version, replayed from its log: relative path -> partition values (as the
    log writes them, strings; None for a null partition)."""

    version: int
    files: dict[str, dict[str, str | None]]
    min_reader_version: int
    deletion_vectors: bool  # some live file has rows deleted by a deletion vector: its Parquet holds them still
    schema: str | None = None  # the table's schema as Delta's metaData action holds it (Spark's JSON form)
    configuration: dict[str, str | None] | None = None  # the table's properties


def _checkpoints(names: list[str]) -> dict[int, int] | None:
    """Return {version: parts found} of the classic checkpoints whose parts are all there; None when the log holds
    a checkpoint of another kind."""
    parts: dict[int, set[int]] = {}
    wanted: dict[int, int] = {}
    for name in names:
        if ".checkpoint." not in name or name.endswith(".crc"):
            continue
        m = _CHECKPOINT.match(name)
        if m is None:
            return None
        v = int(m.group(1))
        parts.setdefault(v, set()).add(int(m.group(2) or 1))
        wanted[v] = int(m.group(3) or 1)
    return {v: wanted[v] for v, got in parts.items() if len(got) == wanted[v]}


def _pairs(value: Any) -> dict[str, str | None]:
    # a map column comes back from Parquet as a list of (key, value) pairs
    return dict(value) if value is not None else {}


def snapshot(path: str) -> Snapshot | None:
    """Return the newest version of the local table at `path` replayed from its log (its newest complete classic
    checkpoint, then every commit file after it); None when the table is not local, has no log, or its log holds
    something this replay does not read (a v2 checkpoint, a missing commit file).

    Delta's own snapshot of a new version runs three Spark jobs before a query can list its files (issue 29); this
    is what delta-rs does, without shipping delta-rs (129 MB) to every executor for a driver-side listing.
    """
    log = local_log(path)
    if log is None:
        return None
    try:
        names = os.listdir(log)
    except FileNotFoundError:
        return None
    commits = _commits(names)
    checkpoints = _checkpoints(names)
    if not commits or checkpoints is None:
        return None
    newest = commits[-1]
    start = max((v for v in checkpoints if v <= newest), default=-1)
    if not set(range(start + 1, newest + 1)) <= set(commits):
        return None  # a commit file between the checkpoint and the newest is missing: leave it to Delta
    files: dict[str, dict[str, str | None]] = {}
    vectors: set[str] = set()
    reader = 1
    metadata: dict[str, Any] = {}
    if start >= 0:
        import pyarrow.parquet as pq  # only when a checkpoint exists

        n = checkpoints[start]
        part_names = (
            [f"{start:0{_DIGITS}d}.checkpoint.parquet"]
            if n == 1 and (log / f"{start:0{_DIGITS}d}.checkpoint.parquet").exists()
            else [f"{start:0{_DIGITS}d}.checkpoint.{i:010d}.{n:010d}.parquet" for i in range(1, n + 1)]
        )
        for name in part_names:
            table = pq.read_table(log / name, columns=["add", "protocol", "metaData"])
            for meta in table.column("metaData").to_pylist():
                if meta is not None:
                    metadata = {**meta, "configuration": _pairs(meta.get("configuration"))}
            for add in table.column("add").to_pylist():
                if add is not None:
                    files[add["path"]] = _pairs(add["partitionValues"])
                    if add.get("deletionVector"):
                        vectors.add(add["path"])
            for protocol in table.column("protocol").to_pylist():
                if protocol is not None:
                    reader = int(protocol["minReaderVersion"])
    for version in range(start + 1, newest + 1):
        with (log / f"{version:0{_DIGITS}d}.json").open(encoding="utf-8") as lines:
            for line in lines:
                action = json.loads(line)
                if "add" in action:
                    add = action["add"]
                    files[add["path"]] = dict(add.get("partitionValues") or {})
                    (vectors.add if add.get("deletionVector") else vectors.discard)(add["path"])
                elif "remove" in action:
                    files.pop(action["remove"]["path"], None)
                    vectors.discard(action["remove"]["path"])
                elif "protocol" in action:
                    reader = int(action["protocol"]["minReaderVersion"])
                elif "metaData" in action:
                    metadata = action["metaData"]
    return Snapshot(
        newest,
        files,
        reader,
        bool(vectors & files.keys()),
        metadata.get("schemaString"),
        dict(metadata.get("configuration") or {}),
    )


def partition_values(path: str, column: str) -> set[str | None] | None:
    """Return the values of partition `column` among the live files of the local table at `path` (no Spark job);
    set() when there is no table; None when the table is not local, its log is not one `snapshot` reads, or
    `column` is not a partition column."""
    log = local_log(path)
    if log is None:
        return None
    if not log.is_dir():
        return set()
    found = snapshot(path)
    if found is None or any(column not in values for values in found.files.values()):
        return None  # not a partition column: its values are in the rows
    return {values[column] for values in found.files.values()}


def _plain_parquet(path: str) -> tuple[Snapshot, list[Path]] | None:
    """Return the newest version of a local table and its data files when plain Parquet readers read it right; None
    when the table is not local, has no readable log, or needs Delta (a reader feature: deletion vectors, column
    mapping; a file outside the table's folder, as a shallow clone's)."""
    found = snapshot(path)
    if found is None or found.min_reader_version > 1 or found.deletion_vectors:
        return None
    if (found.configuration or {}).get("delta.columnMapping.mode", "none") != "none":
        return None
    if any("://" in rel or rel.startswith("/") for rel in found.files):
        return None
    log = local_log(path)
    assert log is not None
    return found, [log.parent / unquote(rel) for rel in sorted(found.files)]


def parquet_snapshot(path: str) -> tuple[list[str], str] | None:
    """Return the data files of the newest version of a local table (absolute paths) and its schema (Spark's JSON
    form), for Spark to read as plain Parquet; None when `_plain_parquet` finds it unreadable this way.

    Delta plans each query on a table with Spark jobs of its own: the replay of the log into a state cache, then a
    job listing the files of every scan (2-5 jobs against 1-2 for the same query on Parquet; issue 29).
    """
    plain = _plain_parquet(path)
    if plain is None or plain[0].schema is None:
        return None
    return [str(f) for f in plain[1]], plain[0].schema


def _readable_files(path: str) -> list[Path] | None:
    """Return the data files of the newest version of an unpartitioned local table ([] for none), or None when
    `_plain_parquet` finds it unreadable as plain Parquet, or it is partitioned (pyarrow reads no folder names)."""
    plain = _plain_parquet(path)
    if plain is None or any(plain[0].files.values()):
        return None
    return plain[1]


def _arrow(files: list[Path], columns: list[str] | None) -> Any:
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.concat_tables([pq.read_table(f, columns=columns) for f in files], promote_options="default")
    for i, field in enumerate(table.schema):
        if pa.types.is_timestamp(field.type):  # Spark's INT96 comes back in ns: Spark's rows hold microseconds
            table = table.set_column(i, field.name, table.column(i).cast(pa.timestamp("us")))
    return table


def read_arrow(path: str, *, columns: list[str] | None = None) -> Any | None:
    """Return the newest version of an unpartitioned local table as a pyarrow Table, read by the driver; None when
    `_readable_files` finds it unreadable this way, or it has no data file (no schema to take: the caller's Spark
    read gives the typed empty table). Timestamps come in microseconds, as Spark's rows hold them.

    For the tables a stage loads whole into the driver (the coverage models: a few hundred thousand rows): Spark
    runs a few jobs for each, and pyarrow reads them in a fraction of that.
    """
    files = _readable_files(path)
    return _arrow(files, columns) if files else None


def read_small(path: str, *, columns: list[str] | None = None) -> list[dict[str, Any]] | None:
    """Return the rows of the newest version of a small, unpartitioned local table, read by the driver with
    pyarrow, as Spark's Row.asDict(recursive=True) gives them; None when `_readable_files` finds it unreadable
    this way.

    For the publications and other tables of a few rows, read at every run: Spark runs 5-6 jobs for each read.
    """
    import pyarrow as pa

    files = _readable_files(path)
    if files is None:
        return None
    if not files:
        return []
    table = _arrow(files, columns)
    maps = [f.name for f in table.schema if pa.types.is_map(f.type)]
    rows = table.to_pylist()
    for row in rows:
        for name in maps:
            row[name] = _pairs(row[name]) if row[name] is not None else None
    return rows
