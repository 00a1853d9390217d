"""Streaming readers: globs, gzip shards, reservoir samples, errors per line."""

import collections
import gzip
import json

import pytest

import tlnlp_tf as tl
from tlnlp_tf.data import loading
from tlnlp_tf.data.reservoir import reservoir_sample
from tlnlp_tf.data.streams import data_files
from tlnlp_tf.data.streams import text_lines

HEADER = "sentence\tlabel\n"


def _shards(folder, count=3, rows=50, zipped=True):
    """`count` TSV shards of `rows` rows each; row i of shard k is `k-i`."""
    paths = []
    for k in range(count):
        body = HEADER + "".join(f"text {k}-{i}\t{i % 2}\n" for i in range(rows))
        path = folder / (f"train-{k}.tsv" + (".gz" if zipped else ""))
        if zipped:
            with gzip.open(path, "wt", encoding="utf-8") as file:
                file.write(body)
        else:
            path.write_text(body, encoding="utf-8")
        paths.append(path)
    return paths


def test_a_glob_of_gzip_shards_reads_every_row_in_order(tmp_path):
    _shards(tmp_path)
    examples = loading.load_examples(
        str(tmp_path / "train-*.tsv.gz"), "sentence", "label"
    )
    assert len(examples) == 150
    assert examples.texts[:2] == ["text 0-0", "text 0-1"]
    assert examples.texts[-1] == "text 2-49"
    assert examples.lines[50] == f"{tmp_path / 'train-1.tsv.gz'}, line 2"
    assert examples.label_names() == ["0", "1"]


def test_limit_samples_the_stream_with_the_seed(tmp_path):
    _shards(tmp_path)
    pattern = str(tmp_path / "train-*.tsv.gz")
    first = loading.load_examples(pattern, "sentence", "label", limit=20, seed=3)
    again = loading.load_examples(pattern, "sentence", "label", limit=20, seed=3)
    other = loading.load_examples(pattern, "sentence", "label", limit=20, seed=4)
    assert len(first) == 20 and len(set(first.texts)) == 20
    assert first.texts == again.texts and first.texts != other.texts
    order = [
        (int(t.split()[1].split("-")[0]), int(t.split("-")[1])) for t in first.texts
    ]
    assert order == sorted(order)  # the sample keeps the files' order
    assert {t.split()[1].split("-")[0] for t in first.texts} == {"0", "1", "2"}


def test_a_small_plain_file_draws_the_same_sample_as_before(tmp_path):
    (path,) = _shards(tmp_path, count=1, zipped=False)
    sample = loading.load_examples(path, "sentence", "label", limit=7, seed=5)
    whole = tl.data.load_table(path, "sentence", "label").sample(7, seed=5)
    assert sample.texts == whole.texts and sample.lines == whole.lines


def test_a_plain_file_over_the_threshold_streams(tmp_path, monkeypatch):
    (path,) = _shards(tmp_path, count=1, rows=400, zipped=False)
    monkeypatch.setattr(loading, "STREAM_BYTES", 1000)
    assert loading.is_streamed([str(path)])
    examples = loading.load_examples(path, "sentence", "label", limit=10, seed=0)
    assert len(examples) == 10 and all(isinstance(n, int) for n in examples.lines)
    assert all(
        line == int(t.split("-")[1]) + 2
        for t, line in zip(examples.texts, examples.lines)
    )


def test_reservoir_sample_is_uniform_and_keeps_order():
    counts = collections.Counter()
    for seed in range(2000):
        sample = reservoir_sample(iter(range(40)), 4, seed=seed)
        assert sample == sorted(sample) and len(set(sample)) == 4
        counts.update(sample)
    expected = 2000 * 4 / 40  # 200 per item
    assert len(counts) == 40
    assert all(abs(n - expected) < 0.3 * expected for n in counts.values()), counts
    assert reservoir_sample(range(3), 10) == [0, 1, 2]


def test_reservoir_sample_reads_the_whole_stream():
    seen = []

    def items():
        for i in range(10_000):
            seen.append(i)
            yield i

    sample = reservoir_sample(items(), 5, seed=0)
    assert len(seen) == 10_000 and len(sample) == 5
    assert max(sample) > 100  # not just the first rows


def test_jsonl_gzip_streams_with_numeric_labels(tmp_path):
    path = tmp_path / "reviews.jsonl.gz"
    with gzip.open(path, "wt", encoding="utf-8") as file:
        for i in range(30):
            file.write(json.dumps({"text": f"review {i}", "stars": i % 5}) + "\n")
    examples = loading.load_examples(path, "text", "stars", limit=6, seed=0)
    assert len(examples) == 6 and set(examples.labels) <= {"0", "1", "2", "3", "4"}


