"""Tokens on disk: written once, reused by later runs, rewritten when stale."""

import json
import os

import pytest
import tensorflow as tf

import tlnlp_tf as tl
from tlnlp_tf.data.token_cache import RECORD
from tlnlp_tf.data.token_cache import cached_tokens


def _model(tiny_preset):
    return tl.TextClassifier.from_backbone(tiny_preset, labels=["neg", "pos"])


def _ids(dataset):
    return [x["token_ids"].numpy().tolist() for x, _ in dataset]


def test_tokens_on_disk_equal_the_in_memory_cache(tiny_preset, toy_sentiment, tmp_path):
    model = _model(tiny_preset)
    data = tl.data.from_lists(*toy_sentiment)
    on_disk = model.tokenize_once(data, cache_dir=tmp_path / "tokens", cache_key="toy")
    assert int(on_disk.cardinality()) == len(toy_sentiment[0])
    assert _ids(on_disk) == _ids(model.tokenize_once(data))
    record = json.loads((tmp_path / "tokens" / RECORD).read_text())
    assert record["examples"] == 64 and record["identity"]["data"] == "toy"
    history = model.fit(on_disk.shuffle(64, seed=0).batch(16), epochs=1, verbose=0)
    assert history.history["loss"][0] > 0


def test_a_matching_cache_is_reused_and_a_stale_one_rewritten(tmp_path):
    texts = tf.data.Dataset.range(10).map(lambda i: {"token_ids": tf.fill([4], i)})
    folder = tmp_path / "tokens"
    first, reused = cached_tokens(texts, folder, {"max_length": 4}, verbose=0)
    assert not reused and int(first.cardinality()) == 10

    def never_read(i):  # a reused cache does not iterate its input
        raise AssertionError("read")

    untouched = texts.map(lambda x: tf.py_function(never_read, [0], tf.int64))
    again, reused = cached_tokens(untouched, folder, {"max_length": 4}, verbose=0)
    assert reused and [int(x["token_ids"][0]) for x in again] == list(range(10))
    other = texts.take(3)
    third, reused = cached_tokens(other, folder, {"max_length": 8}, verbose=0)
    assert not reused and int(third.cardinality()) == 3


def _numbers(count):
    return tf.data.Dataset.range(count).map(lambda i: {"token_ids": tf.fill([8], i)})


def test_a_killed_write_keeps_its_complete_chunks_and_redoes_the_rest(tmp_path):
    folder = tmp_path / "tokens"
    encoded = []

    def encode_until(stop):
        def record(ids):
            encoded.extend(int(i) for i in ids.numpy()[:, 0])
            if len(encoded) > stop:
                raise RuntimeError("killed")
            return ids

        def encode(batch):
            ids = tf.py_function(record, [batch["token_ids"]], tf.int64)
            return {"token_ids": tf.ensure_shape(ids, [None, 8])}

        return encode

    # 4 inputs a batch, a chunk every 2 batches (64 bytes a row: 512 bytes)
    options = dict(batch_size=4, chunk_bytes=512, verbose=0)
    with pytest.raises(Exception, match="killed"):
        cached_tokens(_numbers(30), folder, {"k": 1}, encode_until(20), **options)
    record = json.loads((folder / RECORD).read_text())
    assert not record["complete"]
    kept = [c["inputs"] for c in record["chunks"]]
    assert kept and set(kept) == {8}  # whole chunks only (inputs 0-7, 8-15…)
    done = sum(kept)
    os.makedirs(folder / "chunks" / f"{len(kept):05d}.partial")  # the kill's
    encoded.clear()
    loaded, reused = cached_tokens(
        _numbers(30), folder, {"k": 1}, encode_until(10**6), **options
    )
    assert not reused and sorted(encoded) == list(range(done, 30))  # the rest only
    assert [int(x["token_ids"][0]) for x in loaded] == list(range(30))
    assert int(loaded.cardinality()) == 30
    assert not any(n.endswith(".partial") for n in os.listdir(folder / "chunks"))
    again, reused = cached_tokens(_numbers(30), folder, {"k": 1}, verbose=0)
    assert reused and int(again.cardinality()) == 30


def test_a_folder_of_other_files_is_refused_not_emptied(tmp_path):
    (tmp_path / "mine.txt").write_text("keep me")
    with pytest.raises(tl.DataError, match="holds other files and no token_cache"):
        cached_tokens(_numbers(3), tmp_path, {"k": 1}, verbose=0)
    assert (tmp_path / "mine.txt").read_text() == "keep me"


def test_a_file_in_the_way_is_a_clear_error(tmp_path):
    (tmp_path / "tokens").write_text("not a folder")
    data = tf.data.Dataset.range(2).map(lambda i: {"token_ids": tf.fill([2], i)})
    with pytest.raises(
        tl.DataError, match="tokens: is a file; the token cache needs a folder"
    ):
        cached_tokens(data, tmp_path / "tokens", {}, verbose=0)


def test_fit_token_cache_is_reused_by_the_next_run(
    tiny_preset, toy_files, tmp_path, capsys
):
    from tlnlp_tf.cli.main import main

    args = ["fit", "--train", toy_files["train"], "--text-column", "sentence"]
    args += ["--label-column", "label", "--backbone", tiny_preset, "--epochs", "1"]
    args += ["--token-cache", str(tmp_path / "tokens")]
    assert main([*args, "--output", str(tmp_path / "a")]) == 0
    assert "Tokenizing the data once, to disk" in capsys.readouterr().err
    assert main([*args, "--output", str(tmp_path / "b")]) == 0
    assert "Reusing the token cache" in capsys.readouterr().err
    first, second = (
        json.loads((tmp_path / run / "metrics.json").read_text()) for run in "ab"
    )
    assert first["train_examples"] == second["train_examples"] == 48
    run = json.loads((tmp_path / "b" / "run.json").read_text())
    assert run["token_cache"] == str(tmp_path / "tokens")
