"""Scores of generated text: ROUGE, BLEU, chrF and perplexity.

ROUGE comes from Google's `rouge-score` and BLEU/chrF from `sacrebleu`, the
implementations papers report; both are the `generation` extra
(`pip install "tlnlp_tf[generation]"`). Scores are on a 0–100 scale.

Each prediction may have several references: give a list of strings for
it instead of one string (`[["a cat", "the cat"], "a dog"]`).

```python
rouge(["the cat sat on the mat"], ["the cat is on the mat"])["rouge1"]  # 83.33
bleu(["the cat sat on the mat"], [["the cat sat on the mat", "a cat sat"]])  # 100.0
```
"""

import math
import numbers

from tlnlp_tf.errors import DataError
from tlnlp_tf.errors import PolicyError
from tlnlp_tf.extras import require

ROUGE_TYPES = ("rouge1", "rouge2", "rougeL", "rougeLsum")


def rouge(predictions, references):
    """ROUGE-1, ROUGE-2, ROUGE-L and ROUGE-Lsum F-measures, ×100, averaged.

    As `rouge_score.rouge_scorer.RougeScorer(..., use_stemmer=True)` scores
    them (its tokenizer lower-cases and keeps only `a-z` and `0-9`, so text
    in other scripts scores 0 here). `rougeL` is the longest common
    subsequence of the whole text; `rougeLsum` is the summary-level LCS over
    sentences given one per line ("\\n"-separated; no sentence splitting is
    done): the number summarization papers report. With several references,
    each prediction scores its best reference, per ROUGE type
    (`score_multi`).

    Args:
        predictions: the generated texts.
        references: per prediction, its reference text or a list of them.

    Returns:
        `{"rouge1": ..., "rouge2": ..., "rougeL": ..., "rougeLsum": ...}`.

    Example:

    ```python
    scores = rouge(["the cat sat on the mat"], ["the cat is on the mat"])
    assert round(scores["rouge2"], 2) == 60.0  # 3 of 5 bigrams
    ```
    """
    predictions, references = _checked("rouge", predictions, references)
    scorer_module = require("rouge_score.rouge_scorer", "generation")
    scorer = scorer_module.RougeScorer(list(ROUGE_TYPES), use_stemmer=True)
    totals = dict.fromkeys(ROUGE_TYPES, 0.0)
    for prediction, targets in zip(predictions, references):
        scores = scorer.score_multi(targets, prediction)
        for name in ROUGE_TYPES:
            totals[name] += scores[name].fmeasure
    return {name: 100.0 * total / len(predictions) for name, total in totals.items()}


def bleu(predictions, references, tokenize="13a"):
    """Corpus BLEU (sacrebleu's defaults: 4-grams, exponential smoothing), 0–100.

    Corpus-level, as machine translation reports it: n-gram counts are
    summed over all predictions before the precisions are taken, so it is
    not the mean of sentence BLEUs. A prediction with several references
    counts its n-grams against all of them.

    Args:
        predictions: the generated texts.
        references: per prediction, its reference text or a list of them.
        tokenize: sacrebleu's tokenizer: `"13a"` (the WMT default), `"intl"`,
            `"zh"`, `"ja-mecab"`, `"char"`, `"none"`, ...

    Example:

    ```python
    score = bleu(["the cat sat on the mat"], ["the cat sat on a mat"])
    assert 0 < score < 100
    ```
    """
    sacrebleu = require("sacrebleu", "generation")
    predictions, references = _checked("bleu", predictions, references)
    allowed = list(sacrebleu.BLEU.TOKENIZERS)
    if tokenize not in allowed:
        raise PolicyError(
            f"bleu: unknown tokenize {tokenize!r}; expected one of "
            f"{', '.join(allowed)}."
        )
    metric = sacrebleu.BLEU(tokenize=tokenize)
    return float(metric.corpus_score(predictions, _streams(references)).score)


