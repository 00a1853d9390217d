import json

import pytest

import tlnlp_tf as tl
from tlnlp_tf.data import load_jsonl
from tlnlp_tf.data import load_table


def _write(path, text, encoding="utf-8"):
    path.write_bytes(text.encode(encoding) if isinstance(text, str) else text)
    return str(path)


def test_tsv_single_text(tmp_path):
    path = _write(tmp_path / "a.tsv", 'sentence\tlabel\nit\'s "great"\t1\nbad\t0\n')
    dataset = tl.data.read_csv(path, text="sentence", label="label")
    rows = [(t.numpy().decode(), l.numpy().decode()) for t, l in dataset]
    assert rows == [('it\'s "great"', "1"), ("bad", "0")]  # TSV: quotes are text


def test_csv_pairs_with_quoting_and_bom(tmp_path):
    path = _write(
        tmp_path / "a.csv", '\ufeffq,a,y\n"one, two",three,yes\nfour,five,no\n'
    )
    examples = load_table(path, text="q", text_pair="a", label="y")
    assert examples.texts == ["one, two", "four"] and examples.pairs == [
        "three",
        "five",
    ]
    (first, second), label = next(iter(examples.to_dataset()))
    assert (
        first.numpy() == b"one, two" and second.numpy() == b"three" and label == b"yes"
    )


def test_jsonl_and_lists(tmp_path):
    lines = [{"text": "good", "label": "pos"}, {"text": "bad", "label": "neg"}]
    path = _write(
        tmp_path / "a.jsonl", "\n".join(json.dumps(l) for l in lines) + "\n\n"
    )
    examples = load_jsonl(path, text="text", label="label")
    assert examples.texts == ["good", "bad"] and examples.label_names() == [
        "neg",
        "pos",
    ]
    dataset = tl.data.from_lists(["x", "y"], [1, 0])
    assert [l.numpy() for _, l in dataset] == [b"1", b"0"]


def test_label_names_sort_numerically_and_sample_is_seeded(tmp_path):
    body = "".join(f"t{i}\t{i % 11}\n" for i in range(200))
    examples = load_table(
        _write(tmp_path / "a.tsv", "text\tlabel\n" + body), "text", "label"
    )
    assert examples.label_names() == [str(i) for i in range(11)]
    a, b = examples.sample(20, seed=3), examples.sample(20, seed=3)
    assert a.texts == b.texts and len(a) == 20
    assert examples.sample(20, seed=4).texts != a.texts
    assert a.lines == [int(t[1:]) + 2 for t in a.texts]  # line numbers travel along


@pytest.mark.parametrize(
    "content, message",
    [
        (
            "sentence\tlabel\nfine\t1\nonly-one-field\n",
            r"a.tsv, line 3: expected 2 fields \(sentence, label\), found 1",
        ),
        (
            "sentence\tlabel\nfine\t1\n \t0\n",
            r"a.tsv, line 3: column 'sentence' is empty",
        ),
        ("sentence\tlabel\nfine\t\n", r"a.tsv, line 2: column 'label' is empty"),
        (
            "text\tlabel\nfine\t1\n",
            r"a.tsv: no column 'sentence'; the header has: text, label",
        ),
        ("", r"a.tsv: the file is empty"),
        ("sentence\tlabel\n", r"a.tsv: no examples after the header"),
    ],
)
def test_bad_tables(tmp_path, content, message):
    path = _write(tmp_path / "a.tsv", content)
    with pytest.raises(tl.DataError, match=message):
        load_table(path, "sentence", "label")


def test_non_utf8_names_line_and_column(tmp_path):
    path = _write(tmp_path / "a.tsv", b"sentence\tlabel\ngood\t1\ncaf\xe9\t0\n")
    with pytest.raises(
        tl.DataError, match=r"a.tsv, line 3, column 4: byte 0xe9 is not valid UTF-8"
    ):
        load_table(path, "sentence", "label")


def test_missing_file(tmp_path):
    with pytest.raises(tl.DataError, match="no such file"):
        tl.data.read_csv(str(tmp_path / "nope.csv"), text="t")


def test_unseen_label_names_line(tmp_path):
    path = _write(tmp_path / "dev.tsv", "sentence\tlabel\nok\tpos\nhm\tmaybe\n")
    with pytest.raises(
        tl.DataError, match=r"dev.tsv, line 3: label 'maybe' was not seen in training"
    ):
        tl.data.read_csv(path, text="sentence", label="label", labels=["neg", "pos"])


