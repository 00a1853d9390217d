"""Masked-LM pretraining on a streamed corpus: packed blocks, steps, resume."""

import gzip
import json
import os
import random

import keras
import keras_hub
import pytest

import tlnlp_tf as tl
from tlnlp_tf.cli.main import main
from tlnlp_tf.pretraining import masked_blocks
from tlnlp_tf.pretraining import pretrain_masked_lm_stream
from tlnlp_tf.pretraining import stream_corpus

WORDS = "the a film was good bad dull great plot acting music long".split()


def _corpus(folder, shards=2, lines=60):
    """Gzip shards of random sentences (a blank line every 10)."""
    rng = random.Random(0)
    for k in range(shards):
        with gzip.open(folder / f"corpus-{k}.txt.gz", "wt", encoding="utf-8") as file:
            for i in range(lines):
                words = [rng.choice(WORDS) for _ in range(rng.randint(3, 12))]
                file.write(f"doc {k}-{i} " + " ".join(words) + "\n")
                if i % 10 == 0:
                    file.write("\n")
    return str(folder / "corpus-*.txt.gz")


def test_stream_corpus_reads_the_shards_in_order(tmp_path):
    documents = [d.numpy().decode() for d in stream_corpus(_corpus(tmp_path))]
    assert len(documents) == 120  # blank lines skipped
    assert documents[0].startswith("doc 0-0 ") and documents[-1].startswith("doc 1-59")
    with gzip.open(tmp_path / "empty.txt.gz", "wt") as file:
        file.write("\n \n")
    with pytest.raises(tl.DataError, match="empty.txt.gz: the pretraining corpus is"):
        stream_corpus(str(tmp_path / "empty.txt.gz"))
    (tmp_path / "rows.jsonl").write_text('{"text": "a"}\n')
    with pytest.raises(tl.DataError, match="name the text column"):
        stream_corpus(str(tmp_path / "rows.jsonl"))
    rows = stream_corpus(str(tmp_path / "rows.jsonl"), text_column="text")
    assert [d.numpy() for d in rows] == [b"a"]


def test_masked_blocks_are_packed_full_without_padding(tiny_preset, tmp_path):
    _, classifier_preprocessor = tl.load_backbone(tiny_preset)
    tokenizer = classifier_preprocessor.tokenizer
    preprocessor = keras_hub.models.BertMaskedLMPreprocessor(
        tokenizer=tokenizer, sequence_length=16, mask_selection_length=4
    )
    data = masked_blocks(stream_corpus(_corpus(tmp_path)), preprocessor, 4, shuffle=0)
    x, mask_ids, mask_weights = next(iter(data))
    ids = x["token_ids"].numpy()
    assert ids.shape == (4, 16) and bool(x["padding_mask"].numpy().all())
    assert (ids[:, 0] == tokenizer.start_token_id).all()
    assert (ids[:, -1] == tokenizer.end_token_id).all()
    assert not (ids == tokenizer.pad_token_id).any()
    # documents laid end to end: [SEP] inside blocks too, between documents
    assert (ids[:, 1:-1] == tokenizer.end_token_id).sum() >= 1
    assert float(mask_weights.numpy().sum()) > 0
    assert set(x) == {"token_ids", "padding_mask", "segment_ids", "mask_positions"}


class _Kill(keras.callbacks.Callback):
    """Stops the run with an error after `step` optimizer steps (a kill)."""

    def __init__(self, step):
        super().__init__()
        self.step = step

    def on_train_batch_end(self, batch, logs=None):
        if int(self.model.optimizer.iterations.numpy()) == self.step:
            raise RuntimeError("killed")


def test_streamed_pretraining_resumes_after_a_kill(tiny_preset, tmp_path):
    corpus = _corpus(tmp_path)
    backup = tmp_path / "backup"
    options = dict(
        steps=6, backup_dir=str(backup), batch_size=4, max_length=16,
        held_out=8, backup_every=2, verbose=0,
    )  # fmt: skip
    with pytest.raises(RuntimeError, match="killed"):
        pretrain_masked_lm_stream(
            tiny_preset, stream_corpus(corpus), callbacks=[_Kill(3)], **options
        )
    assert os.path.isdir(backup)  # the backup of step 2 is kept
    masked_lm, report = pretrain_masked_lm_stream(
        tiny_preset, stream_corpus(corpus), **options
    )
    assert report["resumed_from_step"] == 2 and report["steps"] == 6
    assert int(masked_lm.optimizer.iterations.numpy()) == 6
    assert len(report["history"]["loss"]) == 2  # the 2 epochs left, of 2 steps
    assert set(report["rss_mb"]) == {"6"} and report["rss_mb"]["6"] > 0
    assert report["held_out_documents"] == 8 and report["blocks"] == 24
    assert not os.path.exists(backup)  # removed when training completes


def test_too_little_text_for_one_batch_is_a_clear_error(tiny_preset, tmp_path):
    corpus = tmp_path / "small.txt"
    corpus.write_text("a film\nthe plot\n")
    with pytest.raises(tl.DataError, match="too little text after its first 1"):
        pretrain_masked_lm_stream(
            tiny_preset,
            stream_corpus(str(corpus)),
            steps=2,
            held_out=1,
            max_length=16,
            verbose=0,
        )


def test_cli_pretrain_steps_streams_and_writes_a_preset(tiny_preset, tmp_path, capsys):
    corpus = _corpus(tmp_path)
    output = tmp_path / "domain"
    args = ["pretrain", "--text", corpus, "--backbone", tiny_preset, "--steps", "3"]
    args += ["--batch-size", "4", "--max-length", "16", "--held-out", "8"]
    args += ["--output", str(output)]
    assert main([*args, "--limit", "10"]) == 2
    assert "--limit and --epochs are for a corpus read into memory" in (
        capsys.readouterr().err
    )
    assert main(args) == 0
    report = json.loads((output / "pretrain.json").read_text())
    assert report["streamed"] and report["steps"] == 3 and report["max_length"] == 16
    assert set(report["masked_lm_loss"]) == {"before", "after"}
    assert not (output / "backup").exists()
    backbone, _ = tl.load_backbone(str(output))
    assert backbone.num_layers > 0


def test_cli_pretrain_steps_learns_a_new_vocabulary_from_a_sample(
    tmp_path, monkeypatch
):
    from tlnlp_tf.cli import pretrain

    monkeypatch.setattr(pretrain, "VOCABULARY_SAMPLE", 50)  # of the 120 documents
    corpus = _corpus(tmp_path)
    output = tmp_path / "new-bert"
    args = ["pretrain", "--text", corpus, "--new-vocabulary", "100", "--steps", "2"]
    args += ["--num-layers", "1", "--hidden-dim", "16", "--num-heads", "2"]
    args += ["--batch-size", "4", "--max-length", "16", "--held-out", "8"]
    assert main([*args, "--output", str(output)]) == 0
    report = json.loads((output / "pretrain.json").read_text())
    assert report["streamed"] and report["steps"] == 2
    assert report["weights"] == "random" and report["backbone"] is None
    assert report["new_backbone"]["vocabulary_sample_documents"] == 50
    assert report["new_backbone"]["vocabulary_size"] <= 100
    backbone, preprocessor = tl.load_backbone(str(output))
    assert backbone.num_layers == 1 and backbone.hidden_dim == 16
    assert backbone.vocabulary_size == len(preprocessor.tokenizer.get_vocabulary())
