"""`Examples` from a file of any size, a glob or a list of shards, plain or gzip.

A single plain file under `STREAM_BYTES` is read whole (`load_table`,
`load_jsonl`), as always. Anything larger, gzip-compressed or split into
shards is streamed (`streams.py`): each line is checked as it passes, and
`limit=N` keeps a seeded reservoir sample of N rows, so memory does not
grow with the file. Without `limit` every row is kept in memory, unless
`stream=True`: then nothing is kept but counts (`StreamedExamples`).

The two paths draw different samples for the same seed (a permutation of
the rows read into memory; a reservoir over the stream). Both are uniform,
and each is reproducible.

```python
train = load_examples("shards/train-*.tsv.gz", "sentence", "label", limit=10, seed=0)
dataset = stream_examples("shards/train-*.tsv.gz", "sentence", "label").batch(32)
```
"""

import math
import os
import warnings

import tensorflow as tf

from tlnlp_tf.data.examples import Examples
from tlnlp_tf.data.examples import check_count
from tlnlp_tf.data.examples import unseen
from tlnlp_tf.data.generator_dataset import generator_dataset
from tlnlp_tf.data.readers import PROGRESS_BYTES
from tlnlp_tf.data.readers import _wanted
from tlnlp_tf.data.readers import load_jsonl
from tlnlp_tf.data.readers import load_table
from tlnlp_tf.data.reservoir import reservoir_sample
from tlnlp_tf.data.streamed_examples import StreamedExamples
from tlnlp_tf.data.streams import BadLines
from tlnlp_tf.data.streams import _bare
from tlnlp_tf.data.streams import data_files
from tlnlp_tf.data.streams import stream_rows
from tlnlp_tf.errors import DataError
from tlnlp_tf.progress import progress

# A single plain file this large (bytes) or larger is streamed, not read whole.
STREAM_BYTES = 64 * 2**20


def load_examples(
    path,
    text,
    label=None,
    text_pair=None,
    limit=None,
    seed=0,
    delimiter=None,
    on_bad_line="error",
    stream=False,
):
    """Read labelled (or unlabelled) texts into `Examples`; see the module doc.

    Args:
        path: a .csv/.tsv/.jsonl file (`.gz` too), a glob, or a list of files.
        text, label, text_pair: the column (or JSON field) names.
        limit: keep a seeded random sample of this many rows (`None`: all).
        seed: the sample's seed.
        delimiter: overrides the delimiter guessed from each file's extension.
        on_bad_line: `"error"` (a `DataError` naming the file and line) or
            `"skip"`: a bad row (a wrong field count, an empty text or
            label, bytes that are not UTF-8, a line that is not a JSON
            object) is left out and counted in the result's `skipped`, with
            a warning that quotes the first. The input is then streamed
            whatever its size. A bad file (a missing column, another header,
            truncated gzip data) is an error either way.
        stream: with no `limit`, a streamed input (see the module doc) is
            not held: one pass checks and counts it, and the result is a
            `StreamedExamples` whose `to_dataset()` reads the files again
            each epoch. A file read whole gives `Examples` as usual.

    Example:

    ```python
    train = load_examples("train.tsv", "sentence", "label", limit=10)
    len(train), train.label_names()  # 10, ['0', '1']
    ```
    """
    check_count(limit)
    bad = BadLines(on_bad_line)
    files = data_files(path)
    if on_bad_line == "error" and not is_streamed(files):
        if _bare(files[0]).endswith(".jsonl"):
            examples = load_jsonl(files[0], text, label, text_pair)
        else:
            examples = load_table(files[0], text, label, text_pair, delimiter)
        return examples.sample(limit, seed=seed)
    source = _source(path, files)
    wanted = _wanted(source, text, label, text_pair)
    rows = _rows(files, wanted, label, delimiter, source, bad)
    if stream and limit is None and is_streamed(files):
        examples = StreamedExamples.scan(
            files,
            rows,
            text,
            label,
            text_pair,
            source,
            delimiter=delimiter,
            on_bad_line=on_bad_line,
        )
        examples.skipped = bad.count
        _warn_skipped(source, bad)
        return examples
    kept = list(rows) if limit is None else reservoir_sample(rows, limit, seed)
    _warn_skipped(source, bad)
    if not kept:
        raise DataError(f"{source}: no examples after the header.")
    columns = dict(zip(wanted, zip(*(values for _, _, values in kept))))
    single = len(files) == 1
    return Examples(
        texts=list(columns[text]),
        pairs=list(columns[text_pair]) if text_pair is not None else None,
        labels=[v.strip() for v in columns[label]] if label is not None else None,
        source=source,
        lines=[line if single else f"{file}, line {line}" for file, line, _ in kept],
        skipped=bad.count,
    )


