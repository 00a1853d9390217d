import numpy as np
import pytest
from seqeval.metrics import f1_score
from seqeval.metrics import precision_score
from seqeval.metrics import recall_score
from seqeval.metrics.sequence_labeling import get_entities as seqeval_entities

from tlnlp_tf.metrics import entity_scores
from tlnlp_tf.metrics import format_report
from tlnlp_tf.metrics import get_entities

TAGS = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC", "B-ORG", "I-ORG"]


def test_hand_made_spans():
    assert get_entities(["B-PER", "I-PER", "O", "B-LOC"]) == [
        ("PER", 0, 2),
        ("LOC", 3, 4),
    ]
    assert get_entities(["I-PER", "I-LOC", "B-LOC", "I-LOC"]) == [
        ("PER", 0, 1),
        ("LOC", 1, 2),
        ("LOC", 2, 4),
    ]
    assert get_entities(["O", "O"]) == []


def test_matches_seqeval_on_random_tag_sequences():
    rng = np.random.default_rng(0)
    truth = [
        [str(t) for t in rng.choice(TAGS, size=rng.integers(1, 15))] for _ in range(300)
    ]
    guess = [
        [t if rng.random() < 0.7 else str(rng.choice(TAGS)) for t in s] for s in truth
    ]
    for sentence in truth[:100]:
        expected = [
            (kind, start, end + 1) for kind, start, end in seqeval_entities(sentence)
        ]
        assert get_entities(sentence) == expected
    scores = entity_scores(truth, guess)
    assert scores["precision"] == pytest.approx(precision_score(truth, guess))
    assert scores["recall"] == pytest.approx(recall_score(truth, guess))
    assert scores["f1"] == pytest.approx(f1_score(truth, guess))
    for kind in ("PER", "LOC", "ORG"):
        assert scores["per_type"][kind]["f1"] == pytest.approx(
            f1_score(truth, guess, average=None)[["LOC", "ORG", "PER"].index(kind)]
        )


def test_mismatched_lengths_name_the_sentence():
    with pytest.raises(ValueError, match="2 true sentences but 1 predicted"):
        entity_scores([["O"], ["O"]], [["O"]])
    with pytest.raises(ValueError, match="Sentence 1: 2 true tags but 1 predicted"):
        entity_scores([["O"], ["B-PER", "O"]], [["O"], ["B-PER"]])


def test_report_rows_sum_their_support():
    scores = entity_scores(
        [["B-PER", "O", "B-LOC"], ["B-PER"]], [["B-PER", "O", "O"], ["O"]]
    )
    lines = format_report(scores).splitlines()
    assert lines[0].split() == ["type", "precision", "recall", "f1", "support"]
    assert [line.split()[0] for line in lines[1:]] == ["LOC", "PER", "(all)"]
    assert lines[-1].split()[1:] == ["1.0000", "0.3333", "0.5000", "3"]
