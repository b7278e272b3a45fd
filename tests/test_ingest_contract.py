"""The landing contract stops the job before anything is written, with one line that names file and column."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pytest
import yaml
from pyspark.sql import SparkSession

from footfall.config import Config
from footfall.ingest.contract import (
    InputContractError,
    check_events_contract,
    landing_events_rows,
    read_cells,
    read_landing_events,
    read_subscribers,
)
from footfall.ingest.pseudonym import ENV_KEY
from test_ingest_fixtures import (
    ADULT_F,
    DAY,
    EVENTS,
    KEY,
    SUBSCRIBERS,
    SUBSCRIBERS_HEADER,
    make_landing,
    write_csv,
    write_events,
)

ROWS = [row for row, _ in EVENTS]


def _wrong_table(drop: str | None = None, retype: tuple[str, pa.Array] | None = None) -> pa.Table:
    names = ["msisdn", "event_ts", "cell_id", "event_type"]
    columns = {n: pa.array([r[i] for r in ROWS], pa.string()) for i, n in enumerate(names)}
    if drop:
        del columns[drop]
    if retype:
        columns[retype[0]] = retype[1]
    return pa.table(columns)


def test_missing_column_names_file_and_column(tmp_path: Path) -> None:
    config = make_landing(tmp_path)
    path = write_events(config.landing, DAY, ROWS, table=_wrong_table(drop="event_ts"))
    with pytest.raises(InputContractError, match="column 'event_ts' is missing") as info:
        check_events_contract(config.landing, [DAY])
    assert str(path) in str(info.value)


def test_uncastable_type_names_file_and_column(tmp_path: Path) -> None:
    config = make_landing(tmp_path)
    stamps = pa.array([dt.datetime(2026, 3, 2, 8)] * len(ROWS), pa.timestamp("us"))
    path = write_events(config.landing, DAY, ROWS, table=_wrong_table(retype=("event_ts", stamps)))
    with pytest.raises(InputContractError, match=r"column 'event_ts' has type timestamp\[us\]") as info:
        check_events_contract(config.landing, [DAY])
    assert str(path) in str(info.value)


def test_integer_msisdn_is_read_as_its_digits(spark: SparkSession, tmp_path: Path) -> None:
    config = make_landing(tmp_path)
    as_int = pa.array([int(ADULT_F)] * len(ROWS), pa.int64())
    write_events(config.landing, DAY, ROWS, table=_wrong_table(retype=("msisdn", as_int)))
    files = check_events_contract(config.landing, [DAY])
    got = read_landing_events(spark, files)
    assert {tuple(r) for r in got.select("msisdn", "event_date").distinct().collect()} == {(ADULT_F, DAY)}


def test_footers_give_the_rows_a_run_sizes_its_shuffles_by(tmp_path: Path) -> None:
    """The rows come from the parquet footers (no Spark job); a broken file counts 0 until ingest names it."""
    config = make_landing(tmp_path)
    write_events(config.landing, DAY, ROWS)
    other = DAY + dt.timedelta(days=1)
    write_events(config.landing, other, ROWS[:2])
    assert [f.rows for f in check_events_contract(config.landing, [DAY, other])] == [len(ROWS), 2]
    (config.landing / "events" / f"event_date={other}" / "broken.parquet").write_bytes(b"PAR1 not really")
    assert landing_events_rows(config.landing, [DAY, other]) == len(ROWS) + 2
    assert landing_events_rows(config.landing, [other + dt.timedelta(days=1)]) == 0


@pytest.mark.parametrize("empty", [False, True])
def test_missing_or_empty_partition_is_a_contract_error(tmp_path: Path, empty: bool) -> None:
    config = make_landing(tmp_path)
    other = DAY + dt.timedelta(days=1)
    if empty:
        (config.landing / "events" / f"event_date={other}").mkdir()
    with pytest.raises(InputContractError, match=f"event_date={other}: partition for {other}"):
        check_events_contract(config.landing, [DAY, other])


def _first_row(column: int, value: object) -> list[tuple[object, ...]]:
    first = list(SUBSCRIBERS[0])
    first[column] = value
    return [tuple(first), *SUBSCRIBERS[1:]]


@pytest.mark.parametrize(
    ("subscribers", "message"),
    [
        (_first_row(1, "1980s"), "column 'birth_year' has 1 values that are not int (e.g. '1980s')"),
        (_first_row(4, "maybe"), "column 'opted_out' has 1 values that are not boolean (e.g. 'maybe')"),
        (_first_row(2, "q"), "column 'gender' has 1 values outside f, m, x (e.g. 'q')"),
        (_first_row(5, "yesterday"), "column 'opted_out_at' has 1 values that are not timestamp (e.g. 'yesterday')"),
        ([*SUBSCRIBERS, SUBSCRIBERS[0]], "column 'msisdn' has 1 repeated values; it must be unique"),
        (_first_row(0, None), "column 'msisdn' has 1 empty values"),
    ],
)
def test_bad_subscriber_values_name_file_and_column(
    spark: SparkSession, tmp_path: Path, subscribers: list[tuple[object, ...]], message: str
) -> None:
    config = make_landing(tmp_path, subscribers=subscribers)
    with pytest.raises(InputContractError) as info:
        read_subscribers(spark, config.landing)
    assert str(info.value) == f"{config.landing / 'subscribers.csv'}: {message}"
    assert ADULT_F not in str(info.value)  # identifiers never go into a message


def test_a_csv_checked_once_is_checked_again_after_it_changed(spark: SparkSession, tmp_path: Path) -> None:
    """The checks run once per file version in a process (forget and ingest both read subscribers.csv): a file
    rewritten with a bad value must fail, not pass on the first version's check."""
    config = make_landing(tmp_path)
    assert read_subscribers(spark, config.landing).count() == len(SUBSCRIBERS)
    assert read_subscribers(spark, config.landing).count() == len(SUBSCRIBERS)  # the same version: passes again
    write_csv(config.landing / "subscribers.csv", SUBSCRIBERS_HEADER, _first_row(1, "1980s"))
    with pytest.raises(InputContractError, match=r"column 'birth_year' has 1 values that are not int"):
        read_subscribers(spark, config.landing)


