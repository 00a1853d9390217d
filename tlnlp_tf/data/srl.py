"""Read semantic role labelling files (one block per predicate) into `Propositions`.

The per-predicate block format (CoNLL-2005/2012 span SRL, as BIO tags): one
token per line with whitespace-separated columns, the token, a predicate
marker (`1` on the predicate's token, `0` elsewhere) and the BIO tag of the
arguments of that one predicate (`B-ARG0`, `I-ARGM-TMP`, `B-R-ARG1`,
`B-C-ARG1`, and `B-V` on the predicate itself); a blank line between
blocks. A sentence with three predicates is three blocks.

Example:

```python
open("srl.tsv", "w").write(
    "The\\t0\\tB-ARG0\\ncat\\t0\\tI-ARG0\\nsat\\t1\\tB-V\\n.\\t0\\tO\\n"
)
data = read_srl("srl.tsv")
data.words[0], data.predicates[0], data.tags[0]
# ["The", "cat", "sat", "."], 2, ["B-ARG0", "I-ARG0", "B-V", "O"]
```
"""

import dataclasses
import itertools

import tensorflow as tf

from tlnlp_tf.data.conll import to_iob2
from tlnlp_tf.data.examples import check_tag_rows
from tlnlp_tf.data.examples import sampled
from tlnlp_tf.data.loading import _source
from tlnlp_tf.data.loading import is_streamed
from tlnlp_tf.data.readers import read_text
from tlnlp_tf.data.readers import split_lines
from tlnlp_tf.data.reservoir import reservoir_sample
from tlnlp_tf.data.streamed_propositions import StreamedPropositions
from tlnlp_tf.data.streams import data_files
from tlnlp_tf.data.streams import text_lines
from tlnlp_tf.errors import DataError


@dataclasses.dataclass
class Propositions:
    """Predicate instances: a sentence's words, its predicate, the roles' BIO tags.

    Attributes:
        words: a list of sentences, each a list of words (repeated once per
            predicate of the sentence).
        predicates: the 0-based index of each instance's predicate word.
        tags: the IOB2 role tags of each word, or `None` when unlabelled.
        source: the file (path or glob) the instances came from.
        lines: the line number where each instance's block starts
            (`(file, line)` when read from several files).

    Example:

    ```python
    data = Propositions([["Cats", "sleep"]], [1], [["B-ARG0", "B-V"]])
    assert data.tag_names() == ["O", "B-ARG0", "I-ARG0", "B-V", "I-V"]
    (sentence, predicate), tags = next(iter(data.to_dataset()))
    # b"Cats sleep", 1, b"B-ARG0 B-V"
    ```
    """

    words: list
    predicates: list
    tags: list = None
    source: str = "<lists>"
    lines: list = None

    def __post_init__(self):
        if self.lines is None:
            self.lines = list(range(1, len(self.words) + 1))

    def __len__(self):
        return len(self.words)

    def tag_names(self):
        """`"O"` first, then the roles in order (`V` among them), `B-` before `I-`.

        ```python
        Propositions([["Go"]], [0], [["B-V"]]).tag_names()  # ["O", "B-V", "I-V"]
        ```
        """
        if self.tags is None:
            raise DataError(f"{self.source}: has no tags.")
        roles = sorted({t[2:] for sentence in self.tags for t in sentence if t != "O"})
        return ["O"] + [f"{prefix}-{role}" for role in roles for prefix in "BI"]

    def check_tags(self, names):
        """Raise `DataError` at the first tag not in `names`; returns `self`.

        ```python
        Propositions([["Go"]], [0], [["B-V"]]).check_tags(["O", "B-V", "I-V"])
        ```
        """
        return check_tag_rows(self, names)

    def sample(self, count, seed=0):
        """A seeded random sample of `count` instances (all if fewer).

        ```python
        data = Propositions([["Go"], ["Stop"]], [0, 0], [["B-V"], ["B-V"]])
        assert len(data.sample(1, seed=0)) == 1
        ```
        """
        return sampled(self, ("words", "predicates", "tags", "lines"), count, seed)

    def to_dataset(self):
        """An unbatched `tf.data.Dataset` of `((sentence, predicate), tags)`.

        `sentence` and `tags` are space-joined strings (words hold no
        whitespace), `predicate` the int32 index of the predicate word;
        unlabelled instances give `(sentence, predicate)` alone.

        ```python
        data = Propositions([["Cats", "sleep"]], [1], [["B-ARG0", "B-V"]])
        batches = data.to_dataset().batch(32)
        ```
        """
        sentences = tf.constant([" ".join(words) for words in self.words], tf.string)
        predicates = tf.constant(self.predicates, tf.int32, shape=[len(self)])
        if self.tags is None:
            return tf.data.Dataset.from_tensor_slices((sentences, predicates))
        tags = tf.constant([" ".join(tags) for tags in self.tags], tf.string)
        return tf.data.Dataset.from_tensor_slices(((sentences, predicates), tags))


