"""Micro and per-label precision, recall and F1 over labelled spans.

The counting that entity F1 (`entity_scores`) and SRL argument F1
(`srl_scores`) share: each unit (a sentence, a predicate instance) gives
its spans as `(label, ...)` tuples, a span is correct only when the whole
tuple matches, and the scores are micro averages over all units plus the
same per label.

Example:

```python
from tlnlp_tf.metrics.entities import get_entities

scores = span_scores([["B-PER", "O"]], [["B-PER", "O"]], get_entities)
print(format_span_report(scores, scores["per_label"], "type"))
```
"""

import collections


def span_scores(true_tags, predicted_tags, spans_of, unit="sentence"):
    """Micro precision/recall/F1 over the spans `spans_of` reads, and per label.

    Args:
        true_tags, predicted_tags: lists of units, each a list of tags.
        spans_of: a function from one unit's tags to its spans, each a
            tuple whose first item is the span's label.
        unit: what one unit is called in error messages.

    Returns:
        `{"precision", "recall", "f1", "per_label": {label: {"precision",
        "recall", "f1", "support"}}}`.

    Example:

    ```python
    from tlnlp_tf.metrics.entities import get_entities

    scores = span_scores([["B-LOC", "B-PER"]], [["B-LOC", "O"]], get_entities)
    assert (scores["precision"], scores["recall"]) == (1.0, 0.5)
    assert scores["per_label"]["PER"]["support"] == 1
    ```
    """
    if len(true_tags) != len(predicted_tags):
        raise ValueError(
            f"{len(true_tags)} true {unit}s but {len(predicted_tags)} predicted."
        )
    truth, guess = set(), set()
    for index, (a, b) in enumerate(zip(true_tags, predicted_tags)):
        if len(a) != len(b):
            raise ValueError(
                f"{unit.capitalize()} {index}: {len(a)} true tags but "
                f"{len(b)} predicted."
            )
        truth.update((index, *span) for span in spans_of(a))
        guess.update((index, *span) for span in spans_of(b))
    per_label = {}
    for label in sorted({span[1] for span in truth | guess}):
        t = {span for span in truth if span[1] == label}
        g = {span for span in guess if span[1] == label}
        per_label[label] = dict(_prf(len(t & g), len(g), len(t)), support=len(t))
    return dict(_prf(len(truth & guess), len(guess), len(truth)), per_label=per_label)


def format_span_report(scores, per_label, heading="label"):
    """A per-label text table of span scores, with an `(all)` row.

    Args:
        scores: the micro `precision`, `recall` and `f1`.
        per_label: `{label: {"precision", "recall", "f1", "support"}}`.
        heading: the first column's title.

    Example:

    ```python
    from tlnlp_tf.metrics.entities import get_entities

    scores = span_scores([["B-PER", "O"]], [["B-PER", "O"]], get_entities)
    print(format_span_report(scores, scores["per_label"], "type"))
    # type       precision    recall        f1  support
    # PER           1.0000    1.0000    1.0000        1
    # (all)         1.0000    1.0000    1.0000        1
    ```
    """
    rows = collections.OrderedDict(sorted(per_label.items()))
    rows["(all)"] = dict(scores, support=sum(r["support"] for r in rows.values()))
    width = max(10, *(len(label) for label in rows))
    lines = [
        f"{heading:<{width}} {'precision':>9} {'recall':>9} {'f1':>9} {'support':>8}"
    ]
    for label, row in rows.items():
        lines.append(
            f"{label:<{width}} {row['precision']:>9.4f} {row['recall']:>9.4f} "
            f"{row['f1']:>9.4f} {row['support']:>8}"
        )
    return "\n".join(lines)


def _prf(correct, predicted, actual):
    precision = correct / predicted if predicted else 0.0
    recall = correct / actual if actual else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1}
