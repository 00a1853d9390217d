"""`RoleLabelerPreprocessor`: a sentence and its predicate → sub-word ids, marker, tags.

Two ways to tell the encoder which word is the predicate
(`predicate_encoding`):

- `"segment"`: `[CLS] sentence [SEP]`, with segment (token-type) id 1 on
  the predicate's sub-words and 0 elsewhere. BERT-family backbones have a
  segment embedding (`segment_ids`), pretrained for sentence pairs; the
  marker costs no extra tokens.
- `"pair"`: `[CLS] sentence [SEP] predicate [SEP]`, the predicate word
  repeated as a second segment (segment id 1), as BERT reads sentence
  pairs. Works on backbones without a segment embedding (the `[SEP]`s tell
  the parts apart), but the predicate's position is implicit: a word that
  occurs twice is ambiguous.
"""

import keras
import tensorflow as tf

from tlnlp_tf.data.windows import take_windows
from tlnlp_tf.errors import PolicyError
from tlnlp_tf.tasks.token_classifier_preprocessor import TokenClassifierPreprocessor

PREDICATE_ENCODINGS = ("segment", "pair")


@keras.saving.register_keras_serializable(package="tlnlp_tf")
class RoleLabelerPreprocessor(TokenClassifierPreprocessor):
    """Tokenize predicate instances, mark the predicate, align role tags, in the graph.

    Input `x` is `(sentences, predicates)`: a batch of sentences whose words
    are separated by single spaces and the 0-based index of each one's
    predicate word (as `Propositions.to_dataset()` yields them); `y`, when
    given, one integer tag per word (ragged `[batch, (words)]`). As in
    `TokenClassifierPreprocessor`, each word's tag goes on its first
    sub-word, the other sub-words get weight 0. Returns `features` (with
    `segment_ids` marking the predicate, see the module) or
    `(features, tags, weights)`, one row per instance.

    A sentence longer than `sequence_length` is cut to one window of
    sub-words centred on the predicate (the roles of far words are left
    out of the loss; `RoleLabeler.predict` windows by words and says how
    many words it could not reach).

    Args:
        tokenizer: a keras-hub tokenizer.
        sequence_length: the most tokens per instance, special tokens
            included.
        predicate_encoding: `"segment"` or `"pair"` (see the module).

    Example:

    ```python
    preprocessor = RoleLabelerPreprocessor(tokenizer, sequence_length=16)
    x = preprocessor(x=(tf.constant(["the cast loved the film"]), tf.constant([2])))
    x["segment_ids"]  # 1 on the sub-words of "loved", 0 elsewhere
    ```
    """

    def __init__(
        self, tokenizer, sequence_length=512, predicate_encoding="segment", **kwargs
    ):
        if predicate_encoding not in PREDICATE_ENCODINGS:
            raise PolicyError(
                f"predicate_encoding must be one of {PREDICATE_ENCODINGS}, got "
                f"{predicate_encoding!r}."
            )
        super().__init__(tokenizer, sequence_length=sequence_length, **kwargs)
        self.predicate_encoding = predicate_encoding

    def call(self, x, y=None, sample_weight=None):
        if not isinstance(x, (tuple, list)) or len(x) != 2:
            raise PolicyError(
                "RoleLabelerPreprocessor takes x=(sentences, predicate indices)."
            )
        sentences = tf.convert_to_tensor(x[0])
        predicates = tf.cast(tf.reshape(tf.convert_to_tensor(x[1]), [-1]), tf.int32)
        words = tf.strings.split(sentences)  # [B, (W)]
        pieces = self.word_pieces(words.flat_values)  # [N, (P)]
        counts = tf.cast(pieces.row_lengths(), tf.int32)
        token_ids = tf.RaggedTensor.from_row_splits(pieces, words.row_splits)
        token_ids = token_ids.merge_dims(1, 2)  # [B, (T)]
        check = tf.debugging.Assert(
            tf.reduce_all(
                (predicates >= 0)
                & (predicates < tf.cast(words.row_lengths(), tf.int32))
            ),
            ["Predicate index out of range: expected a word index of its sentence"],
        )
        with tf.control_dependencies([check]):
            word = tf.cast(words.row_splits[:-1], tf.int32) + predicates  # global
        # Where the predicate's sub-words are, in its sentence's tokens.
        first_token = tf.cast(token_ids.row_splits[:-1], tf.int32)
        predicate_start = tf.gather(tf.cast(pieces.row_splits, tf.int32), word)
        predicate_start -= first_token
        predicate_length = tf.gather(counts, word)
        token_word = tf.repeat(tf.range(tf.size(counts)), counts)
        marker = tf.cast(
            token_word == tf.gather(word, token_ids.value_rowids()), tf.int32
        )
        first = tf.ragged.range(pieces.row_lengths()) == 0
        first = tf.cast(first.flat_values, tf.int32)

        # One window of sub-words per instance, centred on the predicate.
        length = int(self.sequence_length)
        if self.predicate_encoding == "pair":
            budget = tf.maximum(length - 3 - predicate_length, 1)
        else:
            budget = tf.fill(tf.shape(predicates), length - 2)
        total = tf.cast(token_ids.row_lengths(), tf.int32)
        size = tf.minimum(budget, total)
        start = predicate_start - tf.maximum(budget - predicate_length, 0) // 2
        start = tf.clip_by_value(start, 0, total - size)
        example = tf.range(tf.size(predicates))

        def window(flat_values):
            return take_windows(
                token_ids.with_flat_values(flat_values), example, start, size
            )

        rows = tf.size(predicates)
        zeros, ones = tf.zeros([rows, 1], tf.int32), tf.ones([rows, 1], tf.int32)
        special = lambda column: tf.RaggedTensor.from_tensor(column)  # noqa: E731
        cls_id = tf.fill([rows, 1], int(self.tokenizer.start_token_id))
        sep_id = tf.fill([rows, 1], int(self.tokenizer.end_token_id))
        tokens = window(token_ids.flat_values)
        parts = [special(cls_id), tokens, special(sep_id)]
        if self.predicate_encoding == "pair":
            segments = [special(zeros), tf.zeros_like(tokens), special(zeros)]
            predicate_pieces = tf.gather(pieces, word)
            parts += [predicate_pieces, special(sep_id)]
            segments += [tf.ones_like(predicate_pieces), special(ones)]
        else:
            segments = [special(zeros), window(marker), special(zeros)]
        shape = [None, length]
        sequence = tf.concat(parts, axis=1)
        features = {
            "token_ids": sequence.to_tensor(
                int(self.tokenizer.pad_token_id), shape=shape
            ),
            "padding_mask": tf.ones_like(sequence, tf.bool).to_tensor(
                False, shape=shape
            ),
            "segment_ids": tf.concat(segments, axis=1).to_tensor(0, shape=shape),
        }
        if y is None:
            return features
        tags = tf.repeat(tf.cast(y.flat_values, tf.int32), pieces.row_lengths())
        tags = tf.concat([special(zeros), window(tags)], axis=1).to_tensor(
            0, shape=shape
        )
        weights = tf.concat([special(zeros), window(first)], axis=1)
        weights = tf.cast(weights.to_tensor(0, shape=shape), tf.float32)
        if sample_weight is not None:
            sample_weight = tf.reshape(tf.cast(sample_weight, tf.float32), [-1])
            weights = weights * sample_weight[:, None]
        return features, tags, weights

    def get_config(self):
        config = super().get_config()
        config["predicate_encoding"] = self.predicate_encoding
        return config