def read_srl(
    path,
    token_column=0,
    predicate_column=1,
    tag_column=-1,
    limit=None,
    seed=0,
    stream=False,
):
    """Read a per-predicate SRL file into `Propositions` with IOB2 role tags.

    Args:
        path: the file (UTF-8; a byte-order mark and CRLF line ends are
            fine); or a glob or list of files, plain or gzip (`.gz`), read
            line by line and joined in order.
        token_column, predicate_column, tag_column: column indices (negative
            counts from the end); every non-blank line must have the same
            number of columns. `tag_column=None` reads an unlabelled file.
        limit: keep a seeded random sample of this many instances (`None`:
            all). A streamed input (several files, gzip, or one of
            `STREAM_BYTES` or more) is sampled while it is read (a
            reservoir: memory holds the sample, not the corpus).
        seed: the sample's seed.
        stream: with no `limit`, a streamed input is not held: one pass
            checks and counts it, and the result is a
            `StreamedPropositions` whose `to_dataset()` reads the files
            again each epoch.

    Each block must mark exactly one predicate (`1` in the predicate column,
    `0` elsewhere); tags are `O` or `B-`/`I-` and a role. An `I-X` that
    continues nothing becomes `B-X` (the same spans under CoNLL scoring).

    Example:

    ```python
    open("srl.tsv", "w").write("Cats\\t0\\tB-ARG0\\nsleep\\t1\\tB-V\\n")
    read_srl("srl.tsv", token_column=0, predicate_column=1, tag_column=2).predicates
    # [1]
    ```
    """
    columns = (token_column, predicate_column, tag_column)
    files = data_files(path)
    source = _source(path, files)
    if not is_streamed(files):
        numbered = enumerate(split_lines(read_text(files[0])), start=1)
        blocks = (
            (files[0], *block) for block in propositions(files[0], numbered, *columns)
        )
        return _collected(blocks, source, tag_column, single=True).sample(limit, seed)
    if limit is None and stream:
        return StreamedPropositions.scan(files, *columns, source=source)

    def read():
        for file in files:
            found = 0
            for block in propositions(file, text_lines(file), *columns):
                found += 1
                yield (file, *block)
            if not found:
                raise DataError(f"{file}: no predicate blocks found.")

    blocks = read() if limit is None else reservoir_sample(read(), limit, seed)
    return _collected(blocks, source, tag_column, single=len(files) == 1)


def _collected(blocks, source, tag_column, single):
    """`Propositions` of `(file, line, words, predicate, tags)` blocks."""
    result = Propositions([], [], None if tag_column is None else [], source, [])
    for file, line, words, predicate, tags in blocks:
        result.words.append(words)
        result.predicates.append(predicate)
        result.lines.append(line if single else (file, line))
        if result.tags is not None:
            result.tags.append(tags)
    if not result.words:
        raise DataError(f"{source}: no predicate blocks found.")
    return result


def propositions(path, numbered, token_column=0, predicate_column=1, tag_column=-1):
    """`(start line, words, predicate index, IOB2 tags)` of each block of one
    file, as it is read (`tags` is `None` when `tag_column` is).

    `numbered`: the file's `(line number, text)` pairs (`text_lines`). Every
    line is checked as it comes: the column count, the 0/1 marker, the tag's
    form, one predicate per block.

    ```python
    for line, words, predicate, tags in propositions("srl.tsv", text_lines("srl.tsv")):
        print(line, words[predicate], tags)
    ```
    """
    block, width = [], None
    for number, raw in itertools.chain(numbered, [(None, "")]):
        fields = raw.split()
        if not fields:
            if block:
                yield _block(block, path, predicate_column)
            block = []
            continue
        if width is None:
            width = len(fields)
            _check_columns(
                path, number, width, token_column, predicate_column, tag_column
            )
        if len(fields) != width:
            raise DataError(
                f"{path}, line {number}: expected {width} columns like the first "
                f"token line, found {len(fields)}."
            )
        marker = fields[predicate_column]
        if marker not in ("0", "1"):
            raise DataError(
                f"{path}, line {number}: the predicate marker (column "
                f"{predicate_column}) is '{marker}'; expected 0 or 1."
            )
        tag = None if tag_column is None else fields[tag_column]
        if tag is not None and not _is_bio(tag):
            raise DataError(
                f"{path}, line {number}: tag '{tag}' is not 'O' or B-/I- and a role "
                "(BIO tags expected, e.g. B-ARG0, I-ARGM-TMP)."
            )
        block.append((number, fields[token_column], marker == "1", tag))


def _block(block, path, predicate_column):
    start = block[0][0]
    marked = [
        index for index, (_, _, is_predicate, _) in enumerate(block) if is_predicate
    ]
    if not marked:
        raise DataError(
            f"{path}, line {start}: the block of lines {start}-{block[-1][0]} marks "
            f"no predicate; expected one 1 in column {predicate_column}."
        )
    if len(marked) > 1:
        raise DataError(
            f"{path}, line {block[marked[1]][0]}: a second predicate marker in the "
            f"block starting at line {start}; expected one 1 in column "
            f"{predicate_column} per block (one block per predicate)."
        )
    tags = None
    if block[0][3] is not None:
        tags = to_iob2([tag for _, _, _, tag in block], "iob2", path, start)
    return start, [token for _, token, _, _ in block], marked[0], tags


def _is_bio(tag):
    return tag == "O" or (len(tag) > 2 and tag[0] in "BI" and tag[1] == "-")


def _check_columns(path, number, width, token_column, predicate_column, tag_column):
    columns = {"token": token_column, "predicate": predicate_column}
    if tag_column is not None:
        columns["tag"] = tag_column
    for name, column in columns.items():
        if isinstance(column, bool) or not isinstance(column, int):
            raise DataError(f"{name}_column must be an integer, got {column!r}.")
        if not -width <= column < width:
            raise DataError(
                f"{path}, line {number}: {name} column {column} does not exist; "
                f"the line has {width} columns."
            )
    positions = [column % width for column in columns.values()]
    if len(set(positions)) != len(positions):
        raise DataError(
            f"{path}, line {number}: the {', '.join(columns)} columns must be "
            f"different columns (the line has {width}); got "
            f"{', '.join(str(c) for c in columns.values())}."
        )
