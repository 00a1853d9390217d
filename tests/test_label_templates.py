"""`tl.data.templated_examples`: sentences that name each label, added to few labels."""

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