def chrf(predictions, references, word_order=0):
    """Corpus chrF (character 6-grams, β = 2), 0–100; chrF++ with `word_order=2`.

    Args:
        predictions: the generated texts.
        references: per prediction, its reference text or a list of them.
        word_order: word n-grams added to the character n-grams (0: chrF,
            2: chrF++).

    Example:

    ```python
    assert chrf(["a small cat"], ["a small cat"]) == 100.0
    ```
    """
    sacrebleu = require("sacrebleu", "generation")
    predictions, references = _checked("chrf", predictions, references)
    if isinstance(word_order, bool) or word_order not in (0, 1, 2):
        raise PolicyError(
            f"chrf: word_order must be 0 (chrF), 1 or 2 (chrF++), got {word_order!r}."
        )
    metric = sacrebleu.CHRF(word_order=word_order)
    return float(metric.corpus_score(predictions, _streams(references)).score)


def perplexity(nll, token_counts=None):
    """`exp` of the mean negative log-likelihood per token (in nats).

    Args:
        nll: the mean NLL per token (a causal LM's cross-entropy `loss`),
            or, with `token_counts`, a list of such means (one per batch or
            document).
        token_counts: the tokens behind each mean in `nll`: the means are
            averaged weighted by them, so every token counts once.

    Returns:
        The perplexity (`inf` when it overflows a float).

    Example:

    ```python
    assert round(perplexity(math.log(50)), 6) == 50.0
    perplexity([2.0, 3.0], token_counts=[300, 100])  # exp(2.25)
    ```
    """
    if token_counts is None:
        mean = _nll("perplexity: nll", nll)
    else:
        if isinstance(nll, (numbers.Real, str)) or isinstance(token_counts, str):
            raise DataError(
                "perplexity: with token_counts, nll must be a list of means "
                "(one per count)."
            )
        nll, token_counts = list(nll), list(token_counts)
        if len(nll) != len(token_counts):
            raise DataError(
                f"perplexity: {len(nll)} nll values but {len(token_counts)} "
                "token_counts; the lists must have the same length."
            )
        total = 0
        weighted = 0.0
        for number, (value, count) in enumerate(zip(nll, token_counts), 1):
            value = _nll(f"perplexity: nll item {number}", value)
            if (
                isinstance(count, bool)
                or not isinstance(count, numbers.Real)
                or not math.isfinite(count)
                or count < 0
            ):
                raise DataError(
                    f"perplexity: token_counts item {number} is {count!r}; "
                    "expected a number of tokens >= 0."
                )
            total += count
            weighted += value * count
        if total <= 0:
            raise DataError("perplexity: no tokens (token_counts add up to 0).")
        mean = weighted / total
    try:
        return math.exp(mean)
    except OverflowError:
        return math.inf


def _nll(what, value):
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise DataError(f"{what} is {value!r}; expected a number.")
    value = float(value)
    if math.isnan(value) or value < 0:
        raise DataError(
            f"{what} is {value}; a negative log-likelihood is a number >= 0."
        )
    return value


def _checked(name, predictions, references):
    """`(predictions, references)` as lists; each reference a non-empty list."""
    predictions = _texts(name, "predictions", predictions)
    if isinstance(references, str) or not hasattr(references, "__iter__"):
        raise DataError(
            f"{name}: references must be a list (one per prediction), got "
            f"{type(references).__name__}."
        )
    references = list(references)
    if len(predictions) != len(references):
        raise DataError(
            f"{name}: {len(predictions)} predictions but {len(references)} "
            "references; give one reference (or a list of them) per prediction."
        )
    if not predictions:
        raise DataError(f"{name}: no predictions to score.")
    checked = []
    for number, targets in enumerate(references, 1):
        if isinstance(targets, str):
            checked.append([targets])
            continue
        targets = _texts(name, f"references item {number}", targets)
        if not targets:
            raise DataError(
                f"{name}: references item {number} is an empty list; every "
                "prediction needs at least one reference."
            )
        checked.append(targets)
    return predictions, checked


def _texts(name, what, values):
    if isinstance(values, str) or not hasattr(values, "__iter__"):
        raise DataError(
            f"{name}: {what} must be a list of strings, got {type(values).__name__}."
        )
    values = list(values)
    for number, value in enumerate(values, 1):
        if not isinstance(value, str):
            raise DataError(
                f"{name}: {what}[{number - 1}] is {type(value).__name__}; "
                "expected a string."
            )
    return values


def _streams(references):
    """sacrebleu's layout: one stream per reference slot, `None` where a
    prediction has fewer references than the most any has."""
    width = max(len(targets) for targets in references)
    return [
        [targets[slot] if slot < len(targets) else None for targets in references]
        for slot in range(width)
    ]
