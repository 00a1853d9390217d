"""Entity spans from IOB2 tags and entity-level precision, recall and F1.

CoNLL (conlleval) semantics, the same as `seqeval`'s default mode: an
entity is a maximal run of `B-X I-X …`; an `I-X` that does not continue an
`X` starts a new entity; an entity counts as correct only when its type,
start and end all match. `seqeval` would pull in scikit-learn for these few
lines, so they are written here; a test checks them against `seqeval`.
"""

from tlnlp_tf.metrics.spans import format_span_report
from tlnlp_tf.metrics.spans import span_scores


def get_entities(tags):
    """`[(type, start, end)]`, `end` exclusive, from one sentence's IOB2 tags.

    Example:

    ```python
    get_entities(["B-PER", "I-PER", "O", "B-LOC"])  # [("PER", 0, 2), ("LOC", 3, 4)]
    ```
    """
    entities, kind, start = [], None, None
    for index, tag in enumerate(list(tags) + ["O"]):
        prefix, tag_kind = (tag[0], tag[2:]) if tag != "O" else ("O", None)
        continues = prefix == "I" and tag_kind == kind
        if kind is not None and not continues:
            entities.append((kind, start, index))
            kind = None
        if prefix in "BI" and not continues:
            kind, start = tag_kind, index
    return entities


def entity_scores(true_tags, predicted_tags):
    """Micro precision/recall/F1 over entities, and the same per type.

    Args:
        true_tags, predicted_tags: lists of sentences, each a list of IOB2 tags.

    Returns:
        `{"precision", "recall", "f1", "per_type": {type: {"precision",
        "recall", "f1", "support"}}}`.

    Example:

    ```python
    truth = [["B-PER", "I-PER", "O", "B-LOC"]]
    guess = [["B-PER", "I-PER", "O", "O"]]
    scores = entity_scores(truth, guess)
    assert (scores["precision"], scores["recall"]) == (1.0, 0.5)
    assert scores["per_type"]["LOC"]["f1"] == 0.0
    ```
    """
    scores = span_scores(true_tags, predicted_tags, get_entities, "sentence")
    per_type = scores.pop("per_label")
    return dict(scores, per_type=per_type)


def format_report(scores):
    """A per-type text table of `entity_scores` output.

    Example:

    ```python
    print(format_report(entity_scores([["B-PER", "O"]], [["B-PER", "O"]])))
    # type       precision    recall        f1  support
    # PER           1.0000    1.0000    1.0000        1
    # (all)         1.0000    1.0000    1.0000        1
    ```
    """
    return format_span_report(scores, scores["per_type"], "type")
