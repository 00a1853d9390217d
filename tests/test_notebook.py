"""Execute notebooks/quickstart.ipynb end to end, on the tiny test backbone.

The notebook reads its backbone and epoch count from environment variables
(its "parameters" cell), so the test runs the stored notebook unchanged
except for one leading cell, added in memory, that reports the kernel's
Python. The kernel runs under this interpreter (the virtualenv's), through
a kernelspec written to a temporary JUPYTER_PATH.
"""

import ast
import json
import os
import re
import sys

import nbclient
import nbformat
import pytest

NOTEBOOK = os.path.join(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
    "notebooks",
    "quickstart.ipynb",
)
KERNEL_NAME = "tlnlp-test"
CELL_TIMEOUT = 300


def _kernelspec(root):
    """Write a kernelspec running `sys.executable`; return its JUPYTER_PATH."""
    folder = root / "kernels" / KERNEL_NAME
    folder.mkdir(parents=True)
    spec = {
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "tlnlp_tf test kernel",
        "language": "python",
    }
    (folder / "kernel.json").write_text(json.dumps(spec))
    return str(root)


def execute(notebook, workdir):
    """Run every cell of `notebook` in `workdir` on the test kernel; raises
    `nbclient.exceptions.CellExecutionError` if a cell errors."""
    nbclient.NotebookClient(
        notebook,
        kernel_name=KERNEL_NAME,
        timeout=CELL_TIMEOUT,
        resources={"metadata": {"path": str(workdir)}},
    ).execute()


def _text(cell):
    """The standard output and text/plain results of an executed code cell."""
    parts = []
    for output in cell.get("outputs", []):
        if output["output_type"] == "stream" and output["name"] == "stdout":
            parts.append(output["text"])
        elif output["output_type"] in ("execute_result", "display_data"):
            parts.append(output["data"].get("text/plain", ""))
    return "\n".join(parts)


def _result(cell):
    """The text/plain value of a cell's last expression."""
    for output in cell["outputs"]:
        if output["output_type"] == "execute_result":
            return output["data"]["text/plain"]
    raise AssertionError(f"cell '{cell['id']}' has no result: {cell['outputs']}")


def test_stored_notebook_is_clean_and_parameterised():
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(notebook)
    assert notebook.nbformat == 4
    assert notebook.metadata["kernelspec"]["name"] == "python3"
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert all(cell.outputs == [] and cell.execution_count is None for cell in code)
    parameters = [c for c in code if "parameters" in c.metadata.get("tags", [])]
    assert [c.id for c in parameters] == ["parameters"]
    assert "TLNLP_NOTEBOOK_BACKBONE" in parameters[0].source
    assert "TLNLP_NOTEBOOK_EPOCHS" in parameters[0].source
    assert code[0].id == "install" and "IN_COLAB" in code[0].source


@pytest.mark.timeout(1800)
def test_quickstart_notebook_runs(tiny_preset, tmp_path, monkeypatch):
    monkeypatch.setenv("JUPYTER_PATH", _kernelspec(tmp_path / "jupyter"))
    monkeypatch.setenv("TLNLP_NOTEBOOK_BACKBONE", tiny_preset)
    monkeypatch.setenv("TLNLP_NOTEBOOK_EPOCHS", "1")
    monkeypatch.setenv("KERAS_BACKEND", "tensorflow")
    workdir = tmp_path / "run"
    workdir.mkdir()

    notebook = nbformat.read(NOTEBOOK, as_version=4)
    probe = nbformat.v4.new_code_cell(
        "import sys, os\n"
        "print(sys.executable)\n"
        "print(os.environ['TLNLP_NOTEBOOK_BACKBONE'])"
    )
    probe.id = "test-probe"
    notebook.cells.insert(0, probe)
    execute(notebook, workdir)
    cells = {cell.id: cell for cell in notebook.cells}

    # The kernel is this interpreter and saw the test's environment.
    executable, backbone = _text(cells["test-probe"]).splitlines()
    assert os.path.realpath(executable) == os.path.realpath(sys.executable)
    assert backbone == tiny_preset

    # No cell errored (nbclient raises on errors; this also covers allow_errors).
    for cell in notebook.cells:
        if cell.cell_type == "code":
            assert not [o for o in cell.outputs if o["output_type"] == "error"], cell.id

    # The five-line cell trained one epoch and returned predict's dict.
    five = _result(cells["five-lines"])
    assert "'label': [" in five and "'score'" in five and "'probabilities'" in five

    # One line per text: a label name, a probability, the text.
    lines = _text(cells["predictions"]).splitlines()
    assert lines[0] == "labels: ['negative', 'positive']"
    rows = [l for l in lines if re.match(r"^\s*(negative|positive)\s+[01]\.\d{3}\s", l)]
    assert len(rows) == 4
    assert rows[0].endswith("a gripping, funny film")
    assert all(0.5 <= float(row.split()[1]) <= 1.0 for row in rows)
    assert "validation accuracy after 1 epoch(s)" in lines[-1]

    # bottom-2 on a 2-layer backbone: embeddings and both layers frozen; the
    # unused pooler counts as frozen; only the head trains.
    table = _text(cells["freezing"])
    assert "frozen" in table and "trainable" in table
    names = ("embeddings", "layer_0", "layer_1", "pooler")
    groups = {
        line.split()[0]: line.split()[-1]
        for line in table.splitlines()
        if line.split() and line.split()[0] in names
    }
    assert groups == dict.fromkeys(names, "frozen")
    counts = ast.literal_eval(_result(cells["freezing"]))
    assert counts["trainable"] > 0 and counts["frozen"] > 0
    assert counts["trainable"] + counts["frozen"] == counts["total"]

    # The reloaded model predicts the same labels (the cell asserts it too)
    # and nothing was written to the working directory.
    assert "same predictions" in _text(cells["save-reload"])
    assert list(workdir.iterdir()) == []
