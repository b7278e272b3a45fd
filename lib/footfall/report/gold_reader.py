"""Gold as the newest publication names it, read with delta-rs: no Spark session, no JVM.

The column and table names come from `footfall.schemas`, the one contract module. Importing it imports
`pyspark.sql.types` (plain Python classes); that starts no JVM and needs no Java, and nothing here imports
anything else from pyspark. The logic mirrors `footfall.publish.publications.read_published`.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import shapely.wkb
from deltalake import DeltaTable
from deltalake.exceptions import DeltaError, TableNotFoundError

from footfall import schemas as S

METADATA = "metadata"  # the userMetadata JSON of the commit that wrote the published version
ALL_DATES = "all_dates"  # every date some publication up to the newest one holds
GEOMETRY = "geometry"  # a decoded shapely geometry, WGS84 lon/lat


def _delta(path: Path, *, version: int | None = None) -> DeltaTable:
    try:
        return DeltaTable(path, version=version)
    except TableNotFoundError:
        raise FileNotFoundError(f"no Delta table at {path}") from None


def read_publication(lakehouse: Path) -> dict[str, Any]:
    """Return the newest publication row, `table_versions` as a dict, plus `all_dates` and the commit `metadata`."""
    lakehouse = Path(lakehouse)
    if not lakehouse.is_dir():
        raise FileNotFoundError(f"lakehouse {lakehouse} does not exist")
    path = lakehouse / S.GOLD / S.GOLD_PUBLICATIONS_TABLE
    if not (path / "_delta_log").is_dir():
        raise FileNotFoundError(f"no publication yet in {lakehouse}: {path} is missing (run `footfall publish`)")
    rows = _delta(path).to_pyarrow_table().to_pylist()
    if not rows:
        raise ValueError(f"no publication yet in {lakehouse}: {path} is empty (run `footfall publish`)")
    newest = max(rows, key=lambda r: int(r[S.SEQUENCE]))
    publication = dict(newest)
    # arrow hands a map over as a list of (key, value) pairs
    publication[S.TABLE_VERSIONS] = {str(t): int(v) for t, v in newest[S.TABLE_VERSIONS]}
    publication[ALL_DATES] = sorted({d for r in rows for d in r[S.DATES]})
    publication[METADATA] = read_commit_metadata(lakehouse, publication)
    return publication


def read_commit_metadata(lakehouse: Path, publication: Mapping[str, Any]) -> dict[str, Any]:
    """Return the userMetadata JSON of the gold commits the publication names (hourly first), else {}."""
    versions: Mapping[str, int] = publication[S.TABLE_VERSIONS]
    order = sorted(versions, key=lambda t: t != S.GOLD_ZONE_FOOTFALL_HOURLY_TABLE)
    candidates: list[tuple[Path, int | None]] = [(Path(lakehouse) / S.GOLD / t, versions[t]) for t in order]
    # the publication's own commit carries the same metadata: the fallback when a gold log was cleaned up
    candidates.append((Path(lakehouse) / S.GOLD / S.GOLD_PUBLICATIONS_TABLE, None))
    for path, version in candidates:
        try:
            history = DeltaTable(path).history()
        except DeltaError:
            continue
        for commit in history:
            if version is not None and commit.get("version") != version:
                continue
            raw = commit.get("userMetadata")
            if isinstance(raw, str) and raw.strip().startswith("{"):
                meta: dict[str, Any] = json.loads(raw)
                return meta
    return {}


def _partition_filter(table: str, partitions: Iterable[str] | None) -> pc.Expression | None:
    """Return an arrow filter on the table's partition column (dates as ISO strings, weeks as 2026-W10)."""
    column = S.GOLD_TABLES[table][1]
    if partitions is None or column is None:
        return None
    values = sorted(set(partitions))
    array = pa.array([dt.date.fromisoformat(v) for v in values], pa.date32()) if column == S.DATE else pa.array(values)
    return pc.field(column).isin(array)


