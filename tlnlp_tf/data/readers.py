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

import codecs
import csv
import io
import math
import numbers
import os

import numpy as np
import tensorflow as tf

from tlnlp_tf.data.examples import LISTS
from tlnlp_tf.data.examples import Examples
from tlnlp_tf.data.examples import location
from tlnlp_tf.data.json_lines import json_field
from tlnlp_tf.data.json_lines import json_object
from tlnlp_tf.errors import DataError
from tlnlp_tf.progress import progress

# Files this large (characters) show a progress bar while they are parsed (on
# 2 cores, about 1 s per 8 MB of TSV); smaller ones read without one.
PROGRESS_BYTES = 8 * 2**20


def load_table(path, text, label=None, text_pair=None, delimiter=None):
    """Read a CSV or TSV file with a header row into `Examples`.

    Args:
        path: the file. `.tsv` and `.txt` are tab-separated (no quoting, as
            GLUE files), anything else comma-separated with CSV quoting
            (fields may hold commas and line breaks inside double quotes).
        text, label, text_pair: header names of the columns to use.
        delimiter: overrides the delimiter guessed from the extension.

    Example:

    ```python
    examples = load_table("dev.tsv", "sentence", "label")
    examples.texts[0], examples.labels[0], examples.lines[0]  # line 2: the first row
    ```
    """
    path = os.fspath(path)
    wanted = _wanted(path, text, label, text_pair)
    content = read_text(path)
    if delimiter is None:
        delimiter = "\t" if path.lower().endswith((".tsv", ".txt")) else ","
    if not isinstance(delimiter, str) or len(delimiter) != 1 or delimiter in '\r\n"':
        raise DataError(
            f"{path}: delimiter must be one character (not a quote or line "
            f"break), got {delimiter!r}."
        )
    quoting = csv.QUOTE_NONE if delimiter == "\t" else csv.QUOTE_MINIMAL
    reader = csv.reader(io.StringIO(content), delimiter=delimiter, quoting=quoting)
    rows = _rows(path, reader)
    header_line, header = next(rows, (None, None))
    if header is None:
        raise DataError(f"{path}: the file is empty; expected a header row.")
    header = [name.strip() for name in header]
    check_header(path, header_line, header, wanted)
    index = {name: header.index(name) for name in wanted}
    columns = {name: [] for name in wanted}
    lines = []
    shown = _shown(content)
    reading = progress(rows, f"Reading {path}", verbose=shown, unit="row", every=1000)
    for line, row in reading:
        if len(row) != len(header):
            raise DataError(
                f"{path}, line {line}: expected {len(header)} fields "
                f"({', '.join(header)}), found {len(row)}"
                + _quote_hint(line, reader.line_num)
                + "."
            )
        for name in wanted:
            columns[name].append(row[index[name]])
        lines.append(line)
    return _examples(path, columns, lines, text, label, text_pair)


def load_jsonl(path, text, label=None, text_pair=None):
    """Read a JSON-lines file (one object per line) into `Examples`.

    Text fields must be strings; a label may be a string, a number or a
    boolean (kept as its JSON text: `1`, `0.5`, `true`).

    Example:

    ```python
    examples = load_jsonl("reviews.jsonl", text="text", label="stars")
    ```
    """
    path = os.fspath(path)
    wanted = _wanted(path, text, label, text_pair)
    content = read_text(path)
    columns = {name: [] for name in wanted}
    lines = []
    numbered = enumerate(split_lines(content), start=1)
    shown = _shown(content)
    reading = progress(
        numbered, f"Reading {path}", verbose=shown, unit="line", every=1000
    )
    for number, raw in reading:
        if not raw.strip():
            continue
        where = f"{path}, line {number}"
        record = json_object(raw, where)
        for name in wanted:
            if name not in record:
                raise DataError(
                    f"{where}: no field '{name}'; the object has: "
                    f"{', '.join(record) or 'no fields'}."
                )
            columns[name].append(json_field(record[name], name, name == label, where))
        lines.append(number)
    return _examples(path, columns, lines, text, label, text_pair)


