"""Tokenization of `LanguageModel`: texts and prompt–response pairs, as `fit` sees them.

The preprocessor's own tokenizer and packer, in TensorFlow graphs traced
once per model and length: a list of texts is tokenized once, before
training, rather than in a `tf.data` map per pipeline.

```python
features, targets, weights = model.tokenize(["a short text"])  # a LanguageModel
model.token_counts(["a short text"])  # tokens read, start and end included
```
"""

import warnings

import numpy as np
import tensorflow as tf

from tlnlp_tf.tasks.response_loss import cut_responses
from tlnlp_tf.tasks.response_loss import pack_pairs


class LanguageModelTokens:
    """Tokenizing verbs of `LanguageModel` (reads `preprocessor`,
    `context_length` and the per-model cache `_graph_functions`).

    ```python
    features, targets, weights = model.tokenize_pairs(["Q: 2+2? A:"], [" 4"])
    ```
    """

    def tokenize(self, texts):
        """`(features, targets, weights)` of a list of texts, as `fit` trains on them.

        The next-token targets and their padding weights, `sequence_length()`
        columns: the preprocessor's own tokenizer and packer, in TensorFlow
        graphs traced once per model (keras-hub's TensorFlow tokenizer, the one
        a `tf.data` pipeline runs: called eagerly, keras-hub 0.32 runs another
        implementation, which splits some words, e.g. " 's", differently).
        """
        return self._pack(self._token_ids(texts))

    def _token_ids(self, texts):
        """Token ids of each text (ragged), without start or end tokens."""
        tokenize = self._graph_function("tokenize")
        return tf.concat(
            [
                _ragged(tokenize(tf.constant(list(texts[start : start + 512]))))
                for start in range(0, len(texts), 512)
            ],
            axis=0,
        )

    def _pack(self, token_ids):
        """The preprocessor's packing of ragged ids: features, targets, weights."""
        return self._graph_function("pack")(token_ids)

    def _graph_function(self, kind):
        """The tokenizer, or the packer at the current length, traced once."""
        preprocessor = self.preprocessor
        key = (kind, preprocessor.sequence_length)
        if self._graph_functions.get(kind, (None,))[0] == key:
            return self._graph_functions[kind][1]
        if kind == "tokenize":
            function = tf.function(
                lambda texts: preprocessor.tokenizer(texts),
                input_signature=[tf.TensorSpec([None], tf.string)],
            )
        else:
            if preprocessor.packer is None:
                preprocessor.build(None)
            length = preprocessor.sequence_length + 1

            def pack(token_ids):
                ids, mask = preprocessor.packer(
                    token_ids,
                    sequence_length=length,
                    add_start_value=preprocessor.add_start_token,
                    add_end_value=preprocessor.add_end_token,
                )
                features = {"token_ids": ids[:, :-1], "padding_mask": mask[:, :-1]}
                return features, ids[:, 1:], mask[:, 1:]

            function = tf.function(
                pack,
                input_signature=[
                    tf.RaggedTensorSpec([None, None], tf.int32, ragged_rank=1)
                ],
            )
        self._graph_functions[kind] = (key, function)
        return function

    def tokenize_pairs(self, prompts, responses):
        """`(features, targets, weights)` of prompt–response pairs, as
        `fit(prompts, responses)` trains on them: the weights are true on the
        response's tokens and the end token only (`pack_pairs`)."""
        packed, _, cut, lost = self._packed_pairs(prompts, responses)
        if cut:
            warnings.warn(
                f"{cut} of {len(prompts)} prompt–response pairs are longer than "
                f"max_length={self.preprocessor.sequence_length} tokens: their "
                f"responses are cut, {lost} of them entirely (nothing of those is "
                "trained on). Pass a larger max_length (this model reads at most "
                f"{self.context_length}).",
                stacklevel=3,
            )
        return packed

    def _packed_pairs(self, prompts, responses):
        """`(packed, lengths, cut, lost)`: `pack_pairs` of the pairs at
        `max_length`, each pair's prompt+response token count, and how many
        responses are cut (`lost`: entirely) at that length."""
        prompt_ids, response_ids = self._token_ids(prompts), self._token_ids(responses)
        packed = pack_pairs(
            self.preprocessor,
            prompt_ids,
            response_ids,
            self.preprocessor.sequence_length,
        )
        cut, lost = cut_responses(response_ids, packed[2])
        lengths = (prompt_ids.row_lengths() + response_ids.row_lengths()).numpy()
        return packed, lengths, cut, lost

    def token_counts(self, texts):
        """Tokens the model reads for each text, start and end tokens included.

        A text is cut when its count is above `sequence_length()`.
        """
        preprocessor = self.preprocessor
        token_ids = texts if isinstance(texts, tf.RaggedTensor) else None
        if token_ids is None:
            token_ids = self._token_ids(texts)
        counts = token_ids.row_lengths().numpy()
        specials = int(bool(preprocessor.add_start_token)) + int(
            bool(preprocessor.add_end_token)
        )
        # The packer writes `sequence_length + 1` ids; the model reads all
        # but the last (the targets are the ids shifted by one).
        return counts + specials - 1


def _ragged(token_ids):
    """Token ids as a ragged int32 tensor (keras-hub gives lists when eager)."""
    if isinstance(token_ids, tf.RaggedTensor):
        return token_ids
    rows = [np.asarray(row, dtype="int32").reshape(-1).tolist() for row in token_ids]
    return tf.ragged.constant(rows, dtype=tf.int32, ragged_rank=1)
