"""`TokenClassifierPreprocessor`: words → sub-word ids, tags on first sub-words."""

import keras
import keras_hub
import tensorflow as tf


@keras.saving.register_keras_serializable(package="tlnlp_tf")
class TokenClassifierPreprocessor(keras_hub.models.Preprocessor):
    """Tokenize pre-split sentences and align word tags to sub-words, in the graph.

    Input `x` is a batch of sentences whose words are separated by single
    spaces (as `TaggedSentences.to_dataset()` and `TokenClassifier.predict`
    write them); `y`, when given, holds one integer tag per word (a ragged
    `[batch, (words)]` tensor). Each word is tokenized on its own; its tag
    goes on its first sub-word and the other sub-words get weight 0, so they
    are left out of the loss and the metrics. Returns
    `(features, tags [batch, length], weights [batch, length])`.

    Args:
        tokenizer: a keras-hub tokenizer (WordPiece, BPE, SentencePiece).
        sequence_length: the most tokens per sentence, [CLS] and [SEP] included.

    Example:

    ```python
    preprocessor = TokenClassifierPreprocessor(tokenizer, sequence_length=128)
    x, y, w = preprocessor(tf.constant(["Merkel visited Paris ."]),
                           tf.ragged.constant([[1, 0, 3, 0]]))
    ```
    """

    def __init__(self, tokenizer, sequence_length=512, **kwargs):
        super().__init__(**kwargs)
        self.tokenizer = tokenizer
        self.sequence_length = sequence_length

    def word_pieces(self, words):
        """Sub-word ids of each word (`[words, (pieces)]`), at least one each."""
        pieces = self.tokenizer(words)
        if not isinstance(pieces, tf.RaggedTensor):
            pieces = tf.ragged.constant(pieces, dtype=tf.int32)
        pieces = tf.cast(pieces, tf.int32)
        # A word the tokenizer drops (e.g. only control characters) keeps one
        # unknown-token piece, so every word has a first sub-word.
        empty = tf.cast(pieces.row_lengths() == 0, tf.int64)
        unknown = tf.RaggedTensor.from_row_lengths(
            tf.fill([tf.reduce_sum(empty)], self._unknown_id()), empty
        )
        return tf.concat([pieces, unknown], axis=1)

    def call(self, x, y=None, sample_weight=None):
        words = tf.strings.split(x)                                   # [B, (W)]
        pieces = self.word_pieces(words.flat_values)                  # [N, (P)]
        per_sentence = tf.RaggedTensor.from_row_splits(pieces, words.row_splits)
        token_ids = per_sentence.merge_dims(1, 2)                     # [B, (T)]
        first = tf.ragged.range(pieces.row_lengths()) == 0
        first = tf.RaggedTensor.from_row_splits(first, words.row_splits).merge_dims(1, 2)
        token_ids, padding_mask = self._pack(
            token_ids, self.tokenizer.start_token_id, self.tokenizer.end_token_id,
            self.tokenizer.pad_token_id,
        )
        features = {
            "token_ids": token_ids,
            "padding_mask": padding_mask,
            "segment_ids": tf.zeros_like(token_ids),
        }
        if y is None:
            return features
        weights, _ = self._pack(tf.cast(first, tf.int32), 0, 0, 0)
        tags = tf.repeat(tf.cast(y.flat_values, tf.int32), pieces.row_lengths())
        tags = tf.RaggedTensor.from_row_splits(
            tf.RaggedTensor.from_row_lengths(tags, pieces.row_lengths()),
            words.row_splits,
        ).merge_dims(1, 2)
        tags, _ = self._pack(tags, 0, 0, 0)
        weights = tf.cast(weights, tf.float32)
        if sample_weight is not None:
            weights = weights * tf.cast(tf.reshape(sample_weight, [-1, 1]), tf.float32)
        return features, tags, weights

    def _pack(self, values, start, end, pad):
        """[start] + values + [end], truncated or padded to `sequence_length`."""
        packer = keras_hub.layers.StartEndPacker(
            sequence_length=self.sequence_length, start_value=start,
            end_value=end, pad_value=pad, return_padding_mask=True,
        )
        return packer(values)

    def _unknown_id(self):
        token = getattr(self.tokenizer, "oov_token", None) or "[UNK]"
        try:
            return int(self.tokenizer.token_to_id(token))
        except (KeyError, ValueError):
            return 0

    def get_config(self):
        config = super().get_config()
        config["sequence_length"] = self.sequence_length
        return config