def read_published_table(
    lakehouse: Path, table: str, *, publication: Mapping[str, Any], partitions: Iterable[str] | None = None
) -> pd.DataFrame:
    """Return gold `table` at the version the publication names, optionally only the given partitions."""
    versions: Mapping[str, int] = publication[S.TABLE_VERSIONS]
    if table not in versions:
        raise ValueError(f"publication {publication[S.SEQUENCE]} names no gold table {table}")
    delta = _delta(Path(lakehouse) / S.GOLD / table, version=versions[table])
    where = _partition_filter(table, partitions)
    return delta.to_pyarrow_table(filters=where).to_pandas() if where is not None else delta.to_pandas()


def _silver_table(lakehouse: Path, table: str, *, version: int | None) -> DeltaTable | None:
    """Return silver `table` at `version` (the newest when that version is gone or None), or None without it."""
    path = Path(lakehouse) / S.SILVER / table
    if not (path / "_delta_log").is_dir():
        return None
    try:
        return DeltaTable(path, version=version)
    except DeltaError:  # that version's files are gone: shapes change rarely, the newest ones do
        return DeltaTable(path)


def _read_shapes(lakehouse: Path, table: str, id_column: str, *, version: int | None) -> pd.DataFrame:
    delta = _silver_table(lakehouse, table, version=version)
    if delta is None:
        return pd.DataFrame({id_column: [], S.NAME: [], GEOMETRY: []})
    df = delta.to_pandas(columns=[id_column, S.NAME, S.GEOMETRY_WKB])
    df[GEOMETRY] = [shapely.wkb.loads(bytes(b)) for b in df.pop(S.GEOMETRY_WKB)]
    return df.sort_values(id_column, ignore_index=True)


def read_zone_shapes(lakehouse: Path, *, publication: Mapping[str, Any]) -> pd.DataFrame:
    """Return zone_id, name and geometry of silver/zones at the version gold was built from (else the newest)."""
    version = publication[METADATA].get("input_versions", {}).get(S.SILVER_ZONES_TABLE)
    return _read_shapes(lakehouse, S.SILVER_ZONES_TABLE, S.ZONE_ID, version=version)


def read_district_shapes(lakehouse: Path) -> pd.DataFrame:
    """Return district_id, name and geometry of the newest silver/districts (empty when silver has none)."""
    return _read_shapes(lakehouse, S.SILVER_DISTRICTS_TABLE, S.DISTRICT_ID, version=None)


def read_input_changes(lakehouse: Path, *, publication: Mapping[str, Any], dates: Iterable[str]) -> list[str]:
    """Return one line per input footfall accepted with a change behind this publication: each repaired zone or
    district polygon (silver/zones at the version gold was built from, silver/districts), and each date ingested past
    a guard with --accept-quarantine (silver/ingest_audit.accepted_breach). No identifier is in either table."""
    lines = []
    zones_version = publication[METADATA].get("input_versions", {}).get(S.SILVER_ZONES_TABLE)
    for table, id_column, version in (
        (S.SILVER_ZONES_TABLE, S.ZONE_ID, zones_version),
        (S.SILVER_DISTRICTS_TABLE, S.DISTRICT_ID, None),
    ):
        delta = _silver_table(lakehouse, table, version=version)
        if delta is None:
            continue
        df = delta.to_pandas(columns=[id_column, S.IS_REPAIRED, S.INVALID_REASON])
        for row in df[df[S.IS_REPAIRED]].sort_values(id_column).itertuples(index=False):
            lines.append(f"{table} {row[0]}: geometry repaired ({row[2]})")
    audit = _silver_table(lakehouse, S.SILVER_INGEST_AUDIT_TABLE, version=None)
    # audits from before the guards have no accepted_breach column
    if audit is not None and S.ACCEPTED_BREACH in [f.name for f in audit.schema().fields]:
        df = audit.to_pandas(columns=[S.EVENT_DATE, S.ACCEPTED_BREACH])
        kept = df[df[S.ACCEPTED_BREACH].notna() & df[S.EVENT_DATE].astype(str).isin(set(dates))]
        lines += [
            f"ingested past a guard (--accept-quarantine): {text}" for text in sorted(set(kept[S.ACCEPTED_BREACH]))
        ]
    return lines
