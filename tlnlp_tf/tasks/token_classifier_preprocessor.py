"""`TokenClassifierPreprocessor`: words → sub-word ids, tags on first sub-words."""

import keras
import keras_hub
import tensorflow as tf

from tlnlp_tf.data.windows import take_windows
from tlnlp_tf.data.windows import window_spans
from tlnlp_tf.tasks.word_pieces import word_pieces


@keras.saving.register_keras_serializable(package="tlnlp_tf")
class TokenClassifierPreprocessor(keras_hub.models.Preprocessor):
    """Tokenize pre-split sentences and align word tags to sub-words, in the graph.

    Input `x` is a batch of sentences whose words are separated by single
    spaces (as `TaggedSentences.to_dataset()` and `TokenClassifier.predict`
    write them); `y`, when given, holds one integer tag per word (a ragged
    `[batch, (words)]` tensor). Each word is tokenized on its own; its tag
    goes on its first sub-word and the other sub-words get weight 0, so they
    are left out of the loss and the metrics. Returns
    `(features, tags [rows, length], weights [rows, length])`: with `y`, a
    sentence longer than `sequence_length` becomes several overlapping
    windows (rows), so no tag is lost to truncation; without `y`, one row
    per sentence.

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
        return word_pieces(self.tokenizer, words)

    def call(self, x, y=None, sample_weight=None):
        words = tf.strings.split(x)  # [B, (W)]
        pieces = self.word_pieces(words.flat_values)  # [N, (P)]
        per_sentence = tf.RaggedTensor.from_row_splits(
            pieces, words.row_splits, validate=False
        )
        token_ids = per_sentence.merge_dims(1, 2)  # [B, (T)]
        first = tf.ragged.range(pieces.row_lengths()) == 0
        first = tf.RaggedTensor.from_row_splits(
            first, words.row_splits, validate=False
        ).merge_dims(1, 2)
        if y is None:
            # One row per sentence: `TokenClassifier.predict` windows long
            # texts by words before they get here.
            return self._features(token_ids)
        tags = tf.repeat(tf.cast(y.flat_values, tf.int32), pieces.row_lengths())
        tags = token_ids.with_flat_values(tags)
        # Training: a sentence longer than a window becomes overlapping
        # windows (half a window apart), so no tag is dropped.
        budget = int(self.sequence_length) - 2
        example, start, size = window_spans(
            token_ids.row_lengths(), budget, max(budget // 2, 1)
        )
        window = lambda values: take_windows(values, example, start, size)
        features = self._features(window(token_ids))
        weights, _ = self._pack(window(tf.cast(first, tf.int32)), 0, 0, 0)
        tags, _ = self._pack(window(tags), 0, 0, 0)
        weights = tf.cast(weights, tf.float32)
        if sample_weight is not None:
            sample_weight = tf.gather(tf.reshape(sample_weight, [-1]), example)
            weights = weights * tf.cast(sample_weight[:, None], tf.float32)
        return features, tags, weights

    def _features(self, token_ids):
        token_ids, padding_mask = self._pack(
            token_ids,
            self.tokenizer.start_token_id,
            self.tokenizer.end_token_id,
            self.tokenizer.pad_token_id,
        )
        return {
            "token_ids": token_ids,
            "padding_mask": padding_mask,
            "segment_ids": tf.zeros_like(token_ids),
        }

    def _pack(self, values, start, end, pad):
        """[start] + values + [end], truncated or padded to `sequence_length`.

        What `keras_hub.layers.StartEndPacker` does, in a tenth of its graph
        nodes: `tf.data` instantiates the whole map function for every new
        iterator (every epoch), so a smaller graph starts each epoch sooner.
        """
        length = int(self.sequence_length)
        dtype = values.dtype
        body = values.to_tensor(
            default_value=tf.cast(pad, dtype), shape=[None, length - 2]
        )  # cut to the budget
        rows = tf.shape(body)[0]
        dense = tf.concat(
            [
                tf.fill([rows, 1], tf.cast(start, dtype)),
                body,
                tf.fill([rows, 1], tf.cast(pad, dtype)),
            ],
            axis=1,
        )
        used = tf.minimum(tf.cast(values.row_lengths(), tf.int32), length - 2)[:, None]
        positions = tf.range(length)[None, :]
        dense = tf.where(positions == used + 1, tf.cast(end, dtype), dense)
        return dense, positions < used + 2

    def get_config(self):
        config = super().get_config()
        config["sequence_length"] = self.sequence_length
        return config
