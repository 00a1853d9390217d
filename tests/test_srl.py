import codecs
import os

import numpy as np
import pytest
from seqeval.metrics import classification_report
from seqeval.metrics import f1_score
from seqeval.metrics import precision_score
from seqeval.metrics import recall_score

from tlnlp_tf.data.srl import Propositions
from tlnlp_tf.data.srl import read_srl
from tlnlp_tf.errors import DataError
from tlnlp_tf.metrics.srl import argument_spans
from tlnlp_tf.metrics.srl import format_srl_report
from tlnlp_tf.metrics.srl import srl_scores

SRL = os.path.join(
    os.path.dirname(__file__), "..", "..", "shared", "data", "srl_ewt_propbank"
)
# One sentence, two predicates: two blocks.
BLOCKS = (
    "The\t0\tB-ARG0\ncat\t0\tI-ARG0\nsaw\t1\tB-V\nbirds\t0\tB-ARG1\nfly\t0\tI-ARG1\n"
    "\n"
    "The\t0\tO\ncat\t0\tO\nsaw\t0\tO\nbirds\t0\tB-ARG0\nfly\t1\tB-V\n"
)


def _write(tmp_path, text, name="srl.tsv", encoding="utf-8"):
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return str(path)


def test_reads_blocks_with_predicates_and_tags(tmp_path):
    data = read_srl(_write(tmp_path, BLOCKS + "\n\n"))
    assert len(data) == 2 and data.lines == [1, 7]
    assert data.words == [["The", "cat", "saw", "birds", "fly"]] * 2
    assert data.predicates == [2, 4]
    assert data.tags[1] == ["O", "O", "O", "B-ARG0", "B-V"]
    assert data.tag_names() == ["O", "B-ARG0", "I-ARG0", "B-ARG1", "I-ARG1"] + [
        "B-V",
        "I-V",
    ]
    (sentence, predicate), tags = next(iter(data.to_dataset()))
    assert sentence.numpy() == b"The cat saw birds fly" and int(predicate) == 2
    assert tags.numpy() == b"B-ARG0 I-ARG0 B-V B-ARG1 I-ARG1"
    assert data.sample(1, seed=0).predicates in ([2], [4])
    assert data.check_tags(data.tag_names()) is data
    # The first tag outside the set: the second block's first word (line 7).
    with pytest.raises(DataError, match=r"srl.tsv, line 7: tag 'O' was not seen"):
        data.check_tags(["B-ARG0", "I-ARG0", "B-V", "B-ARG1", "I-ARG1"])
    # A byte-order mark and CRLF line ends read the same.
    windows = codecs.BOM_UTF8.decode() + BLOCKS.replace("\n", "\r\n")
    again = read_srl(_write(tmp_path, windows, "crlf.tsv"))
    assert (again.words, again.predicates, again.tags, again.lines) == (
        data.words,
        data.predicates,
        data.tags,
        data.lines,
    )


def test_columns_are_chosen_and_tags_optional(tmp_path):
    text = "1 Cats B-ARG0 0\n2 sleep B-V 1\n\n1 Go B-V 1\n"
    data = read_srl(_write(tmp_path, text), 1, predicate_column=-1, tag_column=2)
    assert data.words == [["Cats", "sleep"], ["Go"]] and data.predicates == [1, 0]
    assert data.tags == [["B-ARG0", "B-V"], ["B-V"]]
    unlabelled = read_srl(_write(tmp_path, text), 1, -1, tag_column=None)
    assert unlabelled.tags is None
    sentence, predicate = next(iter(unlabelled.to_dataset()))
    assert sentence.numpy() == b"Cats sleep" and int(predicate) == 1
    # An I- that continues nothing starts its span (IOB2).
    dangling = read_srl(_write(tmp_path, "a\t0\tI-ARG0\nb\t1\tB-V\n", "d.tsv"))
    assert dangling.tags == [["B-ARG0", "B-V"]]
    assert Propositions([["Go"]], [0]).lines == [1]


@pytest.mark.parametrize(
    "text, options, where, says",
    [
        ("a\t0\tO\nb\t0\tB-V\n\nc\t1\tB-V\n", {}, "line 1", "marks no predicate"),
        ("a\t1\tB-V\nb\t0\tO\nc\t1\tB-V\n", {}, "line 3", "second predicate"),
        ("a\t0\tO\nb\tyes\tB-V\n", {}, "line 2", "'yes'; expected 0 or 1"),
        ("a\t1\tB-V\n", {"predicate_column": 5}, "line 1", "column 5 does not"),
        ("a\t1\tB-V\n", {"tag_column": 1}, "line 1", "different columns"),
        ("a\t1\tB-V\nb\t0\tE-ARG0\n", {}, "line 2", "tag 'E-ARG0'"),
        ("a\t1\tB-V\nb\t0\tARG0\n", {}, "line 2", "tag 'ARG0'"),
        ("a\t1\tB-V\nb\t0\n", {}, "line 2", "expected 3 columns"),
    ],
)
def test_malformed_files_name_file_and_line(tmp_path, text, options, where, says):
    path = _write(tmp_path, text)
    with pytest.raises(DataError, match=says) as error:
        read_srl(path, **options)
    message = str(error.value)
    assert message.startswith(f"{path}, {where}:") and "\n" not in message


