"""What the task models accept as input: raw text lists, datasets, checks.

The edge between a user's Python objects and the `tf.data` pipeline: lists
of texts become datasets (shuffled as Keras shuffles arrays), unbatched
datasets and empty texts are refused with a `DataError` that says what to
do, and batched datasets of raw examples are read back into Python when a
metric needs the gold words or spans.

```python
check_texts(["a fine film"])  # passes; ["  "] would be a DataError (input 0 is empty)
```
"""

import keras
import numpy as np
import tensorflow as tf

from tlnlp_tf.errors import DataError

# Texts sampled from the training data to choose `max_length`.
LENGTH_SAMPLE = 2048
# Batch size of a dataset built from Python lists when `fit` is given none.
DEFAULT_BATCH = 32


def is_tokenized(x):
    """Whether `x` is a batch of token features (from `tokenize_once`), not text."""
    return isinstance(x, dict) and "token_ids" in x and "padding_mask" in x


def is_raw_text(x):
    """Whether `x` is texts as Python lists (or a tuple of two: texts, pairs)."""
    if isinstance(x, (str, list, np.ndarray)):
        return True
    return isinstance(x, tuple) and all(isinstance(p, (list, np.ndarray)) for p in x)


def holds_strings(x):
    """Whether raw-text `x` (a list, or a tuple of two lists) holds strings."""
    parts = x if isinstance(x, tuple) else (x,)
    return all(
        isinstance(part, (list, np.ndarray)) and len(part) and isinstance(part[0], str)
        for part in parts
    )


def is_batched(dataset):
    """Whether a dataset's elements are batches (not single examples)."""
    features, _, _ = keras.utils.unpack_x_y_sample_weight(dataset.element_spec)
    if isinstance(features, dict) and "token_ids" in features:
        return features["token_ids"].shape.rank != 1
    for spec in tf.nest.flatten(features):
        if spec.shape.rank is not None:
            return spec.shape.rank > 0
    return True


def samples_encoder(model):
    """A `tf.data` map function: each element, `x` or `(x, y[, sample_weight])`,
    through `model.preprocess_samples`.

    ```python
    model = tl.TextClassifier.from_backbone("minilm", labels=["neg", "pos"])
    data = tf.data.Dataset.from_tensor_slices((["good", "bad"], [1, 0])).batch(2)
    tokens = data.map(samples_encoder(model))
    ```
    """

    def encode(*element):
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(
            element[0] if len(element) == 1 else element
        )
        return model.preprocess_samples(x, y, sample_weight)

    return encode


def check_batched(dataset, verb):
    """Raise `DataError` when `dataset` holds single examples instead of batches.

    ```python
    check_batched(train.batch(32), "fit")  # passes
    ```
    """
    if isinstance(dataset, tf.data.Dataset) and not is_batched(dataset):
        raise DataError(
            f"{verb} takes a batched dataset, but its elements are single "
            f"examples: batch the dataset first, e.g. model.{verb}(data.batch(32))."
        )


def pairs_to_lists(x, y):
    """`fit([(text, label), ...])` as Keras's `fit(texts, labels)`.

    Returns `(x, y)` unchanged unless `x` is a list of `(text, label)` or
    `((text, pair), label)` tuples and `y` is `None`.

    ```python
    pairs_to_lists([("good", "pos"), ("bad", "neg")], None)
    # (["good", "bad"], ["pos", "neg"])
    ```
    """
    if y is not None or not isinstance(x, list) or not x:
        return x, y
    if not all(isinstance(item, tuple) and len(item) == 2 for item in x):
        return x, y
    features, labels = [item[0] for item in x], [item[1] for item in x]
    if all(isinstance(f, tuple) and len(f) == 2 for f in features):
        features = ([f[0] for f in features], [f[1] for f in features])
    return features, labels


def lists_dataset(x, y, sample_weight, batch_size, shuffle):
    """A batched dataset of Python lists of texts and targets, shuffled like Keras.

    ```python
    data = lists_dataset(["good", "bad"], ["pos", "neg"], None, 32, True)
    ```
    """
    features = x
    if isinstance(x, tuple):
        _check_pair_lengths(x)
        for part in x:
            check_texts(part)
        features = tuple(tf.constant(list(part), tf.string) for part in x)
    else:
        check_texts(x)
        features = tf.constant(list(x), tf.string)
    count = len(x[0]) if isinstance(x, tuple) else len(x)
    if len(y) != count:
        raise DataError(f"{count} texts but {len(y)} targets; give one per text.")
    parts = (features, tf.constant(np.asarray(y)))
    if sample_weight is not None:
        parts = parts + (tf.constant(np.asarray(sample_weight, "float32")),)
    data = tf.data.Dataset.from_tensor_slices(parts)
    if shuffle:
        data = data.shuffle(count, reshuffle_each_iteration=True)
    return data.batch(batch_size or DEFAULT_BATCH)


