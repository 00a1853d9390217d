"""Tokenized examples on disk: written once, reused by every epoch and later runs.

`model.tokenize_once(dataset, cache_dir=DIR)` (and `tlnlp fit --token-cache
DIR`) keeps its cache here instead of in memory. The tokens are written in
chunks of about `CHUNK_BYTES` (`tf.data.Dataset.save`, one folder per chunk
under `DIR/chunks/`), read back with `tf.data.Dataset.load`, so memory holds
a chunk while writing and a shuffle buffer while training, not the data set.

The folder records what the tokens were made with (`token_cache.json`: the
tokenizer's fingerprint, `max_length`, the label names, the caller's key for
the data) and which chunks are complete, with how many inputs each holds. A
complete cache whose record matches is loaded without tokenizing again. A
run killed while writing leaves its complete chunks listed: the next run
with the same record keeps them, skips their inputs without tokenizing them,
and redoes only the chunk that was being written. A record that does not
match is a stale cache: it is written anew.

```python
tokens = tf.data.Dataset.range(4).map(lambda i: {"token_ids": tf.fill([3], i)})
loaded, reused = cached_tokens(tokens, "tokens/", {"max_length": 3})
```
"""

import functools
import hashlib
import json
import os
import shutil
import sys

import keras
import numpy as np
import tensorflow as tf

from tlnlp_tf.errors import DataError
from tlnlp_tf.progress import progress

RECORD = "token_cache.json"
CHUNKS = "chunks"
# A chunk is written once its tokens reach this many bytes (held in memory
# until then): 64 MiB is about 11,000 examples at 512 tokens.
CHUNK_BYTES = 64 * 2**20
# Examples per saved element: `Dataset.load` pays a fixed cost per element
# it reads, so a chunk stores rows in blocks of this many (unbatched on load).
ROWS_PER_ELEMENT = 256
# The record's layout; a cache written by another layout is written anew.
FORMAT = 3


def cached_tokens(
    dataset,
    folder,
    identity,
    encode=None,
    batch_size=256,
    chunk_bytes=CHUNK_BYTES,
    verbose="auto",
):
    """`(tokens, reused)`: `dataset` tokenized into `folder`, or loaded from it.

    Args:
        dataset: an unbatched dataset of inputs.
        folder: the cache's folder (made when needed). A folder that holds
            other files and no record is refused, never emptied.
        identity: a JSON-serialisable dict of what the tokens depend on; a
            cache made with another identity is replaced.
        encode: maps a batch of `dataset` (`batch_size` inputs, as
            `dataset.batch` gives them, unpacked like `Dataset.map` unpacks)
            to a batch of token features, possibly with more rows than
            inputs (windows). `None`: the inputs are the tokens.
        batch_size: inputs per `encode` call.
        chunk_bytes: the size of a chunk (see the module doc).
        verbose: the progress bar while tokenizing.

    Returns the unbatched tokens, in input order, with their number of
    examples known, and whether a complete cache was reused.
    """
    folder = os.fspath(folder)
    record = _read_record(folder)
    fingerprint = digest(identity)
    if _matches(record, fingerprint) and record["complete"]:
        _say(
            f"Reusing the token cache in {folder} ({record['examples']} examples)",
            verbose,
        )
        return _load(folder, record), True
    if _matches(record, fingerprint):
        _remove_unlisted(folder, record)
        done = sum(chunk["inputs"] for chunk in record["chunks"])
        _say(
            f"Resuming the token cache in {folder}: {len(record['chunks'])} "
            f"complete chunk(s), {done} inputs kept; tokenizing the rest …",
            verbose,
        )
    else:
        _clear(folder)
        record = {
            "format": FORMAT,
            "fingerprint": fingerprint,
            "identity": identity,
            "chunks": [],
            "complete": False,
        }
        _write_record(folder, record)
        done = 0

    def counted(*element):
        batch = element[0] if len(element) == 1 else element
        tokens = batch if encode is None else encode(*element)
        return tokens, tf.shape(tf.nest.flatten(batch)[0])[0]

    batches = dataset.skip(done).batch(batch_size).map(counted, tf.data.AUTOTUNE)
    pending, size, inputs = [], 0, 0
    for tokens, count in progress(
        batches,
        f"Tokenizing the data once, to disk ({folder})",
        verbose=verbose,
        unit="batch",
    ):
        tokens = tf.nest.map_structure(lambda t: t.numpy(), tokens)
        pending.append(tokens)
        size += sum(t.nbytes for t in tf.nest.flatten(tokens))
        inputs += int(count)
        if size >= chunk_bytes:
            _write_chunk(folder, record, pending, inputs)
            pending, size, inputs = [], 0, 0
    if pending:
        _write_chunk(folder, record, pending, inputs)
    if not record["chunks"]:
        raise DataError(f"{folder}: no examples to tokenize (the data is empty).")
    record["complete"] = True
    record["examples"] = sum(chunk["examples"] for chunk in record["chunks"])
    _write_record(folder, record)
    return _load(folder, record), False


