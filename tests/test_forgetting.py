"""The forgetting report: the zero-shot sentence-similarity and masked-LM probes,
their callbacks, the CLI."""

import json
import os

import keras
import numpy as np
import pytest

import tlnlp_tf as tl
from tlnlp_tf import pretraining
from tlnlp_tf.cli.main import main
from tlnlp_tf.probes.forgetting import ForgettingReport
from tlnlp_tf.probes.forgetting import MaskedLMForgettingReport
from tlnlp_tf.probes.forgetting import forgetting_report
from tlnlp_tf.probes.forgetting import masked_lm_probe
from tlnlp_tf.probes.forgetting import sentence_similarity_probe

PAIRS = [
    ("the film was good .", "the movie was great ."),
    ("the film was good .", "the food was awful ."),
    ("this book is boring", "this book is dull"),
    ("the cast was wonderful", "the plot was terrible"),
    ("i loved the movie", "i loved the film"),
    ("the food was bad", "the food was very bad and boring"),
    ("the plot", "the cast was the best and the plot was fun"),
    ("hate", "love"),
    ("it was fun", "it was not fun"),
    ("the worst film", "the best film"),
    ("a lovely book", "a lovely book ."),
    ("the movie was dull", "great food"),
]
SCORES = [4.5, 1.0, 4.8, 1.5, 5.0, 3.5, 2.0, 0.5, 2.5, 1.0, 5.0, 0.0]


def _ranks(values):
    """Average ranks (1-based), written out with loops."""
    values = list(values)
    ranks = [0.0] * len(values)
    for i, value in enumerate(values):
        below = sum(v < value for v in values)
        equal = sum(v == value for v in values)
        ranks[i] = below + (equal + 1) / 2
    return np.array(ranks)


def _hand_spearman(x, y):
    rx, ry = _ranks(x), _ranks(y)
    rx, ry = rx - rx.mean(), ry - ry.mean()
    return float((rx * ry).sum() / np.sqrt((rx * rx).sum() * (ry * ry).sum()))


def _hand_embeddings(backbone, preprocessor, texts):
    """Last-layer vectors averaged over the real tokens, one text at a time."""
    vectors = []
    for text in texts:
        features = preprocessor([text])
        output = backbone.predict_on_batch(features)["sequence_output"][0]
        mask = np.asarray(features["padding_mask"][0]).astype(bool)
        vectors.append(np.asarray(output, np.float64)[mask].mean(axis=0))
    return np.stack(vectors)


def _toy_dataset():
    from conftest import toy_examples

    texts, labels = toy_examples(32)
    return texts, labels


def test_probe_equals_a_hand_computation(tiny_preset):
    backbone, preprocessor = tl.load_backbone(tiny_preset)
    length = preprocessor.sequence_length
    rho = sentence_similarity_probe(backbone, preprocessor, PAIRS, SCORES, batch_size=5)
    assert preprocessor.sequence_length == length  # restored

    a = _hand_embeddings(backbone, preprocessor, [p[0] for p in PAIRS])
    b = _hand_embeddings(backbone, preprocessor, [p[1] for p in PAIRS])
    cosine = (a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))
    assert rho == pytest.approx(_hand_spearman(SCORES, cosine), abs=1e-6)
    assert -1.0 <= rho <= 1.0


def test_forgetting_report_of_two_backbones(tiny_preset):
    source, preprocessor = tl.load_backbone(tiny_preset)
    scratch, _ = tl.load_backbone(tiny_preset, weights="random")
    report = forgetting_report(source, scratch, preprocessor, (PAIRS, SCORES))
    assert report["probe"] == "sts-zero-shot" and report["examples"] == len(PAIRS)
    assert report["before"] == sentence_similarity_probe(
        source, preprocessor, PAIRS, SCORES
    )
    assert report["after"] == sentence_similarity_probe(
        scratch, preprocessor, PAIRS, SCORES
    )
    assert report["change"] == pytest.approx(report["after"] - report["before"])
    assert report["after"] != report["before"]