def test_stream_examples_is_a_dataset_read_as_it_is_iterated(tmp_path):
    _shards(tmp_path, rows=10)
    data = loading.stream_examples(
        str(tmp_path / "*.tsv.gz"), "sentence", "label", labels=["0", "1"]
    )
    rows = [(x.decode(), y.decode()) for x, y in data.as_numpy_iterator()]
    assert len(rows) == 30 and rows[0] == ("text 0-0", "0")
    assert len(list(data.batch(8))) == 4  # a second pass reads the files again


def test_a_glob_that_matches_nothing_is_an_error(tmp_path):
    with pytest.raises(
        tl.DataError, match=r"train-\*\.tsv: the pattern matches no file"
    ):
        loading.load_examples(str(tmp_path / "train-*.tsv"), "sentence", "label")


def test_a_shard_with_another_header_names_it(tmp_path):
    paths = _shards(tmp_path, count=2, zipped=False)
    paths[1].write_text("text\tlabel\nx\t1\n")
    with pytest.raises(tl.DataError) as error:
        loading.load_examples(str(tmp_path / "*.tsv"), "sentence", "label", limit=5)
    assert str(error.value) == (
        f"{paths[1]}, line 1: the header (text, label) differs from the first "
        "file's (sentence, label); every shard needs the same columns."
    )


