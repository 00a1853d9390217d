"""Tokenized examples on disk: written once, reused by every epoch and later runs.

`model.tokenize_once(dataset, cache_dir=DIR)` (and `tlnlp fit --token-cache
DIR`) keeps its cache here instead of in memory: `tf.data.Dataset.save`
writes the token features in shards, and `tf.data.Dataset.load` reads them
back, so memory holds a shuffle buffer and a few batches, not the data set.

The folder records what the tokens were made with (`token_cache.json`: the
tokenizer's fingerprint, `max_length`, the label names, the caller's key for
the data). A folder whose record matches is loaded without tokenizing
again; one that does not is written anew. The cache is written to a
temporary folder and renamed when complete: a run killed while writing
leaves no half cache, and the next run tokenizes again from the start.

```python
tokens = tf.data.Dataset.range(4).map(lambda i: {"token_ids": tf.fill([3], i)})
loaded, reused = cached_tokens(tokens, "tokens/", {"max_length": 3})
```
"""

import hashlib
import json
import os
import shutil
import sys

import keras
import tensorflow as tf

from tlnlp_tf.errors import DataError
from tlnlp_tf.progress import progress

RECORD = "token_cache.json"
_DATA = "data"


def cached_tokens(tokens, folder, identity, verbose="auto"):
    """`(dataset, reused)`: `tokens` saved under `folder` (or loaded from it).

    Args:
        tokens: an unbatched dataset of token features (and targets).
        folder: the cache's folder (made when needed).
        identity: a JSON-serialisable dict of what the tokens depend on; a
            cache made with another identity is replaced.
        verbose: the progress bar while the written cache is counted.

    Returns the loaded dataset, with its number of examples known, and
    whether an existing cache was reused.
    """
    folder = os.fspath(folder)
    if os.path.exists(folder) and not os.path.isdir(folder):
        raise DataError(f"{folder}: is a file; the token cache needs a folder.")
    record = _read_record(folder)
    fingerprint = _fingerprint(identity)
    if record is not None and record.get("fingerprint") == fingerprint:
        _say(
            f"Reusing the token cache in {folder} ({record['examples']} examples)",
            verbose,
        )
        data = tf.data.Dataset.load(os.path.join(folder, _DATA))
        return _counted(data, record["examples"]), True
    _say(f"Tokenizing the data once, to disk ({folder}) …", verbose)
    partial = folder.rstrip("/\\") + ".partial"
    shutil.rmtree(partial, ignore_errors=True)
    os.makedirs(partial)
    tokens.save(os.path.join(partial, _DATA))
    data = tf.data.Dataset.load(os.path.join(partial, _DATA))
    count = 0
    rows = data.batch(4096).map(lambda x, *rest: tf.shape(x["token_ids"])[0])
    for batch in progress(
        rows, f"Counting the token cache in {folder}", verbose=verbose
    ):
        count += int(batch)
    with open(os.path.join(partial, RECORD), "w") as file:
        json.dump(
            {"fingerprint": fingerprint, "examples": count, "identity": identity},
            file,
            indent=2,
            default=str,
        )
    shutil.rmtree(folder, ignore_errors=True)
    os.replace(partial, folder)
    data = tf.data.Dataset.load(os.path.join(folder, _DATA))
    return _counted(data, count), False


def _say(line, verbose):
    if verbose != 0 and keras.config.is_interactive_logging_enabled():
        print(line, file=sys.stderr, flush=True)


def _counted(data, count):
    return data.apply(tf.data.experimental.assert_cardinality(count))


def _read_record(folder):
    path = os.path.join(folder, RECORD)
    if not os.path.isfile(path):
        return None
    try:
        with open(path) as file:
            return json.load(file)
    except (OSError, ValueError):
        return None  # unreadable: written anew


def _fingerprint(identity):
    return digest(identity)


def digest(value):
    """The SHA-256 of `value` as sorted JSON (`None` stays `None`).

    ```python
    digest(["[PAD]", "[UNK]", "the"])  # a 64-character hex string
    ```
    """
    if value is None:
        return None
    text = json.dumps(value, sort_keys=True, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