@pytest.mark.parametrize(
    "freeze", ["none", pytest.param("all", marks=pytest.mark.extended)]
)
def test_callback_measures_before_and_after_fit(tiny_preset, freeze):
    keras.utils.set_random_seed(0)
    model = tl.TextClassifier.from_backbone(tiny_preset, num_classes=2, freeze=freeze)
    model.compile(learning_rate=1e-2)
    _, preprocessor = tl.load_backbone(tiny_preset)
    start = sentence_similarity_probe(model.backbone, preprocessor, PAIRS, SCORES)
    texts, labels = _toy_dataset()
    y = np.array([int(label == "pos") for label in labels])
    import tensorflow as tf

    data = tf.data.Dataset.from_tensor_slices((texts, y)).batch(8)
    report = ForgettingReport(PAIRS, SCORES)
    model.fit(data, epochs=2, callbacks=[report], verbose=0)

    result = report.result
    assert set(result) == {"probe", "before", "after", "change", "examples"}
    assert result["before"] == start
    after = sentence_similarity_probe(model.backbone, preprocessor, PAIRS, SCORES)
    assert result["after"] == after
    if freeze == "all":  # the backbone did not move: the same score, exactly
        assert result["after"] == result["before"] and result["change"] == 0.0
    else:
        assert result["after"] != result["before"]
        assert result["change"] == pytest.approx(result["after"] - result["before"])
    # The model's own sequence length was left alone by the probe.
    assert model.preprocessor.sequence_length == model.max_length


def _sts_file(tmp_path, pairs=PAIRS, scores=SCORES, name="sts.tsv"):
    path = tmp_path / name
    path.write_text(
        "sentence1\tsentence2\tscore\n"
        + "".join(f"{a}\t{b}\t{s}\n" for (a, b), s in zip(pairs, scores))
    )
    return str(path)


