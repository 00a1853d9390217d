"""ROUGE, BLEU, chrF and perplexity: known values, and the libraries' own numbers."""

import math
import sys

import pytest
import sacrebleu
from rouge_score import rouge_scorer

from tlnlp_tf.errors import DataError
from tlnlp_tf.errors import PolicyError
from tlnlp_tf.extras import MissingExtra
from tlnlp_tf.metrics import bleu
from tlnlp_tf.metrics import chrf
from tlnlp_tf.metrics import perplexity
from tlnlp_tf.metrics import rouge

PREDICTIONS = [
    "the cat sat on the mat",
    "a quick brown fox jumps over the lazy dog",
    "it is raining today in the city",
]
REFERENCES = [
    "the cat is on the mat",
    "the quick brown fox jumped over a lazy dog",
    "today it rains in town",
]


def test_identical_texts_score_100():
    texts = ["the cat sat on the mat", "a dog ran in the park today"]
    assert rouge(texts, texts) == pytest.approx(
        {"rouge1": 100.0, "rouge2": 100.0, "rougeL": 100.0, "rougeLsum": 100.0}
    )
    assert bleu(texts, texts) == pytest.approx(100.0)
    assert chrf(texts, texts) == pytest.approx(100.0)


def test_rouge_by_hand():
    # 6 words each, 5 shared unigrams: P = R = F = 5/6. Bigrams: 3 of 5.
    # LCS "the cat on the mat": 5 of 6.
    scores = rouge(["the cat sat on the mat"], ["the cat is on the mat"])
    assert scores["rouge1"] == pytest.approx(500 / 6)
    assert scores["rouge2"] == pytest.approx(60.0)
    assert scores["rougeL"] == pytest.approx(500 / 6)
    assert scores["rougeLsum"] == pytest.approx(500 / 6)
    # Stemming: "jumped" and "jumps" match.
    assert rouge(["jumps"], ["jumped"])["rouge1"] == pytest.approx(100.0)
    assert rouge([""], ["something"])["rouge1"] == 0.0


def test_rouge_is_the_mean_of_rouge_score_and_the_best_reference():
    scorer = rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeL"], use_stemmer=True)
    expected = {
        name: 100
        * sum(
            scorer.score(r, p)[name].fmeasure for p, r in zip(PREDICTIONS, REFERENCES)
        )
        / 3
        for name in ("rouge1", "rouge2", "rougeL")
    }
    scores = rouge(PREDICTIONS, REFERENCES)
    for name, value in expected.items():
        assert scores[name] == pytest.approx(value)
    # A second, worse reference changes nothing; a better one wins.
    several = rouge(PREDICTIONS[:1], [[REFERENCES[0], "a dog"]])
    assert several["rouge1"] == pytest.approx(scores_of(0)["rouge1"])
    assert rouge(PREDICTIONS[:1], [["a dog", PREDICTIONS[0]]])["rouge1"] == 100.0


def scores_of(i):
    return rouge([PREDICTIONS[i]], [REFERENCES[i]])


def test_bleu_and_chrf_equal_sacrebleu_corpus_scores():
    assert bleu(PREDICTIONS, REFERENCES) == pytest.approx(
        sacrebleu.corpus_bleu(PREDICTIONS, [REFERENCES]).score
    )
    assert chrf(PREDICTIONS, REFERENCES) == pytest.approx(
        sacrebleu.corpus_chrf(PREDICTIONS, [REFERENCES]).score
    )
    assert chrf(PREDICTIONS, REFERENCES, word_order=2) == pytest.approx(
        sacrebleu.corpus_chrf(PREDICTIONS, [REFERENCES], word_order=2).score
    )
    # Corpus-level: not the mean of the sentence scores.
    sentences = [bleu([p], [r]) for p, r in zip(PREDICTIONS, REFERENCES)]
    assert bleu(PREDICTIONS, REFERENCES) != pytest.approx(sum(sentences) / 3)


def test_several_references_per_prediction_even_a_varying_number():
    second = ["a cat sat on the mat", "a quick brown fox jumps over the lazy dog"]
    references = [[REFERENCES[0], second[0]], [REFERENCES[1], second[1]], REFERENCES[2]]
    streams = [REFERENCES, second + [None]]
    assert bleu(PREDICTIONS, references) == pytest.approx(
        sacrebleu.corpus_bleu(PREDICTIONS, streams).score
    )
    assert bleu(PREDICTIONS, references) > bleu(PREDICTIONS, REFERENCES)
    assert chrf(PREDICTIONS, references) == pytest.approx(
        sacrebleu.corpus_chrf(PREDICTIONS, streams).score
    )


def test_bleu_tokenizers():
    zh = ["这部电影很好看", "我喜欢这本书"]
    refs = ["这部电影很好看", "我很喜欢这本书"]
    assert bleu(zh, refs, tokenize="zh") == pytest.approx(
        sacrebleu.corpus_bleu(zh, [refs], tokenize="zh").score
    )
    with pytest.raises(PolicyError, match="unknown tokenize 'moses'; expected one of"):
        bleu(zh, refs, tokenize="moses")


def test_perplexity():
    assert perplexity(math.log(50)) == pytest.approx(50.0)
    assert perplexity(0.0) == 1.0
    assert perplexity([2.0, 3.0], token_counts=[300, 100]) == pytest.approx(
        math.exp(2.25)
    )
    assert perplexity(1e6) == math.inf
    with pytest.raises(DataError, match="a negative log-likelihood is a number >= 0"):
        perplexity(-1.0)
    with pytest.raises(DataError, match="2 nll values but 1 token_counts"):
        perplexity([1.0, 2.0], token_counts=[3])
    with pytest.raises(DataError, match="no tokens"):
        perplexity([1.0], token_counts=[0])


@pytest.mark.parametrize(
    "predictions, references, words",
    [
        (["a", "b"], ["a"], "2 predictions but 1 references"),
        ([], [], "no predictions to score"),
        ("a text", ["a"], "predictions must be a list of strings, got str"),
        (["a"], "a", "references must be a list (one per prediction), got str"),
        (["a"], [[]], "references item 1 is an empty list"),
        (["a", None], ["a", "b"], "predictions[1] is NoneType; expected a string"),
    ],
)
def test_bad_inputs_are_one_line_data_errors(predictions, references, words):
    for metric in (rouge, bleu, chrf):
        with pytest.raises(DataError) as error:
            metric(predictions, references)
        assert words in str(error.value) and "\n" not in str(error.value)


def test_missing_extra_names_the_pip_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "sacrebleu", None)
    with pytest.raises(MissingExtra, match=r'pip install "tlnlp_tf\[generation\]"'):
        bleu(["a"], ["a"])
    monkeypatch.setitem(sys.modules, "rouge_score", None)
    monkeypatch.setitem(sys.modules, "rouge_score.rouge_scorer", None)
    with pytest.raises(MissingExtra, match=r"rouge_score is not installed"):
        rouge(["a"], ["a"])
