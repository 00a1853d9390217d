"""Overlapping windows over token sequences, in the graph: nothing is truncated."""

import tensorflow as tf


def window_spans(lengths, budget, stride):
    """Where the windows of each sequence start, and how long they are.

    Sequence `b` of `lengths[b]` tokens gets windows of at most `budget[b]`
    tokens whose starts are `stride` apart, until the last token is covered
    (BERT's SQuAD windows); a sequence that fits has one window.

    Returns:
        `(example, start, size)`, each `[windows]` int32: the sequence each
        window comes from, its first token and its token count.

    Example:

    ```python
    window_spans(tf.constant([5, 12]), 8, 4)
    # example [0, 1, 1], start [0, 0, 4], size [5, 8, 8]
    ```
    """
    lengths = tf.cast(lengths, tf.int32)
    budget = tf.broadcast_to(tf.cast(budget, tf.int32), tf.shape(lengths))
    stride = tf.maximum(tf.minimum(tf.cast(stride, tf.int32), budget), 1)
    extra = tf.maximum(lengths - budget, 0)
    count = 1 + (extra + stride - 1) // stride
    example = tf.repeat(tf.range(tf.size(count)), count)
    start = tf.ragged.range(count).flat_values * tf.gather(stride, example)
    size = tf.minimum(tf.gather(budget, example), tf.gather(lengths, example) - start)
    return example, start, size


def take_windows(values, example, start, size):
    """The windows `(example, start, size)` of a ragged `[batch, (tokens)]` tensor."""
    row_starts = tf.cast(values.row_splits[:-1], tf.int32)
    index = (
        tf.ragged.range(start, start + size) + tf.gather(row_starts, example)[:, None]
    )
    return tf.gather(values.flat_values, index)
