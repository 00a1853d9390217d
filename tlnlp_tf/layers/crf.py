"""A linear-chain CRF output layer and its loss, under a tag scheme's constraints.

Written with `keras.ops` only: the forward algorithm (in log space) and
Viterbi decoding run in the graph, under `tf.function` and XLA, on any
backend's tensors. Mixed precision is fine: the CRF computes in float32.

Example:

```python
crf = CRF(["O", "B-PER", "I-PER"])
emissions = np.random.default_rng(0).normal(size=(2, 4, 3)).astype("float32")
mask = np.array([[1, 1, 1, 0], [1, 1, 1, 1]], bool)
crf.decode(emissions, mask)  # [2, 4] tag ids; never O -> I-PER, never I-PER first
```
"""

import keras
import numpy as np
from keras import ops

from tlnlp_tf.errors import PolicyError
from tlnlp_tf.layers.tag_transitions import TagSchemeError
from tlnlp_tf.layers.tag_transitions import allowed_transitions

# Added to a forbidden transition's score in the likelihood: exp(-1e4) is 0 in
# float32, and the gradients stay finite.
_FORBIDDEN = -1e4


@keras.saving.register_keras_serializable(package="tlnlp_tf")
class CRF(keras.layers.Layer):
    """A linear-chain CRF over per-token tag scores (emissions).

    The layer holds the transition scores `transitions[i, j]` (tag `i`
    followed by tag `j`), `start_transitions` and `end_transitions`. Calling
    it returns the emissions unchanged, so it sits at the end of a model and
    its weights train with it; `CRFLoss(crf)` is the loss for `compile`,
    `log_likelihood` the per-sequence log-likelihood, `decode` the Viterbi
    path.

    **Masks and sub-words.** Every method takes `mask` (`[batch, tokens]`,
    booleans or sample weights, labelled where non-zero). The chain runs
    over the labelled positions only, compacted in order: the tokens a
    tagger leaves out (non-first sub-words of a word, `[CLS]`, `[SEP]`,
    padding) are skipped, so the CRF links consecutive *words*, not
    sub-words. `decode` returns tag 0 at the positions outside the mask.

    **Constraints.** With tag names, the transitions the scheme forbids are
    derived from the names (`allowed_transitions`): under IOB2 an `I-X`
    follows only `B-X` or `I-X`; under BIOES/BMES an `I-X`/`M-X`/`E-X`
    follows only `B-X` or `I-X`/`M-X`, and `O`, `B-`, `S-` follow only `O`,
    `E-`, `S-`. `decode` never returns a forbidden pair, nor a path that
    starts with a continuing tag (`I-`, `M-`, `E-`) or (BIOES/BMES) ends
    with an open one (`B-`, `I-`, `M-`): those scores are `-inf` there. In
    the likelihood a forbidden pair scores -10,000, so it has probability 0
    and a gold path that holds one costs about 10,000 (IOB2 tags from
    `read_conll` hold none); the start and end rules are left out of the
    likelihood, because a training row may be a window cut from a longer
    sentence (`TokenClassifierPreprocessor`) that begins or ends inside a
    span, and `start_transitions`/`end_transitions` learn the rest.

    Args:
        tags: the tag names (`["O", "B-PER", "I-PER", ...]`), or their
            number (no constraints).
        scheme: `"auto"` (IOB2, or BIOES when a tag starts with `E-`/`S-`,
            BMES with `M-`), `"iob2"`, `"bioes"`, `"bmes"`, or `"none"` (no
            constraints). Tags the scheme cannot read are a `PolicyError`.

    Example:

    ```python
    inputs = keras.Input((None, 8))
    crf = CRF(["O", "B-LOC", "I-LOC"], name="crf")
    model = keras.Model(inputs, crf(keras.layers.Dense(3)(inputs)))
    model.compile("adam", loss=CRFLoss(crf))
    x = np.random.default_rng(0).normal(size=(4, 5, 8)).astype("float32")
    y = np.array([[0, 1, 2, 0, 0]] * 4)
    weights = np.array([[1, 1, 1, 1, 0]] * 4, "float32")  # the last token is padding
    model.fit(x, y, sample_weight=weights, epochs=1, verbose=0)
    paths = crf.decode(model.predict(x, verbose=0), weights)  # [4, 5] tag ids
    ```
    """

    def __init__(self, tags, scheme="auto", **kwargs):
        super().__init__(**kwargs)
        try:
            start, pairs, end = allowed_transitions(tags, scheme)
        except TagSchemeError as error:
            raise TagSchemeError(error.reason, error.remedy, "CRF tags") from None
        num_tags = len(pairs)
        # === Weights ===
        self.transitions = self.add_weight(
            shape=(num_tags, num_tags), initializer="zeros", name="transitions"
        )
        self.start_transitions = self.add_weight(
            shape=(num_tags,), initializer="zeros", name="start_transitions"
        )
        self.end_transitions = self.add_weight(
            shape=(num_tags,), initializer="zeros", name="end_transitions"
        )
        # === Config ===
        self.tags = tags if isinstance(tags, (int, np.integer)) else list(tags)
        if isinstance(self.tags, np.integer):
            self.tags = int(self.tags)
        self.scheme = scheme
        self.num_tags = num_tags
        self.allowed_start, self.allowed_pairs, self.allowed_end = start, pairs, end
        self.built = True

    def call(self, inputs):
        return inputs

    def compute_output_shape(self, input_shape):
        return input_shape

    # === The likelihood ===

    def log_likelihood(self, emissions, tags, mask=None):
        """The log-probability of each gold tag path, `[batch]` (0 for empty rows).

        Args:
            emissions: `[batch, tokens, num_tags]` scores (logits).
            tags: `[batch, tokens]` gold tag ids (any value where masked out).
            mask: `[batch, tokens]` booleans or weights; `None` is all labelled.

        Example:

        ```python
        crf = CRF(3)
        emissions = np.zeros((1, 2, 3), "float32")
        crf.log_likelihood(emissions, np.array([[0, 2]]))  # log(1/9): uniform
        ```
        """
        emissions, mask, order, lengths = self._compact(emissions, mask)
        tags = ops.cast(tags, "int32")
        tags = ops.take_along_axis(tags, order, axis=1)
        tags = ops.where(mask, tags, 0)
        pairs = self._constrained(self.transitions, self.allowed_pairs, _FORBIDDEN)
        start = ops.cast(self.start_transitions, "float32")
        end = ops.cast(self.end_transitions, "float32")
        gold = self._path_score(emissions, tags, mask, lengths, pairs, start, end)
        log_partition = self._log_partition(emissions, mask, pairs, start, end)
        return ops.where(lengths > 0, gold - log_partition, 0.0)

    def _path_score(self, emissions, tags, mask, lengths, pairs, start, end):
        emitted = ops.take_along_axis(emissions, tags[:, :, None], axis=2)[:, :, 0]
        score = ops.sum(ops.where(mask, emitted, 0.0), axis=1)
        steps = ops.take(
            ops.reshape(pairs, (-1,)), tags[:, :-1] * self.num_tags + tags[:, 1:]
        )
        score = score + ops.sum(ops.where(mask[:, 1:], steps, 0.0), axis=1)
        last = ops.take_along_axis(tags, ops.maximum(lengths - 1, 0)[:, None], axis=1)
        return score + ops.take(start, tags[:, 0]) + ops.take(end, last[:, 0])

    def _log_partition(self, emissions, mask, pairs, start, end):
        # A while loop with `maximum_iterations`, not `ops.scan`: XLA (Keras's
        # default `jit_compile` on a GPU) differentiates only loops whose
        # number of steps is bounded.
        steps = ops.shape(emissions)[1]

        def step(index, alpha):
            emitted = ops.take(emissions, index, axis=1)
            labelled = ops.take(mask, index, axis=1)[:, None]
            scores = alpha[:, :, None] + pairs[None] + emitted[:, None, :]
            return index + 1, ops.where(labelled, ops.logsumexp(scores, axis=1), alpha)

        alpha = start[None] + emissions[:, 0]
        _, alpha = ops.while_loop(
            lambda index, _: index < steps, step, (1, alpha), maximum_iterations=steps
        )
        return ops.logsumexp(alpha + end[None], axis=1)

    # === Decoding ===

    def decode(self, emissions, mask=None):
        """The best tag path under the constraints (Viterbi), `[batch, tokens]` int32.

        Positions outside `mask` get tag 0. Runs in the graph (`tf.function`).

        Example:

        ```python
        crf = CRF(["O", "B-PER", "I-PER"])
        emissions = np.array([[[0, 0, 5.0], [0, 0, 5.0]]], "float32")  # I-PER, I-PER
        crf.decode(emissions)  # [[1, 2]]: a path cannot start with I-PER
        ```
        """
        emissions, mask, order, _ = self._compact(emissions, mask)
        pairs = self._constrained(self.transitions, self.allowed_pairs, -np.inf)
        start = self._constrained(self.start_transitions, self.allowed_start, -np.inf)
        end = self._constrained(self.end_transitions, self.allowed_end, -np.inf)
        identity = ops.arange(self.num_tags, dtype="int32")[None]

        def forward(carry, inputs):
            best, _ = carry
            emitted, labelled = _step_inputs(inputs)
            scores = best[:, :, None] + pairs[None]
            pointers = ops.cast(ops.argmax(scores, axis=1), "int32")
            best = ops.where(labelled, ops.max(scores, axis=1) + emitted, best)
            pointers = ops.where(labelled, pointers, identity)
            return (best, pointers), (best, pointers)

        best = start[None] + emissions[:, 0]
        pointers = ops.zeros_like(best, dtype="int32")
        (best, _), (_, pointers) = ops.scan(
            forward, (best, pointers), _time_major(emissions, mask)
        )

        def backward(tag, step_pointers):
            previous = ops.take_along_axis(step_pointers, tag[:, None], axis=1)
            return previous[:, 0], tag

        last = ops.cast(ops.argmax(best + end[None], axis=1), "int32")
        first, later = ops.scan(backward, last, pointers, reverse=True)
        path = ops.concatenate([first[None], later], axis=0)
        path = ops.where(mask, ops.transpose(path), 0)
        # Back to the token positions: the ones outside the mask get the
        # compacted positions past each row's length, where the path is 0.
        return ops.take_along_axis(path, ops.argsort(order, axis=1), axis=1)

    # === Helpers ===

    def _compact(self, emissions, mask):
        """The labelled positions moved to the front of each row, in order."""
        emissions = ops.cast(emissions, "float32")
        if emissions.shape[-1] is not None and emissions.shape[-1] != self.num_tags:
            raise PolicyError(
                f"CRF '{self.name}': emissions have {emissions.shape[-1]} scores per "
                f"token; expected one per tag ({self.num_tags})."
            )
        length = ops.shape(emissions)[1]
        mask = _as_mask(emissions, mask)
        positions = ops.arange(length, dtype="int32")[None]
        order = ops.argsort(ops.where(mask, positions, positions + length), axis=1)
        order = ops.cast(order, "int32")
        lengths = ops.sum(ops.cast(mask, "int32"), axis=1)
        emissions = ops.take_along_axis(emissions, order[:, :, None], axis=1)
        return emissions, positions < lengths[:, None], order, lengths

    def _constrained(self, weights, allowed, penalty):
        weights = ops.cast(weights, "float32")
        if allowed.all():
            return weights
        if np.isinf(penalty):
            return ops.where(ops.convert_to_tensor(allowed), weights, penalty)
        return weights + ops.convert_to_tensor(
            np.where(allowed, 0.0, penalty).astype("float32")
        )

    def get_config(self):
        config = super().get_config()
        config.update({"tags": self.tags, "scheme": self.scheme})
        return config


