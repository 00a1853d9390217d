"""Inputs of the word-level baselines (`WordClassifier`, `WordTagger`).

Their vocabulary starts with padding and `[UNK]`, as
`word_vectors.build_vocabulary` returns it; a length chosen from the
training texts is counted in words, and texts longer than it are counted
in a warning.

```python
from tlnlp_tf.tasks.word_inputs import choose_word_length
choose_word_length(["a good film"])  # 8
```
"""

import math
import warnings

import numpy as np
import tensorflow as tf

from tlnlp_tf.errors import DataError
from tlnlp_tf.errors import PolicyError
from tlnlp_tf.pretraining import word_vectors

MAX_SEQUENCE_LENGTH = 512  # the cap on a length chosen from the data


def check_vocabulary(vocabulary):
    """The vocabulary as strings: padding and `[UNK]` first, some words, no repeats.

    ```python
    check_vocabulary(["", "[UNK]", "good"])  # ["", "[UNK]", "good"]
    ```
    """
    vocabulary = [str(word) for word in vocabulary]
    if vocabulary[:2] != [word_vectors.PADDING, word_vectors.UNKNOWN]:
        raise PolicyError(
            "The vocabulary starts with the padding '' and '[UNK]' entries, "
            "as word_vectors.build_vocabulary returns it."
        )
    if len(vocabulary) < 3:
        raise DataError(
            "The vocabulary has no words: the training texts are empty "
            "(after lower-casing, stripping punctuation, splitting on spaces)."
        )
    if len(set(vocabulary)) != len(vocabulary):
        raise PolicyError("The vocabulary has repeated words.")
    return vocabulary


def is_texts(x):
    """Whether `x` is a text or a non-empty list of texts.

    ```python
    is_texts(["a good film"]), is_texts([[1, 2]])  # (True, False)
    ```
    """
    return isinstance(x, str) or (
        isinstance(x, (list, tuple, np.ndarray))
        and len(x) > 0
        and all(isinstance(item, str) for item in x)
    )


def check_string_batches(dataset, takes):
    """Raise `DataError` when a dataset of strings is not batched.

    `takes` says what the model takes, for the message ("WordTagger takes a
    batched dataset of (sentence, tags)").

    ```python
    import tensorflow as tf
    check_string_batches(tf.data.Dataset.from_tensor_slices(["a"]).batch(2), "it")
    ```
    """
    for spec in tf.nest.flatten(dataset.element_spec):
        if spec.dtype == tf.string and spec.shape.rank == 0:
            raise DataError(f"{takes}: call .batch(32) on it first.")


def training_texts(texts):
    """A list of strings from a list or a dataset of texts or `(text, label)`.

    ```python
    training_texts(["a good film", "a bad one"])
    ```
    """
    if isinstance(texts, tf.data.Dataset):
        strings = []
        for element in texts:
            first = tf.nest.flatten(element)[0]
            strings.extend(t.decode("utf-8") for t in np.reshape(first.numpy(), -1))
        texts = strings
    if isinstance(texts, str) or not all(isinstance(text, str) for text in texts):
        raise DataError(
            "texts must be the training texts: a list of strings (or a "
            "dataset of texts)."
        )
    if not any(words for words in word_vectors.tokenize(texts)):
        raise DataError(
            f"The {len(texts)} training text(s) have no words (after "
            "lower-casing, stripping punctuation and splitting on whitespace)."
        )
    return list(texts)


def choose_word_length(texts):
    """A sequence length in words that fits the longest text, in steps of 8,
    capped at `MAX_SEQUENCE_LENGTH` (longer texts are counted in a warning).

    ```python
    choose_word_length(["a good film", "a bad one"])  # 8
    ```
    """
    longest = max(len(words) for words in word_vectors.tokenize(texts))
    length = min(MAX_SEQUENCE_LENGTH, max(8, math.ceil(longest / 8) * 8))
    if longest > length:
        longer = sum(len(words) > length for words in word_vectors.tokenize(texts))
        warnings.warn(
            f"{longer} of {len(texts)} training texts are longer than "
            f"sequence_length={length} words (the longest has {longest}) and "
            "will be truncated; pass sequence_length to change this.",
            stacklevel=3,
        )
    return length
