"""Chinese end to end: a character vocabulary learned from the corpus, MSRA-style NER
(one character per line, B-/I-/S- tags) and sentiment, through the same API and CLI,
with entity offsets on the original string."""

import json

import keras
import numpy as np
import pytest

import tlnlp_tf as tl
from tlnlp_tf.cli.main import main

PEOPLE = ["张三", "李四", "王小明", "赵"]
PLACES = ["北京", "上海", "广州", "港"]
VERBS = ["在", "去", "住在"]
GOOD = ["这家酒店很好，服务周到。", "房间干净，早餐不错。", "位置方便，推荐！"]
BAD = ["房间太小，服务很差。", "早餐难吃，不推荐。", "价格太贵，环境一般。"]


def tags_of(word, kind):
    """MSRA-style tags: S- for a one-character entity, else B- then I-."""
    if len(word) == 1:
        return [f"S-{kind}"]
    return [f"B-{kind}"] + [f"I-{kind}"] * (len(word) - 1)


def sentences(count, seed=0):
    """'<person><verb><place>工作。' as characters with MSRA tags."""
    rng = np.random.default_rng(seed)
    rows = []
    for _ in range(count):
        person, verb = PEOPLE[rng.integers(4)], VERBS[rng.integers(3)]
        place = PLACES[rng.integers(4)]
        chars = list(person + verb + place + "工作。")
        tags = (
            tags_of(person, "NR") + ["O"] * len(verb) + tags_of(place, "NS") + ["O"] * 3
        )
        rows.append((chars, tags))
    return rows


def write_msra(rows, path):
    path.write_text(
        "\n\n".join(
            "\n".join(f"{c} {t}" for c, t in zip(chars, tags)) for chars, tags in rows
        )
        + "\n",
        encoding="utf-8",
    )
    return str(path)


@pytest.fixture(scope="module")
def zh_preset(tmp_path_factory):
    """A 1-layer BERT with a vocabulary learned from the Chinese toy corpus."""
    folder = str(tmp_path_factory.mktemp("zh") / "preset")
    corpus = ["".join(chars) for chars, _ in sentences(40)] + GOOD + BAD
    report = tl.pretraining.new_backbone_preset(
        folder,
        corpus,
        vocabulary_size=300,
        num_layers=1,
        hidden_dim=32,
        num_heads=2,
        max_sequence_length=64,
    )
    assert report["unknown_token_rate"] == 0.0
    return folder


def test_msra_files_read_as_iob2(tmp_path):
    path = write_msra(
        [
            (list("赵在港工作。"), ["S-NR", "O", "S-NS", "O", "O", "O"]),
            (list("张三去北京"), ["B-NR", "I-NR", "O", "B-NS", "I-NS"]),
        ],
        tmp_path / "dev.ner",
    )
    data = tl.data.read_conll(path)
    assert data.words[0] == list("赵在港工作。")
    assert data.tags == [
        ["B-NR", "O", "B-NS", "O", "O", "O"],
        ["B-NR", "I-NR", "O", "B-NS", "I-NS"],
    ]
    assert data.tag_names() == ["O", "B-NR", "I-NR", "B-NS", "I-NS"]


def test_tagger_learns_chinese_entities_with_offsets(zh_preset, tmp_path):
    keras.utils.set_random_seed(0)
    train = tl.data.read_conll(write_msra(sentences(48), tmp_path / "train.ner"))
    tagger = tl.TokenClassifier.from_backbone(zh_preset, tags=train.tag_names())
    tagger.compile(learning_rate=1e-2)
    data = train.to_dataset().shuffle(48, seed=0).repeat(5).batch(16)
    tagger.fit(data, epochs=3, verbose=0)  # 15 passes, 3 dataset iterators
    text = "李四 住在 上海工作。"  # spaces: not tokens, but they shift the offsets
    [entities] = tagger.predict([text])
    assert [(e["text"], e["type"]) for e in entities] == [
        ("李四", "NR"),
        ("上海", "NS"),
    ]
    for entity in entities:
        assert text[entity["start"] : entity["end"]] == entity["text"]
    truth = tl.data.read_conll(write_msra(sentences(16, seed=1), tmp_path / "test.ner"))
    predicted, _ = tagger.predict_tags(truth.words)
    assert tl.metrics.entity_scores(truth.tags, predicted)["f1"] > 0.9


@pytest.mark.extended
def test_chinese_sentiment_and_ner_through_the_cli(zh_preset, tmp_path, capsys):
    rows = [
        f"{label}\t{text}"
        for label, texts in (("1", GOOD), ("0", BAD))
        for text in texts
    ]
    reviews = tmp_path / "reviews.tsv"
    reviews.write_text("label\ttext_a\n" + "\n".join(rows * 4) + "\n", encoding="utf-8")
    output = tmp_path / "sentiment"
    assert (
        main(
            [
                "fit",
                "--train",
                str(reviews),
                "--validation",
                str(reviews),
                "--text-column",
                "text_a",
                "--label-column",
                "label",
                "--backbone",
                zh_preset,
                "--epochs",
                "1",
                "--output",
                str(output),
            ]
        )
        == 0
    )
    texts = tmp_path / "texts.txt"
    texts.write_text("服务很好。\n房间太小。\n", encoding="utf-8")
    capsys.readouterr()
    assert main(["predict", "--model", str(output), "--input", str(texts)]) == 0
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["text"] for r in records] == ["服务很好。", "房间太小。"]
    assert {r["label"] for r in records} <= {"0", "1"}

    train = write_msra(sentences(32), tmp_path / "train.ner")
    valid = write_msra(sentences(8, seed=1), tmp_path / "valid.ner")
    output = tmp_path / "ner"
    assert (
        main(
            [
                "fit",
                "--task",
                "token-classification",
                "--train",
                train,
                "--validation",
                valid,
                "--backbone",
                zh_preset,
                "--epochs",
                "1",
                "--output",
                str(output),
            ]
        )
        == 0
    )
    # S- tags became B- (IOB2) when read: the model's tags.
    assert json.loads((output / "labels.json").read_text()) == [
        "O",
        "B-NR",
        "I-NR",
        "B-NS",
        "I-NS",
    ]
    assert set(json.loads((output / "metrics.json").read_text())["validation"]) == {
        "precision",
        "recall",
        "f1",
        "per_type",
    }
