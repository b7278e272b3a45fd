"""The whole pipeline as a daily run leaves it, read from the batch run of the shared three-day city (conftest.py):
every stage writes, the rules hold, gold reads the same without Spark; and the kill test on a city of its own."""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path

import pytest
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.testing import assertDataFrameEqual
from rich.console import Console
from tests.daily import DAYS, RUN_OUTPUT, TEST_KEY, K, daily_config

from footfall import schemas as S
from footfall.config import Config
from footfall.lakehouse import read_table, silver_path
from footfall.lakehouse_format import FORMAT, stored_format
from footfall.mobility.direction import OCTANTS, UNKNOWN

pytestmark = [pytest.mark.integration, pytest.mark.pipeline]


@pytest.fixture(autouse=True)
def _key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FOOTFALL_PSEUDONYM_KEY", TEST_KEY)


@pytest.fixture(scope="module")
def ran(daily_landing: Path, daily_batch: Path) -> tuple[Config, str]:
    """Return the config and the printed output of the shared batch run of the three-day city (conftest.py): one
    run of every stage, read-only here. Its posterior model gives rows in every silver table and every gold table
    but the flows and the expected visitors; the demo path (a generated city, a development key) is tested in
    test_cli_run.py."""
    return daily_config(daily_landing, daily_batch), (daily_batch.parent / RUN_OUTPUT).read_text()


@pytest.fixture
def own(ran: tuple[Config, str], tmp_path: Path) -> Config:
    """Return a private copy of the run's landing and lakehouse, for a test that changes them: no test sees another's
    side effects."""
    return _copy(ran[0], tmp_path / "copy")


@pytest.fixture(scope="module")
def threshold_city(tmp_path_factory: pytest.TempPathFactory) -> Config:
    """Return the config of a run of a one-day city of 250 people with the threshold model, for the kill test alone
    (make test-heavy): it needs an objector whose visits change most gold tables, so that a kill between two gold
    writes leaves a publication half written, and on this city the threshold model counts something in every zone."""
    from footfall.pipeline import run_pipeline

    root = tmp_path_factory.mktemp("threshold-city")
    config = daily_config(
        root / "landing",
        root / "lakehouse",
        demo={"subscribers": 250, "days": 1, "start": "2026-03-08", "seed": 5},
        mobility={"presence_model": "threshold"},
    )
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("FOOTFALL_PSEUDONYM_KEY", TEST_KEY)
        run_pipeline(config, console=Console(file=io.StringIO(), width=200), demo=True)
    return config


def _copy(config: Config, copy: Path) -> Config:
    import shutil

    shutil.copytree(config.landing, copy / "landing", ignore=shutil.ignore_patterns("truth"))
    shutil.copytree(config.lakehouse, copy / "lakehouse")
    return config.model_copy(update={"landing": copy / "landing", "lakehouse": copy / "lakehouse"})


def test_every_stage_reports_and_writes(spark: SparkSession, ran: tuple[Config, str]) -> None:
    config, printed = ran
    for stage in ("forget", "ingest", "spatial", "mobility", "publish"):
        assert f"{stage}: " in printed, (stage, printed)
    for table in (
        S.SILVER_EVENTS_TABLE,
        S.SILVER_CELL_ZONE_WEIGHTS_TABLE,
        S.SILVER_STAYS_TABLE,
        S.SILVER_DEVICE_HOME_TABLE,
        S.SILVER_ZONE_TRANSITIONS_TABLE,
        S.SILVER_REPEAT_VISITS_TABLE,
    ):
        assert read_table(spark, silver_path(config.lakehouse, table)).count() > 0, table
    # the run recorded the format of the lakehouse it made (lakehouse_format.py)
    assert stored_format(Path(config.lakehouse)) == FORMAT


