"""Every notebook is a jupytext percent-format ``.py`` paired with an executed ``.ipynb``.

nbmake (``--nbmake`` in pyproject's addopts) executes the ``.ipynb`` files; this
checks that each one holds the same cells as its ``.py`` twin, so that the code
reviewed and the code run are the same.  Regenerate a notebook after editing its
``.py`` with ``jupytext --to notebook notebooks/NAME.py`` and execute it in place
with ``python -m pytest --nbmake --overwrite notebooks/NAME.ipynb``.
"""

from pathlib import Path

import pytest

jupytext = pytest.importorskip("jupytext")

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
SOURCES = sorted(p for p in NOTEBOOKS.glob("*.py") if p.name != "conftest.py")


def _cells(notebook):
    return [(cell.cell_type, cell.source.strip()) for cell in notebook.cells]


def test_there_are_notebooks():
    assert len(SOURCES) >= 4


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.stem)
def test_notebook_matches_its_py(source):
    executed = source.with_suffix(".ipynb")
    assert executed.exists(), f"{executed.name} is missing: run jupytext --to notebook {source.name}"
    py_cells = _cells(jupytext.read(source))
    nb = jupytext.read(executed)
    assert _cells(nb) == py_cells, f"{executed.name} is out of date with {source.name}"
    code = [cell for cell in nb.cells if cell.cell_type == "code"]
    assert all(cell.get("outputs") for cell in code if "plt.show()" in cell.source), (
        f"{executed.name} was not executed: its figures are missing")
