"""The tutorial notebook runs top to bottom (on small settings), so it cannot rot."""

from pathlib import Path

import nbformat
from nbclient import NotebookClient

NOTEBOOK = Path(__file__).resolve().parent.parent / "examples" / "tutorial.ipynb"


def test_the_tutorial_notebook_executes(monkeypatch, mnist):
    monkeypatch.setenv("DBN_TUTORIAL_SMALL", "1")  # the kernel inherits the environment
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    client = NotebookClient(
        notebook, timeout=None, kernel_name="python3", resources={"metadata": {"path": "."}}
    )
    client.execute()
    printed = "".join(
        output.get("text", "")
        for cell in notebook.cells
        if cell.cell_type == "code"
        for output in cell.outputs
        if output.get("output_type") == "stream"
    )
    assert "all 32 units identical: True" in printed
    assert printed.count("test error") == 3
    errors = [
        o
        for c in notebook.cells
        if c.cell_type == "code"
        for o in c.outputs
        if o.output_type == "error"
    ]
    assert errors == [], errors


def test_the_stored_notebook_is_small():
    assert NOTEBOOK.stat().st_size < 300_000
