import pytest

import tlnlp_tf as tl
from tlnlp_tf.data import read_conll
from tlnlp_tf.data.conll import detect_scheme
from tlnlp_tf.data.conll import to_iob2

CONLL = """-DOCSTART- -X- -X- O

EU NNP B-NP B-ORG
rejects VBZ B-VP O
German JJ B-NP B-MISC
call NN I-NP O
. . O O

Peter NNP B-NP B-PER
Blackburn NNP I-NP I-PER
"""


def _write(tmp_path, text, name="a.txt"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_reads_conll2003_layout(tmp_path):
    data = read_conll(_write(tmp_path, CONLL))
    assert data.words == [
        ["EU", "rejects", "German", "call", "."],
        ["Peter", "Blackburn"],
    ]
    assert data.tags[1] == ["B-PER", "I-PER"]
    assert data.lines == [3, 9] and data.scheme == "iob2"
    assert data.tag_names() == [
        "O",
        "B-MISC",
        "I-MISC",
        "B-ORG",
        "I-ORG",
        "B-PER",
        "I-PER",
    ]
    sentence, tags = next(iter(data.to_dataset()))
    assert (
        sentence.numpy() == b"EU rejects German call ."
        and tags.numpy() == b"B-ORG O B-MISC O O"
    )


def test_gzip_shards_are_read_in_order_and_errors_name_the_shard(tmp_path):
    import gzip

    shards = tmp_path / "shards"
    shards.mkdir()
    second = "Anna NNP B-NP B-PER\nsang VBD B-VP O\n\nOslo NNP B-NP B-LOC\n"
    for name, text in (("part-0.txt.gz", CONLL), ("part-1.txt.gz", second)):
        with gzip.open(shards / name, "wt", encoding="utf-8") as file:
            file.write(text)
    data = read_conll(str(shards / "*.txt.gz"))
    assert data.words == [
        ["EU", "rejects", "German", "call", "."],
        ["Peter", "Blackburn"],
        ["Anna", "sang"],
        ["Oslo"],
    ]
    part1 = str(shards / "part-1.txt.gz")
    assert data.lines[2:] == [(part1, 1), (part1, 4)]
    one = read_conll(str(shards / "part-0.txt.gz"))  # one gzip file
    assert one.words == data.words[:2] and one.lines == [3, 9]
    with pytest.raises(tl.DataError, match=r"part-1\.txt\.gz, line 4: tag 'B-LOC'"):
        data.check_tags(["O", "B-PER", "I-PER", "B-ORG", "B-MISC"])
    with gzip.open(shards / "part-2.txt.gz", "wt", encoding="utf-8") as file:
        file.write("Oslo NNP B-LOC\n")  # 3 columns where the others have 4
    with pytest.raises(tl.DataError, match=r"part-2\.txt\.gz, line 1: tag column"):
        read_conll(str(shards / "*.txt.gz"), tag_column=3)
    with pytest.raises(tl.DataError, match="matches no file"):
        read_conll(str(tmp_path / "none-*.txt"))


def test_other_columns_and_chinese_characters(tmp_path):
    data = read_conll(
        _write(tmp_path, "NNP EU B-ORG\nVBZ x O\n"), token_column=1, tag_column=2
    )
    assert data.words == [["EU", "x"]]
    msra = read_conll(_write(tmp_path, "中 B-NS\n国 I-NS\n人 O\n\n京 S-NS\n", "m.ner"))
    assert msra.words == [["中", "国", "人"], ["京"]] and msra.scheme == "bioes"
    assert msra.tags == [["B-NS", "I-NS", "O"], ["B-NS"]]


@pytest.mark.parametrize(
    "tags, scheme, iob2",
    [
        (
            ["I-PER", "I-PER", "O", "I-LOC", "B-LOC"],
            "iob1",
            ["B-PER", "I-PER", "O", "B-LOC", "B-LOC"],
        ),
        (["B-PER", "E-PER", "S-LOC", "O"], "bioes", ["B-PER", "I-PER", "B-LOC", "O"]),
        (["B-NR", "M-NR", "E-NR", "S-NS"], "bmes", ["B-NR", "I-NR", "I-NR", "B-NS"]),
        (["B-PER", "I-PER", "O", "B-LOC"], "iob2", ["B-PER", "I-PER", "O", "B-LOC"]),
    ],
)
def test_schemes_detected_and_converted(tags, scheme, iob2):
    assert detect_scheme([tags]) == scheme
    assert to_iob2(tags, scheme) == iob2


def test_bad_conll_input(tmp_path):
    with pytest.raises(
        tl.DataError,
        match=r"a.txt, line 4: expected 4 columns like the first token line, found 2",
    ):
        read_conll(_write(tmp_path, "EU NNP B-NP B-ORG\nx y z O\n\nPeter B-PER\n"))
    with pytest.raises(
        tl.DataError, match=r"a.txt, line 2: tag 'PER' is not 'O' or PREFIX-TYPE"
    ):
        read_conll(_write(tmp_path, "EU B-ORG\nPeter PER\n"))
    with pytest.raises(
        tl.DataError, match=r"a.txt, line 2: tag 'S-PER' is not in the IOB2 scheme"
    ):
        read_conll(_write(tmp_path, "EU B-ORG\nPeter S-PER\n"), scheme="iob2")
    with pytest.raises(
        tl.DataError, match="tag column 5 does not exist; the line has 2 columns"
    ):
        read_conll(_write(tmp_path, "EU B-ORG\n"), tag_column=5)
    with pytest.raises(tl.DataError, match="no sentences found"):
        read_conll(_write(tmp_path, "-DOCSTART- -X- O\n\n"))
    data = read_conll(_write(tmp_path, "EU B-ORG\n\nParis B-LOC\n"))
    with pytest.raises(
        tl.DataError, match=r"line 3: tag 'B-LOC' was not seen in training"
    ):
        data.check_tags(["O", "B-ORG", "I-ORG"])


def test_split_words_offsets_slice_the_text():
    text = "Angela Merkel visited Paris, didn't she? 北京欢迎你"
    words = tl.data.split_words(text)
    assert all(text[start:end] == word for word, start, end in words)
    assert [w for w, _, _ in words][:6] == [
        "Angela",
        "Merkel",
        "visited",
        "Paris",
        ",",
        "didn",
    ]
    assert [w for w, _, _ in words][-5:] == ["北", "京", "欢", "迎", "你"]
