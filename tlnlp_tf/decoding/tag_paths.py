"""The best tag sequence a tag scheme allows, from per-word tag scores.

A softmax tagger scores each word's tags independently; its argmax can
break the scheme (`O` then `I-ARG1`, `B-ARG0` then `I-ARG1`). Instead of
repairing such tags afterwards, `allowed_path` finds the sequence with the
highest total log-probability among those the scheme allows: Viterbi with
transition scores 0 (allowed) or minus infinity (not), the transitions of
`tlnlp_tf.layers.tag_transitions.allowed_transitions` (what the CRF decodes under,
without learned transition scores). This is the constrained decoding of
He et al. ("Deep Semantic Role Labeling: What Works and What's Next", 2017)
and AllenNLP's SRL and NER taggers.

Example:

```python
import numpy as np
from tlnlp_tf.layers.tag_transitions import allowed_transitions
tags = ["O", "B-ARG0", "I-ARG0"]
log_probs = np.log([[0.6, 0.3, 0.1], [0.1, 0.2, 0.7]])
allowed_path(log_probs, *allowed_transitions(tags))  # [1, 2]: B-ARG0 I-ARG0
```
(the argmax, `[0, 2]`, would be `O I-ARG0`).
"""

import numpy as np

from tlnlp_tf.errors import PolicyError
from tlnlp_tf.layers.tag_transitions import TagSchemeError
from tlnlp_tf.layers.tag_transitions import allowed_transitions

# How a softmax head's tag scores become tags: each word's argmax (an I-X
# that continues nothing is then read as B-X), the most probable path the
# tag scheme allows, or "auto": the allowed path when the tags follow a
# scheme (IOB2, BIOES, ...), else the argmax (tags such as POS tags). A CRF
# head always decodes by its own Viterbi.
DECODINGS = ("auto", "argmax", "allowed")


def allowed_path(log_probs, start, pairs, end):
    """Tag ids `[n]` of the best allowed path through `log_probs` `[n, K]`.

    `start [K]`, `pairs [K, K]` and `end [K]` are boolean: which tags may
    begin a sequence, follow one another, and end one.
    """
    log_probs = np.asarray(log_probs, np.float64)
    count = len(log_probs)
    if count == 0:
        return np.zeros(0, np.int64)
    transitions = np.where(pairs, 0.0, -np.inf)
    score = np.where(start, log_probs[0], -np.inf)
    back = np.zeros(log_probs.shape, np.int64)
    for step in range(1, count):
        candidates = score[:, None] + transitions  # [previous, next]
        back[step] = candidates.argmax(axis=0)
        score = candidates.max(axis=0) + log_probs[step]
    path = [int(np.where(end, score, -np.inf).argmax())]
    for step in range(count - 1, 0, -1):
        path.append(int(back[step, path[-1]]))
    return np.array(path[::-1], np.int64)


def scheme_transitions(tags):
    """`allowed_transitions(tags)`; a tag set it cannot read is a `PolicyError`
    that says so for `decoding="allowed"`."""
    try:
        return allowed_transitions(tags)
    except TagSchemeError as error:
        raise PolicyError(
            f"decoding='allowed' follows the tag scheme, but {error.reason}. Use "
            "decoding='argmax'."
        ) from None


class TagDecoding:
    """A tagger's `decoding` (`"auto"`, `"argmax"` or `"allowed"`), checked
    when set.

    Mixed into `TokenClassifier` and `WordTagger` (which have `tags`):
    setting `model.decoding = "allowed"` on a trained model reads the tag
    scheme's transitions once (a tag set with no scheme is a `PolicyError`;
    under `"auto"` it decodes by argmax), and `decode(probs)` then gives the
    path of one sequence. `decodes_allowed_paths` says which applies.
    """

    @property
    def decoding(self):
        return self._decoding

    @decoding.setter
    def decoding(self, value):
        if value not in DECODINGS:
            raise PolicyError(f"decoding must be one of {DECODINGS}, got {value!r}.")
        allowed = None
        if value == "allowed":
            allowed = scheme_transitions(self.tags)
        elif value == "auto":
            try:
                allowed = allowed_transitions(self.tags)
            except PolicyError:
                pass  # no tag scheme: each word's argmax
        self._allowed = allowed
        self._decoding = value

    @property
    def decodes_allowed_paths(self):
        """Whether `decode` takes the allowed path (else each word's argmax)."""
        return self._allowed is not None

    def decode(self, probs):
        """Tag ids `[n]` of one sequence's tag probabilities `[n, K]`."""
        if self._allowed is not None:
            return allowed_path(np.log(np.maximum(probs, 1e-30)), *self._allowed)
        return np.asarray(probs).argmax(-1)