def _fit_args(toy_files, preset, output, *extra):
    return [
        "fit",
        "--train",
        toy_files["train"],
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


def test_cli_report_forgetting_writes_metrics(tiny_preset, toy_files, tmp_path, capsys):
    output = tmp_path / "run"
    sts = _sts_file(tmp_path)
    assert (
        main(_fit_args(toy_files, tiny_preset, output, "--report-forgetting", sts)) == 0
    )
    forgetting = json.loads((output / "metrics.json").read_text())["forgetting"]
    assert forgetting["probe"] == "sts-zero-shot" and forgetting["file"] == sts
    assert forgetting["examples"] == len(PAIRS)
    backbone, preprocessor = tl.load_backbone(tiny_preset)
    before = sentence_similarity_probe(backbone, preprocessor, PAIRS, SCORES)
    assert forgetting["before"] == pytest.approx(before, abs=1e-6)
    model = keras.saving.load_model(str(output / "model.keras"))
    after = sentence_similarity_probe(model.backbone, preprocessor, PAIRS, SCORES)
    assert forgetting["after"] == pytest.approx(after, abs=1e-6)
    assert forgetting["change"] == pytest.approx(after - before, abs=1e-5)
    assert forgetting["seconds"] >= 0


def test_cli_forgetting_columns_limit_and_jsonl(tiny_preset, toy_files, tmp_path):
    output = tmp_path / "run"
    path = tmp_path / "sts.jsonl"
    path.write_text(
        "".join(
            json.dumps({"a": a, "b": b, "gold": s}) + "\n"
            for (a, b), s in zip(PAIRS, SCORES)
        )
    )
    assert (
        main(
            _fit_args(
                toy_files,
                tiny_preset,
                output,
                "--freeze",
                "all",
                "--report-forgetting",
                str(path),
                "--forgetting-columns",
                "a,b,gold",
                "--forgetting-limit",
                "8",
            )
        )
        == 0
    )
    forgetting = json.loads((output / "metrics.json").read_text())["forgetting"]
    assert forgetting["examples"] == 8
    assert forgetting["change"] == 0.0 and forgetting["after"] == forgetting["before"]


@pytest.mark.parametrize(
    "pairs, scores, message",
    [
        ([], [], "pairs is empty"),
        (PAIRS, SCORES[:-1], "12 pairs but 11 scores"),
        (PAIRS, [3.0] * len(PAIRS), "scores are all 3.0"),
        (PAIRS[:1] + [("only one",)] + PAIRS[2:], SCORES, "pairs[1]"),
        (PAIRS, SCORES[:3] + ["high"] + SCORES[4:], "scores[3]"),
        (PAIRS, SCORES[:3] + [float("nan")] + SCORES[4:], "scores[3]"),
    ],
)
def test_bad_probe_data(pairs, scores, message):
    with pytest.raises(
        tl.DataError, match=message.replace("[", r"\[").replace("]", r"\]")
    ):
        ForgettingReport(pairs, scores)


def test_probe_of_an_unusable_model_is_a_clear_error():
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    model.compile(loss="mse")
    report = ForgettingReport(PAIRS, SCORES)
    with pytest.raises(tl.PolicyError, match="no source probe for a Sequential"):
        model.fit(np.zeros((4, 3)), np.zeros((4, 1)), callbacks=[report], verbose=0)


@pytest.mark.parametrize(
    "body, extra, message",
    [
        ("sentence1\tsentence2\tscore\n", [], "no examples after the header"),
        ("sentence1\tsentence2\tscore\na\tb\t3\nc\td\t3\n", [], "scores are all 3.0"),
        (
            "sentence1\tsentence2\tscore\na\tb\thigh\n",
            [],
            "line 2: target 'high' is not a number",
        ),
        ("s1\ts2\tscore\na\tb\t3\n", [], "no column 'sentence1'"),
        (
            "sentence1\tsentence2\tscore\na\tb\t3\n",
            ["--forgetting-columns", "a,b"],
            "--forgetting-columns must name three columns",
        ),
        (
            "sentence1\tsentence2\tscore\na\tb\t3\n",
            ["--task", "token-classification"],
            "--report-forgetting needs --task",
        ),
    ],
)
def test_cli_bad_probe_file_fails_before_training(
    tiny_preset, toy_files, tmp_path, capsys, body, extra, message
):
    path = tmp_path / "bad.tsv"
    path.write_text(body)
    output = tmp_path / "run"
    args = _fit_args(
        toy_files, tiny_preset, output, "--report-forgetting", str(path), *extra
    )
    if (
        "--task" in extra
    ):  # CoNLL needs no text columns; the probe check still comes first
        args = [
            "fit",
            "--task",
            "token-classification",
            "--train",
            _conll(tmp_path),
            "--backbone",
            tiny_preset,
            "--output",
            str(output),
            "--report-forgetting",
            str(path),
        ]
    assert main(args) == 2
    error = capsys.readouterr().err
    assert error.startswith("tlnlp fit: error: ") and message in error
    assert not os.path.exists(output / "model.keras")


def _conll(tmp_path):
    path = tmp_path / "train.conll"
    path.write_text("the O\nfilm B-MISC\n\nthe O\nbook B-MISC\n")
    return str(path)


# === the masked-LM probe ===


def _held_out():
    from conftest import toy_examples

    return toy_examples(24, seed=7)[0]


@pytest.fixture(scope="module")
def mlm_source(tiny_preset, tmp_path_factory):
    """A folder as `tlnlp pretrain` writes it: the tiny BERT and its masked-LM head."""
    from conftest import toy_examples

    masked_lm, report = pretraining.pretrain_masked_lm(
        tiny_preset,
        toy_examples(32)[0],
        epochs=1,
        batch_size=8,
        learning_rate=1e-2,
        validation_fraction=0.1,
        verbose=0,
    )
    return pretraining.save_pretrained(
        masked_lm, tmp_path_factory.mktemp("mlm") / "tiny-mlm", report
    )


@pytest.mark.parametrize("freeze", ["none", "all"])
def test_masked_lm_callback_before_and_after_fit(mlm_source, freeze):
    texts = _held_out()
    source, _ = tl.load_backbone(mlm_source)
    start = masked_lm_probe(source, mlm_source, texts)
    keras.utils.set_random_seed(0)
    model = tl.TextClassifier.from_backbone(mlm_source, num_classes=2, freeze=freeze)
    model.compile(learning_rate=1e-2)
    train, labels = _toy_dataset()
    import tensorflow as tf

    data = tf.data.Dataset.from_tensor_slices(
        (train, np.array([int(label == "pos") for label in labels]))
    ).batch(8)
    report = MaskedLMForgettingReport(mlm_source, texts)
    model.fit(data, epochs=1, callbacks=[report], verbose=0)

    result = report.result
    assert result["probe"] == "masked-lm-loss" and result["examples"] == len(texts)
    assert result["masked_tokens"] == start["masked_tokens"] > 0
    assert (result["before"], result["accuracy_before"]) == (
        start["loss"],
        start["accuracy"],
    )
    after = masked_lm_probe(model.backbone, mlm_source, texts)
    assert (result["after"], result["accuracy_after"]) == (
        after["loss"],
        after["accuracy"],
    )
    assert result["change"] == pytest.approx(result["after"] - result["before"])
    if freeze == "all":  # the backbone did not move: the same loss, exactly
        assert result["after"] == result["before"] and result["change"] == 0.0
    else:
        assert result["after"] != result["before"]
    assert report.seconds > 0


def test_masked_lm_probe_needs_a_saved_head(tiny_preset, mlm_source):
    with pytest.raises(tl.BackboneError, match="no saved masked-LM head") as error:
        MaskedLMForgettingReport(tiny_preset, _held_out())
    assert tiny_preset in str(error.value) and "tlnlp pretrain" in str(error.value)
    assert "sentence-similarity probe" in str(error.value)
    backbone, _ = tl.load_backbone(tiny_preset)
    with pytest.raises(tl.BackboneError, match="no saved masked-LM head"):
        masked_lm_probe(backbone, tiny_preset, _held_out())
    with pytest.raises(tl.DataError, match="texts is empty"):
        MaskedLMForgettingReport(mlm_source, ["", "  "])


@pytest.mark.extended
def test_cli_masked_lm_forgetting(mlm_source, toy_files, tmp_path):
    corpus = tmp_path / "held_out.txt"
    corpus.write_text("\n".join(_held_out()) + "\n")
    output = tmp_path / "run"
    assert (
        main(
            _fit_args(
                toy_files,
                mlm_source,
                output,
                "--report-forgetting",
                str(corpus),
                "--forgetting-probe",
                "mlm",
            )
        )
        == 0
    )
    forgetting = json.loads((output / "metrics.json").read_text())["forgetting"]
    assert forgetting["probe"] == "masked-lm-loss" and forgetting["file"] == str(corpus)
    assert forgetting["examples"] == len(_held_out()) and forgetting["seconds"] >= 0
    source, _ = tl.load_backbone(mlm_source)
    before = masked_lm_probe(source, mlm_source, _held_out())
    assert forgetting["before"] == pytest.approx(before["loss"], abs=1e-6)
    model = keras.saving.load_model(str(output / "model.keras"))
    after = masked_lm_probe(model.backbone, mlm_source, _held_out())
    assert forgetting["after"] == pytest.approx(after["loss"], abs=1e-5)
    assert forgetting["accuracy_after"] == pytest.approx(after["accuracy"], abs=1e-5)


@pytest.mark.parametrize(
    "source, name, extra, message",
    [
        ("tiny", "held_out.txt", [], "no saved masked-LM head"),
        ("mlm", "held_out.jsonl", [], "name its text column with --forgetting-columns"),
        ("mlm", "held_out.txt", ["--forgetting-columns", "a,b"], "names one column"),
        ("mlm", "empty.txt", [], "the pretraining corpus is empty"),
        (
            "mlm",
            "held_out.txt",
            ["--weights", "random"],
            "does not apply to --weights random",
        ),
    ],
)
def test_cli_masked_lm_forgetting_errors(
    tiny_preset, mlm_source, toy_files, tmp_path, capsys, source, name, extra, message
):
    corpus = tmp_path / name
    corpus.write_text("" if name == "empty.txt" else "the film was good .\n")
    output = tmp_path / "run"
    backbone = tiny_preset if source == "tiny" else mlm_source
    assert (
        main(
            _fit_args(
                toy_files,
                backbone,
                output,
                "--report-forgetting",
                str(corpus),
                "--forgetting-probe",
                "mlm",
                *extra,
            )
        )
        == 2
    )
    error = capsys.readouterr().err
    assert error.startswith("tlnlp fit: error: ") and message in error
    assert len(error.strip().splitlines()) == 1 and "Traceback" not in error
    assert not os.path.exists(output / "model.keras")


@pytest.mark.parametrize(
    "task, probe, message",
    [
        ("summarization", None, "no forgetting probe applies to --task summarization"),
        (
            "text-classification",
            "lm",
            "--forgetting-probe lm does not apply to --task text-classification; "
            "it takes sts or mlm",
        ),
        ("language-modeling", "sts", "it takes lm"),
    ],
)
def test_cli_probe_that_does_not_apply_to_the_task(
    tiny_preset, toy_files, tmp_path, capsys, task, probe, message
):
    corpus = tmp_path / "held_out.txt"
    corpus.write_text("the film was good .\n")
    output = tmp_path / "run"
    if task == "text-classification":
        args = _fit_args(toy_files, tiny_preset, output)
    else:
        # A pair table for summarization, plain text for language modelling.
        train = tmp_path / ("train.tsv" if task == "summarization" else "train.txt")
        train.write_text("source\ttarget\nthe film was good .\tgood\n")
        args = ["fit", "--task", task, "--train", str(train)]
        args += ["--backbone", tiny_preset, "--output", str(output)]
    args += ["--report-forgetting", str(corpus)]
    if probe is not None:
        args += ["--forgetting-probe", probe]
    assert main(args) == 2
    error = capsys.readouterr().err
    assert error.startswith("tlnlp fit: error: ") and message in error
    assert "Traceback" not in error and not os.path.exists(output / "model.keras")
