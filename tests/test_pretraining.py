import json
import os

import keras
import keras_hub
import numpy as np
import pytest
from conftest import toy_examples

import tlnlp_tf as tl
from tlnlp_tf import pretraining
from tlnlp_tf.cli import main

TEXTS = toy_examples(40)[0]


@pytest.fixture(scope="module")
def pretrained(tiny_preset):
    """One short masked-LM run on the tiny preset, shared by the tests below."""
    masked_lm, report = pretraining.pretrain_masked_lm(
        tiny_preset, TEXTS, epochs=2, batch_size=8, learning_rate=1e-2,
        validation_fraction=0.1, verbose=0)
    return masked_lm, report


def test_masked_lm_loss_goes_down(pretrained, tiny_preset):
    masked_lm, report = pretrained
    keras.utils.set_random_seed(0)  # as pretrain_masked_lm: the same head init
    backbone, _ = tl.load_backbone(tiny_preset)
    untrained = keras_hub.models.BertMaskedLM(backbone, preprocessor=masked_lm.preprocessor)
    before = pretraining.masked_lm_scores(untrained, TEXTS)
    after = pretraining.masked_lm_scores(masked_lm, TEXTS)
    assert after["loss"] < before["loss"] - 0.5  # (measured: 4.5 -> 3.0-3.2)
    assert after["accuracy"] > before["accuracy"] + 0.1
    # Held out: 4 documents, too few masked tokens for a reliable drop on a
    # toy model (masks in training are drawn in a parallel tf.data map).
    for value in report["masked_lm_loss"].values():
        assert 0.0 < value < 20.0
    assert report["train_documents"] == 36 and report["held_out_documents"] == 4
    for name in ("masked_lm_loss", "masked_accuracy"):
        assert set(report[name]) == {"before", "after"}
    assert 0.0 <= report["masked_accuracy"]["after"] <= 1.0
    assert report["train_seconds"] > 0 and len(report["history"]["loss"]) == 2


def test_saved_folder_is_a_backbone_preset(pretrained, tmp_path):
    masked_lm, report = pretrained
    folder = str(tmp_path / "domain")
    pretraining.save_pretrained(masked_lm, folder, report)
    with open(os.path.join(folder, "pretrain.json")) as file:
        assert json.load(file)["train_documents"] == 36
    assert not [name for name in os.listdir(tmp_path) if name.startswith(".")]  # no temp left
    backbone, preprocessor = tl.load_backbone(folder)
    saved, trained = backbone.get_weights(), masked_lm.backbone.get_weights()
    assert len(saved) == len(trained)
    assert all(np.array_equal(a, b) for a, b in zip(saved, trained))
    vocabulary = masked_lm.preprocessor.tokenizer.get_vocabulary()
    assert preprocessor.tokenizer.get_vocabulary() == vocabulary
    model = tl.TextClassifier.from_backbone(folder, labels=["neg", "pos"])
    result = model.predict(["the film was very good .", "the food was awful ."])
    assert list(result["label"]) and set(result["label"]) <= {"neg", "pos"}
    # Saving again replaces the preset; a folder of other files is refused.
    pretraining.save_pretrained(masked_lm, folder)
    assert not os.path.exists(os.path.join(folder, "pretrain.json"))
    other = tmp_path / "other"
    other.mkdir()
    (other / "notes.txt").write_text("mine")
    with pytest.raises(tl.DataError, match="is not a preset folder"):
        pretraining.save_pretrained(masked_lm, str(other))
    assert os.listdir(other) == ["notes.txt"]


def test_hugging_face_folder_as_source(tiny_hf_folder, tmp_path):
    masked_lm, report = pretraining.pretrain_masked_lm(
        tiny_hf_folder, TEXTS[:16], epochs=1, batch_size=8, verbose=0)
    assert isinstance(masked_lm, keras_hub.models.BertMaskedLM)
    assert report["train_documents"] == 15 and report["held_out_documents"] == 1
    folder = pretraining.save_pretrained(masked_lm, tmp_path / "hf-domain", report)
    assert os.path.isfile(os.path.join(folder, "1_Pooling", "config.json"))  # pooling kept
    backbone, _ = tl.load_backbone(folder)
    assert all(np.array_equal(a, b) for a, b in
               zip(backbone.get_weights(), masked_lm.backbone.get_weights()))


def test_read_corpus(tmp_path):
    text = tmp_path / "corpus.txt"
    text.write_text("first doc\n\n  \nsecond\u0085 doc stays one line\r\nthird\n", encoding="utf-8")
    assert pretraining.read_corpus(str(text)) == [
        "first doc", "second\u0085 doc stays one line", "third"]
    table = tmp_path / "corpus.jsonl"
    table.write_text('{"text": "a review", "id": 1}\n\n{"text": "another", "id": 2}\n')
    assert pretraining.read_corpus(str(table), text_column="text") == ["a review", "another"]
    with pytest.raises(tl.DataError, match="name the text column"):
        pretraining.read_corpus(str(table))
    with pytest.raises(tl.DataError, match="corpus is empty"):
        pretraining.pretrain_masked_lm("minilm", ["", "  "])


def test_cli_writes_a_preset_that_fit_accepts(tiny_preset, toy_files, tmp_path, capsys):
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("\n".join(TEXTS) + "\n")
    output = tmp_path / "domain"
    assert main(["pretrain", "--text", str(corpus), "--backbone", tiny_preset,
                 "--epochs", "1", "--batch-size", "8", "--limit", "30",
                 "--output", str(output)]) == 0
    report = json.loads((output / "pretrain.json").read_text())
    assert report["train_documents"] + report["held_out_documents"] == 30
    assert set(report["masked_lm_loss"]) == {"before", "after"}
    assert set(report["masked_accuracy"]) == {"before", "after"}
    assert report["train_seconds"] > 0
    assert {"config.json", "model.weights.h5", "tokenizer.json", "preprocessor.json"} <= set(
        os.listdir(output))
    assert '"masked_lm_loss"' in capsys.readouterr().out  # the summary is printed too
    run = tmp_path / "run"
    assert main(["fit", "--train", toy_files["train"], "--text-column", "sentence",
                 "--label-column", "label", "--backbone", str(output), "--epochs", "1",
                 "--limit", "16", "--batch-size", "8", "--output", str(run)]) == 0
    assert os.path.isfile(run / "model.keras")


@pytest.mark.parametrize("name, body, extra, message", [
    ("empty.txt", "\n  \n\n", [], "empty.txt: the pretraining corpus is empty"),
    ("reviews.jsonl", '{"review": "good"}\n', ["--text-column", "text"],
     "reviews.jsonl, line 1: no field 'text'"),
    ("reviews.tsv", "review\nfine\n", ["--text-column", "text"],
     "reviews.tsv: no column 'text'; the header has: review"),
    ("reviews.jsonl", '{"text": "good"}\n', [], "reviews.jsonl: name the text column"),
])
def test_bad_corpus_fails_before_training(tiny_preset, tmp_path, capsys, name, body, extra,
                                          message):
    corpus = tmp_path / name
    corpus.write_text(body)
    output = tmp_path / "out"
    assert main(["pretrain", "--text", str(corpus), "--backbone", tiny_preset, *extra,
                 "--output", str(output)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("tlnlp pretrain: error: ") and message in err
    assert "Traceback" not in err
    assert not output.exists()
