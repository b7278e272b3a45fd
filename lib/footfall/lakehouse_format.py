"""The lakehouse's format version: a footfall release reads and writes one format, never a mix of two.

`<lakehouse>/_footfall_format.json` holds the format the lakehouse is in. A run on a new lakehouse writes the
release's format before its first commit. A lakehouse in an older format (a lakehouse with tables and no file is
format 0: written before footfall recorded one) is refused with one line naming `footfall migrate`, and one in a
newer format with one line naming the release to use; nothing is written either way. `footfall migrate` applies the
migrations one format at a time, and records each step when it is done, so a killed migration goes on from the
last step that completed; each step must be idempotent (docs/operations.md, "Upgrades").
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path

from footfall import schemas as S

# The format this release reads and writes. Raise it with a migration to it in MIGRATIONS, when a change makes
# a lakehouse of the previous format wrong to read or to add to.
FORMAT = 2
FORMAT_FILE = "_footfall_format.json"
LAYERS = (S.SILVER, S.GOLD, S.QUALITY)


class FormatError(RuntimeError):
    """The lakehouse is in another format than this footfall's: nothing was written."""


def _adopt(lakehouse: Path) -> None:
    """Format 0 to 1: a lakehouse written before formats were recorded, by a release that needs no rebuild (the
    last changes that did: pseudonym periods, gold log statistics, partitioned homes, docs/privacy.md). Nothing
    to rewrite: the step records the format."""


def _maintenance_properties(lakehouse: Path) -> None:
    """Format 1 to 2: every table gets the maintenance properties a new one is created with (the retention of
    removed files and of the log, the checkpoint interval; lakehouse.maintenance_properties). A property commit
    changes no row: no fingerprint moves (lakehouse.data_version), gold and silver read the same. Idempotent: setting a
    property to the value it has commits the same value again."""
    from footfall import commit_log
    from footfall.lakehouse import ALL_TABLES, maintenance_properties
    from footfall.session import get_spark

    spark = None
    for table in ALL_TABLES:
        path = table.path(lakehouse)
        if not commit_log.versions(path):  # no table, or one whose creation never committed
            continue
        spark = spark or get_spark("footfall-migrate")
        settings = ", ".join(f"'{key}' = '{value}'" for key, value in sorted(maintenance_properties(table).items()))
        spark.sql(f"ALTER TABLE delta.`{path}` SET TBLPROPERTIES ({settings})")


# to format n from format n - 1
MIGRATIONS: Mapping[int, Callable[[Path], None]] = {1: _adopt, 2: _maintenance_properties}


def format_path(lakehouse: Path) -> Path:
    return Path(lakehouse) / FORMAT_FILE


def _has_tables(lakehouse: Path) -> bool:
    return any(any((Path(lakehouse) / layer).glob("*/_delta_log")) for layer in LAYERS)


def stored_format(lakehouse: Path) -> int | None:
    """Return the lakehouse's format: its file's, 0 when it has tables but no file, None when it is new."""
    # Tables first, the file after: a write records the format before it creates a table, so a table seen here
    # means its file is there too, also when another thread of the run wrote both in between.
    has_tables = _has_tables(lakehouse)
    path = format_path(lakehouse)
    if path.is_file():
        return int(json.loads(path.read_text())["format"])
    return 0 if has_tables else None


def _record(lakehouse: Path, version: int) -> None:
    # write and rename: a reader sees the old file or the new one, never half of one. Each writer has a file of its
    # own to rename: the threads of a run's first writes record the same format at once.
    path = format_path(lakehouse)
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", dir=path.parent, prefix=f".{FORMAT_FILE}.", delete=False) as handle:
        handle.write(json.dumps({"format": version}) + "\n")
    os.replace(handle.name, path)


def ensure_format(lakehouse: Path, *, release: int = FORMAT) -> None:
    """Record `release` on a new lakehouse; raise FormatError unless the lakehouse is in that format already."""
    stored = stored_format(lakehouse)
    if stored is None:
        _record(lakehouse, release)
    elif stored < release:
        raise FormatError(
            f"lakehouse {lakehouse} is in format {stored}, this footfall reads and writes format {release}: run "
            "`footfall migrate --config <config>` first (docs/operations.md, Upgrades); nothing was written"
        )
    elif stored > release:
        raise FormatError(
            f"lakehouse {lakehouse} is in format {stored}, written by a newer footfall than this one (format "
            f"{release}): run that release or a newer one; nothing was written"
        )


def migrate(
    lakehouse: Path, *, release: int = FORMAT, migrations: Mapping[int, Callable[[Path], None]] = MIGRATIONS
) -> list[int]:
    """Bring the lakehouse to format `release`, one step at a time; return the formats migrated to (none when it
    is there already, or new: a new lakehouse is recorded at `release`)."""
    stored = stored_format(lakehouse)
    if stored is None:
        _record(lakehouse, release)
        return []
    if stored > release:
        ensure_format(lakehouse, release=release)  # raises: a newer format
    done = []
    for step in range(stored + 1, release + 1):
        migrations[step](lakehouse)
        _record(lakehouse, step)
        done.append(step)
    return done
