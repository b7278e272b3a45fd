"""spark-submit on a real Spark standalone cluster (a master and one worker on 127.0.0.1), with footfall shipped.

The executors run `./environment/bin/python` from dist/footfall-env.tar.gz (`make package`), whose base interpreter
has no footfall: the only footfall they can import is the one in the archive. The test shows that before and during
the run, then checks that the pipeline's gold of its date equals that of the local batch run of the same city and
config (conftest's daily_batch). `make test-cluster`, and `make test-heavy` with the other heavy checks.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tarfile
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pyspark
import pytest
from pyspark.sql import SparkSession
from tests.daily import TEST_KEY, assert_gold_of_day_equal, daily_config, seed_spatial, write_config

from footfall import schemas as S
from footfall.jars import local_jar_paths

pytestmark = pytest.mark.cluster

REPO = Path(__file__).resolve().parents[2]
ARCHIVE = REPO / "dist" / "footfall-env.tar.gz"
SPARK_HOME = Path(pyspark.__file__).resolve().parent
MASTER = "org.apache.spark.deploy.master.Master"
WORKER = "org.apache.spark.deploy.worker.Worker"
START = "2026-03-07"
# The driver runs in client mode on the python that launches spark-submit: this one (.venv, footfall installed).
DRIVER_PYTHON = sys.executable


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def clean_env(**extra: str) -> dict[str, str]:
    """Return the environment minus anything that could lead a Python to footfall or .venv (PATH included)."""
    venv = str(Path(sys.prefix))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYSPARK_", "PYTHON", "VIRTUAL_ENV", "SPARK_"))}
    env["PATH"] = os.pathsep.join(p for p in env.get("PATH", "").split(os.pathsep) if p and not p.startswith(venv))
    env["TZ"] = "UTC"
    env["GX_ANALYTICS_ENABLED"] = "false"
    return env | extra


@dataclass
class Cluster:
    url: str
    ui: str
    home: Path
    env: dict[str, str]
    worker_dir: Path
    started_s: float


def daemon(env: dict[str, str], action: str, cls: str, *args: str) -> None:
    subprocess.run(
        [str(SPARK_HOME / "sbin" / "spark-daemon.sh"), action, cls, "1", *args], env=env, check=True, timeout=120
    )


def alive_workers(ui: str) -> int:
    try:
        with urllib.request.urlopen(f"{ui}/json/", timeout=5) as r:
            state = json.load(r)
    except OSError:
        return 0
    return sum(1 for w in state.get("workers", []) if w.get("state") == "ALIVE")


def pids_under(folder: Path) -> list[int]:
    """Return the processes whose working folder is inside `folder` (executors the worker launched)."""
    found = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                if Path(os.readlink(proc / "cwd")).is_relative_to(folder):
                    found.append(int(proc.name))
            except OSError:
                continue
    return found


def alive(pid: int) -> bool:
    """Return True while `pid` runs (a zombie, exited but not yet reaped, counts as gone)."""
    try:
        return not Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1].startswith("Z")
    except OSError:
        return False


def kill_leftovers(pids: list[int], grace_s: float = 30) -> list[int]:
    """Wait up to `grace_s` for `pids` to exit after spark-daemon.sh stop, then SIGKILL those still alive."""
    deadline = time.monotonic() + grace_s
    while any(alive(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.5)
    killed = []
    for pid in pids:
        if alive(pid):
            os.kill(pid, signal.SIGKILL)
            killed.append(pid)
    return killed


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """Start a master and one worker (2 cores) on free ports with spark-daemon.sh; stop them, and kill leftovers."""
    home = tmp_path_factory.mktemp("spark-standalone")
    dirs = {name: home / name for name in ("logs", "pids", "work", "conf")}
    for d in dirs.values():
        d.mkdir()
    env = clean_env(
        SPARK_HOME=str(SPARK_HOME),
        SPARK_CONF_DIR=str(dirs["conf"]),
        SPARK_LOCAL_IP="127.0.0.1",
        SPARK_LOG_DIR=str(dirs["logs"]),
        SPARK_PID_DIR=str(dirs["pids"]),
        SPARK_WORKER_DIR=str(dirs["work"]),
        SPARK_IDENT_STRING="footfall-test",
    )
    port, ui_port, worker_port, worker_ui_port = (free_port() for _ in range(4))
    url, ui = f"spark://127.0.0.1:{port}", f"http://127.0.0.1:{ui_port}"
    t0 = time.monotonic()
    pids: list[int] = []
    try:
        daemon(env, "start", MASTER, "--host", "127.0.0.1", "--port", str(port), "--webui-port", str(ui_port))
        daemon(
            env, "start", WORKER, "--host", "127.0.0.1", "--port", str(worker_port), "--webui-port",
            str(worker_ui_port), "--cores", "2", "--memory", "6g", url,
        )  # fmt: skip
        pids = [int(p.read_text()) for p in dirs["pids"].glob("*.pid")]
        deadline = time.monotonic() + 120
        while alive_workers(ui) < 1:
            if time.monotonic() > deadline:
                logs = "\n".join(f"--- {p.name}\n{p.read_text()[-3000:]}" for p in dirs["logs"].glob("*.out"))
                pytest.fail(f"no ALIVE worker at {ui}/json/ after 120 s\n{logs}")
            time.sleep(1)
        started = time.monotonic() - t0
        print(f"\n[cluster] master {url} (UI {ui}) + 1 worker ALIVE (2 cores, 6g) in {started:.1f} s", flush=True)
        yield Cluster(url=url, ui=ui, home=home, env=env, worker_dir=dirs["work"], started_s=started)
    finally:
        for cls in (WORKER, MASTER):
            subprocess.run([str(SPARK_HOME / "sbin" / "spark-daemon.sh"), "stop", cls, "1"], env=env, timeout=120)
        leftovers = kill_leftovers([*pids, *pids_under(dirs["work"])])
        # Each application unpacked the archive (about 600 MB) there; the logs stay for a failed run.
        shutil.rmtree(dirs["work"], ignore_errors=True)
        print(f"[cluster] stopped master and worker; leftovers killed: {leftovers or 'none'}", flush=True)


def spark_submit(cluster: Cluster, script: Path, *args: str, log: Path, timeout: int) -> tuple[str, float]:
    """spark-submit `script` in client mode with the packed env for executors; return stdout and the wall time."""
    jars = ",".join(str(p) for p in local_jar_paths())
    cmd = [
        str(SPARK_HOME / "bin" / "spark-submit"),
        "--master", cluster.url,
        "--deploy-mode", "client",
        "--jars", jars,
        "--archives", f"{ARCHIVE.relative_to(REPO)}#environment",
        "--conf", "spark.pyspark.python=./environment/bin/python",
        "--conf", f"spark.pyspark.driver.python={DRIVER_PYTHON}",
        "--driver-memory", "2g",
        "--executor-memory", "4g",
        # Sized for one 2-core worker, as footfall's local sessions are (lib/footfall/session.py _LOCAL).
        "--conf", "spark.sql.shuffle.partitions=8",
        "--conf", "spark.databricks.delta.snapshotPartitions=2",
        "--conf", "spark.sql.sources.parallelPartitionDiscovery.parallelism=4",
        "--conf", "spark.driver.extraJavaOptions=-Duser.timezone=UTC",
        "--conf", "spark.executor.extraJavaOptions=-Duser.timezone=UTC",
        "--conf", "spark.ui.showConsoleProgress=false",
        str(script), *args,
    ]  # fmt: skip
    env = clean_env(SPARK_HOME=str(SPARK_HOME), SPARK_CONF_DIR=cluster.env["SPARK_CONF_DIR"])
    env["FOOTFALL_PSEUDONYM_KEY"] = TEST_KEY
    t0 = time.monotonic()
    with log.open("w") as err:
        done = subprocess.run(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=err, text=True, timeout=timeout)
    wall = time.monotonic() - t0
    if done.returncode != 0:
        tail = f"{done.stdout[-3000:]}\n{log.read_text()[-6000:]}"
        pytest.fail(f"spark-submit {script.name} exited {done.returncode}\n{tail}")
    return done.stdout, wall


def test_archive_is_what_executors_get() -> None:
    """The archive holds a real (not editable) install of footfall; its base interpreter has no footfall."""
    assert ARCHIVE.is_file(), f"{ARCHIVE} is missing: run `make package`"
    with tarfile.open(ARCHIVE) as tar:
        names = tar.getnames()
        base = tar.getmember("bin/python3.11").linkname
        (record,) = [n for n in names if n.endswith(".dist-info/direct_url.json") and "/footfall-" in n]
        direct_url = json.load(tar.extractfile(record))  # type: ignore[arg-type]
    assert "lib/python3.11/site-packages/footfall/__init__.py" in names
    assert "lib/python3.11/site-packages/footfall/cli.py" in names
    assert not [n for n in names if "__editable__" in n or n.endswith("footfall.pth")]
    assert "archive_info" in direct_url and not direct_url.get("dir_info", {}).get("editable")
    assert not [n for n in names if "/pyspark/jars/" in n], "Spark's jars belong to the cluster, not the env"
    probe = subprocess.run([base, "-c", "import footfall"], env=clean_env(), capture_output=True, text=True)
    print(
        f"\n[executor python] archive {ARCHIVE.name}: {ARCHIVE.stat().st_size / 1e6:.0f} MB, {len(names)} entries;"
        f" bin/python3.11 -> {base}\n[executor python] `{base} -c 'import footfall'` -> exit {probe.returncode}:"
        f" {probe.stderr.strip().splitlines()[-1]}",
        flush=True,
    )
    assert probe.returncode != 0 and "ModuleNotFoundError: No module named 'footfall'" in probe.stderr


def test_executors_import_footfall_from_the_archive(cluster: Cluster, tmp_path: Path) -> None:
    out, wall = spark_submit(
        cluster, REPO / "tests" / "cluster" / "probe_executor.py", log=tmp_path / "probe.log", timeout=600
    )
    line = next(ln for ln in out.splitlines() if ln.startswith("EXECUTOR_PROBE "))
    probe = json.loads(line.removeprefix("EXECUTOR_PROBE "))
    print(f"[executor python] probe spark-submit: {wall:.1f} s on {probe['master']}", flush=True)
    print(f"[driver python] {json.dumps(probe['driver'])}", flush=True)
    for task in probe["tasks"]:
        print(f"[executor python] {json.dumps(task)}", flush=True)
    assert probe["master"] == cluster.url
    assert probe["driver"]["executable"] == DRIVER_PYTHON
    work = cluster.worker_dir.resolve()
    for task in probe["tasks"]:
        # spark.pyspark.python=./environment/bin/python, relative to the executor's folder for this application.
        assert task["executable"] == str(Path(task["cwd"], "environment", "bin", "python")), task
        footfall_file = Path(task["footfall"])
        # Inside the worker's folder for this application, in the unpacked archive: not lib/, not .venv.
        assert footfall_file.is_relative_to(work), task
        assert footfall_file.parts[-4:] == ("python3.11", "site-packages", "footfall", "__init__.py"), task
        assert "archive_info" in task["direct_url"], task


@pytest.mark.pipeline
def test_pipeline_on_cluster_equals_the_batch_gold_of_its_day(
    cluster: Cluster, spark: SparkSession, daily_landing: Path, daily_batch: Path, tmp_path: Path
) -> None:
    """spark-submit of one date on the cluster publishes, for that date, exactly the gold of the local batch run of
    all three days (conftest's daily_batch, which the Airflow DAG test compares with too): gold depends neither on
    where the run happens nor on how dates are batched (tests/test_daily_runs.py)."""
    lakehouse = seed_spatial(daily_batch, tmp_path / "cluster" / "lakehouse")  # the city's spatial tables, as built
    cluster_cfg = write_config(daily_config(daily_landing, lakehouse), tmp_path / "cluster.yaml")
    _, wall = spark_submit(
        cluster, REPO / "jobs" / "run_pipeline.py", "--config", str(cluster_cfg), "--start", START,
        log=tmp_path / "pipeline.log", timeout=1800,
    )  # fmt: skip
    print(f"[pipeline] spark-submit jobs/run_pipeline.py --start {START} on {cluster.url}: {wall:.1f} s", flush=True)

    rows = assert_gold_of_day_equal(spark, lakehouse, daily_batch, dt.date.fromisoformat(START))
    print(f"[pipeline] gold of {START} equal to the local batch's, rows per table: {rows}", flush=True)
    assert rows[S.GOLD_ZONE_FOOTFALL_HOURLY_TABLE] > 0, rows
