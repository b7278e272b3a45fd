"""Table maintenance (`footfall maintain`, weekly): compact small files, delete the files no reader needs.

Every daily run adds a few files and commits to each table it writes, and a killed write leaves files that no
commit names. Once a week `footfall maintain`, under the run lock like a run:
1. finishes a pending history drop of gold (a republication after an objection, publications.py), so no
   compaction ever keeps what a privacy rule removes;
2. compacts (Delta OPTIMIZE: bin-packing inside each partition) every silver and quality table.
   Its commits change no row (`dataChange: false`), and the fingerprints that decide what a run rebuilds read data
   versions (lakehouse.data_version), so the run after maintenance rebuilds nothing;
3. compacts the gold tables still at the versions the newest publication names, and appends a publication naming
   the compacted versions (same dates, inputs and settings), so readers of the newest publication read them;
   then `_publications` itself;
4. vacuums every table at its `delta.deletedFileRetentionDuration` (7 days, lakehouse.MAINTENANCE_PROPERTIES):
   files that no version of the last 7 days reads are deleted, among them the orphan files of killed writes.

A reader holding a publication older than 7 days gets a file-not-found error and reads the newest one again
(docs/operations.md, "Maintenance"). The privacy VACUUMs (forget, retention, a republication's history drop) stay
at retention 0: they run in their own commands and never read this retention.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from delta.tables import DeltaTable
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from footfall import commit_log
from footfall import schemas as S
from footfall.config import Config
from footfall.lakehouse import (
    ALL_TABLES,
    GOLD_TABLES,
    PUBLICATIONS,
    VACUUM_LOGGING,
    Table,
    commit_metadata,
    data_version,
    has_log,
    run_together,
    table_version,
)
from footfall.publish.publications import (
    append_publication,
    finish_history_drop,
    latest_publication,
    publication_df,
)
from footfall.session import conf_set

_log = logging.getLogger("footfall")

STAGE_NAME = "maintain"


@dataclass(frozen=True)
class MaintenanceReport:
    """What a maintenance run did: per table the files compaction removed and added, the tables vacuumed, the
    publication that names compacted gold (None when gold was left as it was), and a history drop it finished."""

    compacted: dict[str, tuple[int, int]]
    vacuumed: list[str]
    publication: int | None
    history_dropped: list[str]

    @property
    def files_removed(self) -> int:
        return sum(removed for removed, _ in self.compacted.values())

    @property
    def files_added(self) -> int:
        return sum(added for _, added in self.compacted.values())


def _compact(spark: SparkSession, table: Table, lakehouse: Path) -> tuple[int, int]:
    """OPTIMIZE one table; return the files it removed and added (0, 0 when every partition had one file)."""
    _log.info("maintain: OPTIMIZE of %s/%s started", table.layer, table.name)
    metrics = DeltaTable.forPath(spark, table.path(lakehouse)).optimize().executeCompaction().first()
    if metrics is None:
        return 0, 0
    found = metrics["metrics"]
    return int(found["numFilesRemoved"]), int(found["numFilesAdded"])


def _vacuum(spark: SparkSession, table: Table, lakehouse: Path) -> None:
    """VACUUM at the table's own delta.deletedFileRetentionDuration (7 days unless set otherwise)."""
    _log.info("maintain: VACUUM of %s/%s started", table.layer, table.name)
    DeltaTable.forPath(spark, table.path(lakehouse)).vacuum()


def _publication_metadata(spark: SparkSession, lakehouse: Path) -> AbstractContextManager[None]:
    """Give the commits in the block the userMetadata of the newest `_publications` commit (none when it has none):
    the report reads a run's settings (k, the sign-offs) from the commit of the version it reads, and falls back to
    the publication's own commit."""
    path = PUBLICATIONS.path(lakehouse)
    version = table_version(spark, path)
    if commit_log.versions(path) is not None:
        text = commit_log.commit_info(path, version).get("userMetadata") if version is not None else None
    else:
        rows = DeltaTable.forPath(spark, path).history().where(F.col("version") == F.lit(version)).collect()
        text = rows[0]["userMetadata"] if rows else None
    try:
        meta = json.loads(text or "null")
    except ValueError:
        meta = None
    return commit_metadata(spark, meta) if isinstance(meta, dict) else nullcontext()


