"""Read CSV/TSV/JSONL files, Python lists and TFDS into tf.data.

Each `load_*` function returns `Examples` (checked, with line numbers for
errors); each `read_*` function returns the same as an unbatched
`tf.data.Dataset` of raw strings: `(text, label)`, `((text, pair), label)`,
or just the text when no label column is named. Labels stay strings; the
model maps them to class indices inside its preprocessing.

Example:

```python
train = read_csv("train.tsv", text="sentence", label="label")
valid = read_csv("dev.tsv", text="sentence", label="label", labels=["0", "1"])
```
"""

import csv
import io
import json
import os

import tensorflow as tf

from tlnlp_tf.data.examples import Examples
from tlnlp_tf.errors import DataError


def load_table(path, text, label=None, text_pair=None, delimiter=None):
    """Read a CSV or TSV file with a header row into `Examples`.

    Args:
        path: the file. `.tsv` and `.txt` are tab-separated (no quoting, as
            GLUE files), anything else comma-separated with CSV quoting.
        text, label, text_pair: header names of the columns to use.
        delimiter: overrides the delimiter guessed from the extension.
    """
    content = read_text(path)
    if delimiter is None:
        delimiter = "\t" if path.lower().endswith((".tsv", ".txt")) else ","
    quoting = csv.QUOTE_NONE if delimiter == "\t" else csv.QUOTE_MINIMAL
    reader = csv.reader(io.StringIO(content), delimiter=delimiter, quoting=quoting)
    header = next(reader, None)
    if not header:
        raise DataError(f"{path}: the file is empty; expected a header row.")
    header = [name.strip() for name in header]
    wanted = [c for c in (text, text_pair, label) if c is not None]
    for column in wanted:
        if column not in header:
            raise DataError(
                f"{path}: no column '{column}'; the header has: {', '.join(header)}."
            )
    index = {name: header.index(name) for name in wanted}
    columns = {name: [] for name in wanted}
    lines = []
    for row in reader:
        line = reader.line_num
        if not row or (len(row) == 1 and not row[0].strip()):
            continue
        if len(row) != len(header):
            raise DataError(
                f"{path}, line {line}: expected {len(header)} fields "
                f"({', '.join(header)}), found {len(row)}."
            )
        for name in wanted:
            columns[name].append(row[index[name]])
        lines.append(line)
    return _examples(path, columns, lines, text, label, text_pair)


def load_jsonl(path, text, label=None, text_pair=None):
    """Read a JSON-lines file (one object per line) into `Examples`."""
    content = read_text(path)
    wanted = [c for c in (text, text_pair, label) if c is not None]
    columns = {name: [] for name in wanted}
    lines = []
    for number, raw in enumerate(split_lines(content), start=1):
        if not raw.strip():
            continue
        try:
            record = json.loads(raw)
        except ValueError as error:
            raise DataError(f"{path}, line {number}: not valid JSON ({error}).")
        if not isinstance(record, dict):
            raise DataError(f"{path}, line {number}: expected a JSON object.")
        for name in wanted:
            if name not in record:
                raise DataError(
                    f"{path}, line {number}: no field '{name}'; the object "
                    f"has: {', '.join(record)}."
                )
            value = record[name]
            columns[name].append(value if isinstance(value, str) else json.dumps(value))
        lines.append(number)
    return _examples(path, columns, lines, text, label, text_pair)


def read_csv(path, text, label=None, text_pair=None, labels=None, delimiter=None):
    """Read a CSV/TSV file into an unbatched `tf.data.Dataset` of raw strings.

    Args:
        path: the file (`.tsv`/`.txt` tab-separated, else comma-separated).
        text: the text column; `text_pair`: the second text of a pair.
        label: the label column, or `None` for unlabelled text.
        labels: the label names the model knows; a label outside them is an
            error naming its line.

    Example:

    ```python
    train = read_csv("train.tsv", text="sentence", label="label")
    model.fit(train.shuffle(10_000).batch(32), epochs=2)
    ```
    """
    examples = load_table(path, text, label, text_pair, delimiter)
    if labels is not None and label is not None:
        examples.check_labels([str(name) for name in labels])
    return examples.to_dataset()


