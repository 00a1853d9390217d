"""`SpanExtractorPreprocessor`: question + context → overlapping windows, in graph."""

import keras
import keras_hub
import tensorflow as tf

from tlnlp_tf.data.windows import take_windows
from tlnlp_tf.data.windows import window_spans
from tlnlp_tf.tasks.word_pieces import word_pieces


@keras.saving.register_keras_serializable(package="tlnlp_tf")
class SpanExtractorPreprocessor(keras_hub.models.Preprocessor):
    """Turn (question, context) into `[CLS] question [SEP] context [SEP]` windows.

    A context longer than the window is cut into overlapping windows whose
    starts are `doc_stride` tokens apart (BERT's SQuAD recipe), so no answer
    is lost to truncation; a batch of `B` examples becomes a batch of
    `W >= B` windows. The context arrives split into words separated by
    single spaces (as `QuestionAnswers.to_dataset()` and
    `SpanExtractor.predict` write it); each word is tokenized on its own, so
    every context token knows its word, and the word's character offsets
    (kept in Python) give the answer's place in the original text.

    `y`, when given, is `[B, 2]`: the first and last word of the answer
    (`-1, -1` for no answer). It becomes `[W, 2]` token positions: where the
    answer lies inside a window, or `[0, 0]` (the [CLS] token) in windows
    without it, as in BERT.

    Args:
        tokenizer: a keras-hub tokenizer.
        sequence_length: tokens per window, special tokens included.
        doc_stride: tokens between the starts of consecutive windows.
        max_question_length: questions are cut to this many tokens (as
            Hugging Face's `max_query_length`); the rest of the window is
            context.

    Example:

    ```python
    preprocessor = SpanExtractorPreprocessor(tokenizer, sequence_length=384)
    x, positions = preprocessor(
        x={"question": tf.constant(["Who ?"]),
           "context": tf.constant(["Merkel spoke ."])},
        y=tf.constant([[0, 0]]),
    )
    ```
    """

    def __init__(
        self,
        tokenizer,
        sequence_length=384,
        doc_stride=128,
        max_question_length=64,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.tokenizer = tokenizer
        self.sequence_length = sequence_length
        self.doc_stride = int(doc_stride)
        self.max_question_length = int(max_question_length)
        if self.doc_stride < 1:
            raise ValueError(f"doc_stride must be at least 1, got {doc_stride}.")

    def call(self, x, y=None, sample_weight=None):
        features, positions, windows = self.windows(x, y)
        if sample_weight is not None:
            sample_weight = tf.gather(sample_weight, windows["example"])
        return keras.utils.pack_x_y_sample_weight(features, positions, sample_weight)

    def windows(self, x, y=None):
        """`(features, positions, windows)` for a batch of examples.

        `windows["example"]` `[W]` is each window's example (row of the
        batch); `windows["token_words"]` `[W, length]` is the context word of
        each token, or -1 outside the context. `positions` is `None` without `y`.
        """
        length = int(self.sequence_length)
        max_question = min(self.max_question_length, length // 2)
        tokenizer = self.tokenizer
        questions = _ragged(tokenizer(x["question"]))[:, :max_question]  # [B, (Q)]
        words = tf.strings.split(x["context"])  # [B, (N)]
        pieces = word_pieces(tokenizer, words.flat_values)  # [all words, (P)]
        counts = tf.cast(pieces.row_lengths(), tf.int32)
        context = tf.RaggedTensor.from_row_splits(pieces, words.row_splits).merge_dims(
            1, 2
        )
        token_starts = tf.cast(context.row_splits[:-1], tf.int32)  # [B]
        local_word = tf.cast(tf.ragged.range(words.row_lengths()).flat_values, tf.int32)
        token_words = tf.repeat(local_word, counts)  # [all tokens]
        # Each word's first and last token, counted from its context's start.
        word_first = tf.cumsum(counts, exclusive=True) - tf.repeat(
            token_starts, tf.cast(words.row_lengths(), tf.int32)
        )
        word_last = word_first + counts - 1

        # === Windows ===
        question_lengths = tf.cast(questions.row_lengths(), tf.int32)
        budget = length - 3 - question_lengths  # context tokens per window
        example, start, size = window_spans(
            context.row_lengths(), budget, self.doc_stride
        )
        window_tokens = take_windows(context, example, start, size)  # [W, (C)]
        window_words = take_windows(
            context.with_flat_values(token_words), example, start, size
        )

        # === Packing: [CLS] question [SEP] context [SEP] ===
        window_questions = tf.gather(questions, example)
        rows = tf.size(example)
        column = lambda value: tf.RaggedTensor.from_tensor(tf.fill([rows, 1], value))
        cls_id, sep_id = tokenizer.start_token_id, tokenizer.end_token_id
        token_ids = tf.concat(
            [
                column(cls_id),
                tf.cast(window_questions, tf.int32),
                column(sep_id),
                window_tokens,
                column(sep_id),
            ],
            axis=1,
        )
        first_segment = tf.zeros_like(window_questions, tf.int32)
        segment_ids = tf.concat(
            [
                column(0),
                first_segment,
                column(0),
                tf.ones_like(window_tokens),
                column(1),
            ],
            axis=1,
        )
        token_word = tf.concat(
            [column(-1), first_segment - 1, column(-1), window_words, column(-1)],
            axis=1,
        )
        shape = [None, length]
        features = {
            "token_ids": token_ids.to_tensor(tokenizer.pad_token_id, shape=shape),
            "padding_mask": tf.ones_like(token_ids, tf.bool).to_tensor(
                False, shape=shape
            ),
            "segment_ids": segment_ids.to_tensor(0, shape=shape),
        }
        windows = {
            "example": example,
            "token_words": token_word.to_tensor(-1, shape=shape),
        }
        if y is None:
            return features, None, windows

        # === Answer positions inside each window ===
        y = tf.cast(y, tf.int32)
        answerable = y[:, 0] >= 0
        word_splits = tf.cast(words.row_splits[:-1], tf.int32)
        first_word = word_splits + tf.maximum(y[:, 0], 0)
        last_word = word_splits + tf.maximum(y[:, 1], 0)
        answer_first = tf.gather(
            tf.gather(word_first, first_word, batch_dims=0), example
        )
        answer_last = tf.gather(tf.gather(word_last, last_word, batch_dims=0), example)
        inside = (
            tf.gather(answerable, example)
            & (answer_first >= start)
            & (answer_last < start + size)
        )
        shift = 2 + tf.gather(question_lengths, example) - start
        positions = tf.where(
            inside[:, None],
            tf.stack([answer_first, answer_last], axis=1) + shift[:, None],
            0,
        )
        return features, positions, windows

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "sequence_length": self.sequence_length,
                "doc_stride": self.doc_stride,
                "max_question_length": self.max_question_length,
            }
        )
        return config


def _ragged(tokens):
    if isinstance(tokens, tf.RaggedTensor):
        return tf.cast(tokens, tf.int32)
    if isinstance(tokens, tf.Tensor):  # a tokenizer that pads
        return tf.RaggedTensor.from_tensor(tf.cast(tokens, tf.int32))
    return tf.ragged.constant(tokens, dtype=tf.int32, ragged_rank=1)
