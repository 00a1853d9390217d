"""Dynamic padding: trim a batch to its longest row, inside the tf.data graph."""

import tensorflow as tf

# Batch lengths are rounded up to a multiple of this: a bounded number of
# distinct shapes, so compiled train steps are not retraced for every batch.
LENGTH_MULTIPLE = 8


def trim_padding(features, multiple=LENGTH_MULTIPLE):
    """Cut the padding columns every row of a batch shares.

    `features` is a preprocessor's output dict (`token_ids`, `padding_mask`,
    `segment_ids`, … all `[batch, sequence_length]`). The batch keeps
    `ceil(longest row / multiple) * multiple` columns, at most its current
    length. Unbatched (rank-1) features are returned unchanged.

    The padding mask comes back as int32 (keras-hub backbones declare it
    so): Keras 3.15's first-batch build under `tf.distribute` averages the
    batch across replicas, which fails on a bool tensor
    (https://github.com/keras-team/keras/issues/20585 family; see
    `tlnlp_tf.distribute`).

    Example:

    ```python
    x = trim_padding(preprocessor(texts))  # [32, 128] -> [32, 24]
    ```
    """
    mask = features["padding_mask"]
    if mask.shape.rank != 2:
        return features
    full = tf.shape(mask)[1]
    longest = tf.reduce_max(tf.reduce_sum(tf.cast(mask, tf.int32), axis=1))
    length = tf.minimum(-(-longest // multiple) * multiple, full)
    trimmed = {
        name: value[:, :length] if value.shape.rank == 2 else value
        for name, value in features.items()
    }
    trimmed["padding_mask"] = tf.cast(trimmed["padding_mask"], tf.int32)
    return trimmed
