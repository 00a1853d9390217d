"""SRL shards streamed (`read_srl(stream=True)`, `limit=`): the same predicate
instances and tags as the corpus read whole, with nothing held."""

import gzip
import json

import pytest
from test_role_labeler import toy_srl
from test_role_labeler import write_blocks

import tlnlp_tf as tl
from tlnlp_tf.cli.main import main
from tlnlp_tf.data.srl import read_srl
from tlnlp_tf.data.streamed_propositions import StreamedPropositions

FIRST = (
    "Cats\t0\tB-ARG0\nsleep\t1\tB-V\n\n"
    "Dogs\t0\tI-ARG0\nbark\t1\tB-V\nloudly\t0\tB-ARGM-MNR\n"
)
SECOND = "It\t0\tB-ARG1\nrains\t1\tB-V\n\nWe\t0\tB-ARG0\nsaw\t1\tB-V\nit\t0\tB-ARG1\n"


def _shards(folder, texts):
    folder.mkdir(exist_ok=True)
    for index, text in enumerate(texts):
        with gzip.open(folder / f"part-{index}.tsv.gz", "wt", encoding="utf-8") as f:
            f.write(text)
    return str(folder / "part-*.tsv.gz")


def _elements(dataset):
    return [(s.numpy().decode(), int(p), t.numpy().decode()) for (s, p), t in dataset]


def test_streamed_shards_give_what_the_corpus_read_whole_gives(tmp_path):
    glob = _shards(tmp_path / "srl", [FIRST, SECOND])
    held = read_srl(glob)  # read whole
    streamed = read_srl(glob, stream=True)
    assert isinstance(streamed, StreamedPropositions)
    assert not hasattr(streamed, "words")  # counts, not instances
    assert len(streamed) == len(held) == 4
    assert streamed.tag_names() == held.tag_names()
    assert "B-ARGM-MNR" in streamed.tag_names()
    dataset = streamed.to_dataset()
    assert int(dataset.cardinality()) == 4
    assert _elements(dataset) == _elements(held.to_dataset())
    # Twice: read again; the orphan I-ARG0 became B-ARG0 as read whole.
    assert _elements(dataset)[1] == ("Dogs bark loudly", 1, "B-ARG0 B-V B-ARGM-MNR")
    part1 = str(tmp_path / "srl" / "part-1.tsv.gz")
    assert held.lines[2] == (part1, 1)  # (shard, line) when read from several
    names = ["O", "B-ARG0", "I-ARG0", "B-ARGM-MNR", "I-ARGM-MNR", "B-V", "I-V"]
    with pytest.raises(tl.DataError, match=r"part-1\.tsv\.gz, line 1: tag 'B-ARG1'"):
        streamed.check_tags(names)
    with pytest.raises(tl.DataError, match=r"part-1\.tsv\.gz, line 1: tag 'B-ARG1'"):
        held.check_tags(names)
    # A single plain file is still read whole, whatever `stream` says.
    plain = tmp_path / "plain.tsv"
    plain.write_text(FIRST, encoding="utf-8")
    assert read_srl(str(plain), stream=True).words == held.words[:2]


def test_limit_samples_while_streaming(tmp_path):
    blocks = "\n\n".join(f"w{i}\t0\tB-ARG0\nran\t1\tB-V" for i in range(40))
    glob = _shards(tmp_path / "s", [blocks, blocks.replace("w", "v")])
    sample = read_srl(glob, limit=5, seed=1)
    assert len(sample) == 5 and sample.tags == [["B-ARG0", "B-V"]] * 5
    assert sample.predicates == [1] * 5
    assert read_srl(glob, limit=5, seed=1).words == sample.words  # reproducible
    assert read_srl(glob, limit=5, seed=2).words != sample.words
    every = read_srl(glob)
    for words, line in zip(sample.words, sample.lines):
        assert every.words[every.lines.index(line)] == words
    assert len(read_srl(glob, limit=500)) == 80  # fewer than asked: all


def test_bad_shards_are_named_before_training(tmp_path):
    good = "Cats\t0\tB-ARG0\nsleep\t1\tB-V\n"
    cases = {
        "a": ("It\t1\tB-V\nrains\t1\tO\n", r"part-1\.tsv\.gz, line 2: a second"),
        "b": ("It\t0\tO\nrains\t0\tO\n", r"part-1\.tsv\.gz, line 1: the block"),
        "c": ("It\t0\tO\nrains\t2\tB-V\n", r"part-1\.tsv\.gz, line 2: the predicate"),
        "d": ("It\t0\tX\nrains\t1\tB-V\n", r"part-1\.tsv\.gz, line 1: tag 'X'"),
        "e": ("\n\n", r"part-1\.tsv\.gz: no predicate blocks found"),
    }
    for folder, (text, says) in cases.items():
        with pytest.raises(tl.DataError, match=says):
            read_srl(_shards(tmp_path / folder, [good, text]), stream=True)
    with pytest.raises(tl.DataError, match=r"part-1\.tsv\.gz, line 2: a second"):
        read_srl(_shards(tmp_path / "f", [good, cases["a"][0]]), limit=1)


# Opt-in (`make test-extended`): the default run fits on streamed CoNLL
# shards through the CLI (test_streamed_sentences.py), the same dataset
# builder and token cache, and checks above that streamed SRL shards give the
# same elements and tags as the file read whole.
@pytest.mark.extended
def test_fit_on_shards_streams_and_trains_as_the_file_read_whole(
    tiny_preset, tmp_path, capsys
):
    data = toy_srl(24)
    whole = write_blocks(data, tmp_path / "train.tsv")
    blocks = open(whole).read().strip().split("\n\n")
    glob = _shards(
        tmp_path / "shards", ["\n\n".join(blocks[:10]), "\n\n".join(blocks[10:])]
    )
    common = ["--backbone", tiny_preset, "--epochs", "2", "--batch-size", "8"]
    common += ["--task", "semantic-role-labeling", "--validation", whole]
    results = {}
    for name, train in (("whole", whole), ("shards", glob)):
        output = tmp_path / name
        assert main(["fit", "--train", train, "--output", str(output)] + common) == 0
        results[name] = json.loads((output / "metrics.json").read_text())
    err = capsys.readouterr().err
    assert "tlnlp fit: 24 training predicate instances streamed from" in err
    assert err.count("streamed from") == 1  # the file read whole is not streamed
    assert results["shards"]["train_examples"] == 24
    for key in ("precision", "recall", "f1"):
        assert results["shards"]["validation"][key] == pytest.approx(
            results["whole"]["validation"][key], abs=1e-6
        )
    assert results["whole"]["validation"]["f1"] > 0  # not a trivial agreement
