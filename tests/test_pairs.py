"""Text pairs from CSV/TSV/JSONL and lists; documents and packed LM blocks."""

import json

import numpy as np
import pytest
import tensorflow as tf

import tlnlp_tf as tl
from tlnlp_tf.data import TextPairs
from tlnlp_tf.data import from_pairs
from tlnlp_tf.data import pack_blocks
from tlnlp_tf.data import read_documents
from tlnlp_tf.data import read_pairs
from tlnlp_tf.errors import DataError
from tlnlp_tf.errors import PolicyError


def _write(path, text):
    path.write_bytes(text.encode("utf-8"))
    return str(path)


def _rows(pairs):
    return [(s.numpy().decode(), t.numpy().decode()) for s, t in pairs.to_dataset()]


def test_csv_with_bom_crlf_and_quoted_commas_and_line_breaks(tmp_path):
    path = _write(
        tmp_path / "p.csv",
        '\ufeffid,source,target\r\n1,"Hello, world","Bonjour,\r\nle monde"\r\n'
        '2,"She said ""hi""",Elle a dit bonjour\r\n',
    )
    pairs = read_pairs(path)
    assert isinstance(pairs, TextPairs) and len(pairs) == 2
    assert pairs.sources == ["Hello, world", 'She said "hi"']
    assert pairs.targets == ["Bonjour,\nle monde", "Elle a dit bonjour"]
    assert pairs.lines == [2, 4] and pairs.origin == path
    assert _rows(pairs)[1] == ('She said "hi"', "Elle a dit bonjour")


def test_tsv_and_column_names(tmp_path):
    path = _write(tmp_path / "p.tsv", 'en\tfr\n"quoted" text\tun texte\n\nb\tc\n')
    pairs = read_pairs(path, source="en", target="fr")
    assert pairs.sources == ['"quoted" text', "b"]  # TSV: quotes are text
    assert pairs.targets == ["un texte", "c"] and pairs.lines == [2, 4]
    semicolons = _write(tmp_path / "p.txt.csv", "source;target\na;b\n")
    assert read_pairs(semicolons, delimiter=";").targets == ["b"]


def test_jsonl(tmp_path):
    lines = [
        {"document": "a long text", "summary": "short", "id": 1},
        {"document": "another one", "summary": "brief"},
    ]
    path = _write(
        tmp_path / "p.jsonl", "\r\n".join(json.dumps(l) for l in lines) + "\r\n\r\n"
    )
    pairs = read_pairs(path, source="document", target="summary")
    assert _rows(pairs) == [("a long text", "short"), ("another one", "brief")]
    assert pairs.lines == [1, 2]


def test_empty_source_or_target_names_file_and_line(tmp_path):
    path = _write(tmp_path / "p.csv", "source,target\na,b\nc,  \n")
    with pytest.raises(DataError) as error:
        read_pairs(path)
    assert str(error.value).startswith(f"{path}, line 3: column 'target' is empty")
    path = _write(
        tmp_path / "p.jsonl",
        '{"source": "a", "target": "b"}\n{"source": "", "target": "b"}\n',
    )
    with pytest.raises(DataError, match=r"p\.jsonl, line 2: column 'source' is empty"):
        read_pairs(path)


def test_missing_column_names_the_columns_present(tmp_path):
    path = _write(tmp_path / "p.tsv", "en\tfr\na\tb\n")
    with pytest.raises(DataError) as error:
        read_pairs(path)
    assert str(error.value) == f"{path}: no column 'source'; the header has: en, fr."
    path = _write(tmp_path / "p.jsonl", '{"source": "a", "summary": "b"}\n')
    with pytest.raises(DataError, match="line 1: no field 'target'; the object has: "):
        read_pairs(path)


@pytest.mark.parametrize(
    "kwargs, words",
    [
        (dict(source="x", target="x"), "source and target must be different columns"),
        (dict(target=""), "target must name a column"),
    ],
)
def test_bad_options(tmp_path, kwargs, words):
    path = _write(tmp_path / "p.csv", "source,target\na,b\n")
    with pytest.raises(DataError, match=words):
        read_pairs(path, **kwargs)
    with pytest.raises(DataError, match="delimiter applies to CSV/TSV"):
        read_pairs(_write(tmp_path / "p.jsonl", "{}\n"), delimiter=",")


