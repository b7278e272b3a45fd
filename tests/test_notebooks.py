"""The notebooks: 02 builds a lakehouse on Spark, 01 reads it without a JVM; both are committed without outputs.

Each notebook runs in its own kernel process, so notebook 02's Spark session is a JVM of its own (UI off, no fixed
port); this file never asks for the `spark` fixture, which would start a second JVM in the test process for nothing.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path

import nbformat
import pytest
from jupyter_client.manager import KernelManager
from nbclient import NotebookClient

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
PIPELINE_NOTEBOOK = "02_pipeline_on_spark.ipynb"
GOLD_NOTEBOOK = "01_explore_gold_without_spark.ipynb"
KERNEL = "python3"
CHART_MIMETYPES = ("text/html", "application/vnd.vegalite.v6+json", "application/vnd.vegalite.v5+json")


def kernel_python() -> str:
    """Return the interpreter the python3 kernel starts: a kernelspec's bare `python` means this process's own."""
    return KernelManager(kernel_name=KERNEL).format_kernel_cmd()[0]


def execute(name: str) -> tuple[nbformat.NotebookNode, float]:
    """Return notebook `name` executed in a fresh kernel started in notebooks/, and its wall time in seconds.

    A failing cell raises nbclient's CellExecutionError. The executed copy stays in memory: nothing is written back.
    """
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    began = time.monotonic()
    NotebookClient(nb, timeout=600, kernel_name=KERNEL, resources={"metadata": {"path": str(NOTEBOOKS)}}).execute()
    return nb, time.monotonic() - began


def charts(nb: nbformat.NotebookNode) -> int:
    """Return how many Altair charts the executed notebook displayed."""
    return sum(
        1
        for cell in nb.cells
        if cell.cell_type == "code"
        for output in cell.outputs
        if str(output.get("data", {}).get("text/plain", "")).startswith("alt.")
        and any(m in output.get("data", {}) for m in CHART_MIMETYPES)
    )


@pytest.mark.integration
@pytest.mark.notebooks
@pytest.mark.pipeline
def test_notebooks_run_in_order(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    record_property: Callable[[str, object], None],
    capsys: pytest.CaptureFixture[str],
) -> None:
    # The kernel must run the interpreter that has footfall and the analyst tools installed (.venv's).
    assert Path(kernel_python()).absolute() == Path(sys.executable).absolute()
    work = tmp_path / "notebook"
    warehouse_before = (NOTEBOOKS / "spark-warehouse").exists()
    monkeypatch.setenv("FOOTFALL_NOTEBOOK_DIR", str(work))
    monkeypatch.delenv("FOOTFALL_ZONE", raising=False)

    _, pipeline_s = execute(PIPELINE_NOTEBOOK)
    record_property("notebook_02_s", round(pipeline_s, 1))
    with capsys.disabled():  # make test's output shows each notebook's wall time
        print(f"\n[notebooks] {PIPELINE_NOTEBOOK}: {pipeline_s:.1f} s")
    assert (work / "lakehouse" / "gold" / "_publications" / "_delta_log").is_dir()
    # the catalog's warehouse folder went into the working folder, not next to the notebook
    assert (NOTEBOOKS / "spark-warehouse").exists() == warehouse_before

    monkeypatch.setenv("FOOTFALL_LAKEHOUSE", str(work / "lakehouse"))
    gold_nb, gold_s = execute(GOLD_NOTEBOOK)
    record_property("notebook_01_s", round(gold_s, 1))
    with capsys.disabled():
        print(f"[notebooks] {GOLD_NOTEBOOK}: {gold_s:.1f} s")
    assert charts(gold_nb) >= 6  # hourly curve, dwell, rose, map, age x gender, repeat visits


def test_notebooks_are_committed_without_outputs() -> None:
    paths = sorted(NOTEBOOKS.glob("*.ipynb"))
    assert {GOLD_NOTEBOOK, PIPELINE_NOTEBOOK} <= {p.name for p in paths}
    for path in paths:
        nb = nbformat.read(path, as_version=4)
        nbformat.validate(nb)
        assert nb.metadata.kernelspec.name == KERNEL, path.name
        dirty = [
            i
            for i, cell in enumerate(nb.cells)
            if cell.cell_type == "code" and (cell.outputs or cell.execution_count is not None)
        ]
        assert dirty == [], f"{path.name}: cells {dirty} hold outputs or execution counts; clear them before committing"
