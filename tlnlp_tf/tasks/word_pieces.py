"""Tokenize pre-split words one by one, in the graph: the base of word alignment."""

import tensorflow as tf


def word_pieces(tokenizer, words):
    """Sub-word ids of each word (`[words, (pieces)]`, int32), at least one each.

    Each word is tokenized on its own, so every sub-word belongs to exactly
    one word. A word the tokenizer drops (e.g. only control characters) keeps
    one unknown-token piece, so every word has a first sub-word.

    Example:

    ```python
    word_pieces(tokenizer, tf.constant(["Merkel", "visited"]))
    # <tf.RaggedTensor [[...], [...]]>
    ```
    """
    pieces = tokenizer(words)
    if not isinstance(pieces, tf.RaggedTensor):  # eager keras-hub calls give lists
        pieces = tf.ragged.constant(pieces, dtype=tf.int32, ragged_rank=1)
    pieces = tf.cast(pieces, tf.int32)
    empty = tf.cast(pieces.row_lengths() == 0, tf.int64)
    unknown = tf.RaggedTensor.from_row_lengths(
        tf.fill([tf.reduce_sum(empty)], unknown_id(tokenizer)), empty, validate=False
    )
    return tf.concat([pieces, unknown], axis=1)


def unknown_id(tokenizer):
    """The id of the tokenizer's unknown token (0 when it has none)."""
    token = getattr(tokenizer, "oov_token", None) or "[UNK]"
    try:
        return int(tokenizer.token_to_id(token))
    except (KeyError, ValueError):
        return 0
