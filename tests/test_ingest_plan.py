"""Which landing dates a run ingests: what the dates need and silver lacks, and requested dates that changed."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

from footfall.config import parse_config
from footfall.ingest.plan import ingest_fingerprints, plan_ingest
from footfall.ingest.pseudonym import MasterKey

D = dt.date


def test_needed_dates_are_ingested_once_and_requested_ones_again_when_they_changed() -> None:
    last = {"2026-03-05": "a", "2026-03-06": "b", "2026-03-07": "c"}
    current = {"2026-03-04": "x", "2026-03-05": "a2", "2026-03-06": "b", "2026-03-07": "c2"}
    todo = plan_ingest(
        requested=[D(2026, 3, 6), D(2026, 3, 7)],
        needed=[D(2026, 3, 3), D(2026, 3, 4), D(2026, 3, 5), D(2026, 3, 6), D(2026, 3, 7)],
        available=[D(2026, 3, 4), D(2026, 3, 5), D(2026, 3, 6), D(2026, 3, 7)],
        current=current,
        last=last,
    )
    # 03-03: not in landing (left as silver has it); 03-04: never ingested; 03-05: changed but only needed, not
    # requested; 03-06: requested, unchanged; 03-07: requested and changed
    assert todo == [D(2026, 3, 4), D(2026, 3, 7)]


def test_a_fingerprint_changes_with_the_files_and_the_key_but_not_with_the_clock(tmp_path: Path) -> None:
    landing = tmp_path / "landing"
    part = landing / "events" / "event_date=2026-03-06"
    part.mkdir(parents=True)
    (part / "part-0.parquet").write_bytes(b"one")
    (landing / "subscribers.csv").write_text("msisdn\n")
    (landing / "cells.csv").write_text("cell_id\n")
    config = parse_config({"landing": str(landing), "lakehouse": str(tmp_path / "lake")}, source="test")
    key, other = MasterKey(b"k" * 32, source="test"), MasterKey(b"o" * 32, source="test")

    first = ingest_fingerprints(config, [D(2026, 3, 6)], key=key)
    assert ingest_fingerprints(config, [D(2026, 3, 6)], key=key) == first
    assert ingest_fingerprints(config, [D(2026, 3, 6)], key=other) != first
    os.utime(part / "part-0.parquet", ns=(1, 1))  # a re-delivered file, same bytes
    assert ingest_fingerprints(config, [D(2026, 3, 6)], key=key) != first
