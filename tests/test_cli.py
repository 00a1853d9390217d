import json
import os
import subprocess
import sys

import keras
import pytest

import tlnlp_tf as tl
from tlnlp_tf.backbones.attention import attention_dropout
from tlnlp_tf.cli.main import main
from tlnlp_tf.tasks.token_classifier import TokenClassifier


def _fit_args(toy_files, preset, output, *extra):
    return [
        "fit",
        "--train",
        toy_files["train"],
        "--validation",
        toy_files["valid"],
        "--text-column",
        "sentence",
        "--label-column",
        "label",
        "--backbone",
        preset,
        "--epochs",
        "1",
        "--batch-size",
        "16",
        "--output",
        str(output),
        *extra,
    ]


@pytest.fixture(scope="module")
def trained(tiny_preset, tmp_path_factory):
    """One `tlnlp fit` run shared by the fit/evaluate/predict tests."""
    from conftest import toy_examples

    folder = tmp_path_factory.mktemp("cli")
    files = {}
    for name, seed, count in (("train", 0, 48), ("valid", 1, 16)):
        texts, labels = toy_examples(count, seed)
        path = folder / f"{name}.tsv"
        path.write_text(
            "sentence\tlabel\n" + "".join(f"{t}\t{l}\n" for t, l in zip(texts, labels))
        )
        files[name] = str(path)
    output = folder / "run"
    assert (
        main(
            _fit_args(
                files,
                tiny_preset,
                output,
                "--limit",
                "40",
                "--freeze",
                "bottom-1",
                "--attention-dropout",
                "backbone",
                "--tensorboard",
                str(folder / "logs"),
            )
        )
        == 0
    )
    return files, output


def test_fit_writes_model_labels_and_metrics(trained):
    _, output = trained
    assert sorted(os.listdir(output)) == [
        "labels.json",
        "metrics.json",
        "model.keras",
        "run.json",
    ]
    metrics = json.loads((output / "metrics.json").read_text())
    assert set(metrics["validation"]) == {"accuracy", "f1", "loss"}
    assert 0.0 <= metrics["validation"]["accuracy"] <= 1.0
    assert metrics["train_examples"] == 40
    assert metrics["trainable_params"] < metrics["total_params"]
    assert metrics["train_seconds"] > 0 and metrics["train_examples_per_second"] > 0
    assert json.loads((output / "labels.json").read_text()) == ["neg", "pos"]
    run = json.loads((output / "run.json").read_text())
    assert run["freeze"] == "bottom-1"
    assert (
        run["batching"] == "random"
    )  # --batching auto: 2 batches per epoch, under 100
    assert run["attention_dropout"] is None
    model = keras.saving.load_model(output / "model.keras")
    assert (
        model.attention_dropout is None
    )  # --attention-dropout backbone: BERT's own 0.1
    assert attention_dropout(model.backbone) == pytest.approx(0.1)


def test_fit_writes_tensorboard_logs_of_each_epoch(trained):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    _, output = trained
    events = EventAccumulator(str(output.parent / "logs" / "train")).Reload()
    metrics = json.loads((output / "metrics.json").read_text())
    assert len(events.Tensors("epoch_loss")) == metrics["epochs_run"]


def test_evaluate_prints_the_same_metrics(trained, capsys):
    files, output = trained
    assert main(["evaluate", "--model", str(output), "--data", files["valid"]]) == 0
    result = json.loads(capsys.readouterr().out)
    saved = json.loads((output / "metrics.json").read_text())["validation"]
    assert result["examples"] == 16
    for name in ("accuracy", "f1", "loss"):
        assert result[name] == pytest.approx(saved[name], abs=1e-5)