def test_stays_follow_the_rules(spark: SparkSession, ran: tuple[Config, str]) -> None:
    config, _ = ran
    stays = read_table(spark, silver_path(config.lakehouse, S.SILVER_STAYS_TABLE))
    m = config.mobility
    broken = stays.where(
        (F.col(S.LEFT_AT) < F.col(S.ENTERED_AT))
        | (F.col(S.IS_VISIT) != (F.col(S.DWELL_S) >= m.min_visit_s))
        | ~F.col(S.ARRIVAL_DIRECTION).isin(*OCTANTS, UNKNOWN)
        | (F.col(S.DATE) != F.to_date(F.from_utc_timestamp(S.ENTERED_AT, config.timezone)))
    )
    assert broken.count() == 0
    assert stays.where(F.col(S.ARRIVAL_DIRECTION) != UNKNOWN).count() > 0
    assert stays.where(F.col(S.PREVIOUS_ZONE_ID).isNotNull()).count() > 0


def test_no_python_udf_in_the_per_event_path(spark: SparkSession, ran: tuple[Config, str]) -> None:
    from footfall.mobility.presence import filter_present
    from footfall.mobility.stays import agg_stays, with_device_neighbours
    from footfall.spatial.weights import with_zone_candidates

    config, _ = ran
    events = read_table(spark, silver_path(config.lakehouse, S.SILVER_EVENTS_TABLE)).select(
        S.PSEUDO_ID, S.EVENT_TS, S.CELL_ID
    )
    weights = read_table(spark, silver_path(config.lakehouse, S.SILVER_CELL_ZONE_WEIGHTS_TABLE))
    stays = agg_stays(
        filter_present(
            with_zone_candidates(with_device_neighbours(events.repartition(S.PSEUDO_ID)), weights_df=weights),
            model="threshold",
            min_weight=0.05,
        ),
        max_gap_s=900,
        min_visit_s=300,
    )
    plan = stays._jdf.queryExecution().executedPlan().toString()
    for node in ("BatchEvalPython", "ArrowEvalPython", "PythonUDF", "CartesianProduct", "RangeJoin"):
        assert node not in plan, node
    assert "BroadcastHashJoin" in plan and "Window" in plan
    # one shuffle by device serves both windows
    assert plan.count("Exchange hashpartitioning(pseudo_id") == 1, plan


def _gold(spark: SparkSession, config: Config, table: str) -> DataFrame:
    from footfall.lakehouse import gold_path

    return spark.read.format("delta").load(gold_path(config.lakehouse, table))


def _snapshot(spark: SparkSession, config: Config) -> dict[str, DataFrame]:
    """Return every gold table as it is now, held in memory (gold drops its history when partitions are rewritten)."""
    return {
        t: spark.createDataFrame(_gold(spark, config, t).collect(), schema) for t, (schema, _) in S.GOLD_TABLES.items()
    }


def test_gold_is_published_registered_and_above_k(spark: SparkSession, ran: tuple[Config, str]) -> None:
    _, printed = ran
    assert "zone_footfall_hourly" in printed and "validation results" in printed
    counts = {
        S.GOLD_ZONE_FOOTFALL_HOURLY_TABLE: (S.VISITORS, S.VISITS, S.PASSERS_BY),
        S.GOLD_ZONE_DEMOGRAPHICS_DAILY_TABLE: (S.VISITORS,),
        S.GOLD_ZONE_ARRIVAL_DIRECTION_DAILY_TABLE: (S.VISITORS,),
        S.GOLD_ZONE_CATCHMENT_DAILY_TABLE: (S.VISITORS,),
        S.GOLD_ZONE_REPEAT_VISITS_WEEKLY_TABLE: (S.VISITORS,),
        S.GOLD_ZONE_FLOWS_DAILY_TABLE: (S.TRAVELLERS,),
    }
    config, _ = ran
    for table, columns in counts.items():
        gold = _gold(spark, config, table)
        # 200 people rarely make the same trip between two zones k times a day: flows may be all withheld
        assert gold.count() > 0 or table == S.GOLD_ZONE_FLOWS_DAILY_TABLE, table
        for column in columns:
            assert gold.where(F.col(column) < K).count() == 0, (table, column)
    zones = _gold(spark, config, S.GOLD_ZONES_TABLE)
    assert zones.count() == 20 and zones.where(~F.col(S.IS_RESOLVABLE)).count() > 0