def length_order(x):
    """Indices of the examples of raw text `x`, shortest first (stable)."""
    if isinstance(x, str):
        return np.zeros(1, dtype=int)
    parts = x if isinstance(x, tuple) else (x,)
    if len({len(part) for part in parts}) != 1:
        return np.arange(len(parts[0]))  # as_text_dataset explains the mismatch
    lengths = np.zeros(len(parts[0]), dtype=int)
    for part in parts:
        lengths += np.array(
            [len(t) if isinstance(t, str) else 0 for t in part], dtype=int
        )
    return np.argsort(lengths, kind="stable")


def as_text_dataset(x, batch_size, order=None):
    """A batched dataset of raw texts (or pairs), in `order`; checks the texts."""
    if isinstance(x, str):
        x = [x]
    pick = (
        (lambda part: list(part))
        if order is None
        else (lambda part: [part[i] for i in order])
    )
    if isinstance(x, tuple):
        _check_pair_lengths(x)
        for part in x:
            check_texts(part)
        # A 1-tuple element: `(texts, pairs)` alone would read as `(x, y)`.
        data = (tuple(tf.constant(pick(part), tf.string) for part in x),)
    else:
        check_texts(x)
        data = tf.constant(pick(x), tf.string)
    return tf.data.Dataset.from_tensor_slices(data).batch(batch_size)


def check_texts(
    texts,
    what="Input",
    empty=": there is no text to predict from; remove it or give it some text.",
):
    """Raise `DataError` at the first input that is not a non-empty string.

    `what` names an item in the message (`"Input 3 is …"`), `empty` ends the
    message of an empty one.
    """
    for index, text in enumerate(texts):
        if not isinstance(text, str):
            raise DataError(
                f"{what} {index} is {type(text).__name__}, expected a string."
            )
        if not text.strip():
            raise DataError(f"{what} {index} is empty (or only whitespace){empty}")


def texts_of(x, limit=None):
    """`(texts, pairs or None)` from raw lists or a dataset (up to `limit`).

    Token features (`tokenize_once`) and other non-text inputs give `([], None)`.
    """
    if isinstance(x, tf.data.Dataset):
        texts, pairs = [], []
        for element in x:
            features, _, _ = keras.utils.unpack_x_y_sample_weight(element)
            if isinstance(features, dict):
                return [], None
            if isinstance(features, tuple):
                texts.extend(flat_strings(features[0]))
                pairs.extend(flat_strings(features[1]))
            else:
                texts.extend(flat_strings(features))
            if limit is not None and len(texts) >= limit:
                break
        return texts[:limit], (pairs[:limit] or None)
    if isinstance(x, str):
        return [x], None
    if isinstance(x, tuple) and len(x) == 2:
        return list(x[0][:limit]), list(x[1][:limit])
    if isinstance(x, (list, np.ndarray)) and len(x) and isinstance(x[0], str):
        return list(x[:limit]), None
    return [], None


def flat_strings(tensor):
    """The strings of a string tensor, flattened and decoded."""
    if not isinstance(tensor, tf.Tensor) or tensor.dtype != tf.string:
        return []
    return [t.decode("utf-8") for t in np.reshape(tensor.numpy(), -1)]


def examples_of(dataset, steps=None):
    """`(x, y)` per example of a dataset, batched or not, as NumPy values.

    ```python
    for x, y in examples_of(tl.data.from_lists(["good"], ["pos"]).batch(8)):
        ...  # x == b"good", y == b"pos"
    ```
    """
    if steps is not None:
        dataset = dataset.take(steps)
    if is_batched(dataset):
        dataset = dataset.unbatch()
    for element in dataset.as_numpy_iterator():
        x, y, _ = keras.utils.unpack_x_y_sample_weight(element)
        yield x, y


def has_raw_text(dataset):
    """Whether a dataset's inputs are raw strings (not token features)."""
    features, _, _ = keras.utils.unpack_x_y_sample_weight(dataset.element_spec)
    if isinstance(features, dict) and "token_ids" in features:
        return False
    return any(s.dtype == tf.string for s in tf.nest.flatten(features))


def text(value):
    """A NumPy string (bytes) as `str`."""
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


def _check_pair_lengths(x):
    if len(x) != 2 or len(x[0]) != len(x[1]):
        raise DataError(
            "Text pairs are a tuple of two lists of the same length: "
            "(texts, text_pairs)."
        )
