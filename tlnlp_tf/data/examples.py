"""`Examples`: labelled texts read from a file, before they become tf.data."""

import dataclasses

import numpy as np
import tensorflow as tf

from tlnlp_tf.errors import DataError
from tlnlp_tf.errors import PolicyError

LISTS = "<lists>"  # the source of examples given as Python lists


@dataclasses.dataclass
class Examples:
    """Texts (and optional second texts and labels) with where they came from.

    Attributes:
        texts: the first (or only) text of each example.
        pairs: the second text of each example, or `None`.
        labels: the label of each example as a string, or `None`.
        source: the file (or `"<lists>"`) the examples were read from.
        lines: the line number of each example in `source`; for examples
            read from several files, `"file, line N"`.
        skipped: bad lines left out while reading (`on_bad_line="skip"`).

    Example:

    ```python
    examples = Examples(["loved it", "dull"], labels=["pos", "neg"])
    assert examples.label_names() == ["neg", "pos"]
    dataset = examples.to_dataset().batch(2)  # (text, label) batches for fit
    ```
    """

    texts: list
    pairs: list = None
    labels: list = None
    source: str = LISTS
    lines: list = None
    skipped: int = 0

    def __post_init__(self):
        if self.lines is None:
            self.lines = list(range(1, len(self.texts) + 1))

    def __len__(self):
        return len(self.texts)

    def label_names(self):
        """The sorted distinct labels (numerically when all are integers).

        These are the classes a classifier trains on: fewer than two is an
        error.

        ```python
        Examples(["good", "bad", "fine"], labels=["1", "0", "1"]).label_names()
        # ["0", "1"]
        ```
        """
        if self.labels is None:
            raise DataError(f"{self.source}: has no labels.")
        return ordered_labels(self.source, set(self.labels))

    def check_labels(self, names):
        """Raise `DataError` at the first label not in `names`."""
        if self.labels is None:
            raise DataError(f"{self.source}: has no labels.")
        allowed = set(names)
        for label, line in zip(self.labels, self.lines):
            if label not in allowed:
                raise unseen(self.source, line, "label", label, allowed)
        return self

    def check_numeric(self):
        """Raise `DataError` at the first label that is not a finite number."""
        if self.labels is None:
            raise DataError(f"{self.source}: has no targets.")
        for label, line in zip(self.labels, self.lines):
            try:
                value = float(label)
            except (TypeError, ValueError):
                raise DataError(
                    f"{location(self.source, line)}: target '{label}' is not a "
                    "number; regression needs numeric targets."
                ) from None
            if not np.isfinite(value):
                raise DataError(
                    f"{location(self.source, line)}: target '{label}' is not a "
                    "finite number; regression needs finite targets."
                )
        return self

    def sample(self, count, seed=0):
        """A seeded random sample of `count` examples (all if fewer)."""
        return sampled(self, ("texts", "pairs", "labels", "lines"), count, seed)

    def features(self):
        """The model input: a list of texts, or a tuple of two lists."""
        return self.texts if self.pairs is None else (self.texts, self.pairs)

    def to_dataset(self):
        """An unbatched `tf.data.Dataset` of `text` or `(text, label)`.

        Pairs give `((text, text_pair), label)`.
        """
        features = self.features()
        if isinstance(features, tuple):
            features = tuple(tf.constant(f, tf.string) for f in features)
        else:
            features = tf.constant(features, tf.string)
        if self.labels is None:
            if isinstance(features, tuple):
                return tf.data.Dataset.from_tensor_slices((features,))
            return tf.data.Dataset.from_tensor_slices(features)
        labels = tf.constant(self.labels, tf.string)
        return tf.data.Dataset.from_tensor_slices((features, labels))


def sampled(record, fields, count, seed):
    """A copy of dataclass `record` keeping `count` seeded rows of its list `fields`.

    The rows keep their original order; `count=None` (or more than there
    are) keeps them all.
    """
    check_count(count)
    if count is None or count >= len(record):
        return record
    order = sorted(np.random.default_rng(seed).permutation(len(record))[:count])
    rows = {}
    for name in fields:
        values = getattr(record, name)
        rows[name] = None if values is None else [values[i] for i in order]
    return dataclasses.replace(record, **rows)


def ordered_labels(source, names):
    """The label set `names` sorted (numerically when all are integers);
    fewer than two is a `DataError` naming `source`."""
    if not names:
        raise DataError(f"{source}: has no examples.")
    if len(names) < 2:
        raise DataError(
            f"{source}: every example has the label {next(iter(names))!r}; "
            "a classifier needs examples of at least two labels."
        )
    if all(_is_int(name) for name in names):
        return sorted(names, key=int)
    return sorted(names)


def check_count(count):
    """`count` of `sample`: `None` (all) or a positive integer."""
    if count is None:
        return
    if isinstance(count, bool) or not isinstance(count, (int, np.integer)) or count < 1:
        raise PolicyError(
            f"sample needs a positive number of examples (or None for all), "
            f"got {count!r}."
        )


def unseen(source, line, kind, value, allowed):
    """The error for a label or tag that training did not have."""
    return DataError(
        f"{location(source, line)}: {kind} '{value}' was not seen in training; "
        f"expected one of {sorted(allowed)}."
    )


def check_tag_rows(record, names):
    """Raise `DataError` at the first tag of `record` not in `names`.

    `record` has `source`, `tags` (one list per row) and `lines` (the line of
    each row's first tag, or `(file, line)` for rows read from several
    files), as `TaggedSentences` and `Propositions` do.
    """
    if record.tags is None:
        raise DataError(f"{record.source}: has no tags.")
    allowed = set(names)
    for row, line in zip(record.tags, record.lines):
        source, line = line if isinstance(line, tuple) else (record.source, line)
        for offset, tag in enumerate(row):
            if tag not in allowed:
                raise unseen(source, line + offset, "tag", tag, allowed)
    return record


def location(source, line):
    """Where an example is: `"train.tsv, line 3"`, or `"<lists>, item 3"`.

    `line` may already say where (`"shard-2.tsv.gz, line 3"`, for examples
    read from several files); it is kept as it is.
    """
    if isinstance(line, str):
        return line
    return f"{source}, item {line}" if source == LISTS else f"{source}, line {line}"


def _is_int(text):
    try:
        int(text)
    except ValueError:
        return False
    return True