def test_gold_commits_carry_user_metadata(spark: SparkSession, ran: tuple[Config, str]) -> None:
    import json

    from delta.tables import DeltaTable

    from footfall.lakehouse import gold_path

    config, _ = ran
    for table in S.GOLD_TABLES:
        history = DeltaTable.forPath(spark, gold_path(config.lakehouse, table)).history().collect()
        metas = [json.loads(h["userMetadata"]) for h in history]  # every commit, CREATE TABLE included
        assert {m["run_id"] for m in metas} == {metas[0]["run_id"]} and len(metas[0]["run_id"]) == 32, table
        assert all(m["k"] == K and m["code_version"] for m in metas), table
        # k = 3 is past the promise of 20: every commit records the sign-off that allowed it (issue 34)
        assert all(m["dpo_approved"] == ["publish.k"] for m in metas), table
    from footfall.lakehouse import commit_metadatas

    for table in (S.SILVER_EVENTS_TABLE, S.SILVER_CELL_ZONE_WEIGHTS_TABLE, S.SILVER_STAYS_TABLE):
        silver = commit_metadatas(spark, silver_path(config.lakehouse, table))
        assert silver and all(m["dpo_approved"] == ["publish.k"] for m in silver), table
    path = gold_path(config.lakehouse, S.GOLD_ZONE_DEMOGRAPHICS_DAILY_TABLE)
    last = json.loads(DeltaTable.forPath(spark, path).history(1).collect()[0]["userMetadata"])
    assert (
        last["partitions"] == [d.isoformat() for d in DAYS] and last["input_versions"][S.SILVER_STAYS_TABLE] is not None
    )


def _arrow_readers() -> dict[str, object]:
    """Return, per reader an analyst uses without Spark, a function from a Delta path to an Arrow table."""
    import duckdb
    import duckdb_extension_delta
    import polars as pl
    from deltalake import DeltaTable as RustDeltaTable

    # No extension server is reachable: DuckDB loads the Delta extension from the file its PyPI package ships.
    extension = next(Path(duckdb_extension_delta.__file__).parent.rglob("*.duckdb_extension"))
    con = duckdb.connect()
    con.execute(f"LOAD '{extension}'")
    return {
        "delta-rs": lambda path: RustDeltaTable(path).to_pyarrow_table(),
        "duckdb": lambda path: con.sql(f"SELECT * FROM delta_scan('{path}')").fetch_arrow_table(),
        "polars": lambda path: pl.read_delta(path).to_arrow(),
    }


def test_gold_reads_the_same_without_spark(spark: SparkSession, ran: tuple[Config, str]) -> None:
    """An analyst without Spark (delta-rs, DuckDB, polars) sees exactly the rows Spark sees, in every gold table."""
    from footfall.lakehouse import gold_path

    config, _ = ran
    for reader, read in _arrow_readers().items():
        for table, (schema, _) in S.GOLD_TABLES.items():
            arrow = read(gold_path(config.lakehouse, table))  # type: ignore[operator]
            rows = [tuple(_naive_utc(r[c]) for c in schema.names) for r in arrow.to_pylist()]
            expected = _gold(spark, config, table).select(*schema.names)
            assert len(rows) == expected.count(), f"{reader} reads {len(rows)} rows of {table}"
            assertDataFrameEqual(spark.createDataFrame(rows, schema), expected)


