"""`tl.data.templated_examples`: sentences that name each label, added to few labels."""

import functools
import importlib
import json

import keras
import pytest

import tlnlp_tf as tl
from tlnlp_tf.cli.main import main
from tlnlp_tf.errors import DataError


def test_each_label_gets_its_sentence_per_label_times():
    extra = tl.data.templated_examples(
        {"0": "negative", 1: " positive "}, template="It was {}.", per_label=3
    )
    assert extra.texts == ["It was negative."] * 3 + ["It was positive."] * 3
    assert extra.labels == ["0"] * 3 + ["1"] * 3
    assert extra.label_names() == ["0", "1"]
    words = tl.data.templated_examples(["sports", "politics"])
    # setfit's template, 8 copies of each (setfit's default is 2).
    sports, politics = "This sentence is sports", "This sentence is politics"
    assert words.texts == [sports] * 8 + [politics] * 8
    assert words.labels == ["sports"] * 8 + ["politics"] * 8


def test_they_join_data_read_from_a_file(toy_files):
    train = tl.data.read_csv(toy_files["train"], text="sentence", label="label")
    extra = tl.data.templated_examples({"neg": "bad", "pos": "good"})
    joined = train.concatenate(extra.to_dataset())
    last = list(joined.as_numpy_iterator())[-1]
    assert last == (b"This sentence is good", b"pos")


def test_setfit_trains_on_them(tiny_preset, toy_sentiment):
    keras.utils.set_random_seed(0)
    texts, labels = toy_sentiment
    texts, labels = texts[:8], labels[:8]
    extra = tl.data.templated_examples({"neg": "bad", "pos": "good"}, per_label=2)
    model = tl.TextClassifier.from_backbone(
        tiny_preset, labels=["neg", "pos"], freeze="setfit"
    )
    model.preprocessor.sequence_length = 16
    history = model.fit(
        texts + extra.texts,
        labels + extra.labels,
        batch_size=4,
        verbose=0,
        contrastive_iterations=2,
    )
    # One positive and one negative pair per example and iteration.
    assert history.pairs == 2 * 2 * 12
    assert model.predict(["This sentence is good"])["label"][0] in ("neg", "pos")


@pytest.mark.parametrize(
    "args, match",
    [
        (({"0": "neg"}, "This is"), "exactly one '{}'"),
        (({"0": "neg"}, "{} and {}"), "exactly one '{}'"),
        (({"0": "neg"}, "It is {name}"), "exactly one '{}'"),
        (({"0": "neg"}, "It is {"), "template 'It is {'"),
        (({"0": "neg"}, 3), "template must be a string"),
        (({},), "label_words is empty"),
        (("neg",), "must be a dict from label to words or a list"),
        (({"0": ""},), "words of label '0' must be a non-empty string"),
        (({"0": None},), "words of label '0'"),
        (({None: "neg"},), "label None must be a string or an integer"),
    ],
)
def test_bad_input_says_what_was_expected(args, match):
    with pytest.raises(DataError, match=match):
        tl.data.templated_examples(*args)


@pytest.mark.parametrize("per_label", [0, -1, 1.5, True])
def test_per_label_must_be_a_positive_integer(per_label):
    with pytest.raises(DataError, match="per_label must be a positive integer"):
        tl.data.templated_examples(["a", "b"], per_label=per_label)


def test_cli_fit_adds_them(tiny_preset, toy_files, tmp_path, capsys):
    from test_cli import _fit_args

    output = tmp_path / "run"
    extra = ("--limit", "16", "--contrastive-iterations", "2", "--freeze", "setfit")
    words = ("--label-words", "neg=bad,pos=good", "--label-copies", "3")
    assert main(_fit_args(toy_files, tiny_preset, output, *extra, *words)) == 0
    assert (
        "6 templated examples added ('This sentence is bad', "
        "'This sentence is good')" in capsys.readouterr().err
    )
    metrics = json.loads((output / "metrics.json").read_text())
    assert metrics["templated_examples"] == 6
    assert metrics["train_examples"] == 16
    assert metrics["contrastive_pairs"] == 2 * 2 * (16 + 6)
    run = json.loads((output / "run.json").read_text())
    assert run["label_words"] == {"neg": "bad", "pos": "good"}
    assert run["label_copies"] == 3


