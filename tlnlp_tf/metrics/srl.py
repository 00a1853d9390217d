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

from tlnlp_tf.metrics.entities import get_entities
from tlnlp_tf.metrics.spans import format_span_report
from tlnlp_tf.metrics.spans import span_scores

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
    scores = span_scores(
        true_tags,
        predicted_tags,
        lambda tags: argument_spans(tags, continuations),
        "instance",
    )
    per_role = scores.pop("per_label")
    return dict(scores, per_role=per_role)


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
    return format_span_report(scores, scores["per_role"], "role")