def test_missing_csv_column_or_file(spark: SparkSession, tmp_path: Path) -> None:
    config = make_landing(tmp_path)
    write_csv(config.landing / "subscribers.csv", SUBSCRIBERS_HEADER[:-1], [r[:-1] for r in SUBSCRIBERS])
    with pytest.raises(InputContractError, match=r"subscribers\.csv: column 'opted_out_at' is missing from the header"):
        read_subscribers(spark, config.landing)
    (config.landing / "cells.csv").unlink()
    with pytest.raises(InputContractError, match=r"cells\.csv: file is missing"):
        read_cells(spark, config.landing)


# ---- through the CLI: one line on stderr, a documented exit code, and no lakehouse at all ----


def _cli(
    config: Config, tmp_path: Path, *, key: str | None = KEY, end: dt.date = DAY
) -> subprocess.CompletedProcess[str]:
    path = tmp_path / "conf.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "landing": str(config.landing),
                "lakehouse": str(config.lakehouse),
                "privacy": {"pseudonym_key_file": str(config.privacy.pseudonym_key_file)},
            }
        )
    )
    env = {k: v for k, v in os.environ.items() if k != ENV_KEY}
    if key is not None:
        env[ENV_KEY] = key
    return subprocess.run(
        [sys.executable, "-m", "footfall.cli", "ingest", "--config", str(path), "--start", str(DAY), "--end", str(end)],
        capture_output=True,
        text=True,
        check=False,
        env=env,
        timeout=120,
    )


def _assert_failed_cleanly(proc: subprocess.CompletedProcess[str], config: Config, code: int, *needles: str) -> None:
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == code, proc.stderr
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("footfall: ")
    for needle in needles:
        assert needle in lines[0]
    assert "Traceback" not in proc.stderr + proc.stdout
    assert not config.lakehouse.exists()


def test_cli_wrong_schema_exits_3_and_writes_nothing(tmp_path: Path) -> None:
    config = make_landing(tmp_path)
    path = write_events(config.landing, DAY, ROWS, table=_wrong_table(drop="cell_id"))
    _assert_failed_cleanly(_cli(config, tmp_path), config, 3, str(path), "'cell_id'")


def test_cli_missing_partition_exits_3_and_writes_nothing(tmp_path: Path) -> None:
    config = make_landing(tmp_path)
    later = DAY + dt.timedelta(days=1)
    _assert_failed_cleanly(_cli(config, tmp_path, end=later), config, 3, f"event_date={later}", "missing")


def test_cli_missing_key_exits_5_and_writes_nothing(tmp_path: Path) -> None:
    config = make_landing(tmp_path)
    _assert_failed_cleanly(_cli(config, tmp_path, key=None), config, 5, "FOOTFALL_PSEUDONYM_KEY", "no-key-file")


def test_cli_short_key_exits_5_without_showing_it(tmp_path: Path) -> None:
    config = make_landing(tmp_path)
    proc = _cli(config, tmp_path, key="s3cret-but-short")
    _assert_failed_cleanly(proc, config, 5, "16 bytes long")
    assert "s3cret-but-short" not in proc.stderr + proc.stdout
