"""Language-modelling data: plain-text documents, packed into fixed-length blocks.

A causal language model trains on blocks of `block_length` token ids cut
from the tokenized documents laid end to end, each followed by an
end-of-text id: no padding, and every block has the same static shape.

```python
documents = read_documents("reviews.txt")  # one document per line
ids = tf.data.Dataset.from_tensor_slices(tf.ragged.constant([[5, 6, 7], [8, 9]]))
blocks = pack_blocks(ids, block_length=4, end_of_text_id=0)  # [5 6 7 0], ...
```
"""

import os

import tensorflow as tf

from tlnlp_tf.data.readers import read_text
from tlnlp_tf.data.readers import split_lines
from tlnlp_tf.errors import DataError
from tlnlp_tf.errors import PolicyError

SPLITS = ("line", "paragraph")


def read_documents(path, split="line"):
    """The documents of a UTF-8 plain-text file, as a `tf.data.Dataset` of strings.

    Args:
        path: the file (a byte-order mark and Windows line ends are fine).
        split: `"line"`: one document per line, blank lines skipped (as
            `tlnlp pretrain` reads a corpus); `"paragraph"`: documents are
            separated by blank lines, and the lines of one document are
            joined with "\\n".

    Example:

    ```python
    documents = read_documents("reviews.txt")
    first = next(iter(documents)).numpy().decode()
    ```
    """
    path = os.fspath(path)
    if split not in SPLITS:
        raise PolicyError(
            f"read_documents: split must be one of {', '.join(SPLITS)}, got {split!r}."
        )
    lines = split_lines(read_text(path))
    if split == "line":
        documents = [line for line in lines if line.strip()]
    else:
        documents, current = [], []
        for line in lines + [""]:
            if line.strip():
                current.append(line)
            elif current:
                documents.append("\n".join(current))
                current = []
    if not documents:
        raise DataError(f"{path}: no documents; the file is empty or blank.")
    return tf.data.Dataset.from_tensor_slices(tf.constant(documents, tf.string))


def pack_blocks(token_ids, block_length, end_of_text_id=None):
    """Lay tokenized documents end to end and cut them into blocks, in tf.data.

    Each document is followed by `end_of_text_id` (when given); the stream
    is cut into consecutive blocks of exactly `block_length` ids, and the
    last, shorter piece is dropped. For next-token training take
    `block_length = sequence_length + 1` and split each block into
    `block[:-1]` (inputs) and `block[1:]` (targets).

    Args:
        token_ids: a `tf.data.Dataset` whose elements are the token ids of
            one document (a 1-D integer tensor), or batches of documents as
            2-D `tf.RaggedTensor`s (what a keras-hub tokenizer gives for a
            batch of strings).
        block_length: the ids per block, at least 1.
        end_of_text_id: the id put after every document (e.g. the
            tokenizer's `end_token_id`), or `None` for none.

    Returns:
        A `tf.data.Dataset` of `(block_length,)` id tensors, unbatched.

    Example:

    ```python
    ids = tf.data.Dataset.from_tensor_slices(tf.ragged.constant([[5, 6, 7], [8, 9]]))
    blocks = pack_blocks(ids, block_length=2, end_of_text_id=0)
    assert [b.numpy().tolist() for b in blocks] == [[5, 6], [7, 0], [8, 9]]
    ```
    """
    if (
        isinstance(block_length, bool)
        or not isinstance(block_length, int)
        or block_length < 1
    ):
        raise PolicyError(
            f"pack_blocks: block_length must be an integer >= 1, got {block_length!r}."
        )
    if end_of_text_id is not None and (
        isinstance(end_of_text_id, bool)
        or not isinstance(end_of_text_id, int)
        or end_of_text_id < 0
    ):
        raise PolicyError(
            f"pack_blocks: end_of_text_id must be a token id (an integer >= 0) "
            f"or None, got {end_of_text_id!r}."
        )
    if not isinstance(token_ids, tf.data.Dataset):
        raise DataError(
            f"pack_blocks: token_ids must be a tf.data.Dataset, got "
            f"{type(token_ids).__name__}."
        )
    spec = token_ids.element_spec
    ragged = isinstance(spec, tf.RaggedTensorSpec)
    batched = ragged and spec.shape.rank == 2
    single = isinstance(spec, (tf.TensorSpec, tf.RaggedTensorSpec)) and (
        spec.shape.rank == 1
    )
    if not (batched or single) or not spec.dtype.is_integer:
        raise DataError(
            "pack_blocks: each element of token_ids must be the 1-D integer ids "
            f"of one document (or a 2-D ragged batch of them), got {spec}."
        )
    end = None
    if end_of_text_id is not None:
        end = tf.constant(end_of_text_id, spec.dtype)

    def laid_end_to_end(ids):
        if batched:  # the documents of the batch, each followed by `end`
            if end is not None:
                ends = tf.fill([ids.nrows(), 1], end)
                ids = tf.concat([ids, ends], axis=1)
            return ids.flat_values
        if isinstance(ids, tf.RaggedTensor):  # a slice of a ragged tensor
            ids = ids.flat_values
        return ids if end is None else tf.concat([ids, end[None]], axis=0)

    if ragged or end is not None:
        token_ids = token_ids.map(laid_end_to_end, num_parallel_calls=tf.data.AUTOTUNE)
    return token_ids.rebatch(block_length, drop_remainder=True)