def _compact_gold(
    spark: SparkSession, lakehouse: Path, *, run_id: str
) -> tuple[dict[str, tuple[int, int]], int | None]:
    """Compact the gold tables of the newest publication and publish their new versions; return what was compacted
    and the new publication's sequence (None when every version stayed the published one)."""
    latest = latest_publication(spark, lakehouse)
    if latest is None:
        return {}, None
    versions: dict[str, int] = dict(latest[S.TABLE_VERSIONS])
    # The tables whose rows are still the published ones: at the published version, or past it by compactions
    # alone (a maintenance killed before its publication). One a killed publish moved on is left to the next publish.
    current = [
        GOLD_TABLES[t]
        for t, v in versions.items()
        if t in GOLD_TABLES and data_version(spark, GOLD_TABLES[t].path(lakehouse)) == v
    ]
    with _publication_metadata(spark, lakehouse):
        compacted = run_together(spark, {t.name: partial(_compact, spark, t, lakehouse) for t in current})
        moved = {t.name: table_version(spark, t.path(lakehouse)) for t in current}
        if all(moved[t] == versions[t] for t in moved):
            return compacted, None
        versions.update({t: v for t, v in moved.items() if v is not None})
        sequence = int(latest[S.SEQUENCE]) + 1
        append_publication(
            publication_df(
                spark,
                sequence=sequence,
                run_id=run_id,
                published_at=dt.datetime.now(dt.UTC),
                dates=[],  # no date published anew: readers collect dates over every publication
                weeks=[],
                inputs=str(latest[S.INPUTS]),
                config_hash=str(latest[S.CONFIG_HASH]),
                code_version=str(latest[S.CODE_VERSION]),
                table_versions=versions,
                rewritten=[],
            ),
            lakehouse=lakehouse,
        )
    return compacted, sequence


def run_maintain(spark: SparkSession, config: Config, *, run_id: str) -> MaintenanceReport:
    """Compact and vacuum every table of the lakehouse (module docstring); the caller holds the run lock."""
    lakehouse = Path(config.lakehouse)
    dropped = finish_history_drop(spark, lakehouse) if has_log(spark, PUBLICATIONS.path(lakehouse)) else []
    present = [t for t in ALL_TABLES if has_log(spark, t.path(lakehouse))]
    own = [t for t in present if t.layer != S.GOLD]
    with commit_metadata(spark, {"stage": STAGE_NAME, "run_id": run_id}):
        compacted = run_together(spark, {t.name: partial(_compact, spark, t, lakehouse) for t in own})
    gold, sequence = _compact_gold(spark, lakehouse, run_id=run_id) if PUBLICATIONS in present else ({}, None)
    if PUBLICATIONS in present:  # last: after the publication of compacted gold, if there was one
        with _publication_metadata(spark, lakehouse):
            gold[PUBLICATIONS.name] = _compact(spark, PUBLICATIONS, lakehouse)
    # Without VACUUM START and END commits, as the privacy VACUUMs (lakehouse.vacuuming): what maintenance removed
    # is in its report, and the log grows by nothing.
    with conf_set(spark, VACUUM_LOGGING, "false"):
        run_together(spark, {f"{t.layer}/{t.name}": partial(_vacuum, spark, t, lakehouse) for t in present})
    return MaintenanceReport(
        compacted=_by_path(own, compacted) | _by_path([GOLD_TABLES.get(n, PUBLICATIONS) for n in gold], gold),
        vacuumed=[f"{t.layer}/{t.name}" for t in present],
        publication=sequence,
        history_dropped=dropped,
    )


def _by_path(tables: list[Table], found: dict[str, tuple[int, int]]) -> dict[str, tuple[int, int]]:
    return {f"{t.layer}/{t.name}": found[t.name] for t in tables if t.name in found}