def test_predict_text_lines_and_table(trained, tmp_path, capsys):
    files, output = trained
    texts = tmp_path / "texts.txt"
    texts.write_text("the film was very good .\n\nthe food was awful .\n")
    assert main(["predict", "--model", str(output), "--input", str(texts)]) == 0
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["text"] for r in records] == [
        "the film was very good .",
        "the food was awful .",
    ]
    assert all(r["label"] in ("neg", "pos") and 0.5 <= r["score"] <= 1 for r in records)
    out_file = tmp_path / "predictions.jsonl"
    assert (
        main(
            [
                "predict",
                "--model",
                str(output),
                "--input",
                files["valid"],
                "--output",
                str(out_file),
            ]
        )
        == 0
    )
    assert len(out_file.read_text().splitlines()) == 16


def test_console_script_is_installed():
    result = subprocess.run(
        [os.path.join(os.path.dirname(sys.executable), "tlnlp"), "--help"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0 and "fit" in result.stdout and "demo" in result.stdout


@pytest.mark.parametrize(
    "change, message",
    [
        (
            lambda f: {**f, "train": f["train"] + ".missing"},
            "train.tsv.missing: no such file",
        ),
        ("--text-column=review", "no column 'review'; the header has: sentence, label"),
        (
            "--freeze=bottom-99",
            "asks for 99 layers, but the backbone has 2 transformer layers",
        ),
        ("--freeze=sideways", "Unknown freeze policy 'sideways'"),
        ("--strategy=tpu", "strategy 'tpu': no TPU found"),
        ("--crf", "--crf is not an option of --task text-classification"),
        ("--decoding=allowed", "--decoding is not an option of --task text-class"),
        ("--variant=bert2rnd", "--variant is not an option of --task text-class"),
    ],
)
def test_bad_options_fail_before_training(
    tiny_preset, toy_files, tmp_path, capsys, change, message
):
    files, extra = (
        (change(toy_files), []) if callable(change) else (toy_files, [change])
    )
    output = tmp_path / "out"
    assert main(_fit_args(files, tiny_preset, output, *extra)) == 2
    err = capsys.readouterr().err
    assert err.startswith("tlnlp fit: error: ") and message in err
    assert "Traceback" not in err
    assert not output.exists() or not os.listdir(output)


@pytest.mark.parametrize(
    "valid_body, message",
    [
        (
            "sentence\tlabel\nfine\tpos\nhmm\tmeh\n",
            "valid.tsv, line 3: label 'meh' was not seen in training",
        ),
        ("sentence\tlabel\n\tpos\n", "valid.tsv, line 2: column 'sentence' is empty"),
        ("sentence\tlabel\ngood\tpos\textra\n", "valid.tsv, line 2: expected 2 fields"),
        (
            b"sentence\tlabel\ngood\tpos\nna\xefve\tneg\n",
            "valid.tsv, line 3, column 3: byte 0xef is not valid UTF-8",
        ),
    ],
)
def test_bad_validation_file(
    tiny_preset, toy_files, tmp_path, capsys, valid_body, message
):
    path = tmp_path / "valid.tsv"
    path.write_bytes(
        valid_body if isinstance(valid_body, bytes) else valid_body.encode()
    )
    output = tmp_path / "out"
    files = {**toy_files, "valid": str(path)}
    assert main(_fit_args(files, tiny_preset, output)) == 2
    assert message in capsys.readouterr().err
    assert not output.exists()


def test_evaluate_and_predict_bad_input(trained, tmp_path, capsys):
    files, output = trained
    assert main(["evaluate", "--model", str(tmp_path), "--data", files["valid"]]) == 2
    assert "no model.keras" in capsys.readouterr().err
    empty = tmp_path / "empty.txt"
    empty.write_text("\n\n")
    assert main(["predict", "--model", str(output), "--input", str(empty)]) == 2
    assert "no texts to predict" in capsys.readouterr().err


def test_bad_integer_option_is_rejected_by_argparse(toy_files, tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(_fit_args(toy_files, "minilm", tmp_path / "o", "--limit", "0"))
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err == (
        "tlnlp fit: error: argument --limit: expected a positive integer, got 0\n"
    )


def test_training_file_with_one_label(tiny_preset, tmp_path, capsys):
    train = tmp_path / "one.tsv"
    train.write_text("sentence\tlabel\nthe film was good .\tpos\nfun .\tpos\n")
    args = ["fit", "--train", str(train), "--text-column", "sentence"]
    args += ["--label-column", "label", "--backbone", tiny_preset]
    assert main(args + ["--output", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("tlnlp fit: error: ") and len(err.splitlines()) == 1
    assert "one.tsv" in err and "at least two labels" in err
    assert "Traceback" not in err


@pytest.mark.parametrize("rate", ["1", "-0.1", "none"])
def test_bad_attention_dropout_is_rejected_by_argparse(
    toy_files, tmp_path, capsys, rate
):
    with pytest.raises(SystemExit) as exit_info:
        main(
            _fit_args(toy_files, "minilm", tmp_path / "o", "--attention-dropout", rate)
        )
    assert exit_info.value.code == 2
    assert (
        f"expected a rate in [0, 1), 'backbone' or 'auto', got {rate}"
        in capsys.readouterr().err
    )


# Opt-in (`make test-extended`): the default run covers `--text-pair-column`
# through the CLI (test_regression_fit_evaluate_predict) and pair
# classification through the API (test_text_classifier.py::test_text_pairs).
@pytest.mark.extended
def test_pairs_fit_and_predict(tiny_preset, tmp_path, capsys):
    rows = ["q\ta\tlabel"] + [
        "the film was good\tthe movie was great\tsame",
        "the food was bad\tthe food was great\tdifferent",
    ] * 8
    train = tmp_path / "pairs.tsv"
    train.write_text("\n".join(rows) + "\n")
    output = tmp_path / "run"
    assert (
        main(
            [
                "fit",
                "--train",
                str(train),
                "--text-column",
                "q",
                "--text-pair-column",
                "a",
                "--label-column",
                "label",
                "--backbone",
                tiny_preset,
                "--epochs",
                "1",
                "--output",
                str(output),
            ]
        )
        == 0
    )
    capsys.readouterr()
    assert main(["predict", "--model", str(output), "--input", str(train)]) == 0
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(records) == 16 and records[0]["text_pair"] == "the movie was great"
    assert {r["label"] for r in records} <= {"same", "different"}


def test_regression_fit_evaluate_predict(tiny_preset, tmp_path, capsys):
    rows = ["sentence1\tsentence2\tscore"] + [
        "the film was good\tthe film was good\t5.0",
        "the food was bad\tthe book was best\t0.5",
    ] * 8
    train = tmp_path / "sts.tsv"
    train.write_text("\n".join(rows) + "\n")
    output = tmp_path / "run"
    assert (
        main(
            [
                "fit",
                "--task",
                "regression",
                "--train",
                str(train),
                "--validation",
                str(train),
                "--text-column",
                "sentence1",
                "--text-pair-column",
                "sentence2",
                "--label-column",
                "score",
                "--backbone",
                tiny_preset,
                "--epochs",
                "1",
                "--output",
                str(output),
            ]
        )
        == 0
    )
    assert sorted(os.listdir(output)) == ["metrics.json", "model.keras", "run.json"]
    metrics = json.loads((output / "metrics.json").read_text())
    assert set(metrics["validation"]) == {"pearson", "spearman", "mse"}
    capsys.readouterr()
    assert main(["evaluate", "--model", str(output), "--data", str(train)]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["spearman"] == pytest.approx(
        metrics["validation"]["spearman"], abs=1e-5
    )
    assert main(["predict", "--model", str(output), "--input", str(train)]) == 0
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(records) == 16 and isinstance(records[0]["value"], float)
    bad = tmp_path / "bad.tsv"
    bad.write_text("sentence1\tsentence2\tscore\na\tb\t4\nc\td\thigh\n")
    assert (
        main(
            [
                "fit",
                "--task",
                "regression",
                "--train",
                str(bad),
                "--text-column",
                "sentence1",
                "--label-column",
                "score",
                "--backbone",
                tiny_preset,
                "--output",
                str(tmp_path / "o2"),
            ]
        )
        == 2
    )
    assert "bad.tsv, line 3: target 'high' is not a number" in capsys.readouterr().err


def test_token_classification_fit_evaluate_predict(
    tiny_preset, tmp_path, capsys, monkeypatch
):
    from test_token_classifier import toy_tagged

    def conll(data, path):
        blocks = [
            "\n".join(f"{w} X {t}" for w, t in zip(words, tags))
            for words, tags in zip(data.words, data.tags)
        ]
        path.write_text("-DOCSTART- X O\n\n" + "\n\n".join(blocks) + "\n")
        return str(path)

    train, valid = (
        conll(toy_tagged(32), tmp_path / "train.txt"),
        conll(toy_tagged(8, 1), tmp_path / "valid.txt"),
    )
    output = tmp_path / "ner"
    fit = ["fit", "--task", "token-classification", "--train", train]
    fit += ["--backbone", tiny_preset]
    options = ["--validation", valid, "--epochs", "1", "--output", str(output)]
    assert main(fit + options) == 0
    metrics = json.loads((output / "metrics.json").read_text())
    assert set(metrics["validation"]) == {"precision", "recall", "f1", "per_type"}
    assert json.loads((output / "labels.json").read_text()) == [
        "O",
        "B-LOC",
        "I-LOC",
        "B-PER",
        "I-PER",
    ]
    # 32 sentences, 1 epoch: too few updates, said on one line.
    err = capsys.readouterr().err
    warned = [
        line
        for line in err.splitlines()
        if line.startswith("tlnlp fit: warning: TokenClassifier.fit:")
    ]
    assert len(warned) == 1 and "Pass epochs=" in warned[0]
    # The peak rate and layer decay chosen from the data: said and recorded.
    chosen = metrics["rates_choice"]
    assert chosen["profile"]["sentences"] == 32
    assert f"tlnlp fit: peak learning rate {chosen['learning_rate']:g}" in err
    saved = keras.saving.load_model(output / "model.keras")
    assert saved.optimizer._learning_rate.peak == pytest.approx(chosen["learning_rate"])
    # Without --epochs, as many epochs as reach the task's minimum (4 here).
    monkeypatch.setattr(TokenClassifier, "min_updates", 4)
    auto = ["--output", str(tmp_path / "auto"), "--decoding", "allowed"]
    assert main(fit + auto) == 0
    saved = keras.saving.load_model(tmp_path / "auto" / "model.keras")
    assert output_decoding(output) == "auto" and saved.decoding == "allowed"
    assert (
        json.loads((tmp_path / "auto" / "metrics.json").read_text())["epochs_run"] == 4
    )
    assert "tlnlp fit: epochs 4: 3 epochs of 1 batches" in capsys.readouterr().err
    assert main(["evaluate", "--model", str(output), "--data", valid]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["f1"] == pytest.approx(metrics["validation"]["f1"], abs=1e-6)
    texts = tmp_path / "texts.txt"
    texts.write_text("bob lee was in new york .\nann was in paris .\n")
    assert main(["predict", "--model", str(output), "--input", str(texts)]) == 0
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["text"] for r in records] == [
        "bob lee was in new york .",
        "ann was in paris .",
    ]
    for record in records:
        for entity in record["entities"]:
            assert record["text"][entity["start"] : entity["end"]] == entity["text"]
    bad = tmp_path / "bad.txt"
    bad.write_text("EU X B-ORG\nrejects X\n")
    assert (
        main(
            [
                "fit",
                "--task",
                "token-classification",
                "--train",
                str(bad),
                "--backbone",
                tiny_preset,
                "--output",
                str(tmp_path / "o"),
            ]
        )
        == 2
    )
    assert (
        "bad.txt, line 2: expected 3 columns like the first token line, found 2"
        in capsys.readouterr().err
    )


def test_text_task_needs_its_columns(tiny_preset, toy_files, tmp_path, capsys):
    assert (
        main(
            [
                "fit",
                "--train",
                toy_files["train"],
                "--backbone",
                tiny_preset,
                "--output",
                str(tmp_path / "o"),
            ]
        )
        == 2
    )
    assert "name the text column with --text-column" in capsys.readouterr().err


def test_question_answering_fit_evaluate_predict(tiny_preset, tmp_path, capsys):
    from test_span_extractor import toy_questions

    def squad(data, path):
        articles = {}
        for i in range(len(data)):
            articles.setdefault(data.titles[i], []).append(
                {
                    "context": data.contexts[i],
                    "qas": [
                        {
                            "id": data.ids[i],
                            "question": data.questions[i],
                            "answers": [
                                {"text": a["text"], "answer_start": a["start"]}
                                for a in data.answers[i]
                            ],
                        }
                    ],
                }
            )
        path.write_text(
            json.dumps(
                {
                    "version": "1.1",
                    "data": [
                        {"title": title, "paragraphs": paragraphs}
                        for title, paragraphs in articles.items()
                    ],
                }
            )
        )
        return str(path)

    train_data, valid_data = toy_questions(48, 0).split_articles(6)
    train, valid = (
        squad(train_data, tmp_path / "train.json"),
        squad(valid_data, tmp_path / "dev.json"),
    )
    output = tmp_path / "qa"
    assert (
        main(
            [
                "fit",
                "--task",
                "question-answering",
                "--train",
                train,
                "--validation",
                valid,
                "--backbone",
                tiny_preset,
                "--epochs",
                "1",
                "--doc-stride",
                "8",
                "--output",
                str(output),
            ]
        )
        == 0
    )
    assert sorted(os.listdir(output)) == ["metrics.json", "model.keras", "run.json"]
    assert (
        json.loads((output / "run.json").read_text())["batching"] == "random"
    )  # auto, QA
    metrics = json.loads((output / "metrics.json").read_text())
    assert set(metrics["validation"]) == {"exact_match", "f1"}
    capsys.readouterr()
    assert main(["evaluate", "--model", str(output), "--data", valid]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["f1"] == pytest.approx(metrics["validation"]["f1"], abs=1e-6)
    questions = tmp_path / "questions.jsonl"
    questions.write_text(
        json.dumps(
            {"id": "a", "question": "what was it ?", "context": "the film was good."}
        )
        + "\n"
        + json.dumps({"question": "what ?", "context": "the plot… 好 the cast: dull!"})
        + "\n"
    )
    assert main(["predict", "--model", str(output), "--input", str(questions)]) == 0
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r.get("id") for r in records] == ["a", None]
    for record in records:
        assert (
            record["context"][record["start"] : record["end"]] == record["answer"] != ""
        )
    questions.write_text(json.dumps({"question": " ", "context": "the film"}) + "\n")
    assert main(["predict", "--model", str(output), "--input", str(questions)]) == 2
    assert "questions.jsonl, line 1: the question is empty" in capsys.readouterr().err
    broken = tmp_path / "broken.json"
    broken.write_text(
        json.dumps(
            {
                "data": [
                    {
                        "title": "t",
                        "paragraphs": [
                            {
                                "context": "the film was good",
                                "qas": [
                                    {
                                        "id": "x1",
                                        "question": "what ?",
                                        "answers": [
                                            {"text": "good", "answer_start": 3}
                                        ],
                                    }
                                ],
                            }
                        ],
                    }
                ]
            }
        )
    )
    assert (
        main(
            [
                "fit",
                "--task",
                "question-answering",
                "--train",
                str(broken),
                "--backbone",
                tiny_preset,
                "--output",
                str(tmp_path / "o"),
            ]
        )
        == 2
    )
    assert (
        "question x1: answer_start 3 does not point at the answer 'good'"
        in capsys.readouterr().err
    )


def test_fit_killed_mid_training_resumes_from_the_last_epoch(
    tiny_preset, toy_files, tmp_path
):
    import signal
    import time

    EPOCHS = 6  # long enough to be killed after epoch 2, short enough to run twice

    output = tmp_path / "run"
    command = [
        sys.executable,
        "-m",
        "tlnlp_tf.cli",
        *_fit_args(toy_files, tiny_preset, output),
        "--epochs",
        str(EPOCHS),
    ]
    metadata = output / "backup" / "training_metadata.json"
    process = subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    try:
        deadline = time.time() + 240
        while time.time() < deadline and process.poll() is None:
            if (
                metadata.exists()
                and json.loads(metadata.read_text() or "{}").get("epoch", 0) >= 2
            ):
                break
            time.sleep(0.02)
        assert process.poll() is None, "training ended before it could be killed"
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert not (output / "model.keras").exists()  # killed: nothing final written
    saved = json.loads(metadata.read_text())["epoch"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    assert f"resuming from the end of epoch {saved}" in result.stderr
    metrics = json.loads((output / "metrics.json").read_text())
    assert metrics["resumed_from_epoch"] == saved >= 2
    assert metrics["epochs_run"] == EPOCHS - saved
    assert not (output / "backup").exists()  # removed once training completed
    # That resuming ends with the weights of an uninterrupted run is checked
    # on the API the CLI calls (tests/test_resume.py), without a third run here.


def test_export_writes_a_hugging_face_folder_and_says_what_it_left_out(
    trained, tmp_path, capsys
):
    _, output = trained
    folder = tmp_path / "hf"
    assert (
        main(
            [
                "export",
                "--model",
                str(output),
                "--format",
                "huggingface",
                "--output",
                str(folder),
            ]
        )
        == 0
    )
    captured = capsys.readouterr()
    printed = json.loads(captured.out)
    assert {"config.json", "model.safetensors", "vocab.txt"} <= set(printed["files"])
    config = json.loads((folder / "config.json").read_text())
    assert config["architectures"] == ["BertModel"]  # a mean-pooled head has no place
    # The library's warning, one line: the head was not exported.
    warning = [line for line in captured.err.splitlines() if "warning" in line]
    assert len(warning) == 1 and warning[0].startswith("tlnlp export: warning: ")
    backbone, _ = tl.load_backbone(str(folder))
    model = keras.saving.load_model(output / "model.keras")
    assert backbone.count_params() == model.backbone.count_params()


def test_export_writes_a_saved_model_that_serves_raw_strings(trained, tmp_path, capsys):
    import tensorflow as tf

    _, output = trained
    folder = tmp_path / "serving" / "1"
    arguments = ["export", "--model", str(output), "--output", str(folder)]
    assert main(arguments) == 0  # --format saved_model is the default
    assert "saved_model.pb" in json.loads(capsys.readouterr().out)["files"]
    serve = tf.saved_model.load(str(folder)).signatures["serving_default"]
    texts = ["the film was good", "the plot was awful"]
    served = serve(text=tf.constant(texts))
    model = keras.saving.load_model(output / "model.keras")
    expected = model.predict(texts)
    assert [label.decode() for label in served["label"].numpy()] == list(
        expected["label"]
    )
    assert served["probabilities"].numpy() == pytest.approx(
        expected["probabilities"], abs=1e-5
    )


@pytest.mark.parametrize("format", ["saved_model", "huggingface"])
def test_export_refuses_an_output_that_is_something_else(
    trained, tmp_path, capsys, format
):
    _, output = trained
    taken = tmp_path / "notes.txt"
    taken.write_text("not a model folder")
    arguments = ["export", "--model", str(output), "--format", format]
    assert main(arguments + ["--output", str(taken)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("tlnlp export: error: --output ")
    assert taken.read_text() == "not a model folder"  # nothing overwritten


def output_decoding(folder):
    """The `decoding` of the model `tlnlp fit` saved in `folder`."""
    return keras.saving.load_model(folder / "model.keras").decoding
