"""batch_by_length: similar lengths together, every example once, known step count."""

import numpy as np
import pytest
import tensorflow as tf

import tlnlp_tf as tl


def texts(count, seed=0):
    rng = np.random.default_rng(seed)
    return ["x" * int(n) for n in rng.integers(1, 200, count)]


def test_every_example_once_and_batches_of_similar_length():
    data = texts(1000)
    labels = list(range(1000))
    dataset = tf.data.Dataset.from_tensor_slices((data, labels)).shuffle(1000, seed=0)
    batches = tl.data.batch_by_length(dataset, 10, group=20, seed=0)
    assert int(batches.cardinality()) == 100
    seen, spreads, random_spreads = [], [], []
    for x, y in batches:
        lengths = tf.strings.length(x).numpy()
        spreads.append(lengths.max() - lengths.min())
        assert all(
            len(data[i]) == n for i, n in zip(y.numpy(), lengths)
        )  # x and y stay paired
        seen.extend(y.numpy().tolist())
    assert sorted(seen) == labels
    for x, _ in dataset.batch(10):
        lengths = tf.strings.length(x).numpy()
        random_spreads.append(lengths.max() - lengths.min())
    assert np.mean(spreads) < 0.2 * np.mean(random_spreads)


def test_partial_last_batch_dict_features_and_unlabelled():
    questions = tf.constant(texts(23, 1))
    contexts = tf.constant(texts(23, 2))
    spans = tf.zeros([23, 2], tf.int32)
    dataset = tf.data.Dataset.from_tensor_slices(
        ({"question": questions, "context": contexts}, spans)
    )
    batches = list(tl.data.batch_by_length(dataset, 5, group=2))
    assert [int(b[1].shape[0]) for b in batches].count(5) == 4 and len(batches) == 5
    alone = tl.data.batch_by_length(
        tf.data.Dataset.from_tensor_slices(questions), 5, group=1
    )
    assert [b.shape[0] for b in alone] == [5, 5, 5, 5, 3]
    with pytest.raises(ValueError, match="features are strings"):
        tl.data.batch_by_length(tf.data.Dataset.range(5), 2)


def test_choose_batching_groups_by_length_only_with_enough_batches():
    from tlnlp_tf.data.batching import MIN_LENGTH_BATCHES

    enough = MIN_LENGTH_BATCHES * 32
    assert tl.data.choose_batching(enough, 32) == "length"
    assert tl.data.choose_batching(enough - 32, 32) == "random"  # 99 batches
    assert tl.data.choose_batching(enough, 32, token_level=True) == "random"
    assert tl.data.choose_batching(10, 32, "length") == "length"  # as given
    assert tl.data.choose_batching(enough, 32, "random") == "random"
    with pytest.raises(ValueError, match="batching must be one of"):
        tl.data.choose_batching(10, 32, "sorted")


def test_training_batches_shuffles_and_batches_as_chosen():
    values = tf.data.Dataset.range(3300).map(
        lambda i: (
            {
                "token_ids": tf.fill([1 + i % 7], 1),
                "padding_mask": tf.ones([1 + i % 7], tf.int32),
            },
            i,
        )
    )
    values = values.apply(tf.data.experimental.assert_cardinality(3300))
    padded = values.map(
        lambda x, i: (
            {k: tf.pad(v, [[0, 8 - tf.shape(v)[0]]]) for k, v in x.items()},
            i,
        )
    )
    grouped = tl.data.training_batches(padded, 32, seed=0)  # 104 batches: by length
    seen, spreads = [], []
    for x, i in grouped:
        lengths = x["padding_mask"].numpy().sum(axis=1)
        spreads.append(lengths.max() - lengths.min())
        seen.extend(i.numpy().tolist())
    assert sorted(seen) == list(range(3300)) and seen != sorted(seen)
    assert np.mean(spreads) < 1.0  # rows of a batch share their length
    plain = tl.data.training_batches(padded, 32, "random", seed=0)
    spread = [np.ptp(x["padding_mask"].numpy().sum(axis=1)) for x, _ in plain.take(10)]
    assert np.mean(spread) > 3
    with pytest.raises(ValueError, match="known, finite length"):
        tl.data.training_batches(tf.data.Dataset.range(5).repeat(), 2)


def test_the_shuffle_buffer_is_bounded_for_large_token_sets(monkeypatch):
    from tlnlp_tf.data import batching

    tokens = tf.data.Dataset.range(10).map(lambda i: {"token_ids": tf.fill([64], i)})
    assert tl.data.shuffle_buffer(tokens, 10) == 10  # fits: the whole set
    # 64 int64 ids = 512 bytes an example: 1 MiB holds 2,048 of 50,000
    monkeypatch.setattr(batching, "SHUFFLE_BYTES", 2**20)
    monkeypatch.setattr(batching, "MIN_SHUFFLE", 100)
    assert tl.data.shuffle_buffer(tokens, 50_000) == 2_048
    monkeypatch.setattr(batching, "MIN_SHUFFLE", 5_000)
    assert tl.data.shuffle_buffer(tokens, 50_000) == 5_000  # never below the floor
    texts = tf.data.Dataset.from_tensor_slices(["a", "b"])
    assert tl.data.shuffle_buffer(texts, 10**7) == 10**7  # raw text: the whole set
