"""Repetition control for any keras-hub sampler: a penalty and no-repeat n-grams.

keras-hub's samplers choose the next token from the logits the model gives;
`PenalizedSampler` wraps one of them and adjusts those logits first, from
the tokens already in the sequence (the prompt and what has been generated,
positions `0 .. index - 1`). Everything is TensorFlow ops: it runs inside
`tf.function(jit_compile=True)` and with `BeamSampler`, whose beams are rows
of the batch.

```python
sampler = PenalizedSampler("greedy", repetition_penalty=1.3, no_repeat_ngram_size=2)
```
"""

import numbers

import keras
import keras_hub
import tensorflow as tf

from tlnlp_tf.errors import PolicyError
from tlnlp_tf.errors import positive_number

# The logit of a forbidden token: far below any real logit, but finite, so a
# row with every token forbidden still gives probabilities (not NaN).
FORBIDDEN = -1e9


def penalize_repetitions(logits, prompt, index, penalty):
    """CTRL's repetition penalty on the tokens already in `prompt[:, :index]`.

    The logit of a token seen before is divided by `penalty` when positive
    and multiplied by it when negative (Keskar et al., 2019): a `penalty`
    above 1 makes a repeat less likely, below 1 more likely, 1 changes
    nothing.

    Args:
        logits: `(batch, vocabulary)` scores of the next token.
        prompt: `(batch, length)` token ids.
        index: the position being generated; positions before it count.
        penalty: a positive number.

    Example:

    ```python
    logits = penalize_repetitions(
        tf.constant([[2.0, -1.0, 3.0]]), tf.constant([[0, 1, 2]]), 2, 2.0
    )
    # [[1.0, -2.0, 3.0]]: tokens 0 and 1 are in the sequence, token 2 is not
    ```
    """
    logits = tf.cast(logits, tf.float32)
    prompt = tf.cast(prompt, tf.int32)
    before = tf.range(tf.shape(prompt)[1]) < tf.cast(index, tf.int32)
    seen = _occurs(prompt, tf.broadcast_to(before, tf.shape(prompt)), logits)
    penalized = tf.where(logits > 0, logits / penalty, logits * penalty)
    return tf.where(seen, penalized, logits)


def block_repeated_ngrams(logits, prompt, index, size):
    """Forbid each token that would repeat an n-gram of `prompt[:, :index]`.

    The last `size - 1` tokens before `index` begin an n-gram; every token
    that followed the same `size - 1` tokens earlier in the row gets the
    logit `FORBIDDEN` (-1e9), so no n-gram of `size` tokens occurs twice.

    Args:
        logits: `(batch, vocabulary)` scores of the next token.
        prompt: `(batch, length)` token ids.
        index: the position being generated.
        size: the n-gram length (0 changes nothing).

    Example:

    ```python
    logits = block_repeated_ngrams(
        tf.zeros([1, 4]), tf.constant([[1, 2, 3, 1, 0]]), 4, 2
    )
    # [[0, 0, -1e9, 0]]: "1 2" occurred, so 2 may not follow the last 1
    ```
    """
    if check_ngram_size(size) == 0:
        return logits
    logits = tf.cast(logits, tf.float32)
    prompt = tf.cast(prompt, tf.int32)
    index = tf.cast(index, tf.int32)
    length = tf.shape(prompt)[1]
    # An earlier n-gram starts at `j` and ends before `index`.
    starts = tf.range(length)
    match = tf.broadcast_to(starts + (size - 1) < index, tf.shape(prompt))
    for k in range(size - 1):
        earlier = tf.roll(prompt, shift=-k, axis=1)  # earlier[:, j] = prompt[:, j+k]
        position = tf.clip_by_value(index - (size - 1) + k, 0, length - 1)
        current = tf.gather(prompt, position, axis=1)
        match = match & tf.equal(earlier, current[:, None])
    following = tf.roll(prompt, shift=-(size - 1), axis=1)
    banned = _occurs(following, match, logits)
    return tf.where(banned, tf.constant(FORBIDDEN, tf.float32), logits)


def _occurs(tokens, keep, logits):
    """`(batch, vocabulary)`: which ids occur in each row of `tokens` where `keep`.

    Ids outside the vocabulary (padding written as -1, say) are ignored.
    """
    vocabulary = _dim(logits, -1)
    batch = _dim(tokens, 0)
    keep = keep & (tokens >= 0) & (tokens < vocabulary)
    tokens = tf.clip_by_value(tokens, 0, vocabulary - 1)
    rows = tf.broadcast_to(tf.range(batch)[:, None], tf.shape(tokens))
    indices = tf.reshape(tf.stack([rows, tokens], axis=-1), [-1, 2])
    values = tf.reshape(tf.cast(keep, tf.float32), [-1])
    counts = tf.scatter_nd(indices, values, tf.stack([batch, vocabulary]))
    return counts > 0