def test_a_truncated_gzip_shard_names_the_shard(tmp_path):
    paths = _shards(tmp_path, count=2, rows=2000)
    data = paths[1].read_bytes()
    paths[1].write_bytes(data[: len(data) // 2])
    with pytest.raises(
        tl.DataError, match=r"train-1\.tsv\.gz, line \d+: the gzip data ends early"
    ):
        loading.load_examples(str(tmp_path / "*.tsv.gz"), "sentence", "label", limit=5)


def test_bad_utf8_halfway_through_a_shard_names_the_line(tmp_path):
    path = tmp_path / "big.tsv.gz"
    with gzip.open(path, "wb") as file:
        file.write(HEADER.encode())
        for i in range(5000):
            file.write(f"text {i}\t1\n".encode())
        file.write(b"caf\xe9\t0\n")
    with pytest.raises(tl.DataError) as error:
        loading.load_examples(path, "sentence", "label", limit=10)
    assert str(error.value).startswith(
        f"{path}, line 5002, column 4: byte 0xe9 is not valid UTF-8"
    )


@pytest.mark.parametrize(
    "line, message",
    [
        ("only-one-field\n", "line 4: expected 2 fields (sentence, label), found 1."),
        ("\t1\n", "line 4: column 'sentence' is empty; every example needs a text."),
    ],
)
def test_a_bad_row_in_a_stream_names_its_line(tmp_path, line, message):
    path = tmp_path / "train.tsv.gz"
    with gzip.open(path, "wt", encoding="utf-8") as file:
        file.write(HEADER + "a\t1\nb\t0\n" + line + "c\t1\n")
    with pytest.raises(tl.DataError) as error:
        loading.load_examples(path, "sentence", "label")
    assert str(error.value) == f"{path}, {message}"


def test_a_label_outside_the_known_ones_stops_the_stream(tmp_path):
    path = tmp_path / "valid.tsv.gz"
    with gzip.open(path, "wt", encoding="utf-8") as file:
        file.write(HEADER + "a\t1\nb\t7\n")
    data = loading.stream_examples(path, "sentence", "label", labels=["0", "1"])
    with pytest.raises(
        Exception, match=r"valid\.tsv\.gz, line 3: label '7' was not seen"
    ):
        list(data.as_numpy_iterator())


def test_text_lines_drop_the_bom_and_line_breaks(tmp_path):
    path = tmp_path / "corpus.txt"
    path.write_bytes(b"\xef\xbb\xbfone\r\ntwo\xe2\x80\xa8still two\n")
    assert list(text_lines(path)) == [(1, "one"), (2, "two\u2028still two")]
    assert data_files([path]) == [str(path)]


def test_fit_streams_gzip_shards_with_limit(tiny_preset, tmp_path):
    from conftest import toy_examples

    from tlnlp_tf.cli.main import main

    for k in range(2):
        texts, labels = toy_examples(40, seed=k)
        with gzip.open(tmp_path / f"train-{k}.tsv.gz", "wt", encoding="utf-8") as file:
            file.write(HEADER + "".join(f"{t}\t{l}\n" for t, l in zip(texts, labels)))
    output = tmp_path / "run"
    args = ["fit", "--train", str(tmp_path / "train-*.tsv.gz"), "--text-column"]
    args += ["sentence", "--label-column", "label", "--backbone", tiny_preset]
    args += ["--epochs", "1", "--limit", "24", "--output", str(output)]
    assert main(args) == 0
    metrics = json.loads((output / "metrics.json").read_text())
    assert metrics["train_examples"] == 24
    assert json.loads((output / "labels.json").read_text()) == ["neg", "pos"]


def test_batch_by_length_groups_a_stream_in_a_bounded_window(tmp_path):
    for k in range(3):
        rows = "".join(f"{k}-{i}{' w' * ((i * 7) % 30)}\t1\n" for i in range(40))
        with gzip.open(tmp_path / f"s{k}.tsv.gz", "wt", encoding="utf-8") as file:
            file.write(HEADER + rows)
    data = loading.stream_examples(str(tmp_path / "*.tsv.gz"), "sentence", "label")
    assert int(data.cardinality()) == -2  # unknown: never counted in memory
    grouped = list(tl.data.batch_by_length(data, 8, group=5, seed=0))
    texts = [t.decode() for x, _ in grouped for t in x.numpy()]
    assert sorted(t.split()[0] for t in texts) == sorted(
        f"{k}-{i}" for k in range(3) for i in range(40)
    )

    def padding(batches):  # characters of padding to each batch's longest text
        lengths = [[len(t) for t in x.numpy()] for x, _ in batches]
        return sum(max(row) * len(row) - sum(row) for row in lengths)

    assert padding(grouped) < padding(data.batch(8)) / 3


def test_a_gzip_corpus_glob_is_sampled_while_read(tmp_path):
    from tlnlp_tf.pretraining import read_corpus

    for k in range(2):
        with gzip.open(tmp_path / f"corpus-{k}.txt.gz", "wt", encoding="utf-8") as file:
            file.write("".join(f"document {k}-{i}\n\n" for i in range(500)))
    pattern = str(tmp_path / "corpus-*.txt.gz")
    assert len(read_corpus(pattern)) == 1000  # blank lines skipped
    sample = read_corpus(pattern, limit=50, seed=1)
    assert len(sample) == 50 and sample == read_corpus(pattern, limit=50, seed=1)
    assert {text.split()[1][0] for text in sample} == {"0", "1"}


def test_a_small_corpus_file_draws_the_same_sample_as_before(tmp_path):
    import numpy as np

    from tlnlp_tf.pretraining import read_corpus

    path = tmp_path / "reviews.txt"
    texts = [f"review {i}" for i in range(300)]
    path.write_text("\n".join(texts) + "\n", encoding="utf-8")
    order = np.random.default_rng(7).permutation(300)[:20]  # the CLI's old sample
    assert read_corpus(path, limit=20, seed=7) == [texts[i] for i in sorted(order)]


def test_on_bad_line_skip_leaves_out_and_counts_bad_rows(tmp_path):
    path = tmp_path / "train.tsv"
    path.write_bytes(
        HEADER.encode()
        + b"good one\t1\n"
        + b"caf\xe9\t0\n"  # line 3: not UTF-8
        + b"too\tmany\tfields\n"  # line 4
        + b"\t1\n"  # line 5: empty text
        + b"good two\t0\n"
    )
    with pytest.warns(UserWarning, match=r"skipped 3 bad line\(s\).*line 3, column 4"):
        examples = loading.load_examples(path, "sentence", "label", on_bad_line="skip")
    assert examples.texts == ["good one", "good two"]
    assert examples.lines == [2, 6] and examples.skipped == 3
    with pytest.raises(tl.DataError, match="line 3, column 4: byte 0xe9"):
        loading.load_examples(path, "sentence", "label")
    with pytest.raises(tl.PolicyError, match="on_bad_line must be one of error, skip"):
        loading.load_examples(path, "sentence", "label", on_bad_line="ignore")


def test_on_bad_line_skip_in_a_jsonl_stream(tmp_path):
    path = tmp_path / "reviews.jsonl.gz"
    with gzip.open(path, "wt", encoding="utf-8") as file:
        file.write('{"text": "fine", "stars": 4}\nnot json\n{"text": "ok"}\n')
        file.write('{"text": "bad", "stars": 1}\n')
    data = loading.stream_examples(path, "text", "stars", on_bad_line="skip")
    with pytest.warns(UserWarning, match="skipped 2 bad line"):
        rows = [(x.decode(), y.decode()) for x, y in data.as_numpy_iterator()]
    assert rows == [("fine", "4"), ("bad", "1")]


def test_fit_on_bad_line_skip_reports_the_count(tiny_preset, tmp_path, capsys):
    from conftest import toy_examples

    from tlnlp_tf.cli.main import main

    texts, labels = toy_examples(24)
    rows = "".join(f"{t}\t{l}\n" for t, l in zip(texts, labels))
    (tmp_path / "train.tsv").write_text(HEADER + rows + "broken row\n" + "\tpos\n")
    args = ["fit", "--train", str(tmp_path / "train.tsv"), "--text-column"]
    args += ["sentence", "--label-column", "label", "--backbone", tiny_preset]
    args += ["--epochs", "1", "--output", str(tmp_path / "run")]
    assert main(args) == 2  # stops before training, naming the line
    assert "train.tsv, line 26: expected 2 fields" in capsys.readouterr().err
    assert not (tmp_path / "run" / "model.keras").exists()
    assert main([*args, "--on-bad-line", "skip"]) == 0
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["skipped_lines"] == {"train": 2} and metrics["train_examples"] == 24


def test_on_bad_line_skip_is_refused_where_it_does_not_apply(tmp_path):
    from tlnlp_tf.tasks import registry

    task = registry.get_task("token-classification")
    with pytest.raises(tl.PolicyError, match="not available for --task token-cl"):
        task.read_sample(tmp_path / "train.txt", {}, on_bad_line="skip")


def test_stream_true_keeps_counts_not_rows(tmp_path):
    _shards(tmp_path)
    train = loading.load_examples(
        str(tmp_path / "train-*.tsv.gz"), "sentence", "label", stream=True
    )
    assert isinstance(train, tl.data.StreamedExamples) and not hasattr(train, "texts")
    assert len(train) == 150 and train.label_counts == {"0": 75, "1": 75}
    assert train.label_names() == ["0", "1"]
    rows = [(x.numpy().decode(), y.numpy().decode()) for x, y in train.to_dataset()]
    assert rows[0] == ("text 0-0", "0") and rows[-1] == ("text 2-49", "1")
    assert len(rows) == 150
    with pytest.raises(tl.DataError, match=r"train-0.tsv.gz, line 3: label '1' was"):
        train.check_labels(["0"])
    with pytest.raises(tl.DataError, match="has no examples|at least two"):
        one = tl.data.StreamedExamples([], "t", "l", count=1, label_counts={"a": 1})
        one.label_names()


def test_stream_true_checks_numeric_targets_by_line(tmp_path):
    body = HEADER + "a\t0.5\nb\t1.5\nc\tnan\n"
    with gzip.open(tmp_path / "train.tsv.gz", "wt") as file:
        file.write(body)
    train = loading.load_examples(
        str(tmp_path / "train.tsv.gz"), "sentence", "label", stream=True
    )
    with pytest.raises(tl.DataError, match=r"train.tsv.gz, line 4: target 'nan'"):
        train.check_numeric()


def test_fit_streams_the_whole_training_set_to_disk(tiny_preset, tmp_path, capsys):
    from conftest import toy_examples

    from tlnlp_tf.cli.main import main

    for k in range(2):
        texts, labels = toy_examples(40, seed=k)
        with gzip.open(tmp_path / f"train-{k}.tsv.gz", "wt", encoding="utf-8") as file:
            file.write(HEADER + "".join(f"{t}\t{l}\n" for t, l in zip(texts, labels)))
    output = tmp_path / "run"
    args = ["fit", "--train", str(tmp_path / "train-*.tsv.gz"), "--text-column"]
    args += ["sentence", "--label-column", "label", "--backbone", tiny_preset]
    args += ["--epochs", "1", "--output", str(output)]
    args += ["--token-cache", str(tmp_path / "tokens")]
    assert main(args) == 0
    err = capsys.readouterr().err
    assert "80 training examples streamed from" in err
    assert "Tokenizing the data once, to disk" in err
    metrics = json.loads((output / "metrics.json").read_text())
    assert metrics["train_examples"] == 80
    record = json.loads((tmp_path / "tokens" / "token_cache.json").read_text())
    assert record["complete"] and record["examples"] == 80
    assert json.loads((output / "labels.json").read_text()) == ["neg", "pos"]
