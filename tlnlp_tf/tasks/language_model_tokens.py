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

import keras
import numpy as np
import tensorflow as tf

from tlnlp_tf.data.padding import LENGTH_MULTIPLE
from tlnlp_tf.data.padding import trim_padding
from tlnlp_tf.errors import DataError
from tlnlp_tf.tasks.inputs import LENGTH_SAMPLE
from tlnlp_tf.tasks.inputs import check_batched
from tlnlp_tf.tasks.inputs import check_texts
from tlnlp_tf.tasks.inputs import is_tokenized
from tlnlp_tf.tasks.inputs import texts_of
from tlnlp_tf.tasks.language_model_scoring import DEFAULT_BATCH
from tlnlp_tf.tasks.response_loss import cut_responses
from tlnlp_tf.tasks.response_loss import is_pair_batch
from tlnlp_tf.tasks.response_loss import is_pair_dataset
from tlnlp_tf.tasks.response_loss import joined_pairs
from tlnlp_tf.tasks.response_loss import pack_pairs


class LanguageModelTokens:
    """Tokenizing verbs and the data side of `LanguageModel` (reads
    `preprocessor`, `context_length`, `max_length` and the per-model cache
    `_graph_functions`).

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

    # === Texts and batches as fit and score take them ===

    def preprocess_samples(self, x, y=None, sample_weight=None):
        if self.preprocessor is None and not is_tokenized(x):
            return keras.utils.pack_x_y_sample_weight(x, y, sample_weight)
        if is_pair_batch(x, y):  # (prompts, responses): the loss on responses
            tokenizer = self.preprocessor.tokenizer
            x, y, sample_weight = pack_pairs(
                self.preprocessor,
                tokenizer(x),
                tokenizer(y),
                self.preprocessor.sequence_length,
            )
        elif not is_tokenized(x):
            x, y, sample_weight = self.preprocessor(x)
        x = trim_padding(x)  # each batch keeps the columns its longest text needs
        length = tf.shape(x["token_ids"])[1]

        def cut(tensor):
            return (
                tensor
                if tensor is None or tensor.shape.rank != 2
                else tensor[:, :length]
            )

        return keras.utils.pack_x_y_sample_weight(x, cut(y), cut(sample_weight))

    def sequence_length(self):
        """Tokens per text read now: `max_length`, else the preprocessor's."""
        if self.max_length is not None:
            return self.max_length
        length = getattr(self.preprocessor, "sequence_length", None)
        return int(min(length or self.context_length, self.context_length))

    def _checked_texts(self, x, where):
        """A list of texts, or a batched dataset of strings or token features."""
        if isinstance(x, tf.data.Dataset):
            check_batched(x, where.partition("(")[0])
            spec = x.element_spec
            features = spec[0] if isinstance(spec, tuple) and spec else spec
            if isinstance(features, dict) and "token_ids" in features:
                return x  # token features, alone or with targets and weights
            if is_pair_dataset(x):  # (prompt, response) strings
                return x
            if not isinstance(spec, tf.TensorSpec) or spec.dtype != tf.string:
                raise DataError(
                    f"{where}: a language model trains on a dataset of texts "
                    f"(strings), got elements {spec}; map it to the texts alone, "
                    "e.g. data.map(lambda text, label: text)."
                )
            return x
        return self._texts(x, where)

    def _batches(self, x, batch_size, shuffle):
        """Batches to train on: a list is tokenized once, here (a dataset as it is).

        `x`: texts, a dataset, or `(prompts, responses)` lists. keras-hub's
        tokenizer runs eagerly in a fraction of the time it takes
        to trace it into a `tf.data` map with a large vocabulary (SmolLM2's
        49,152 tokens: about 20 seconds per pipeline on 2 cores).
        """
        if isinstance(x, tf.data.Dataset):
            return x
        if isinstance(x, tuple):  # (prompts, responses)
            tokens = self.tokenize_pairs(*x)
            count = len(x[0])
        else:
            tokens, count = self.tokenize(x), len(x)
        data = tf.data.Dataset.from_tensor_slices(tokens)
        if shuffle:
            data = data.shuffle(count, reshuffle_each_iteration=True)
        return data.batch(batch_size or DEFAULT_BATCH)

    def _choose_max_length(self, x):
        """Fix `max_length` from training texts; count and warn about longer ones."""
        if self.preprocessor is None:
            return
        if is_pair_dataset(x):
            texts = joined_pairs(x, LENGTH_SAMPLE)
        else:
            texts, _ = texts_of(x, LENGTH_SAMPLE)
        if not texts:
            return
        lengths = self.token_counts(texts)
        longest = int(lengths.max())
        if self.max_length is None:
            rounded = -(-longest // LENGTH_MULTIPLE) * LENGTH_MULTIPLE
            self.max_length = int(min(self.context_length, max(rounded, 2)))
            self.preprocessor.sequence_length = self.max_length
        longer = int(np.sum(lengths > self.max_length))
        if longer:
            warnings.warn(
                f"{longer} of {len(texts)} sampled training texts are longer than "
                f"max_length={self.max_length} tokens (the longest has {longest}); "
                f"only their first {self.max_length} tokens are trained on. Pass a "
                f"larger max_length (this model reads at most {self.context_length}).",
                stacklevel=3,
            )

    def _texts(self, x, where):
        if hasattr(x, "texts") and not isinstance(x, tf.data.Dataset):
            x = list(x.texts)
        if isinstance(x, str):
            x = [x]
        if isinstance(x, tf.data.Dataset):
            check_batched(x, where)
            texts, _ = texts_of(x)
        elif isinstance(x, (list, tuple, np.ndarray)):
            texts = list(x)
        else:
            raise DataError(
                f"{where}: expected a list of texts or a batched tf.data.Dataset "
                f"of strings, got {type(x).__name__}."
            )
        if not texts:
            raise DataError(f"{where}: no texts were given.")
        check_texts(texts)
        return texts


def _ragged(token_ids):
    """Token ids as a ragged int32 tensor (keras-hub gives lists when eager)."""
    if isinstance(token_ids, tf.RaggedTensor):
        return token_ids
    rows = [np.asarray(row, dtype="int32").reshape(-1).tolist() for row in token_ids]
    return tf.ragged.constant(rows, dtype=tf.int32, ragged_rank=1)