@pytest.mark.parametrize(
    "words, message",
    [
        (("--label-words", "neg:bad"), "expected LABEL=WORDS items"),
        (("--label-words", "neg=bad,neg=awful"), "label 'neg' is given twice"),
    ],
)
def test_cli_label_words_must_parse(toy_files, tmp_path, capsys, words, message):
    from test_cli import _fit_args

    with pytest.raises(SystemExit) as exit_info:
        main(_fit_args(toy_files, "minilm", tmp_path / "run", *words))
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


@pytest.mark.parametrize(
    "words, message",
    [
        (("--label-words", "neg=bad,good=good"), "label 'good' is not a label of"),
        (("--label-words", "neg=bad", "--label-template", "bad"), "exactly one '{}'"),
        (
            ("--label-words", "neg=bad", "--task", "regression"),
            "--label-words is for --task text-classification",
        ),
    ],
)
def test_cli_label_words_refused_before_training(
    tiny_preset, toy_files, tmp_path, capsys, words, message
):
    from test_cli import _fit_args

    args = _fit_args(toy_files, tiny_preset, tmp_path / "run", "--limit", "8", *words)
    assert main(args) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "run" / "model.keras").exists()


def test_transfer_report_trains_every_run_on_them(tiny_preset, toy_files, monkeypatch):
    module = importlib.import_module("tlnlp_tf.reports.transfer_report")
    seen = []
    train_one = module._train_one

    def spy(strategy, x, y, *args):
        seen.append((strategy, list(x), list(y)))
        return train_one(strategy, x, y, *args)

    monkeypatch.setattr(module, "_train_one", spy)
    train = tl.data.load_table(toy_files["train"], "sentence", "label")
    valid = tl.data.load_table(toy_files["valid"], "sentence", "label")
    extra = tl.data.templated_examples({"neg": "bad", "pos": "good"}, per_label=3)
    report = tl.transfer_report(
        train,
        valid,
        budgets=(4,),
        strategies=("frozen",),
        seeds=1,
        backbone=tiny_preset,
        verbose=False,
        extra_examples=extra,
    )
    ((strategy, x, y),) = seen
    assert x[4:] == extra.texts and y[4:] == extra.labels
    assert len(x) == 4 + 6 and set(x[:4]) <= set(train.texts)
    assert report["extra_examples"] == 6
    assert report["runs"][0]["examples"] == 4  # the budget, not the extras


def test_transfer_report_refuses_extras_that_do_not_fit(tiny_preset, toy_files):
    train = tl.data.load_table(toy_files["train"], "sentence", "label")
    valid = tl.data.load_table(toy_files["valid"], "sentence", "label")
    report = functools.partial(
        tl.transfer_report, train, valid, budgets=(4,), backbone=tiny_preset
    )
    with pytest.raises(DataError, match="label 'positive'"):
        report(extra_examples=tl.data.templated_examples(["neg", "positive"]))
    with pytest.raises(DataError, match="expected labelled tl.data.Examples"):
        report(extra_examples=(["good"], ["pos"]))
    pairs = tl.data.Examples(["a"], pairs=["b"], labels=["pos"])
    with pytest.raises(DataError, match="text pairs, but the training examples are"):
        report(extra_examples=pairs)


def test_cli_transfer_report_adds_them(tiny_preset, toy_files, tmp_path, capsys):
    from test_transfer_report import _report_args

    options = ("--labels", "4", "--strategies", "frozen", "--seeds", "1")
    words = ("--label-words", "neg=bad,pos=good", "--label-copies", "2")
    args = _report_args(toy_files, tmp_path / "out", "--backbone", tiny_preset)
    assert main(args + [*options, *words]) == 0
    assert "also trains on 4 templated examples" in capsys.readouterr().out
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert report["extra_examples"] == 4
    bad = args + [*options, "--label-words", "neg=bad,happy=good"]
    assert main(bad) == 2
    assert "label 'happy' is not a label of" in capsys.readouterr().err
