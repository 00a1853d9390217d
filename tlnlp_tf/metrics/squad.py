"""SQuAD exact match and F1, with the official evaluation script's normalisation."""

import collections
import re
import string

_ARTICLES = re.compile(r"\b(a|an|the)\b", re.UNICODE)
_PUNCTUATION = set(string.punctuation)


def normalize_answer(text):
    """Lower case, drop punctuation and articles, collapse whitespace (official v1.1).

    Example:

    ```python
    assert normalize_answer("The  Denver Broncos!") == "denver broncos"
    ```
    """
    text = text.lower()
    text = "".join(ch for ch in text if ch not in _PUNCTUATION)
    text = _ARTICLES.sub(" ", text)
    return " ".join(text.split())


def exact_match(prediction, truth):
    """1.0 when the normalised answers are equal, else 0.0.

    Example:

    ```python
    assert exact_match("the Broncos", "Broncos") == 1.0
    ```
    """
    return float(normalize_answer(prediction) == normalize_answer(truth))


def token_f1(prediction, truth):
    """F1 of the normalised answers' word overlap.

    An empty answer matches only an empty one.

    Example:

    ```python
    assert token_f1("Denver", "Denver Broncos") == 2 / 3
    ```
    """
    predicted, gold = (
        normalize_answer(prediction).split(),
        normalize_answer(truth).split(),
    )
    if not predicted or not gold:
        return float(predicted == gold)
    common = collections.Counter(predicted) & collections.Counter(gold)
    same = sum(common.values())
    if same == 0:
        return 0.0
    precision, recall = same / len(predicted), same / len(gold)
    return 2 * precision * recall / (precision + recall)


def squad_scores(predictions, answers):
    """`{"exact_match", "f1"}` (fractions 0–1).

    Each question scores its best gold answer.

    Args:
        predictions: one answer text per question.
        answers: per question, its gold answer texts (`[""]` for no answer).

    Example:

    ```python
    squad_scores(["the Broncos"], [["Denver Broncos", "Broncos"]])
    # {"exact_match": 1.0, "f1": 1.0}
    ```
    """
    if len(predictions) != len(answers):
        raise ValueError(
            f"{len(predictions)} predictions for {len(answers)} questions."
        )
    if not predictions:
        raise ValueError("No predictions to score.")
    em = f1 = 0.0
    for prediction, truths in zip(predictions, answers):
        truths = list(truths) or [""]
        em += max(exact_match(prediction, t) for t in truths)
        f1 += max(token_f1(prediction, t) for t in truths)
    return {"exact_match": em / len(predictions), "f1": f1 / len(predictions)}