def read_jsonl(path, text, label=None, text_pair=None, labels=None):
    """Read a JSON-lines file into an unbatched `tf.data.Dataset` (see `read_csv`)."""
    examples = load_jsonl(path, text, label, text_pair)
    if labels is not None and label is not None:
        examples.check_labels([str(name) for name in labels])
    return examples.to_dataset()


def from_lists(texts, labels=None, text_pairs=None):
    """A `tf.data.Dataset` from Python lists of texts (and labels, pairs).

    Example:

    ```python
    train = from_lists(["loved it", "dull"], ["pos", "neg"])
    ```
    """
    columns = {"text": [str(t) for t in texts]}
    if text_pairs is not None:
        columns["text_pair"] = [str(t) for t in text_pairs]
    if labels is not None:
        columns["label"] = [str(l) for l in labels]
    for name, values in columns.items():
        if len(values) != len(columns["text"]):
            raise DataError(
                f"from_lists: {len(columns['text'])} texts but {len(values)} "
                f"{name}s; the lists must have the same length."
            )
    lines = list(range(1, len(columns["text"]) + 1))
    examples = _examples(
        "<lists>",
        columns,
        lines,
        "text",
        "label" if labels is not None else None,
        "text_pair" if text_pairs is not None else None,
    )
    return examples.to_dataset()


def read_tfds(name, split, text, label=None, text_pair=None, data_dir=None):
    """Load a TFDS data set as an unbatched `tf.data.Dataset` of raw strings.

    Integer class labels become their names from the data set's `ClassLabel`
    feature. Needs `pip install tlnlp_tf[tfds]`.

    Example:

    ```python
    train = read_tfds("imdb_reviews", "train", text="text", label="label")
    ```
    """
    try:
        import tensorflow_datasets as tfds
    except ImportError as error:
        raise DataError(
            "read_tfds needs TensorFlow Datasets: pip install 'tlnlp_tf[tfds]'."
        ) from error
    dataset, info = tfds.load(name, split=split, data_dir=data_dir, with_info=True)
    features = info.features
    for column in (c for c in (text, text_pair, label) if c is not None):
        if column not in features:
            raise DataError(
                f"TFDS '{name}': no feature '{column}'; it has: "
                f"{', '.join(features.keys())}."
            )
    names = None
    if label is not None and hasattr(features[label], "names"):
        names = tf.constant(features[label].names)

    def convert(record):
        x = record[text] if text_pair is None else (record[text], record[text_pair])
        if label is None:
            return x
        y = record[label]
        y = tf.gather(names, y) if names is not None else tf.strings.as_string(y)
        return x, y

    return dataset.map(convert, num_parallel_calls=tf.data.AUTOTUNE)


def read_text(path):
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise DataError(f"{path}: no such file.")
    with open(path, "rb") as file:
        data = file.read()
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        column = error.start - (data.rfind(b"\n", 0, error.start) + 1) + 1
        raise DataError(
            f"{path}, line {line}, column {column}: byte "
            f"0x{data[error.start]:02x} is not valid UTF-8; re-save the file "
            "as UTF-8."
        ) from None


def split_lines(content):
    """The lines of a file's text, split at "\n" (and "\r\n") only.

    `str.splitlines` also splits at characters such as U+0085 and U+2028,
    which occur inside real review texts (IMDB has U+0085): a JSON line
    would be cut in two.
    """
    lines = content.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return [line[:-1] if line.endswith("\r") else line for line in lines]


def _examples(path, columns, lines, text, label, text_pair):
    for name in (text, text_pair):
        if name is None:
            continue
        for value, line in zip(columns[name], lines):
            if not value.strip():
                raise DataError(
                    f"{path}, line {line}: column '{name}' is empty; every "
                    "example needs a text."
                )
    if label is not None:
        for value, line in zip(columns[label], lines):
            if not value.strip():
                raise DataError(
                    f"{path}, line {line}: column '{label}' is empty; every "
                    "example needs a label."
                )
    if not lines:
        raise DataError(f"{path}: no examples after the header.")
    return Examples(
        texts=columns[text],
        pairs=columns[text_pair] if text_pair is not None else None,
        labels=[v.strip() for v in columns[label]] if label is not None else None,
        source=os.fspath(path),
        lines=lines,
    )
