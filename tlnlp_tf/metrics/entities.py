"""Entity spans from IOB2 tags and entity-level precision, recall and F1.

CoNLL (conlleval) semantics, the same as `seqeval`'s default mode: an
entity is a maximal run of `B-X I-X …`; an `I-X` that does not continue an
`X` starts a new entity; an entity counts as correct only when its type,
start and end all match. `seqeval` would pull in scikit-learn for these few
lines, so they are written here; a test checks them against `seqeval`.
"""

import collections


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
    if len(true_tags) != len(predicted_tags):
        raise ValueError(
            f"{len(true_tags)} true sentences but {len(predicted_tags)} predicted."
        )
    truth, guess = set(), set()
    for index, (a, b) in enumerate(zip(true_tags, predicted_tags)):
        if len(a) != len(b):
            raise ValueError(
                f"Sentence {index}: {len(a)} true tags but {len(b)} predicted."
            )
        truth.update((index, *entity) for entity in get_entities(a))
        guess.update((index, *entity) for entity in get_entities(b))
    per_type = {}
    kinds = sorted({entity[1] for entity in truth | guess})
    for kind in kinds:
        t = {e for e in truth if e[1] == kind}
        g = {e for e in guess if e[1] == kind}
        per_type[kind] = dict(_prf(len(t & g), len(g), len(t)), support=len(t))
    return dict(_prf(len(truth & guess), len(guess), len(truth)), per_type=per_type)


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
    lines = [f"{'type':<10} {'precision':>9} {'recall':>9} {'f1':>9} {'support':>8}"]
    rows = collections.OrderedDict(sorted(scores["per_type"].items()))
    rows["(all)"] = dict(scores, support=sum(r["support"] for r in rows.values()))
    for kind, row in rows.items():
        lines.append(
            f"{kind:<10} {row['precision']:>9.4f} {row['recall']:>9.4f} "
            f"{row['f1']:>9.4f} {row['support']:>8}"
        )
    return "\n".join(lines)


def _prf(correct, predicted, actual):
    precision = correct / predicted if predicted else 0.0
    recall = correct / actual if actual else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1}
