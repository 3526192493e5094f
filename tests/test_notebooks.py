"""Execute every teaching notebook (jupytext py:percent source) top to bottom on its quick grid.

Each ``notebooks/NN_name.py`` is converted with jupytext and run with nbclient in a kernel of
the interpreter running the tests: a kernel spec pointing at ``sys.executable`` is written to
a temporary Jupyter data directory and put first on ``JUPYTER_PATH``, so the notebooks import
the kdtheory of this environment even in a fresh CI venv with other kernels installed.
``KDTHEORY_QUICK=1`` makes each notebook use its quick grid (about 20 s each on 2 cores).
A failing cell fails the test with the cell's traceback.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

jupytext = pytest.importorskip("jupytext")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

NOTEBOOK_DIR = Path(__file__).resolve().parent.parent / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("[0-9][0-9]_*.py"))
KERNEL_NAME = "kdtheory-tests"
LAYOUT_CHECK = """

import matplotlib.pyplot as _plt
from kdtheory.plotting import layout_faults as _faults
_found = [f for _n in _plt.get_fignums() for f in _faults(_plt.figure(_n))]
assert not _found, _found
"""


@pytest.fixture(scope="module")
def kernel_env(tmp_path_factory):
    """A Jupyter data dir holding a kernel spec for ``sys.executable``; returns its path."""
    root = tmp_path_factory.mktemp("jupyter")
    spec_dir = root / "kernels" / KERNEL_NAME
    spec_dir.mkdir(parents=True)
    spec = {"argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
            "display_name": f"kdtheory tests ({sys.executable})", "language": "python"}
    (spec_dir / "kernel.json").write_text(json.dumps(spec))
    return root


def test_notebooks_found():
    assert len(NOTEBOOKS) == 5, [p.name for p in NOTEBOOKS]


@pytest.mark.notebook
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_executes(path, kernel_env, monkeypatch):
    monkeypatch.setenv("JUPYTER_PATH", str(kernel_env))
    monkeypatch.setenv("KDTHEORY_QUICK", "1")
    monkeypatch.setenv("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    notebook = jupytext.read(path)
    for cell in notebook.cells:  # every figure a cell leaves open is checked before display
        if cell.cell_type == "code":
            cell.source += LAYOUT_CHECK
    client = nbclient.NotebookClient(
        notebook, kernel_name=KERNEL_NAME, timeout=300,
        resources={"metadata": {"path": str(NOTEBOOK_DIR)}},
    )
    client.execute()  # raises CellExecutionError (with the traceback) on any cell error
    errors = [out for cell in notebook.cells if cell.cell_type == "code"
              for out in cell.get("outputs", []) if out.get("output_type") == "error"]
    assert not errors
