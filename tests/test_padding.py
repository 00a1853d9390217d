import numpy as np
import tensorflow as tf

from tlnlp_tf.data import trim_padding


def _batch(lengths, width=32):
    mask = np.array([[i < n for i in range(width)] for n in lengths])
    ids = np.where(mask, np.arange(1, width + 1), 0).astype("int32")
    return {
        "token_ids": tf.constant(ids),
        "padding_mask": tf.constant(mask),
        "segment_ids": tf.zeros_like(ids),
    }


def test_trims_to_the_longest_row_rounded_up():
    trimmed = trim_padding(_batch([3, 10]))
    assert {k: tuple(v.shape) for k, v in trimmed.items()} == {
        "token_ids": (2, 16),
        "padding_mask": (2, 16),
        "segment_ids": (2, 16),
    }
    np.testing.assert_array_equal(trimmed["token_ids"][1, :10], np.arange(1, 11))
    assert trimmed["padding_mask"].numpy().sum() == 13  # no real token lost


def test_never_grows_and_leaves_unbatched_alone():
    assert trim_padding(_batch([30, 31], width=31))["token_ids"].shape == (2, 31)
    single = {
        "token_ids": tf.constant([1, 2, 0]),
        "padding_mask": tf.constant([True, True, False]),
    }
    assert trim_padding(single) is single


def test_works_inside_tf_data():
    data = tf.data.Dataset.from_tensors(_batch([5, 2])).map(trim_padding)
    assert next(iter(data))["token_ids"].shape == (2, 8)
