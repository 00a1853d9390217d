"""Read an unlabelled corpus: one document per line, or a column of a table.

A corpus may be a file, a glob (`"corpus/*.txt.gz"`) or a list of files,
plain or gzip-compressed. A single plain file under 64 MiB is read whole;
anything larger, compressed or sharded is streamed line by line, and
`limit=N` then keeps a seeded reservoir sample of N documents, so memory
holds N documents however large the corpus (`tl.data.load_examples`).

Example:

```python
texts = read_corpus("reviews.txt")
texts = read_corpus("reviews.jsonl", text_column="text")
sample = read_corpus("reviews.txt", limit=4, seed=0)
```
"""

import os

import numpy as np

from tlnlp_tf.data.examples import check_count
from tlnlp_tf.data.loading import is_streamed
from tlnlp_tf.data.loading import load_examples
from tlnlp_tf.data.readers import PROGRESS_BYTES
from tlnlp_tf.data.readers import read_text
from tlnlp_tf.data.readers import split_lines
from tlnlp_tf.data.reservoir import reservoir_sample
from tlnlp_tf.data.streams import _bare
from tlnlp_tf.data.streams import data_files
from tlnlp_tf.data.streams import stream_rows
from tlnlp_tf.data.streams import text_lines
from tlnlp_tf.errors import DataError
from tlnlp_tf.progress import progress

_TABLES = (".csv", ".tsv", ".jsonl")


def read_corpus(path, text_column=None, limit=None, seed=0):
    """The documents of an unlabelled corpus, as a list of strings.

    A plain-text file holds one document per line (blank lines skipped);
    a `.csv`, `.tsv` or `.jsonl` file (`.gz` too) needs `text_column`.
    `limit`: a seeded random sample of that many documents, in corpus order
    (a permutation of a file read whole; a reservoir over a stream).

    Example:

    ```python
    texts = read_corpus("reviews.txt")
    texts = read_corpus("reviews.jsonl", text_column="text")
    ```
    """
    check_count(limit)
    files, name, is_table = _corpus_files(path, text_column)
    if is_table or text_column is not None:
        if not is_streamed(files) and not read_text(files[0]).strip():
            raise DataError(_empty(name))
        texts = load_examples(files, text_column).texts
        return _sampled(texts, limit, seed)
    if not is_streamed(files):
        texts = [line for line in split_lines(read_text(files[0])) if line.strip()]
        if not texts:
            raise DataError(_empty(name))
        return _sampled(texts, limit, seed)
    lines = (text for file in files for _, text in text_lines(file) if text.strip())
    size = sum(os.path.getsize(file) for file in files)
    shown = 1 if size >= PROGRESS_BYTES else 0
    lines = progress(lines, f"Reading {name}", verbose=shown, unit="line", every=10_000)
    texts = list(lines) if limit is None else reservoir_sample(lines, limit, seed)
    if not texts:
        raise DataError(_empty(name))
    return texts


def stream_corpus(path, text_column=None):
    """The documents of a corpus of any size, as a `tf.data.Dataset` of strings.

    Read from the files (plain or gzip; a glob or a list of shards) each
    time the dataset is iterated, in order, blank documents skipped; the
    first document is read now, so a missing column or an empty corpus is
    an error here, not in the middle of training. The same layout as
    `read_corpus`: one document per line, or `text_column` of a table.

    Example:

    ```python
    documents = tl.pretraining.stream_corpus("corpus/*.txt.gz")
    first = next(iter(documents)).numpy().decode()
    ```
    """
    import tensorflow as tf

    files, name, is_table = _corpus_files(path, text_column)

    def documents():
        if is_table:
            rows = stream_rows(files, [text_column])
            return (values[0] for _, _, values in rows if values[0].strip())
        return (text for file in files for _, text in text_lines(file) if text.strip())

    if next(documents(), None) is None:
        raise DataError(_empty(name))
    return tf.data.Dataset.from_generator(
        documents, output_signature=tf.TensorSpec((), tf.string)
    )


def _sampled(texts, limit, seed):
    """`limit` seeded documents of a corpus read whole, in order (as before)."""
    if limit is None or limit >= len(texts):
        return list(texts)
    order = np.random.default_rng(seed).permutation(len(texts))[:limit]
    return [texts[i] for i in sorted(order)]


def _empty(path):
    return (
        f"{path}: the pretraining corpus is empty; expected at least one "
        "non-blank document (one per line, or one per row of the text column)."
    )


def _corpus_files(path, text_column):
    """`(files, name for messages, whether they are tables)`; a table needs
    `text_column`."""
    files = data_files(path)
    name = os.fspath(path) if isinstance(path, (str, os.PathLike)) else files[0]
    is_table = _bare(files[0]).endswith(_TABLES)
    if is_table and text_column is None:
        raise DataError(
            f"{name}: name the text column (text_column=..., or --text-column) "
            "to read a .csv, .tsv or .jsonl corpus."
        )
    return files, name, is_table