def read_csv(path, text, label=None, text_pair=None, labels=None, delimiter=None):
    """Read a CSV/TSV file into an unbatched `tf.data.Dataset` of raw strings.

    Args:
        path: the file (`.tsv`/`.txt` tab-separated, else comma-separated).
        text: the text column; `text_pair`: the second text of a pair.
        label: the label column, or `None` for unlabelled text.
        labels: the label names the model knows (a label outside them is an
            error naming its line), or `"numeric"` for regression targets
            (each must be a finite number).
        delimiter: overrides the delimiter guessed from the extension.

    Example:

    ```python
    train = read_csv("train.tsv", text="sentence", label="label")
    model.fit(train.shuffle(10_000).batch(32), epochs=2)
    scores = read_csv("stsb/train.tsv", "sentence1", "score", labels="numeric")
    ```
    """
    examples = load_table(path, text, label, text_pair, delimiter)
    return _checked(examples, label, labels).to_dataset()


def read_jsonl(path, text, label=None, text_pair=None, labels=None):
    """Read a JSON-lines file into an unbatched `tf.data.Dataset` (see `read_csv`).

    Example:

    ```python
    train = read_jsonl("reviews.jsonl", text="text", label="stars")
    ```
    """
    examples = load_jsonl(path, text, label, text_pair)
    return _checked(examples, label, labels).to_dataset()