def _dim(tensor, axis):
    """A dimension: static when known (XLA needs scatter shapes as constants)."""
    return (
        tensor.shape[axis] if tensor.shape[axis] is not None else tf.shape(tensor)[axis]
    )


@keras.saving.register_keras_serializable(package="tlnlp_tf")
class PenalizedSampler(keras_hub.samplers.Sampler):
    """A keras-hub sampler that first penalizes repeats and blocks repeated n-grams.

    Works with every keras-hub sampler (greedy, beam, top-k, top-p, random):
    it wraps the model's `next` function, so the sampler sees the adjusted
    logits; beam search scores its beams with them. Pass it wherever
    keras-hub takes a sampler (`causal_lm.compile(sampler=...)`); it saves
    and reloads through `keras_hub.samplers.serialize` / `deserialize`.

    Args:
        sampler: a `keras_hub.samplers.Sampler`, or its name (`"greedy"`,
            `"beam"`, ...) or config.
        repetition_penalty: a positive number; above 1 discourages repeats
            (`penalize_repetitions`), 1 is off.
        no_repeat_ngram_size: no n-gram of this many tokens occurs twice
            (`block_repeated_ngrams`); 0 is off.

    Example:

    ```python
    sampler = PenalizedSampler(
        keras_hub.samplers.BeamSampler(num_beams=2), no_repeat_ngram_size=2
    )
    table = tf.math.log(tf.constant([[0.1, 0.9], [0.2, 0.8]]))

    def next(prompt, cache, index):  # a two-token Markov model
        return tf.gather(table, prompt[:, index - 1]), None, cache

    sampler(next, tf.constant([[0, 0, 0, 0]]), index=1)  # never "1 1" twice
    ```
    """

    def __init__(
        self, sampler="greedy", repetition_penalty=1.0, no_repeat_ngram_size=0
    ):
        if isinstance(sampler, (str, dict)):
            sampler = keras_hub.samplers.get(sampler)
        if not isinstance(sampler, keras_hub.samplers.Sampler):
            raise PolicyError(
                f"sampler must be a keras_hub.samplers.Sampler or a sampler name, "
                f"got {type(sampler).__name__}."
            )
        super().__init__(temperature=getattr(sampler, "temperature", 1.0))
        self.sampler = sampler
        self.repetition_penalty = check_penalty(repetition_penalty)
        self.no_repeat_ngram_size = check_ngram_size(no_repeat_ngram_size)

    @property
    def variables(self):
        return self.sampler.variables

    def adjust_logits(self, logits, prompt, index):
        """The logits with the penalty and the n-gram blocking applied.

        ```python
        sampler = PenalizedSampler(repetition_penalty=2.0)
        sampler.adjust_logits(tf.constant([[4.0, 4.0]]), tf.constant([[1, 0]]), 1)
        # [[4.0, 2.0]]
        ```
        """
        if self.repetition_penalty != 1.0:
            logits = penalize_repetitions(
                logits, prompt, index, self.repetition_penalty
            )
        if self.no_repeat_ngram_size > 0:
            logits = block_repeated_ngrams(
                logits, prompt, index, self.no_repeat_ngram_size
            )
        return logits

    def __call__(
        self,
        next,
        prompt,
        cache=None,
        index=0,
        mask=None,
        stop_token_ids=None,
        hidden_states=None,
        model=None,
        **kwargs,
    ):
        def adjusted_next(prompt, cache, index):
            logits, hidden_states, cache = next(prompt, cache, index)
            return self.adjust_logits(logits, prompt, index), hidden_states, cache

        return self.sampler(
            adjusted_next,
            prompt,
            cache=cache,
            index=index,
            mask=mask,
            stop_token_ids=stop_token_ids,
            hidden_states=hidden_states,
            model=model,
            **kwargs,
        )

    def get_config(self):
        return {
            "sampler": keras_hub.samplers.serialize(self.sampler),
            "repetition_penalty": self.repetition_penalty,
            "no_repeat_ngram_size": self.no_repeat_ngram_size,
        }


def check_penalty(value):
    """`repetition_penalty`: a positive finite number (1 is off), as a float.

    ```python
    assert check_penalty(2) == 2.0  # 0, -1, nan or "2" raise PolicyError
    ```
    """
    return positive_number(
        value,
        "repetition_penalty must be a positive number (1.0 is off, above 1 "
        "discourages repeats)",
    )


def check_ngram_size(value):
    """`no_repeat_ngram_size`: an integer >= 0 (0 is off).

    ```python
    assert check_ngram_size(3) == 3  # -1 or 2.5 raise PolicyError
    ```
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 0:
        raise PolicyError(
            f"no_repeat_ngram_size must be an integer >= 0 (0 is off), got {value!r}."
        )
    return int(value)