def stream_examples(
    path,
    text,
    label=None,
    text_pair=None,
    labels=None,
    delimiter=None,
    on_bad_line="error",
):
    """An unbatched `tf.data.Dataset` of raw strings, streamed in constant memory.

    The same elements as `read_csv`/`read_jsonl` (`text`, `(text, label)` or
    `((text, pair), label)`), read from the files as the dataset is
    iterated, every epoch again. `labels`: the label names the model knows,
    or `"numeric"`; a row outside them stops the iteration with a
    `DataError` naming its file and line (or, with `on_bad_line="skip"`,
    a bad row is left out and each pass warns how many). Under a multi-worker strategy
    each worker reads all the files and keeps its share of the examples
    (sharded by data): each example is seen once per epoch across the
    workers.

    Example:

    ```python
    data = stream_examples("shards/*.tsv.gz", "sentence", "label", labels=["0", "1"])
    model.fit(data.batch(8), epochs=1)
    ```
    """
    files = data_files(path)
    source = _source(path, files)
    wanted = _wanted(source, text, label, text_pair)
    check = _label_check(labels) if label is not None else None
    first = stream_rows(files, wanted, label, delimiter, BadLines(on_bad_line))
    next(first, None)  # the header and the first row are checked now

    def generate():
        bad = BadLines(on_bad_line)
        for file, line, values in stream_rows(files, wanted, label, delimiter, bad):
            row = dict(zip(wanted, values))
            x = row[text] if text_pair is None else (row[text], row[text_pair])
            if label is None:
                yield x
                continue
            y = row[label].strip()
            if check is not None:
                try:
                    check(file, line, y)
                except DataError as error:
                    bad.reject(error)
                    continue
            yield x, y
        _warn_skipped(source, bad)

    string = tf.TensorSpec((), tf.string)
    x_spec = string if text_pair is None else (string, string)
    spec = x_spec if label is None else (x_spec, string)
    return generator_dataset(generate, spec)  # sharded by data across workers


def is_streamed(files):
    """True for several files, a gzip file, or one of `STREAM_BYTES` or more."""
    if len(files) > 1:
        return True
    return files[0].lower().endswith(".gz") or os.path.getsize(files[0]) >= STREAM_BYTES


def _source(path, files):
    if isinstance(path, (str, os.PathLike)):
        return os.fspath(path)
    return files[0] if len(files) == 1 else f"{files[0]} (and {len(files) - 1} more)"


def _warn_skipped(source, bad):
    if bad.count:
        warnings.warn(
            f"{source}: skipped {bad.count} bad line(s) (on_bad_line='skip'); "
            f"the first: {bad.first}",
            stacklevel=3,
        )


def _rows(files, wanted, label, delimiter, source, bad):
    rows = stream_rows(files, wanted, label, delimiter, bad)
    size = sum(os.path.getsize(file) for file in files)
    shown = 1 if size >= PROGRESS_BYTES else 0
    return progress(rows, f"Reading {source}", verbose=shown, unit="row", every=10_000)


def _label_check(labels):
    if labels is None:
        return None
    if isinstance(labels, str):
        if labels != "numeric":
            raise DataError(
                f"labels must be a list of label names or 'numeric', got {labels!r}."
            )
        return _check_number
    allowed = {str(name) for name in labels}

    def check(file, line, value):
        if value not in allowed:
            raise unseen(file, line, "label", value, allowed)

    return check


def _check_number(file, line, value):
    try:
        finite = math.isfinite(float(value))
    except ValueError:
        finite = False
    if not finite:
        raise DataError(
            f"{file}, line {line}: target '{value}' is not a finite number; "
            "regression needs finite numeric targets."
        )
