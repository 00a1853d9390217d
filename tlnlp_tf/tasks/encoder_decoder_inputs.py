"""Checks and data helpers of `EncoderDecoderLM`: options, pairs, lengths.

Every user-facing check of the encoder-decoder's arguments (variant,
lengths, freeze policies per side, a target vocabulary) and of its
`(source, target)` data raises a one-line `DataError` or `PolicyError`.

```python
check_choice("variant", "bert2bert", ("bert2bert", "bert2rnd", "rnd2rnd"))
```
"""

import os
import warnings

import keras
import keras_hub
import numpy as np
import tensorflow as tf

from tlnlp_tf.errors import DataError
from tlnlp_tf.errors import PolicyError
from tlnlp_tf.tasks.inputs import DEFAULT_BATCH
from tlnlp_tf.tasks.inputs import check_texts
from tlnlp_tf.tasks.inputs import examples_of
from tlnlp_tf.tasks.inputs import flat_strings
from tlnlp_tf.tasks.inputs import pairs_to_lists
from tlnlp_tf.tasks.inputs import text

SIDES = ("encoder", "decoder")
PAIR_EMPTY = "; remove the pair or give it some text."


def check_choice(option, value, choices):
    if value not in choices:
        raise PolicyError(
            f"{option}={value!r}: expected one of {', '.join(map(repr, choices))}."
        )


def check_length(option, value, limit):
    if value is None:
        return
    if not isinstance(value, (int, np.integer)) or not 3 <= value <= limit:
        raise PolicyError(
            f"{option}={value!r}: expected an integer from 3 to {limit} (the "
            "positions the model has), or None to choose it from the training data."
        )


def split_policy(freeze):
    if isinstance(freeze, dict):
        unknown = sorted(set(freeze) - set(SIDES))
        if unknown:
            raise PolicyError(
                f"freeze={freeze!r}: unknown side(s) {unknown}; expected a policy "
                "string or a dict with the keys 'encoder' and 'decoder'."
            )
        policies = {side: freeze.get(side, "none") for side in SIDES}
    else:
        policies = {side: freeze for side in SIDES}
    for side, policy in policies.items():
        if not isinstance(policy, str):
            raise PolicyError(
                f"freeze[{side!r}]={policy!r}: a freeze policy is a string "
                "('none', 'all', 'embeddings', 'bottom-N', 'lora-R')."
            )
        policies[side] = policy.strip().lower()
    return policies


def target_tokenizer_of(vocabulary):
    """`None`, or a BERT tokenizer of a new target vocabulary."""
    if vocabulary is None or isinstance(vocabulary, keras_hub.tokenizers.Tokenizer):
        return vocabulary
    if isinstance(vocabulary, (str, os.PathLike)):
        path = os.fspath(vocabulary)
        if not os.path.isfile(path):
            raise DataError(
                f"target_vocabulary '{path}' is not a file: expected a vocab.txt "
                "(one WordPiece token a line), a list of tokens or a tokenizer."
            )
        with open(path, encoding="utf-8") as file:
            vocabulary = [line.rstrip("\n") for line in file if line.strip()]
    tokens = [str(token) for token in vocabulary]
    # A vocabulary with no upper-case letter outside the special tokens was
    # learned from lower-cased text: its tokenizer lower-cases too.
    lowercase = not any(t != t.lower() for t in tokens if not t.startswith("["))
    try:
        return keras_hub.models.BertTokenizer(vocabulary=tokens, lowercase=lowercase)
    except ValueError as error:
        raise DataError(f"target_vocabulary: {error}") from None


def as_lists(x, y):
    """`(sources, targets)` from `TextPairs` or a list of pairs; else as given."""
    if y is None and hasattr(x, "sources") and hasattr(x, "targets"):
        return list(x.sources), list(x.targets)
    return pairs_to_lists(x, y)


def is_texts(x):
    return isinstance(x, (list, tuple, np.ndarray)) and (
        len(x) == 0 or isinstance(x[0], str)
    )


def check_pairs(sources, targets, verb):
    sources, targets = list(sources), list(targets)
    if len(sources) != len(targets):
        raise DataError(
            f"{verb}: {len(sources)} sources but {len(targets)} targets; give one "
            "target per source."
        )
    if not sources:
        raise DataError(f"{verb}: no (source, target) pairs.")
    check_texts(sources, f"{verb}: source", PAIR_EMPTY)
    check_texts(targets, f"{verb}: target", PAIR_EMPTY)
    return sources, targets


def pairs_dataset(sources, targets, batch_size, shuffle):
    data = tf.data.Dataset.from_tensor_slices(
        (tf.constant(sources, tf.string), tf.constant(targets, tf.string))
    )
    if shuffle:
        data = data.shuffle(len(sources), reshuffle_each_iteration=True)
    return data.batch(batch_size or DEFAULT_BATCH)


def sample_pairs(dataset, limit):
    """Up to `limit` `(sources, targets)` of a batched dataset of text pairs."""
    sources, targets = [], []
    for element in dataset:
        x, y, _ = keras.utils.unpack_x_y_sample_weight(element)
        if isinstance(x, dict) or y is None:
            return [], []
        sources.extend(flat_strings(x))
        targets.extend(flat_strings(y))
        if len(sources) >= limit:
            break
    return sources[:limit], targets[:limit]


def labelled_pairs(data):
    if isinstance(data, tf.data.Dataset):
        sources, targets = [], []
        for x, y in examples_of(data):
            if y is None:
                raise DataError("score: the dataset has no targets.")
            sources.append(text(x))
            targets.append(text(y))
        return check_pairs(sources, targets, "score")
    if isinstance(data, tuple) and len(data) == 2:
        return check_pairs(data[0], data[1], "score")
    sources, targets = as_lists(data, None)
    if targets is None:
        raise DataError(
            "score takes (sources, targets), a list of (source, target) pairs or a "
            "dataset of them."
        )
    return check_pairs(sources, targets, "score")


def warn_longer(lengths, limit, what, option):
    lengths = np.asarray(lengths)
    longer = int(np.sum(lengths > limit))
    if longer:
        warnings.warn(
            f"{longer} of {len(lengths)} {what} are longer than {option}={limit} "
            f"tokens (the longest has {int(lengths.max())}) and were truncated to "
            f"their first {limit} tokens.",
            stacklevel=3,
        )
    return longer
