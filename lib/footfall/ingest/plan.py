"""Which landing partitions a run ingests: the ones it needs and silver lacks, and the requested ones whose inputs
changed since they were last ingested (the fingerprints are in the ingest audit's commit userMetadata)."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterable, Mapping
from pathlib import Path

from pyspark.sql import SparkSession

from footfall import schemas as S
from footfall.config import Config
from footfall.ingest.contract import CELLS_FILE, SUBSCRIBERS_FILE, events_partition
from footfall.ingest.pseudonym import MasterKey, key_fingerprint
from footfall.lakehouse import SILVER_TABLES
from footfall.stage import Stage, built_fingerprints, silver

# Bump when ingest's rules change: every partition is then re-ingested on its next run.
INGEST_ALGORITHM_VERSION = "2"  # 2: pseudonym periods by local date, aligned to ISO weeks
# Landing in (checked by the contract before Spark), silver out; the audit is written last: its rows say the
# run's writes landed, and its commits carry the fingerprints a rerun compares.
STAGE = Stage(
    name="ingest",
    inputs=(),
    outputs=silver(
        S.SILVER_SUBSCRIBERS_TABLE, S.SILVER_QUARANTINE_TABLE, S.SILVER_EVENTS_TABLE, S.SILVER_INGEST_AUDIT_TABLE
    ),
    marker=SILVER_TABLES[S.SILVER_INGEST_AUDIT_TABLE],
)


def landing_dates(landing: Path) -> list[dt.date]:
    """Return the event dates present in the landing folder, from its partition folders."""
    prefix = f"{S.EVENT_DATE}="
    return sorted(dt.date.fromisoformat(p.name[len(prefix) :]) for p in (landing / "events").glob(f"{prefix}*"))


def _file_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else "missing"


def ingest_fingerprints(config: Config, dates: Iterable[dt.date], *, key: MasterKey) -> dict[str, str]:
    """Return per date (ISO) a hash of everything its ingest reads: the partition's files (name, size, mtime), the
    subscriber and cell files, the key's fingerprint, the privacy and ingest settings and the ingest rules' version."""
    landing = Path(config.landing)
    shared = {
        "subscribers": _file_digest(landing / SUBSCRIBERS_FILE),
        "cells": _file_digest(landing / CELLS_FILE),
        "key": key_fingerprint(key),
        # where the key file lies is not what it holds (the key's fingerprint is): a moved key re-ingests nothing
        "privacy": config.privacy.model_dump(mode="json", exclude={"pseudonym_key_file", "dpo_approved"}),
        "ingest": config.ingest.model_dump(mode="json"),
        "version": INGEST_ALGORITHM_VERSION,
    }
    out = {}
    for day in sorted(set(dates)):
        folder = events_partition(landing, day)
        files = (
            sorted((p.name, p.stat().st_size, p.stat().st_mtime_ns) for p in folder.glob("*") if p.is_file())
            if folder.is_dir()
            else []
        )
        digest = hashlib.sha256(json.dumps({**shared, "files": files}, sort_keys=True).encode()).hexdigest()
        out[day.isoformat()] = digest[:32]
    return out


def last_fingerprints(spark: SparkSession, lakehouse: Path) -> dict[str, str]:
    """Return per date (ISO) the fingerprint of its latest ingest, from the audit table's commits (the runner's
    `built_fingerprints`, as for every stage)."""
    return built_fingerprints(spark, STAGE, lakehouse)


def plan_ingest(
    *,
    requested: Iterable[dt.date],
    needed: Iterable[dt.date],
    available: Iterable[dt.date],
    current: Mapping[str, str],
    last: Mapping[str, str],
) -> list[dt.date]:
    """Return the dates to ingest: needed ones silver never got, and requested ones whose fingerprint changed.

    A needed date that landing no longer (or not yet) holds is left as silver has it.
    """
    in_landing = set(available)
    wanted = set(requested) | set(needed)
    return sorted(
        d
        for d in wanted & in_landing
        if d.isoformat() not in last or (d in set(requested) and last[d.isoformat()] != current[d.isoformat()])
    )