def test_from_pairs_and_sample():
    pairs = from_pairs(["one", "two", "three", "four"], ["un", "deux", "trois", "4"])
    assert len(pairs) == 4 and pairs.origin == "<lists>"
    sample = pairs.sample(2, seed=1)
    assert len(sample) == 2 and sample.lines == sorted(sample.lines)
    for source, target in zip(sample.sources, sample.targets):
        assert pairs.targets[pairs.sources.index(source)] == target
    assert pairs.sample(None) is pairs
    with pytest.raises(DataError, match="2 sources but 1 targets"):
        from_pairs(["a", "b"], ["c"])
    with pytest.raises(DataError, match="targets item 2 is empty"):
        from_pairs(["a", "b"], ["c", " "])
    with pytest.raises(DataError, match="sources must be a list of strings, got str"):
        from_pairs("a", ["b"])
    with pytest.raises(DataError, match="no pairs"):
        from_pairs([], [])
    assert tl.data.from_pairs is from_pairs


def test_read_documents_by_line_and_by_paragraph(tmp_path):
    path = _write(tmp_path / "d.txt", "\ufefffirst line\r\nsecond\r\n\r\n\r\nthird\r\n")
    by_line = [d.numpy().decode() for d in read_documents(path)]
    assert by_line == ["first line", "second", "third"]
    by_paragraph = [d.numpy().decode() for d in read_documents(path, "paragraph")]
    assert by_paragraph == ["first line\nsecond", "third"]
    with pytest.raises(PolicyError, match="split must be one of line, paragraph"):
        read_documents(path, "sentence")
    blank = _write(tmp_path / "blank.txt", "\n \n")
    with pytest.raises(DataError, match="blank.txt: no documents"):
        read_documents(blank)


def _blocks(dataset):
    return [block.numpy().tolist() for block in dataset]


def test_pack_blocks_exact_contents():
    documents = tf.ragged.constant([[1, 2, 3], [4, 5], [6, 7, 8, 9]])
    ids = tf.data.Dataset.from_tensor_slices(documents)
    # Stream: 1 2 3 0 4 5 0 6 7 8 9 0 (12 ids).
    assert _blocks(pack_blocks(ids, 5, end_of_text_id=0)) == [
        [1, 2, 3, 0, 4],
        [5, 0, 6, 7, 8],
    ]
    assert _blocks(pack_blocks(ids, 4, end_of_text_id=0)) == [
        [1, 2, 3, 0],
        [4, 5, 0, 6],
        [7, 8, 9, 0],
    ]
    assert _blocks(pack_blocks(ids, 3)) == [[1, 2, 3], [4, 5, 6], [7, 8, 9]]
    blocks = pack_blocks(ids, 4, end_of_text_id=0)
    assert blocks.element_spec.shape.as_list() == [4]
    assert blocks.element_spec.dtype == tf.int32
    # Batches of documents (a tokenizer's ragged output) pack the same way.
    batched = ids.ragged_batch(2)
    assert _blocks(pack_blocks(batched, 4, end_of_text_id=0)) == _blocks(blocks)


def test_pack_blocks_in_a_tokenizing_pipeline():
    vocabulary = {"a": 1, "b": 2, "c": 3}
    keys = tf.constant(list(vocabulary))
    table = tf.lookup.StaticHashTable(
        tf.lookup.KeyValueTensorInitializer(keys, tf.constant([1, 2, 3], tf.int64)), 0
    )
    texts = tf.data.Dataset.from_tensor_slices(["a b", "c", "b b a"])
    ids = texts.map(lambda t: table.lookup(tf.strings.split(t)))
    blocks = pack_blocks(ids, 3, end_of_text_id=9).batch(2, drop_remainder=True)
    first = next(iter(blocks)).numpy()
    np.testing.assert_array_equal(first, [[1, 2, 9], [3, 9, 2]])


@pytest.mark.parametrize(
    "args, error, words",
    [
        ((0,), PolicyError, "block_length must be an integer >= 1"),
        ((4, -1), PolicyError, "end_of_text_id must be a token id"),
    ],
)
def test_pack_blocks_bad_options(args, error, words):
    ids = tf.data.Dataset.from_tensor_slices(tf.ragged.constant([[1, 2]]))
    with pytest.raises(error, match=words):
        pack_blocks(ids, *args)


def test_pack_blocks_refuses_padded_or_text_elements():
    padded = tf.data.Dataset.from_tensor_slices(tf.zeros([2, 3, 4], tf.int32))
    with pytest.raises(DataError, match="1-D integer ids of one document"):
        pack_blocks(padded, 4)
    texts = tf.data.Dataset.from_tensor_slices([["a", "b"]])
    with pytest.raises(DataError, match="1-D integer ids"):
        pack_blocks(texts, 4)
    with pytest.raises(DataError, match="must be a tf.data.Dataset, got list"):
        pack_blocks([[1, 2]], 4)