def test_empty_file_and_bad_column_type(tmp_path):
    with pytest.raises(DataError, match="no predicate blocks"):
        read_srl(_write(tmp_path, "\n\n"))
    with pytest.raises(DataError, match="token_column must be an integer"):
        read_srl(_write(tmp_path, "a\t1\tB-V\n"), token_column="0")


TRUTH = [
    ["B-ARG0", "I-ARG0", "B-V", "B-ARG1", "I-ARG1", "B-R-ARG1", "O", "B-C-ARG1"],
    ["O", "B-V", "I-V", "B-ARGM-TMP"],
]
GUESS = [
    ["B-ARG0", "I-ARG0", "B-V", "B-ARG1", "O", "B-R-ARG1", "O", "B-C-ARG1"],
    ["B-ARG2", "B-V", "O", "B-ARGM-TMP"],
]


def test_scores_by_hand():
    # Gold: ARG0, ARG1 (3-5), R-ARG1, C-ARG1, ARGM-TMP; V is not an argument.
    # Predicted: ARG0, ARG1 (3-4, wrong end), R-ARG1, C-ARG1, ARG2, ARGM-TMP.
    scores = srl_scores(TRUTH, GUESS)
    assert scores["precision"] == pytest.approx(4 / 6)
    assert scores["recall"] == pytest.approx(4 / 5)
    assert scores["f1"] == pytest.approx(8 / 11)
    roles = scores["per_role"]
    assert set(roles) == {"ARG0", "ARG1", "ARG2", "ARGM-TMP", "C-ARG1", "R-ARG1"}
    assert roles["ARG1"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 1}
    assert roles["R-ARG1"]["f1"] == roles["C-ARG1"]["f1"] == 1.0
    assert roles["ARG2"]["support"] == 0 and roles["ARG2"]["precision"] == 0.0
    report = format_srl_report(scores)
    assert report.splitlines()[0].split() == [
        "role",
        "precision",
        "recall",
        "f1",
        "support",
    ]
    assert report.splitlines()[-1].split() == [
        "(all)",
        "0.6667",
        "0.8000",
        "0.7273",
        "5",
    ]


def test_joined_continuations_as_srl_eval():
    # ARG1 = (3-5) + C-ARG1 (7-8) is one argument; the guess misses its end.
    scores = srl_scores(TRUTH, GUESS, continuations="join")
    assert (scores["precision"], scores["recall"]) == (3 / 5, 3 / 4)
    assert "C-ARG1" not in scores["per_role"]
    assert argument_spans(["B-C-ARG1", "B-V", "B-ARG0", "B-C-V"], "join") == [
        ("ARG1", ((0, 1),)),  # a continuation with no head is a plain argument
        ("ARG0", ((2, 3),)),
    ]
    with pytest.raises(ValueError, match="continuations"):
        srl_scores(TRUTH, GUESS, continuations="merge")
    with pytest.raises(ValueError, match="Instance 1"):
        srl_scores(TRUTH, [GUESS[0], GUESS[1][:2]])


def test_matches_seqeval_without_the_predicate():
    roles = ["ARG0", "ARG1", "ARGM-TMP", "R-ARG0", "C-ARG1", "V", "C-V"]
    tags = ["O"] + [f"{p}-{r}" for r in roles for p in "BI"]
    rng = np.random.default_rng(0)
    truth = [list(rng.choice(tags, size=rng.integers(1, 12))) for _ in range(300)]
    guess = [[t if rng.random() < 0.7 else rng.choice(tags) for t in s] for s in truth]
    truth = [[str(t) for t in s] for s in truth]
    guess = [[str(t) for t in s] for s in guess]
    scores = srl_scores(truth, guess)

    def no_predicate(sentences):
        return [["O" if t[2:] in ("V", "C-V") else t for t in s] for s in sentences]

    truth, guess = no_predicate(truth), no_predicate(guess)
    assert scores["precision"] == pytest.approx(precision_score(truth, guess))
    assert scores["recall"] == pytest.approx(recall_score(truth, guess))
    assert scores["f1"] == pytest.approx(f1_score(truth, guess))
    report = classification_report(truth, guess, output_dict=True)
    assert set(scores["per_role"]) == set(roles) - {"V", "C-V"}
    for role, row in scores["per_role"].items():
        assert row["f1"] == pytest.approx(report[role]["f1-score"])
        assert row["support"] == report[role]["support"]


@pytest.mark.slow
def test_reads_ewt_propbank_dev():
    path = os.path.join(SRL, "dev.tsv")
    if not os.path.isfile(path):
        pytest.skip(f"no SRL data at {SRL}")
    data = read_srl(path)
    assert len(data) == 4975
    with open(os.path.join(SRL, "dev.meta.tsv"), encoding="utf-8") as meta:
        rows = [line.rstrip("\n").split("\t") for line in meta][1:]
    assert data.predicates == [int(row[2]) for row in rows]
    assert [len(w) for w in data.words] == [int(row[4]) for row in rows]
    assert sum(len(argument_spans(t)) for t in data.tags) == sum(
        int(row[5]) for row in rows
    )
    assert srl_scores(data.tags, data.tags)["f1"] == 1.0