def test_bad_jsonl(tmp_path):
    path = _write(tmp_path / "a.jsonl", '{"text": "ok"}\n{"text": oops}\n')
    with pytest.raises(tl.DataError, match=r"a.jsonl, line 2: not valid JSON"):
        load_jsonl(path, "text")
    path = _write(tmp_path / "b.jsonl", '{"text": "ok"}\n{"body": "x"}\n')
    with pytest.raises(tl.DataError, match=r"b.jsonl, line 2: no field 'text'"):
        load_jsonl(path, "text")


def test_from_lists_length_mismatch():
    with pytest.raises(tl.DataError, match="2 texts but 1 labels"):
        tl.data.from_lists(["a", "b"], ["x"])


def test_choose_sequence_length_percentile_and_cap(tiny_preset):
    _, preprocessor = tl.load_backbone(tiny_preset)
    texts = ["good"] * 50 + ["the film was good"] * 50  # 1 and 4 tokens
    assert tl.data.choose_sequence_length(preprocessor.tokenizer, texts) == 8
    long_texts = ["the film was very good and the cast was fun"] * 10  # 10 tokens + 2
    assert tl.data.choose_sequence_length(preprocessor.tokenizer, long_texts) == 16
    with pytest.warns(
        UserWarning, match="10 of 10 sampled texts are longer than max_length=8"
    ):
        assert (
            tl.data.choose_sequence_length(preprocessor.tokenizer, long_texts, limit=8)
            == 8
        )
    pairs = tl.data.choose_sequence_length(
        preprocessor.tokenizer, texts, pairs=long_texts * 10
    )
    assert pairs == 24  # 4 + 10 tokens + 3 specials = 17 -> 24


def test_read_tfds_maps_class_ids_to_names():
    """TFDS's own offline mock builds `imdb_reviews` from its feature spec."""
    import tensorflow_datasets as tfds

    with tfds.testing.mock_data(
        num_examples=6, policy=tfds.testing.MockPolicy.USE_CODE
    ):
        dataset = tl.data.read_tfds("imdb_reviews", "train", text="text", label="label")
        rows = list(dataset.as_numpy_iterator())
        with pytest.raises(
            tl.DataError, match="TFDS 'imdb_reviews': no feature 'review'"
        ):
            tl.data.read_tfds("imdb_reviews", "train", text="review", label="label")
    assert len(rows) == 6
    assert all(
        isinstance(text, bytes) and label in (b"neg", b"pos") for text, label in rows
    )


def test_jsonl_texts_may_hold_unicode_line_separators(tmp_path):
    # IMDB reviews hold U+0085; str.splitlines would cut such a JSON line in two.
    path = tmp_path / "reviews.jsonl"
    texts = ["one\u0085two", "three\u2028four", "five\x0csix"]
    path.write_text(
        "".join(
            json.dumps({"t": t, "y": "a"}, ensure_ascii=False) + "\r\n" for t in texts
        ),
        encoding="utf-8",
    )
    examples = tl.data.load_jsonl(str(path), "t", "y")
    assert examples.texts == texts and examples.lines == [1, 2, 3]


def test_numeric_targets_and_typed_list_labels_are_accepted(tmp_path):
    import numpy as np

    path = _write(tmp_path / "s.tsv", "a\tb\tscore\nx\ty\t4.5\nz\tw\t-1e-3\n")
    rows = list(tl.data.read_csv(path, "a", "score", "b", labels="numeric"))
    assert [label.numpy() for _, label in rows] == [b"4.5", b"-1e-3"]
    dataset = tl.data.from_lists(
        ["a", b"b", np.str_("c")], [np.int64(1), np.float32(0.5), True]
    )
    assert [(t.numpy(), l.numpy()) for t, l in dataset] == [
        (b"a", b"1"),
        (b"b", b"0.5"),
        (b"c", b"True"),
    ]


def test_multi_line_csv_rows_are_numbered_where_they_start(tmp_path):
    path = _write(tmp_path / "a.csv", 'text,label\n"one\ntwo",x\n"three",\n')
    with pytest.raises(tl.DataError, match=r"a.csv, line 4: column 'label' is empty"):
        load_table(path, "text", "label")
