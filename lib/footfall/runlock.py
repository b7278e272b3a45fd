"""One run at a time per lakehouse: an exclusive lock on `<lakehouse>/_footfall.lock`.

The lock is an OS file lock (flock), so the kernel releases it when the holder exits or dies, SIGKILL included: a
crashed run never leaves a stale lock. The file names the holder (run id, pid, host, start) for the message a
second run prints. flock holds between processes of one host; a lakehouse shared by several hosts needs the
scheduler's own mutual exclusion (Airflow: max_active_runs=1).
"""

from __future__ import annotations

import datetime as dt
import fcntl
import json
import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

LOCK_FILE = "_footfall.lock"


class RunLockedError(RuntimeError):
    """Another footfall run holds the lakehouse."""


def _holder(path: Path) -> str:
    try:
        info = json.loads(path.read_text() or "{}")
    except (OSError, ValueError):
        info = {}
    if not info:
        return "another run"
    return f"run {info.get('run_id')} (pid {info.get('pid')} on {info.get('host')}, since {info.get('started_at')})"


@contextmanager
def run_lock(lakehouse: Path, *, run_id: str) -> Iterator[Path]:
    """Hold the lakehouse's run lock for the block; raise RunLockedError at once when another run holds it."""
    lakehouse.mkdir(parents=True, exist_ok=True)
    path = lakehouse / LOCK_FILE
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise RunLockedError(
                f"{_holder(path)} is running on lakehouse {lakehouse}; wait for it to finish ({path})"
            ) from None
        started = dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()
        info = {"run_id": run_id, "pid": os.getpid(), "host": socket.gethostname(), "started_at": started}
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(info).encode(), 0)
        try:
            yield path
        finally:
            os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
