"""Batches of similar lengths: short texts stop paying for the longest one."""

import tensorflow as tf

from tlnlp_tf.errors import DataError
from tlnlp_tf.errors import PolicyError

# Batches per "mega-batch" sorted by length (Hugging Face's group_by_length uses 50).
GROUP = 50

# `choose_batching` groups by length only from this many batches per epoch.
MIN_LENGTH_BATCHES = 100
BATCHINGS = ("auto", "length", "random")

# The shuffle buffer of fixed-size token features holds at most this many
# bytes (`shuffle_buffer`), and at least `MIN_SHUFFLE` examples.
SHUFFLE_BYTES = 256 * 2**20
MIN_SHUFFLE = 10_000


def choose_batching(examples, batch_size, batching="auto", token_level=False):
    """`"length"` or `"random"`: how `tlnlp fit` batches its training data.

    `"auto"` picks `"length"` (`batch_by_length`) for sequence-level tasks
    (text classification, regression) when an epoch has at least
    `MIN_LENGTH_BATCHES` (100) batches, else `"random"` (plain shuffled
    batches). Batches of similar lengths pay for less padding, but each one
    samples one stratum of lengths: with few updates that extra gradient
    noise does not average out. Measured (`benchmarks/RESULTS.md`): IMDB,
    32 batches per epoch: held-out accuracy 0.737 and 0.768 (2 seeds)
    against 0.836 with random batches. Token-level tasks
    (`token_level=True`: NER, QA) always get `"random"`: their loss is
    averaged per batch, so length-grouped batches of one-word lines weigh as
    much as batches of long sentences (CoNLL-2003: 1 point of F1 lower).
    `"length"` and `"random"` are returned as given.

    Example:

    ```python
    if tl.data.choose_batching(len(train), 32) == "length":
        data = tl.data.batch_by_length(tokens.shuffle(len(train)), 32)
    ```
    """
    if batching not in BATCHINGS:
        raise PolicyError(
            f"batching must be one of {', '.join(BATCHINGS)}; got {batching!r}."
        )
    if batching != "auto":
        return batching
    if token_level or -(-examples // batch_size) < MIN_LENGTH_BATCHES:
        return "random"
    return "length"


def training_batches(
    dataset, batch_size, batching="auto", seed=None, token_level=False
):
    """Shuffle an unbatched, finite training dataset and batch it as `tlnlp fit` does.

    The dataset is shuffled (reshuffled every epoch) over a buffer of
    `shuffle_buffer` examples, the whole dataset unless its tokens pass
    `SHUFFLE_BYTES`, then batched as `choose_batching` decides:
    `batch_by_length` or plain `.batch`.

    Example:

    ```python
    tokens = model.tokenize_once(train.to_dataset())
    model.fit(tl.data.training_batches(tokens, 32, seed=0), epochs=2)
    ```
    """
    count = int(dataset.cardinality())
    if count < 0:
        raise DataError(
            "training_batches needs a dataset of known, finite length "
            "(e.g. from tokenize_once, or with assert_cardinality)."
        )
    dataset = dataset.shuffle(shuffle_buffer(dataset, count), seed=seed)
    if choose_batching(count, batch_size, batching, token_level) == "length":
        return batch_by_length(dataset, batch_size, seed=seed)
    return dataset.batch(batch_size)


def shuffle_buffer(dataset, count):
    """Examples in the shuffle buffer: all `count`, or as many as fit in
    `SHUFFLE_BYTES` for fixed-size token features (at least `MIN_SHUFFLE`).

    Token features on disk (`tokenize_once(cache_dir=…)`) are shuffled in
    this bounded buffer rather than in memory as a whole: with three int32
    columns, about 350,000 examples at 64 tokens, 44,000 at 512. Raw text, and any
    element whose size is not known from its spec, is shuffled whole.

    ```python
    tokens = tf.data.Dataset.range(10).map(lambda i: {"token_ids": tf.fill([8], i)})
    tl.data.shuffle_buffer(tokens, 10)  # 10: all of them fit
    ```
    """
    size = 0
    for spec in tf.nest.flatten(dataset.element_spec):
        shape = getattr(spec, "shape", None)
        dtype = getattr(spec, "dtype", tf.string)
        if shape is None or not shape.is_fully_defined() or dtype == tf.string:
            return count
        size += max(1, shape.num_elements()) * dtype.size
    return min(count, max(MIN_SHUFFLE, SHUFFLE_BYTES // max(size, 1)))


def batch_by_length(dataset, batch_size, group=GROUP, seed=None):
    """Batch raw-text examples so that each batch holds texts of similar length.

    The examples are read `batch_size × group` at a time (shuffle the dataset
    first), sorted by length (bytes of all the strings of an example's
    features, or its tokens), cut into `group` batches, and those batches are
    shuffled. Task models pad each batch only to its own longest text (rounded up to a
    multiple of 8), so this cuts the padding a random batch pays for, with a
    bounded number of distinct shapes. There are exactly
    `ceil(examples / batch_size)` batches, so learning-rate schedules know
    the number of steps.

    Args:
        dataset: an unbatched `tf.data.Dataset` of `x`, `(x, y)` or
            `(x, y, sample_weight)` whose `x` holds strings, or token
            features from a task's `tokenize_once` (sorted by token count).
        batch_size: examples per batch.
        group: batches sorted together; 1 keeps the order (no grouping).
        seed: seed of the shuffle of the batches.

    Example:

    ```python
    data = tl.data.batch_by_length(train.to_dataset().shuffle(len(train)), 32)
    model.fit(data, epochs=3)
    ```
    """
    if batch_size < 1 or group < 1:
        raise PolicyError(
            f"batch_size and group must be positive, got {batch_size} and {group}."
        )
    count = int(dataset.cardinality())
    if count == tf.data.INFINITE_CARDINALITY:
        raise DataError("batch_by_length needs a finite dataset.")

    single = not isinstance(dataset.element_spec, tuple)  # x alone, not (x, y, …)
    features = dataset.element_spec if single else dataset.element_spec[0]
    if not _has_lengths(features):  # checked here: inside `map` it is a graph error
        raise DataError(
            "batch_by_length needs examples whose features are strings or tokens "
            f"(a dict with 'padding_mask'), got {features}."
        )

    def sort_by_length(*element):
        order = tf.argsort(_lengths(element[0]), stable=True)
        element = tuple(
            tf.nest.map_structure(lambda t: tf.gather(t, order), e) for e in element
        )
        return element[0] if single else element

    batches = dataset.batch(batch_size * group).map(sort_by_length, tf.data.AUTOTUNE)
    batches = batches.unbatch().batch(batch_size)
    if group > 1:
        batches = batches.shuffle(group, seed=seed)
    if count >= 0:
        batches = batches.apply(
            tf.data.experimental.assert_cardinality(-(-count // batch_size))
        )
    return batches.prefetch(tf.data.AUTOTUNE)


def _lengths(features):
    """Per example, its token count (token features) or the bytes of its strings."""
    if isinstance(features, dict) and "padding_mask" in features:
        return tf.reduce_sum(tf.cast(features["padding_mask"], tf.int32), axis=-1)
    strings = [t for t in tf.nest.flatten(features) if t.dtype == tf.string]
    return tf.add_n([tf.strings.length(t) for t in strings])


def _has_lengths(spec):
    """Whether `_lengths` can measure features of this `element_spec`."""
    if isinstance(spec, dict) and "padding_mask" in spec:
        return True
    return any(getattr(s, "dtype", None) == tf.string for s in tf.nest.flatten(spec))
