"""Execute notebooks/summarization.ipynb end to end, on a tiny backbone and tiny pairs.

As tests/test_notebook.py does for the quickstart: the stored notebook runs
unchanged under this interpreter, its parameters set through environment
variables.
"""

import json
import os
import re

import nbclient
import nbformat
import pytest
from test_notebook import KERNEL_NAME
from test_notebook import _kernelspec
from test_notebook import _text

NOTEBOOK = os.path.join(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
    "notebooks",
    "summarization.ipynb",
)


def test_stored_notebook_is_clean_and_parameterised():
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(notebook)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert all(cell.outputs == [] and cell.execution_count is None for cell in code)
    parameters = [c for c in code if "parameters" in c.metadata.get("tags", [])]
    assert [c.id for c in parameters] == ["parameters"]
    for name in ("BACKBONE", "EPOCHS", "PAIRS"):
        assert f"TLNLP_NOTEBOOK_{name}" in parameters[0].source
    assert code[0].id == "install" and "IN_COLAB" in code[0].source


# Opt-in (`make test-extended`): 2 minutes on 2 cores; every call the notebook
# makes (fit of both variants, beam search, score, save and reload) is in the
# default run (tests/test_encoder_decoder_lm.py, tests/test_cli_generation.py).
@pytest.mark.extended
@pytest.mark.timeout(900)
def test_summarization_notebook_runs(tiny_preset, tmp_path, monkeypatch):
    pairs = tmp_path / "pairs.jsonl"
    rows = [
        ("please send the budget report by friday .", "budget report"),
        ("the meeting moved to monday at noon .", "meeting monday"),
        ("can you review the contract draft ?", "contract draft"),
        ("lunch with the team on thursday .", "team lunch"),
    ] * 3
    pairs.write_text(
        "".join(json.dumps({"source": s, "target": t}) + "\n" for s, t in rows)
    )
    monkeypatch.setenv("JUPYTER_PATH", _kernelspec(tmp_path / "jupyter"))
    monkeypatch.setenv("TLNLP_NOTEBOOK_BACKBONE", tiny_preset)
    monkeypatch.setenv("TLNLP_NOTEBOOK_EPOCHS", "1")
    monkeypatch.setenv("TLNLP_NOTEBOOK_PAIRS", str(pairs))
    monkeypatch.setenv("TLNLP_NOTEBOOK_SOURCE_LENGTH", "16")
    monkeypatch.setenv("KERAS_BACKEND", "tensorflow")
    workdir = tmp_path / "run"
    workdir.mkdir()

    notebook = nbformat.read(NOTEBOOK, as_version=4)
    client = nbclient.NotebookClient(
        notebook,
        kernel_name=KERNEL_NAME,
        timeout=600,
        resources={"metadata": {"path": str(workdir)}},
    )
    client.execute()  # raises CellExecutionError if any cell errors
    cells = {cell.id: cell for cell in notebook.cells}

    assert _text(cells["data"]).startswith("9 training pairs, 12 test pairs")
    copied = re.search(r"bert2bert: (\d+) weights copied", _text(cells["fit"]))
    assert copied and int(copied.group(1)) > 0
    assert len(_text(cells["generate"]).splitlines()) == 3
    rows = _text(cells["score"]).splitlines()
    assert [row.split()[0] for row in rows] == ["bert2bert", "rnd2rnd"]
    assert "same subject lines" in _text(cells["save-reload"])
    assert list(workdir.iterdir()) == []