@pytest.mark.catalog
def test_a_new_session_reads_gold_through_the_persistent_catalog(
    spark: SparkSession, own: Config, tmp_path: Path
) -> None:
    """Switching catalog.kind to hive republishes nothing (the catalog is not in config_hash), yet the next publish
    run registers footfall.* in the embedded Derby metastore, and a new Spark session (another process) reads every
    table with spark.table, without register_gold."""
    import subprocess
    import sys

    import yaml

    ran_config = own
    metastore = tmp_path / "metastore"
    hive = ran_config.catalog.model_copy(update={"kind": "hive", "metastore_dir": metastore})
    config_file = tmp_path / "hive.yaml"
    config_file.write_text(yaml.safe_dump(ran_config.model_copy(update={"catalog": hive}).model_dump(mode="json")))
    footfall = Path(sys.executable).parent / "footfall"
    published = subprocess.run(
        [str(footfall), "publish", "--config", str(config_file), "--start", "2026-03-08"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert published.returncode == 0, published.stderr
    assert "skipped" in published.stdout, published.stdout  # the same gold: nothing was written again
    assert (metastore / "metastore_db").is_dir() and not (Path.cwd() / "metastore_db").exists()

    out = tmp_path / "read"
    reader = f"""
from footfall.config import CatalogConfig
from footfall.session import get_spark
spark = get_spark("a-new-session", catalog=CatalogConfig(kind="hive", metastore_dir={str(metastore)!r}))
for t in spark.catalog.listTables("footfall"):
    spark.table(f"footfall.{{t.name}}").write.parquet({str(out)!r} + "/" + t.name)
"""
    read = subprocess.run([sys.executable, "-c", reader], capture_output=True, text=True, check=False)
    assert read.returncode == 0, read.stderr[-2000:]
    assert sorted(p.name for p in out.iterdir()) == sorted(S.GOLD_TABLES)
    for table, (schema, _) in S.GOLD_TABLES.items():
        expected = _gold(spark, ran_config, table).select(*schema.names)
        assertDataFrameEqual(spark.read.parquet(str(out / table)).select(*schema.names), expected)


def _naive_utc(value: object) -> object:
    """Return an aware datetime (how Arrow gives Delta timestamps) as naive UTC, like Spark under TZ=UTC."""

    if isinstance(value, dt.datetime) and value.tzinfo is not None:
        return value.astimezone(dt.UTC).replace(tzinfo=None)
    return value


def test_a_failing_expectation_leaves_gold_as_it_was(
    spark: SparkSession, own: Config, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A disclosure bug that lets a count below k through is stopped by the suite; no gold table moves."""
    import json

    from footfall.lakehouse import gold_path, table_version
    from footfall.publish import job

    config = own
    before = {t: table_version(spark, gold_path(config.lakehouse, t)) for t in S.GOLD_TABLES}
    real = job.select_publishable

    def leaky(table: str, marked_df: DataFrame, *, mode: str) -> DataFrame:
        published = real(table, marked_df, mode=mode)
        return (
            published.withColumn(S.VISITORS, F.lit(1).cast("long"))
            if table == S.GOLD_ZONE_FOOTFALL_HOURLY_TABLE
            else published
        )

    monkeypatch.setattr(job, "select_publishable", leaky)
    with pytest.raises(job.PublishValidationError, match="zone_footfall_hourly") as failure:
        job.run_publish(spark, config, dates=[dt.date(2026, 3, 8)], run_id="failing-run", force=True)
    assert {t: table_version(spark, gold_path(config.lakehouse, t)) for t in S.GOLD_TABLES} == before

    runs = read_table(spark, str(config.lakehouse / S.QUALITY / S.QUALITY_VALIDATION_RUNS_TABLE)).where(
        F.col(S.RUN_ID) == "failing-run"
    )
    outcome = {r[S.TABLE]: r[S.SUCCESS] for r in runs.collect()}
    assert outcome[S.GOLD_ZONE_FOOTFALL_HOURLY_TABLE] is False and outcome[S.GOLD_ZONE_FLOWS_DAILY_TABLE] is True
    results = config.lakehouse / S.QUALITY / "results" / "failing-run"
    assert str(results) in str(failure.value)
    assert json.loads((results / f"{S.GOLD_ZONE_FOOTFALL_HOURLY_TABLE}.json").read_text())["success"] is False
    assert any((config.lakehouse / S.QUALITY / "data_docs").rglob("index.html"))


def test_a_second_run_reuses_landing_and_weights(spark: SparkSession, own: Config) -> None:
    from footfall.pipeline import run_pipeline

    config = own
    before = _snapshot(spark, config)
    out = io.StringIO()
    run_pipeline(config, console=Console(file=out, width=200), demo=True)
    printed = out.getvalue()
    # the copy lives elsewhere: moving things is not a change of what they hold
    for stage in ("ingest", "spatial", "mobility", "publish"):
        assert f"{stage}: skipped" in printed, printed
    assert "using the export in" in printed and "spatial: skipped: inputs unchanged" in printed
    assert "created a development pseudonym key" not in printed  # the key is in the environment
    for table, df in before.items():  # same landing, same gold
        assertDataFrameEqual(_gold(spark, config, table), df)


def _pseudo_ids(spark: SparkSession, config: Config, msisdns: list[str], day: dt.date) -> dict[str, str]:
    """Return msisdn -> pseudo_id on `day`, computed the way ingest does (the test knows the key)."""
    from footfall.ingest import load_master_key
    from footfall.ingest.pseudonym import period_index, period_keys_df, with_pseudo_id

    key = load_master_key(key_file=config.privacy.pseudonym_key_file)
    period = config.privacy.pseudonym_period_days
    keys = period_keys_df(spark, key=key, periods={period_index(day, period_days=period)})
    candidates = spark.createDataFrame([(m, day) for m in msisdns], "msisdn STRING, event_date DATE")
    pseudo = with_pseudo_id(candidates.withColumn("m", F.col("msisdn")), keys_df=keys, period_days=period)
    return {r["m"]: r[S.PSEUDO_ID] for r in pseudo.select("m", S.PSEUDO_ID).collect()}


def _without_customer(landing: Path, out: Path, msisdn: str) -> None:
    """Copy a landing folder as if the customer had never been in the operator's export."""
    import csv
    import shutil

    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    shutil.copytree(landing, out, ignore=shutil.ignore_patterns("truth"))
    for part in (out / "events").rglob("*.parquet"):
        table = pq.read_table(part)
        column = table.column(S.MSISDN).cast("string")
        keep = pc.or_kleene(pc.is_null(column), pc.not_equal(column, msisdn))
        pq.write_table(table.filter(keep), part)
    rows = [r for r in csv.DictReader((landing / "subscribers.csv").open()) if r["msisdn"] != msisdn]
    with (out / "subscribers.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def _readable_versions_differ(spark: SparkSession, path: str, current: DataFrame) -> list[int]:
    """Return the earlier versions of a table that can still be read and differ from the current one."""
    from delta.tables import DeltaTable

    versions = [r["version"] for r in DeltaTable.forPath(spark, path).history().select("version").collect()]
    differ = []
    for version in sorted(versions)[:-1]:
        old = _rows_of_version(spark, path, version)
        if old and sorted(map(tuple, old), key=str) != sorted(map(tuple, current.collect()), key=str):
            differ.append(version)
    return differ


def _rows_of_version(spark: SparkSession, path: str, version: int) -> list | None:
    """Return the rows of a table version, or None when VACUUM removed its files (which is the point)."""
    try:
        return spark.read.format("delta").option("versionAsOf", version).load(path).collect()
    except Exception as exc:
        assert "FILE_NOT_EXIST" in str(exc) or "does not exist" in str(exc), exc
        return None


def _gold_commits(lakehouse: Path) -> dict[str, int]:
    return {t: len(list((lakehouse / S.GOLD / t / "_delta_log").glob("*.json"))) for t in S.GOLD_TABLES}


@pytest.mark.kill
def test_an_objection_survives_kills_and_gives_the_gold_of_a_city_without_that_customer(
    spark: SparkSession, threshold_city: Config, tmp_path: Path
) -> None:
    """Run the city again with one more objector, as `footfall run`, and SIGKILL it twice where consistency is most
    at risk: in forget's VACUUM, and in publish between two gold writes. Readers never see a partial state (the
    short kill harness; `make kill-test` draws 24 kills across every stage). The next run then gives every gold
    table equal to that of a run whose landing never held the customer; no earlier gold version with their visits
    stays readable; silver forgets them in every version and every file."""
    import csv

    from delta.tables import DeltaTable

    from daily import write_config
    from footfall.lakehouse import DERIVED_PSEUDONYMISED, gold_path
    from footfall.pipeline import run_pipeline
    from killharness import KilledRun, check_state, latest_gold, objector_rows, published_gold

    config = _copy(threshold_city, tmp_path / "copy")
    lakehouse = Path(config.lakehouse)
    subscribers = Path(config.landing) / "subscribers.csv"
    rows = list(csv.DictReader(subscribers.open()))
    pseudo_of = _pseudo_ids(spark, config, [r["msisdn"] for r in rows if r["opted_out"] == "false"], config.demo.start)
    stays = read_table(spark, silver_path(config.lakehouse, S.SILVER_STAYS_TABLE)).where(F.col(S.IS_VISIT))
    busiest = stays.groupBy(S.PSEUDO_ID).count().orderBy(F.desc("count"), S.PSEUDO_ID).first()
    assert busiest is not None
    objector = next(m for m, p in pseudo_of.items() if p == busiest[S.PSEUDO_ID])
    target = pseudo_of[objector]
    assert objector_rows(lakehouse, [target]), "the file check below could not fail"

    without = tmp_path / "landing-without"
    _without_customer(Path(config.landing), without, objector)
    clean = config.model_copy(update={"landing": without, "lakehouse": tmp_path / "lakehouse-without"})
    run_pipeline(clean, console=Console(file=io.StringIO(), width=200))
    before, expected = published_gold(lakehouse), published_gold(Path(clean.lakehouse))
    assert before is not None and expected is not None
    assert before != expected, "the objector's visits changed no published number: the test would prove nothing"
    snapshot = _snapshot(spark, config)
    for r in rows:
        if r["msisdn"] == objector:
            r["opted_out"], r["opted_out_at"] = "true", "2026-11-25T08:00:00Z"
    with subscribers.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    yaml_config = write_config(config, tmp_path / "own.yaml")

    # 1. killed in forget's VACUUM: the deletes are committed, the old files partly removed
    run = KilledRun.start(yaml_config)
    assert run.kill_when(lambda: run.saw("VACUUM of silver/")) == ("forget (VACUUM)", True)
    assert check_state(lakehouse, whole=[before], spark=spark) == []
    # 2. killed in publish after the first gold commit: the tables' own latest versions are a mix of two runs (what
    # a reader that skipped gold/_publications would see), the newest publication is still the whole earlier one
    commits = _gold_commits(lakehouse)
    run = KilledRun.start(yaml_config)
    assert run.kill_when(lambda: _gold_commits(lakehouse) != commits) == ("publish", True)
    mixed = latest_gold(lakehouse)
    assert mixed not in (before, expected), "the kill left no half-written publication: the test would prove nothing"
    assert check_state(lakehouse, whole=[before], spark=spark) == []
    # 3. the next run, left alone, converges
    run = KilledRun.start(yaml_config)
    assert run.wait() == 0, "".join(run.lines[-20:])
    assert published_gold(lakehouse) == expected
    after = {t: _gold(spark, config, t) for t in S.GOLD_TABLES}
    for table in S.GOLD_TABLES:
        assertDataFrameEqual(after[table], _gold(spark, clean, table))

    changed = [t for t, df in snapshot.items() if df.exceptAll(after[t]).count() + after[t].exceptAll(df).count()]
    for table in changed:
        path = gold_path(config.lakehouse, table)
        assert _readable_versions_differ(spark, path, after[table]) == [], table
    for table in DERIVED_PSEUDONYMISED:
        path = silver_path(config.lakehouse, table)
        for version in [h["version"] for h in DeltaTable.forPath(spark, path).history().select("version").collect()]:
            held = _rows_of_version(spark, path, version) or []
            assert all(r[S.PSEUDO_ID] != target for r in held), (table, version)
    assert objector_rows(lakehouse, [target]) == {}  # in no parquet file at all, current or not
    assert objector_rows(Path(clean.lakehouse), [target]) == {}


def test_noisy_publication_spends_budget_in_the_ledger(spark: SparkSession, own: Config) -> None:
    """With Laplace noise every published count still clears k, dwell quartiles are withheld, and each table and
    partition's budget is in quality/privacy_ledger."""

    from footfall.config import NoiseConfig
    from footfall.publish.job import run_publish

    config = own
    noise = NoiseConfig(mechanism="laplace", epsilon=2.0, contribution_bound=4)
    noisy = config.model_copy(update={"publish": config.publish.model_copy(update={"noise": noise})})
    report = run_publish(spark, noisy, dates=[DAYS[1]], run_id="noisy-run")  # Saturday, the busiest day

    ledger = read_table(spark, str(config.lakehouse / S.QUALITY / S.QUALITY_PRIVACY_LEDGER_TABLE))
    spent = {(r[S.TABLE], r[S.PERIOD], r[S.EPSILON], r[S.CONTRIBUTION_BOUND]) for r in ledger.collect()}
    expected = {(t, DAYS[1].isoformat(), 2.0, 4) for t, (_, p) in S.GOLD_TABLES.items() if p == S.DATE}
    assert spent == expected | {(S.GOLD_ZONE_REPEAT_VISITS_WEEKLY_TABLE, "2026-W10", 2.0, 4)}
    hourly = _gold(spark, config, S.GOLD_ZONE_FOOTFALL_HOURLY_TABLE)
    noisy_day = hourly.where(F.col(S.DATE) == DAYS[1])  # the batch's other dates keep their values
    assert noisy_day.count() > 0 and noisy_day.where(F.col(S.DWELL_MEDIAN_S).isNotNull()).count() == 0
    assert hourly.where(F.col(S.VISITORS) < K).count() == 0
    assert report.rows[S.GOLD_ZONE_FOOTFALL_HOURLY_TABLE] == noisy_day.count()
    # publish registers the publication's tables in the session's catalog
    registered = spark.table(f"{S.GOLD_DATABASE}.{S.GOLD_ZONE_FOOTFALL_HOURLY_TABLE}")
    assertDataFrameEqual(registered, hourly)


def test_a_mostly_quarantined_new_date_stops_the_run_before_any_write(spark: SparkSession, own: Config) -> None:
    """A new landing date whose rows are mostly on cells the inventory lacks (a new inventory that dropped most
    cells), run together with the published date: the guard stops the run in ingest, before any write (exit 9 on
    the command line; issue 34), and every silver and gold table and the publication stay as they were."""

    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    from footfall.ingest.guards import QuarantineGuardError
    from footfall.lakehouse import gold_path, table_version
    from footfall.pipeline import run_pipeline

    config = own
    day, new = dt.date(2026, 3, 8), dt.date(2026, 3, 9)
    target = Path(config.landing) / "events" / f"event_date={new}"
    target.mkdir(parents=True)
    for part in (Path(config.landing) / "events" / f"event_date={day}").glob("*.parquet"):
        table = pq.read_table(part)
        ts = pc.replace_substring(table.column(S.EVENT_TS).cast("string"), str(day), str(new))
        unknown = pa.array(np.arange(table.num_rows) % 8 != 0)  # 7 rows in 8
        cells = pc.if_else(unknown, "a-cell-the-inventory-lacks", table.column(S.CELL_ID).cast("string"))
        table = table.set_column(table.schema.get_field_index(S.EVENT_TS), S.EVENT_TS, ts)
        table = table.set_column(table.schema.get_field_index(S.CELL_ID), S.CELL_ID, cells)
        pq.write_table(table, target / part.name)
    tables = [gold_path(config.lakehouse, t) for t in S.GOLD_TABLES]
    tables += [str(Path(config.lakehouse) / S.GOLD / S.GOLD_PUBLICATIONS_TABLE)]
    tables += [silver_path(config.lakehouse, t) for t in (S.SILVER_EVENTS_TABLE, S.SILVER_INGEST_AUDIT_TABLE)]
    before = {t: table_version(spark, t) for t in tables}
    with pytest.raises(QuarantineGuardError, match=f"{new}: 8[0-9].[0-9]% of .* rows read quarantined or dropped"):
        run_pipeline(config, console=Console(file=io.StringIO(), width=200), dates=[day, new])
    assert {t: table_version(spark, t) for t in tables} == before
