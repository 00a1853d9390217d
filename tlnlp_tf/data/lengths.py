"""Choose a sequence length from the data instead of a silent 512."""

import warnings

import numpy as np
import tensorflow as tf

from tlnlp_tf.errors import DataError


def choose_sequence_length(
    tokenizer, texts, pairs=None, limit=512, percentile=100.0, multiple=8, warn=True
):
    """The token length covering `percentile`% of `texts` (default: all), up to `limit`.

    Task models pad each batch only to its own longest text, so a generous
    length costs only the batches that need it; truncation costs accuracy.

    Counts the special tokens of one text ([CLS] … [SEP]) or a pair, rounds
    up to a multiple of `multiple`, and warns (with counts) when some texts
    will be truncated (`warn=False` for tasks that window longer texts).

    Example:

    ```python
    length = choose_sequence_length(preprocessor.tokenizer, texts, limit=512)
    ```
    """
    if isinstance(texts, str) or not len(texts):
        raise DataError(
            "choose_sequence_length needs a non-empty list of texts, got "
            f"{texts!r:.40}."
        )
    lengths = token_lengths(tokenizer, texts, pairs)
    wanted = int(np.ceil(np.percentile(lengths, percentile)))
    length = int(min(limit, max(multiple, -(-wanted // multiple) * multiple)))
    longer = int(np.sum(lengths > length))
    if longer and warn:
        warnings.warn(
            f"{longer} of {len(lengths)} sampled texts are longer than "
            f"max_length={length} tokens (the longest has {int(lengths.max())})"
            " and will be truncated; pass max_length to change this.",
            stacklevel=2,
        )
    return length


def token_lengths(tokenizer, texts, pairs=None):
    """Tokens per example with the special tokens ([CLS] a [SEP], or a pair + [SEP]).

    ```python
    token_lengths(preprocessor.tokenizer, ["a fine film"])  # array([5])
    ```
    """
    lengths = _token_counts(tokenizer, texts) + 2
    if pairs is not None:
        lengths = lengths + _token_counts(tokenizer, pairs) + 1
    return lengths


def _token_counts(tokenizer, texts):
    counts = [np.zeros(0, dtype=int)]
    for start in range(0, len(texts), 512):
        tokens = tokenizer(tf.constant(texts[start : start + 512]))
        if hasattr(tokens, "row_lengths"):
            counts.append(tokens.row_lengths().numpy())
        else:  # keras-hub returns Python lists when called eagerly
            counts.append(np.array([len(row) for row in tokens]))
    return np.concatenate(counts)
