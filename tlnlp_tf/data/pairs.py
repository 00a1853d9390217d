"""Read source/target text pairs (translation, summarization) into `TextPairs`.

```python
pairs = from_pairs(["the film was good ."], ["le film était bon ."])
dataset = pairs.to_dataset().batch(32)  # (source, target) tf.string batches
```
"""

import dataclasses
import os

import tensorflow as tf

from tlnlp_tf.data.examples import LISTS
from tlnlp_tf.data.examples import sampled
from tlnlp_tf.data.readers import load_jsonl
from tlnlp_tf.data.readers import load_table
from tlnlp_tf.errors import DataError

_JSON_LINES = (".jsonl", ".ndjson")


@dataclasses.dataclass
class TextPairs:
    """Source texts and their target texts, with the file and line of each pair.

    Attributes:
        sources: the input text of each pair.
        targets: the text to generate from it.
        origin: the file (or `"<lists>"`) the pairs were read from.
        lines: the line number of each pair in `origin`.

    Example:

    ```python
    pairs = TextPairs(["a long review of the film ."], ["good film"])
    source, target = next(iter(pairs.to_dataset()))
    ```
    """

    sources: list
    targets: list
    origin: str = LISTS
    lines: list = None

    def __post_init__(self):
        if self.lines is None:
            self.lines = list(range(1, len(self.sources) + 1))

    def __len__(self):
        return len(self.sources)

    def sample(self, count, seed=0):
        """A seeded random sample of `count` pairs (all if fewer), in file order.

        ```python
        pairs = from_pairs(["one", "two", "three"], ["un", "deux", "trois"])
        assert len(pairs.sample(2, seed=0)) == 2
        ```
        """
        return sampled(self, ("sources", "targets", "lines"), count, seed)

    def to_dataset(self):
        """An unbatched `tf.data.Dataset` of `(source, target)` `tf.string` pairs.

        ```python
        dataset = from_pairs(["hello"], ["bonjour"]).to_dataset().batch(8)
        ```
        """
        return tf.data.Dataset.from_tensor_slices(
            (tf.constant(self.sources, tf.string), tf.constant(self.targets, tf.string))
        )


def read_pairs(path, source="source", target="target", delimiter=None):
    """Read text pairs from a CSV, TSV or JSON-lines file into `TextPairs`.

    By extension, as `tl.data.read_csv`: `.jsonl` (or `.ndjson`) holds one
    JSON object per line; `.tsv` and `.txt` are tab-separated without
    quoting (a quote is text, as in GLUE files); anything else is CSV, where
    a field in double quotes may hold commas and line breaks (read as
    "\\n", also from a Windows file). A header row names the columns; a
    byte-order mark and Windows line ends are fine.

    Args:
        path: the file.
        source, target: the column (or JSON field) names.
        delimiter: overrides the delimiter guessed from the extension (not
            for JSON lines).

    Raises:
        DataError: a missing column (naming the columns there are), an empty
            source or target (naming the file and line), a malformed row.

    Example:

    ```python
    with open("pairs.csv", "w") as file:
        file.write('source,target\\n"Hello, world",Bonjour le monde\\n')
    pairs = read_pairs("pairs.csv")
    assert pairs.sources == ["Hello, world"] and pairs.lines == [2]
    ```
    """
    path = os.fspath(path)
    for option, value in (("source", source), ("target", target)):
        if not isinstance(value, str) or not value.strip():
            raise DataError(
                f"{path}: {option} must name a column (a non-empty string), "
                f"got {value!r}."
            )
    if source == target:
        raise DataError(
            f"{path}: source and target must be different columns, got "
            f"{source!r} for both."
        )
    if path.lower().endswith(_JSON_LINES):
        if delimiter is not None:
            raise DataError(
                f"{path}: delimiter applies to CSV/TSV files, not JSON lines."
            )
        examples = load_jsonl(path, text=source, text_pair=target)
    else:
        examples = load_table(path, text=source, text_pair=target, delimiter=delimiter)
        # A quoted line break of a Windows file reads as "\r\n": keep "\n".
        examples.texts = [_newlines(text) for text in examples.texts]
        examples.pairs = [_newlines(text) for text in examples.pairs]
    return TextPairs(
        sources=examples.texts,
        targets=examples.pairs,
        origin=examples.source,
        lines=examples.lines,
    )


def from_pairs(sources, targets):
    """`TextPairs` from two Python lists of strings, item by item.

    Example:

    ```python
    pairs = from_pairs(["the cat sat on the mat ."], ["a cat sat ."])
    assert len(pairs) == 1
    ```
    """
    sources = _strings("sources", sources)
    targets = _strings("targets", targets)
    if len(sources) != len(targets):
        raise DataError(
            f"from_pairs: {len(sources)} sources but {len(targets)} targets; "
            "the lists must have the same length."
        )
    if not sources:
        raise DataError("from_pairs: no pairs; expected at least one.")
    return TextPairs(sources, targets)


def _newlines(text):
    return text.replace("\r\n", "\n") if "\r" in text else text


def _strings(name, values):
    if isinstance(values, (str, bytes)) or not hasattr(values, "__iter__"):
        raise DataError(
            f"from_pairs: {name} must be a list of strings, got "
            f"{type(values).__name__}."
        )
    checked = []
    for number, value in enumerate(values, 1):
        if isinstance(value, bytes):
            try:
                value = value.decode("utf-8")
            except UnicodeDecodeError:
                raise DataError(
                    f"from_pairs: {name} item {number} is not UTF-8."
                ) from None
        if not isinstance(value, str):
            raise DataError(
                f"from_pairs: {name} item {number} is {type(value).__name__}; "
                "expected a string."
            )
        if not value.strip():
            raise DataError(
                f"from_pairs: {name} item {number} is empty; every pair needs "
                "a source and a target."
            )
        checked.append(value)
    return checked