@keras.saving.register_keras_serializable(package="tlnlp_tf")
class CRFLoss(keras.losses.Loss):
    """The negative log-likelihood of a `CRF`, per labelled token, for `compile`.

    `y_true` holds tag ids `[batch, tokens]`, `y_pred` the emissions the
    CRF layer returns, and the sample weights (`[batch, tokens]`, or one per
    sequence) are the mask: positions of weight 0 are left out of the chain
    (see `CRF`). Each sequence's negative log-likelihood is shared equally
    among its labelled tokens, which are then averaged with their weights,
    as a token tagger averages its cross-entropy
    (`reduction="mean_with_sample_weight"`): the loss is on the scale of a
    per-token cross-entropy, whatever the sentence lengths.

    The loss holds the layer, not a copy of its config: a model reloaded
    with `keras.saving.load_model` restores the loss without its layer, and
    needs `compile(loss=CRFLoss(crf))` again before `fit`.

    Args:
        crf: the model's `CRF` layer.

    Example:

    ```python
    crf = CRF(["O", "B-LOC", "I-LOC"])
    loss = CRFLoss(crf)
    emissions = np.zeros((1, 3, 3), "float32")
    loss(np.array([[0, 1, 2]]), emissions, np.array([[1.0, 1.0, 0.0]]))
    ```
    """

    def __init__(self, crf=None, name="crf_loss", **kwargs):
        kwargs["reduction"] = "mean_with_sample_weight"
        super().__init__(name=name, **kwargs)
        self.crf = crf

    def __call__(self, y_true, y_pred, sample_weight=None):
        if self.crf is None:
            raise PolicyError(
                f"{self.name}: this CRFLoss has no CRF layer (a loss restored by "
                "load_model has none); compile again with loss=CRFLoss(crf)."
            )
        tags = ops.convert_to_tensor(y_true)
        if len(tags.shape) == 3:
            tags = ops.squeeze(tags, axis=-1)
        weights = ops.ones(ops.shape(tags), "float32")
        if sample_weight is not None:
            sample_weight = ops.cast(sample_weight, "float32")
            if len(sample_weight.shape) == 1:  # one weight per sequence
                sample_weight = sample_weight[:, None]
            elif len(sample_weight.shape) == 3:
                sample_weight = ops.squeeze(sample_weight, axis=-1)
            weights = weights * sample_weight
        log_likelihood = self.crf.log_likelihood(y_pred, tags, weights)
        labelled = ops.cast(weights > 0, "float32")
        shares = -log_likelihood / ops.maximum(ops.sum(labelled, axis=1), 1.0)
        values = labelled * shares[:, None]
        return super().__call__(values, values, sample_weight=weights)

    def call(self, y_true, y_pred):
        # `__call__` passes the per-token shares it computed as `y_pred`.
        return y_pred


def _as_mask(emissions, mask):
    """`[batch, tokens]` booleans: labelled where `mask` is true or non-zero."""
    if mask is None:
        return ops.ones(ops.shape(emissions)[:2], dtype="bool")
    return ops.greater(ops.cast(mask, "float32"), 0.0)


def _time_major(emissions, mask):
    """The steps after the first, time first, the mask as a last score, for `scan`.

    One tensor, not a tuple: Keras's TensorFlow `scan` fails on several
    inputs of unknown length (keras 3.15).
    """
    steps = ops.concatenate(
        [emissions[:, 1:], ops.cast(mask[:, 1:, None], emissions.dtype)], axis=-1
    )
    return ops.transpose(steps, (1, 0, 2))


def _step_inputs(inputs):
    """`(emissions [batch, tags], labelled [batch, 1])` of one `_time_major` step."""
    return inputs[:, :-1], inputs[:, -1:] > 0