def _matches(record, fingerprint):
    return (
        record is not None
        and record.get("format") == FORMAT
        and record.get("fingerprint") == fingerprint
    )


def _write_chunk(folder, record, batches, inputs):
    """Save `batches` as the next chunk: to a `.partial` folder, then renamed."""
    rows = tf.nest.map_structure(lambda *parts: np.concatenate(parts), *batches)
    name = f"{len(record['chunks']):05d}"
    final = os.path.join(folder, CHUNKS, name)
    partial = final + ".partial"
    shutil.rmtree(partial, ignore_errors=True)
    blocks = tf.data.Dataset.from_tensor_slices(rows).batch(ROWS_PER_ELEMENT)
    blocks.save(partial)
    shutil.rmtree(final, ignore_errors=True)
    os.replace(partial, final)
    examples = len(tf.nest.flatten(rows)[0])
    record["chunks"].append({"name": name, "examples": examples, "inputs": inputs})
    _write_record(folder, record)


def _load(folder, record):
    parts = [
        tf.data.Dataset.load(os.path.join(folder, CHUNKS, chunk["name"])).unbatch()
        for chunk in record["chunks"]
    ]
    data = functools.reduce(lambda a, b: a.concatenate(b), parts)
    count = sum(chunk["examples"] for chunk in record["chunks"])
    return data.apply(tf.data.experimental.assert_cardinality(count))


def _remove_unlisted(folder, record):
    """Drop chunk folders the record does not list (a killed run's partial one)."""
    listed = {chunk["name"] for chunk in record["chunks"]}
    chunks = os.path.join(folder, CHUNKS)
    for name in os.listdir(chunks) if os.path.isdir(chunks) else []:
        if name not in listed:
            shutil.rmtree(os.path.join(chunks, name), ignore_errors=True)


def _clear(folder):
    """An empty cache folder: made, or emptied of a stale cache (only that)."""
    if os.path.exists(folder) and not os.path.isdir(folder):
        raise DataError(f"{folder}: is a file; the token cache needs a folder.")
    if os.path.isdir(folder) and os.listdir(folder):
        if not os.path.exists(os.path.join(folder, RECORD)):
            raise DataError(
                f"{folder}: holds other files and no {RECORD}; the token cache "
                "needs an empty or new folder (nothing was deleted)."
            )
        for name in os.listdir(folder):
            path = os.path.join(folder, name)
            shutil.rmtree(path) if os.path.isdir(path) else os.remove(path)
    os.makedirs(os.path.join(folder, CHUNKS), exist_ok=True)


def _write_record(folder, record):
    """Write the record atomically: a kill leaves the old one or the new one."""
    path = os.path.join(folder, RECORD)
    with open(path + ".tmp", "w") as file:
        json.dump(record, file, indent=2, default=str)
    os.replace(path + ".tmp", path)


def _say(line, verbose):
    if verbose != 0 and keras.config.is_interactive_logging_enabled():
        print(line, file=sys.stderr, flush=True)


def _read_record(folder):
    path = os.path.join(folder, RECORD)
    if not os.path.isfile(path):
        return None
    try:
        with open(path) as file:
            return json.load(file)
    except (OSError, ValueError):
        return None  # unreadable: written anew


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