def from_lists(texts, labels=None, text_pairs=None):
    """A `tf.data.Dataset` from Python lists of texts (and labels, pairs).

    Texts are strings; labels are strings, integers, booleans or finite
    numbers (kept as their text: `1`, `0.5`).

    Example:

    ```python
    train = from_lists(["loved it", "dull"], ["pos", "neg"])
    ```
    """
    columns = {"text": _list_of("texts", texts, _text_item)}
    if text_pairs is not None:
        columns["text_pair"] = _list_of("text_pairs", text_pairs, _text_item)
    if labels is not None:
        columns["label"] = _list_of("labels", labels, _label_item)
    for name, values in columns.items():
        if len(values) != len(columns["text"]):
            raise DataError(
                f"from_lists: {len(columns['text'])} texts but {len(values)} "
                f"{name}s; the lists must have the same length."
            )
    lines = list(range(1, len(columns["text"]) + 1))
    examples = _examples(
        LISTS,
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

    ```python no-run: downloads IMDB through TensorFlow Datasets
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
    """The text of a UTF-8 file (a byte-order mark is dropped).

    A missing file, a folder, a binary file or bytes that are not UTF-8
    are a `DataError` naming the file (and the line and column of the first
    bad byte).

    Example:

    ```python
    lines = split_lines(read_text("reviews.txt"))
    ```
    """
    path = os.fspath(path)
    if os.path.isdir(path):
        raise DataError(f"{path}: is a folder; expected a file.")
    if not os.path.isfile(path):
        raise DataError(f"{path}: no such file.")
    try:
        with open(path, "rb") as file:
            data = file.read()
    except OSError as error:
        raise DataError(f"{path}: cannot be read ({error.strerror}).") from None
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise DataError(f"{path}: the file is UTF-16; re-save it as UTF-8.")
    nul = data.find(b"\x00")
    if nul >= 0:
        line, column = _position(data, nul)
        raise DataError(
            f"{path}, line {line}, column {column}: a NUL byte; this looks like "
            "a binary file, not text (UTF-8 expected)."
        )
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line, column = _position(data, error.start)
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

    Example:

    ```python
    split_lines("one\\r\\ntwo\\u2028still two\\n")  # ["one", "two\\u2028still two"]
    ```
    """
    lines = content.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return [line[:-1] if line.endswith("\r") else line for line in lines]


def _position(data, offset):
    """(line, column), both from 1, of byte `offset` in `data`."""
    line = data.count(b"\n", 0, offset) + 1
    return line, offset - (data.rfind(b"\n", 0, offset) + 1) + 1


def check_header(path, line, header, wanted):
    """Each `wanted` column is in `header` (line `line` of `path`) exactly once."""
    for column in wanted:
        if column not in header:
            raise DataError(
                f"{path}: no column '{column}'; the header has: {', '.join(header)}."
            )
        if header.count(column) > 1:
            raise DataError(
                f"{path}, line {line}: the header names column '{column}' "
                f"{header.count(column)} times; column names must be distinct."
            )


def _wanted(path, text, label, text_pair):
    """The column names asked for, checked to be names."""
    for option, value in (("text", text), ("label", label), ("text_pair", text_pair)):
        if value is None and option != "text":
            continue
        if not isinstance(value, str) or not value.strip():
            raise DataError(
                f"{path}: {option} must name a column (a non-empty string), "
                f"got {value!r}."
            )
    wanted = [c for c in (text, text_pair, label) if c is not None]
    if len(set(wanted)) < len(wanted):
        raise DataError(
            f"{path}: text, text_pair and label must be different columns, "
            f"got {wanted}."
        )
    return wanted


def _shown(content):
    """`verbose` for the reading bar: shown for files of `PROGRESS_BYTES` or more."""
    return 1 if len(content) >= PROGRESS_BYTES else 0


def _rows(path, reader):
    """`(line, row)` of each non-blank row; `line` is where the row starts."""
    while True:
        start = reader.line_num + 1
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            raise DataError(
                f"{path}, line {start}: {error}"
                + _quote_hint(start, reader.line_num)
                + "."
            ) from None
        if not row or (len(row) == 1 and not row[0].strip()):
            continue
        yield start, row


def _quote_hint(start, end):
    if end <= start:
        return ""
    return (
        f" (the row runs on to line {end}: a quoted field holds line breaks; "
        'is a closing quote " missing?)'
    )


def _checked(examples, label, labels):
    if labels is None or label is None:
        return examples
    if isinstance(labels, str):
        if labels != "numeric":
            raise DataError(
                f"labels must be a list of label names or 'numeric', got {labels!r}."
            )
        return examples.check_numeric()
    return examples.check_labels([str(name) for name in labels])


def _list_of(name, values, item):
    if isinstance(values, (str, bytes)) or not hasattr(values, "__iter__"):
        raise DataError(
            f"from_lists: {name} must be a list, got {type(values).__name__}"
            + (
                " (a single string: wrap it in a list)."
                if isinstance(values, str)
                else "."
            )
        )
    return [item(name, index, value) for index, value in enumerate(values, 1)]


def _text_item(name, index, value):
    if isinstance(value, bytes):
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError:
            raise DataError(f"from_lists: {name} item {index} is not UTF-8.") from None
    if not isinstance(value, str):
        raise DataError(
            f"from_lists: {name} item {index} is {type(value).__name__}; "
            "expected a string."
        )
    return value


def _label_item(name, index, value):
    if isinstance(value, (bytes, str)):
        return _text_item(name, index, value)
    if isinstance(value, (numbers.Integral, bool, np.bool_)):
        return str(value)
    if isinstance(value, numbers.Real):
        if not math.isfinite(value):
            raise DataError(
                f"from_lists: {name} item {index} is {value}; expected a finite number."
            )
        return str(value)
    raise DataError(
        f"from_lists: {name} item {index} is {type(value).__name__}; "
        "expected a string or a number."
    )


def _examples(path, columns, lines, text, label, text_pair):
    for name in (text, text_pair, label):
        if name is None:
            continue
        what = "a label" if name == label else "a text"
        for value, line in zip(columns[name], lines):
            if not value.strip():
                raise DataError(
                    f"{location(path, line)}: {_column(path, name)} is empty; "
                    f"every example needs {what}."
                )
    if not lines:
        raise DataError(
            "from_lists: no texts."
            if path == LISTS
            else f"{path}: no examples after the header."
        )
    return Examples(
        texts=columns[text],
        pairs=columns[text_pair] if text_pair is not None else None,
        labels=[v.strip() for v in columns[label]] if label is not None else None,
        source=os.fspath(path),
        lines=lines,
    )


def _column(path, name):
    return f"{name}" if path == LISTS else f"column '{name}'"
