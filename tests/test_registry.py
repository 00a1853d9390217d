"""The task registry: a new task kind is one class plus one entry, used everywhere."""

import json

import keras
import pytest

import tlnlp_tf as tl
from tlnlp_tf.cli.main import main
from tlnlp_tf.tasks import registry
from tlnlp_tf.tasks.multi_task_config import read_config
from tlnlp_tf.tasks.multi_task_config import read_task_data

KIND = "test-sentiment"  # a kind no other code registers


@keras.saving.register_keras_serializable(package="tlnlp_tf_tests")
class SentimentClassifier(tl.TextClassifier):
    """A throwaway task: a text classifier under its own name."""


@pytest.fixture
def sentiment_kind():
    registry.register_task(
        registry.like("text-classification", KIND, SentimentClassifier)
    )
    yield KIND
    registry.unregister_task(KIND)


def test_builtin_kinds_and_lookups(tiny_preset):
    assert registry.task_kinds() == (
        "text-classification",
        "regression",
        "token-classification",
        "question-answering",
        "semantic-role-labeling",
        "summarization",
        "translation",
        "language-modeling",
    )
    generative = [k for k in registry.task_kinds() if registry.get_task(k).generative]
    assert generative == ["summarization", "translation", "language-modeling"]
    with pytest.raises(tl.PolicyError, match="Unknown task kind 'summarize'"):
        registry.get_task("summarize")
    model = tl.TextRegressor.from_backbone(tiny_preset)
    assert registry.kind_of(model).kind == "regression"


def test_cli_fit_evaluate_predict_pick_up_a_new_kind(
    sentiment_kind, tiny_preset, toy_files, tmp_path, capsys
):
    output = tmp_path / "run"
    columns = ["--text-column", "sentence", "--label-column", "label"]
    fit = ["fit", "--task", KIND, "--train", toy_files["train"]]
    fit += ["--validation", toy_files["valid"], *columns, "--backbone", tiny_preset]
    assert main(fit + ["--epochs", "1", "--output", str(output)]) == 0
    metrics = json.loads((output / "metrics.json").read_text())
    assert set(metrics["validation"]) == {"accuracy", "f1", "loss"}
    assert json.loads((output / "run.json").read_text())["task"] == KIND
    assert type(keras.saving.load_model(output / "model.keras")) is SentimentClassifier
    capsys.readouterr()
    assert main(["evaluate", "--model", str(output), "--data", toy_files["valid"]]) == 0
    assert "accuracy" in json.loads(capsys.readouterr().out)
    texts = tmp_path / "texts.txt"
    texts.write_text("the film was good .\nthe plot was dull .\n")
    assert main(["predict", "--model", str(output), "--input", str(texts)]) == 0
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["label"] in ("neg", "pos") for r in records] == [True, True]


def test_unregistered_kind_is_refused_by_the_cli(toy_files, tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(
            ["fit", "--task", KIND, "--train", toy_files["train"]]
            + ["--output", str(tmp_path / "o")]
        )
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert f"argument --task: invalid choice: '{KIND}'" in err
    assert len(err.strip().splitlines()) == 1


def _config(tmp_path, kind):
    texts = ["the film was good .", "the plot was dull ."] * 4
    labels = ["pos", "neg"] * 4
    (tmp_path / "s.tsv").write_text(
        "sentence\tlabel\n" + "".join(f"{t}\t{l}\n" for t, l in zip(texts, labels))
    )
    path = tmp_path / "tasks.yaml"
    path.write_text(
        f"tasks:\n  reviews:\n    type: {kind}\n    train: s.tsv\n"
        "    text_column: sentence\n    label_column: label\n"
    )
    return str(path)


def test_multi_task_config_and_model_pick_up_a_new_kind(
    sentiment_kind, tiny_preset, tmp_path
):
    data, specs = read_task_data(read_config(_config(tmp_path, KIND)))
    assert specs == {"reviews": {"kind": KIND, "labels": ["neg", "pos"]}}
    model = tl.MultiTaskModel.from_backbone(tiny_preset, specs)
    assert type(model.tasks["reviews"]) is SentimentClassifier


def test_multi_task_config_refuses_an_unregistered_kind(tmp_path):
    with pytest.raises(tl.PolicyError, match=f"type '{KIND}'; expected one of"):
        read_config(_config(tmp_path, KIND))
