"""CoNLL shards streamed (`read_conll(stream=True)`, `limit=`): the same
sentences and tags as the corpus read whole, with nothing held."""

import gzip
import json

import pytest

import tlnlp_tf as tl
from tlnlp_tf.cli.main import main
from tlnlp_tf.data import read_conll
from tlnlp_tf.data.streamed_sentences import StreamedSentences

IOB1 = "EU X I-ORG\nrejects X O\n\nPeter X I-PER\nBlackburn X I-PER\n"
BIOES = "-DOCSTART- X O\n\nAnna X S-PER\nsang X O\n\nNew X B-LOC\nYork X E-LOC\n"


def _shards(folder, texts):
    folder.mkdir(exist_ok=True)
    for index, text in enumerate(texts):
        with gzip.open(folder / f"part-{index}.txt.gz", "wt", encoding="utf-8") as f:
            f.write(text)
    return str(folder / "part-*.txt.gz")


def _elements(dataset):
    return [(s.numpy().decode(), t.numpy().decode()) for s, t in dataset]


def test_streamed_shards_give_what_the_corpus_read_whole_gives(tmp_path):
    glob = _shards(tmp_path / "ner", [IOB1, BIOES])
    held = read_conll(glob)  # read whole, each shard's scheme its own
    streamed = read_conll(glob, stream=True)
    assert isinstance(streamed, StreamedSentences)
    assert not hasattr(streamed, "words")  # counts, not sentences
    assert streamed.schemes == ["iob1", "bioes"]
    assert len(streamed) == len(held) == 4
    assert streamed.tag_names() == held.tag_names()
    dataset = streamed.to_dataset()
    assert int(dataset.cardinality()) == 4
    assert _elements(dataset) == _elements(held.to_dataset())
    assert _elements(dataset)[3] == ("New York", "B-LOC I-LOC")  # twice: re-read
    part1 = str(tmp_path / "ner" / "part-1.txt.gz")
    with pytest.raises(tl.DataError, match=r"part-1\.txt\.gz, line 6: tag 'B-LOC'"):
        streamed.check_tags(["O", "B-ORG", "I-ORG", "B-PER", "I-PER"])
    assert streamed.types["LOC"] == (part1, 6)
    # A single plain file is still read whole, whatever `stream` says.
    plain = tmp_path / "plain.txt"
    plain.write_text(IOB1, encoding="utf-8")
    assert read_conll(str(plain), stream=True).words == held.words[:2]


def test_limit_samples_while_streaming(tmp_path):
    sentences = "\n\n".join(f"w{i} X B-PER\nx X O" for i in range(40))
    glob = _shards(tmp_path / "s", [sentences, sentences.replace("w", "v")])
    sample = read_conll(glob, limit=5, seed=1)
    assert len(sample) == 5 and sample.tags == [["B-PER", "O"]] * 5
    assert read_conll(glob, limit=5, seed=1).words == sample.words  # reproducible
    assert read_conll(glob, limit=5, seed=2).words != sample.words
    every = read_conll(glob)
    for words, line in zip(sample.words, sample.lines):
        index = every.lines.index(line)  # (shard, line) as read whole
        assert every.words[index] == words
    assert len(read_conll(glob, limit=500)) == 80  # fewer than asked: all


def test_bad_shards_are_named_before_training(tmp_path):
    good = "EU X B-ORG\n"
    with pytest.raises(tl.DataError, match=r"part-1\.txt\.gz, line 2: expected 3"):
        read_conll(
            _shards(tmp_path / "a", [good, "EU X B-ORG\nrejects X\n"]), stream=True
        )
    with pytest.raises(tl.DataError, match=r"part-1\.txt\.gz, line 3: tag 'PER'"):
        read_conll(_shards(tmp_path / "b", [good, "a X O\n\nb X PER\n"]), stream=True)
    with pytest.raises(tl.DataError, match=r"part-1\.txt\.gz: no sentences found"):
        read_conll(_shards(tmp_path / "c", [good, "-DOCSTART- X O\n\n"]), stream=True)
    with pytest.raises(tl.DataError, match=r"part-1\.txt\.gz: no sentences found"):
        read_conll(_shards(tmp_path / "d", [good, "\n"]), limit=1)
    only_o = read_conll(_shards(tmp_path / "e", ["a X O\n", "b X O\n"]), stream=True)
    with pytest.raises(tl.DataError, match="every tag is 'O'"):
        only_o.tag_names()


def test_fit_on_shards_streams_and_trains_as_the_file_read_whole(
    tiny_preset, tmp_path, capsys
):
    from test_token_classifier import toy_tagged

    data = toy_tagged(32)
    blocks = [
        "\n".join(f"{w} X {t}" for w, t in zip(words, tags))
        for words, tags in zip(data.words, data.tags)
    ]
    whole = tmp_path / "train.txt"
    whole.write_text("\n\n".join(blocks) + "\n")
    glob = _shards(
        tmp_path / "shards", ["\n\n".join(blocks[:20]), "\n\n".join(blocks[20:])]
    )
    common = ["--backbone", tiny_preset, "--epochs", "2", "--batch-size", "8"]
    common += ["--task", "token-classification", "--validation", str(whole)]
    results = {}
    for name, train in (("whole", str(whole)), ("shards", glob)):
        output = tmp_path / name
        assert main(["fit", "--train", train, "--output", str(output)] + common) == 0
        results[name] = json.loads((output / "metrics.json").read_text())
    err = capsys.readouterr().err
    assert "tlnlp fit: 32 training sentences streamed from" in err
    assert err.count("streamed from") == 1  # the file read whole is not streamed
    assert results["shards"]["train_examples"] == 32
    for key in ("precision", "recall", "f1"):
        assert results["shards"]["validation"][key] == pytest.approx(
            results["whole"]["validation"][key], abs=1e-6
        )
