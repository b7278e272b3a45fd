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
from pathlib import Path
from typing import Any

LOG = "_delta_log"
# A commit file is named by its version, 20 digits, then ".json" (checkpoints and .crc files are not commits).
_DIGITS = 20
_NAME_LENGTH = _DIGITS + len(".json")


def local_log(path: str) -> Path | None:
    """Return the `_delta_log` folder of the table at `path` when it is local, else None (s3a://, abfss://, ...)."""
    if "://" in path and not path.startswith("file://"):
        return None
    return Path(path.removeprefix("file://").removeprefix("file:")) / LOG


def versions(path: str) -> list[int] | None:
    """Return the versions whose commit files the table's log holds, newest first; [] when there is no log; None
    when the table is not local."""
    log = local_log(path)
    if log is None:
        return None
    try:
        names = os.listdir(log)
    except FileNotFoundError:
        return []
    found = [
        int(name[:_DIGITS])
        for name in names
        if len(name) == _NAME_LENGTH and name.endswith(".json") and name[:_DIGITS].isdigit()
    ]
    return sorted(found, reverse=True)


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
