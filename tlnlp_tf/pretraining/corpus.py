"""Read an unlabelled corpus: one document per line, or a column of a table.

Example:

```python
texts = read_corpus("reviews.txt")
texts = read_corpus("reviews.jsonl", text_column="text")
```
"""

import os

from tlnlp_tf.data.readers import load_jsonl
from tlnlp_tf.data.readers import load_table
from tlnlp_tf.data.readers import read_text
from tlnlp_tf.data.readers import split_lines
from tlnlp_tf.errors import DataError

_TABLES = (".csv", ".tsv", ".jsonl")


def read_corpus(path, text_column=None):
    """The documents of an unlabelled corpus file, as a list of strings.

    A plain-text file holds one document per line (blank lines skipped);
    a `.csv`, `.tsv` or `.jsonl` file needs `text_column`.

    Example:

    ```python
    texts = read_corpus("reviews.txt")
    texts = read_corpus("reviews.jsonl", text_column="text")
    ```
    """
    path = os.fspath(path)
    is_table = path.lower().endswith(_TABLES)
    if is_table and text_column is None:
        raise DataError(
            f"{path}: name the text column (text_column=..., or --text-column) "
            "to read a .csv, .tsv or .jsonl corpus."
        )
    if is_table or text_column is not None:
        if not os.path.isfile(path):
            raise DataError(f"{path}: no such file.")
        if not read_text(path).strip():
            raise DataError(_empty(path))
        if path.lower().endswith(".jsonl"):
            return list(load_jsonl(path, text_column).texts)
        return list(load_table(path, text_column).texts)
    texts = [line for line in split_lines(read_text(path)) if line.strip()]
    if not texts:
        raise DataError(_empty(path))
    return texts


def _empty(path):
    return (
        f"{path}: the pretraining corpus is empty; expected at least one "
        "non-blank document (one per line, or one per row of the text column)."
    )
