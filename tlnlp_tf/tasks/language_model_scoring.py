"""Perplexity of held-out text for `LanguageModel`: `score` and `evaluate`.

A mixin of `LanguageModel` (which provides `preprocessor`, `_texts`,
`_token_ids`, `token_counts`, `sequence_length`, `_pack`, `_packed_pairs`
and `preprocess_samples`): the exact token-weighted mean negative
log-likelihood over every predicted position, padding excluded, in one
traced step for any batch shape.

Example:

```python
model = tl.LanguageModel.from_backbone("smollm2")
model.score(["The cat sat on the mat."])  # {"perplexity": …, "loss": …, "tokens": …}
```
"""

import math
import warnings

import keras
import numpy as np
import tensorflow as tf

from tlnlp_tf.errors import PolicyError
from tlnlp_tf.progress import progress
from tlnlp_tf.tasks.response_loss import checked_pairs

# Texts per batch when scoring (and in `fit` on lists, when no batch size is given).
DEFAULT_BATCH = 8


class LanguageModelScoring:
    """`score` (perplexity of texts or of responses) and `evaluate` on raw texts."""

    def score(self, texts, batch_size=DEFAULT_BATCH):
        """Perplexity of held-out texts: the exact token-weighted mean NLL.

        Each text is packed as the model trains on it (start token if the
        preprocessor adds one, the text, end token) and every position
        predicts the next id; padding has weight 0. Returns
        `{"perplexity": exp(loss), "loss": mean NLL in nats per predicted
        token, "tokens": the number of predicted tokens, "truncated": texts
        longer than `sequence_length()`}`: those are counted and warned
        about, and only their first tokens scored. Takes a list of strings,
        a batched dataset of strings, or `tl.data` examples. Prompt–response
        pairs (`tl.data.TextPairs`, e.g. `tl.data.read_pairs(path,
        source="prompt", target="response")`) are scored on their responses'
        tokens only, as `fit(prompts, responses)` trains; `truncated` then
        counts cut responses. For example
        `model.score(held_out_texts)["perplexity"]`.
        """
        if self.preprocessor is None:
            raise PolicyError("score needs the model's preprocessor (its tokenizer).")
        if hasattr(texts, "sources") and hasattr(texts, "targets"):
            return self._score_pairs(texts.sources, texts.targets, batch_size)
        texts = self._texts(texts, "score")
        token_ids = self._token_ids(texts)
        lengths = self.token_counts(token_ids)
        limit = self.sequence_length()
        truncated = int(np.sum(lengths > limit))
        if truncated:
            warnings.warn(
                f"score: {truncated} of {len(texts)} texts are longer than "
                f"max_length={limit} tokens (the longest has {int(lengths.max())}); "
                f"only their first {limit} tokens are scored.",
                stacklevel=2,
            )
        order = np.argsort(lengths, kind="stable")  # similar lengths per batch
        return self._mean_nll(
            lambda rows: self._pack(tf.gather(token_ids, rows)),
            order,
            batch_size,
            f"Scoring the language-model loss on {len(texts)} texts",
            truncated,
        )

    def _score_pairs(self, prompts, responses, batch_size):
        """`score` of prompt–response pairs: the loss on the responses only,
        as `fit(prompts, responses)` trains; `truncated` counts cut responses."""
        prompts, responses = checked_pairs(
            list(prompts), list(responses), "score", self._texts
        )
        packed, lengths, cut, lost = self._packed_pairs(prompts, responses)
        if cut:
            warnings.warn(
                f"score: {cut} of {len(prompts)} prompt–response pairs are longer "
                f"than max_length={self.preprocessor.sequence_length} tokens: only "
                f"the head of their responses is scored ({lost} lost entirely).",
                stacklevel=3,
            )
        return self._mean_nll(
            lambda rows: tf.nest.map_structure(lambda t: tf.gather(t, rows), packed),
            np.argsort(lengths, kind="stable"),
            batch_size,
            f"Scoring the response loss on {len(prompts)} prompt–response pairs",
            cut,
        )

    def _mean_nll(self, batch, order, batch_size, label, truncated):
        """The token-weighted mean NLL over `batch(rows)` for rows of `order`."""
        step = self._score_function()
        total, count = 0.0, 0.0
        starts = range(0, len(order), int(batch_size))
        for start in progress(starts, label, unit="batch"):
            rows = order[start : start + int(batch_size)]
            x, y, sample_weight = self.preprocess_samples(*batch(rows))
            nll, tokens = step(x, y, sample_weight)
            total += float(nll)
            count += float(tokens)
        loss = total / max(count, 1.0)
        return {
            "perplexity": round(math.exp(min(loss, 700.0)), 6),
            "loss": round(loss, 6),
            "tokens": int(count),
            "truncated": truncated,
        }

    def _score_function(self):
        if self._score_step is None:
            matrix = tf.TensorSpec([None, None], tf.int32)
            features = {"token_ids": matrix, "padding_mask": matrix}
            signature = (features, matrix, tf.TensorSpec([None, None], tf.bool))

            @tf.function(input_signature=signature)  # one trace, any batch shape
            def step(x, y, sample_weight):
                logits = tf.cast(self(x, training=False), tf.float32)
                losses = keras.ops.sparse_categorical_crossentropy(
                    y, logits, from_logits=True
                )
                weights = tf.cast(sample_weight, tf.float32)
                return tf.reduce_sum(losses * weights), tf.reduce_sum(weights)

            self._score_step = step
        return self._score_step

    def evaluate(self, x=None, y=None, batch_size=None, return_dict=False, **kwargs):
        """On raw texts, `score`'s metrics; otherwise Keras's `evaluate`.

        With texts (a list, or a batched dataset of strings), returns
        `score(x, batch_size)` as a dict (`return_dict=True`) or
        `[loss, perplexity]`. With prompts and responses (two lists), Keras's
        `evaluate` on the responses' tokens, as `fit(prompts, responses)`
        trains. Token features go to Keras's `evaluate` (loss, accuracy,
        perplexity).
        """
        if y is not None and _is_text(x) and not isinstance(x, tf.data.Dataset):
            pairs = checked_pairs(x, y, "evaluate", self._texts)
            data = self._batches(pairs, batch_size, shuffle=False)
            return super().evaluate(data, return_dict=return_dict, **kwargs)
        if kwargs.get("_use_cached_eval_dataset") or y is not None or not _is_text(x):
            return super().evaluate(
                x, y, batch_size=batch_size, return_dict=return_dict, **kwargs
            )
        scores = self.score(x, batch_size=batch_size or DEFAULT_BATCH)
        return scores if return_dict else [scores["loss"], scores["perplexity"]]


def _is_text(x):
    if isinstance(x, tf.data.Dataset):
        spec = x.element_spec
        return isinstance(spec, tf.TensorSpec) and spec.dtype == tf.string
    if isinstance(x, str):
        return True
    if hasattr(x, "texts"):
        return True
    return isinstance(x, (list, tuple)) and bool(x) and isinstance(x[0], str)
