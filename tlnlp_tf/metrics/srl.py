"""Argument-level precision, recall and F1 for semantic role labelling.

CoNLL-2005 semantics (`srl-eval.pl`), on BIO tags, one tag sequence per
predicate instance: an argument is a span read from the tags as entities
are (`get_entities`: an `I-X` that continues nothing starts a span); it is
correct only when its role, start and end all match; the predicate's own
spans (`V`, and `C-V` for the second part of a split predicate) are not
arguments and are left out. Reference arguments (`R-ARG0`) are roles of
their own.

Continuation arguments (`C-ARG1`) are roles of their own by default
(`continuations="separate"`), as span-F1 scorers such as `seqeval` count
them. `srl-eval.pl` itself joins each `C-X` piece to the `X` argument
before it, and counts the joined argument once, correct only when every
piece is: `continuations="join"`. On data with no `C-` tags the two agree.

Example:

```python
truth = [["B-ARG0", "B-V", "B-ARG1", "I-ARG1"]]
guess = [["B-ARG0", "B-V", "B-ARG1", "O"]]
print(format_srl_report(srl_scores(truth, guess)))  # ARG0 right, ARG1 too short
```
"""

import collections

from tlnlp_tf.metrics.entities import get_entities

CONTINUATIONS = ("separate", "join")
_PREDICATE = ("V", "C-V")


def argument_spans(tags, continuations="separate"):
    """The arguments in one instance's BIO tags: `[(role, pieces)]`.

    `pieces` is a tuple of `(start, end)` word spans (`end` exclusive): one
    span, or under `continuations="join"` the `X` span and its `C-X` pieces.

    Example:

    ```python
    tags = ["B-ARG0", "I-ARG0", "B-V", "B-ARG1", "O", "B-C-ARG1"]
    argument_spans(tags)  # [("ARG0", ((0, 2),)), ("ARG1", ((3, 4),)),
                          #  ("C-ARG1", ((5, 6),))]
    argument_spans(tags, continuations="join")
    # [("ARG0", ((0, 2),)), ("ARG1", ((3, 4), (5, 6)))]
    ```
    """
    if continuations not in CONTINUATIONS:
        raise ValueError(
            f"continuations must be one of {CONTINUATIONS}, got {continuations!r}."
        )
    arguments, latest = [], {}
    for role, start, end in get_entities(tags):
        if continuations == "join" and role.startswith("C-"):
            base = role[2:]
            if base in latest:  # continue the last argument of that role
                index = latest[base]
                arguments[index] = (base, arguments[index][1] + ((start, end),))
                continue
            role = base  # a continuation with no head is a plain argument
        latest[role] = len(arguments)
        arguments.append((role, ((start, end),)))
    return [argument for argument in arguments if argument[0] not in _PREDICATE]


def srl_scores(true_tags, predicted_tags, continuations="separate"):
    """Micro precision/recall/F1 over arguments (`V` excluded), and per role.

    Args:
        true_tags, predicted_tags: lists of instances, each a list of BIO
            tags (one per word, one instance per predicate).
        continuations: `"separate"` (`C-X` a role of its own) or `"join"`
            (`C-X` pieces joined to their `X`, as `srl-eval.pl` does).

    Returns:
        `{"precision", "recall", "f1", "per_role": {role: {"precision",
        "recall", "f1", "support"}}}`.

    Example:

    ```python
    truth = [["B-ARG0", "B-V", "B-ARG1", "I-ARG1"]]
    guess = [["B-ARG0", "B-V", "B-ARG1", "O"]]
    scores = srl_scores(truth, guess)
    assert (scores["precision"], scores["recall"]) == (0.5, 0.5)
    assert scores["per_role"]["ARG0"]["f1"] == 1.0
    ```
    """
    if len(true_tags) != len(predicted_tags):
        raise ValueError(
            f"{len(true_tags)} true instances but {len(predicted_tags)} predicted."
        )
    truth, guess = set(), set()
    for index, (a, b) in enumerate(zip(true_tags, predicted_tags)):
        if len(a) != len(b):
            raise ValueError(
                f"Instance {index}: {len(a)} true tags but {len(b)} predicted."
            )
        truth.update((index, *arg) for arg in argument_spans(a, continuations))
        guess.update((index, *arg) for arg in argument_spans(b, continuations))
    per_role = {}
    for role in sorted({argument[1] for argument in truth | guess}):
        t = {argument for argument in truth if argument[1] == role}
        g = {argument for argument in guess if argument[1] == role}
        per_role[role] = dict(_prf(len(t & g), len(g), len(t)), support=len(t))
    return dict(_prf(len(truth & guess), len(guess), len(truth)), per_role=per_role)


def format_srl_report(scores):
    """A per-role text table of `srl_scores` output.

    Example:

    ```python
    print(format_srl_report(srl_scores([["B-ARG0", "B-V"]], [["B-ARG0", "B-V"]])))
    # role       precision    recall        f1  support
    # ARG0          1.0000    1.0000    1.0000        1
    # (all)         1.0000    1.0000    1.0000        1
    ```
    """
    rows = collections.OrderedDict(sorted(scores["per_role"].items()))
    rows["(all)"] = dict(scores, support=sum(r["support"] for r in rows.values()))
    width = max(10, *(len(role) for role in rows))
    lines = [
        f"{'role':<{width}} {'precision':>9} {'recall':>9} {'f1':>9} {'support':>8}"
    ]
    for role, row in rows.items():
        lines.append(
            f"{role:<{width}} {row['precision']:>9.4f} {row['recall']:>9.4f} "
            f"{row['f1']:>9.4f} {row['support']:>8}"
        )
    return "\n".join(lines)


def _prf(correct, predicted, actual):
    precision = correct / predicted if predicted else 0.0
    recall = correct / actual if actual else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1}
