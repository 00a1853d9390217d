"""Read CoNLL-style tagged files into `TaggedSentences`, tags converted to IOB2.

One token per line with whitespace-separated columns (token first, tag last
by default), a blank line between sentences, `-DOCSTART-` lines between
documents. Character-per-line files (MSRA Chinese NER) read the same way.

Tag schemes, detected or given: `iob1` (I- may start an entity), `iob2`
(B- starts every entity), `bioes` (also E- and S-), `bmes` (B-, M-, E-, S-).
All are converted to IOB2, the scheme the models train on.

Example:

```python
train = read_conll("train.txt")           # token first column, tag last
train.tag_names()                         # ["O", "B-LOC", "I-LOC", ...]
model.fit(train.to_dataset().batch(32))   # (sentence, tags) as space-joined strings
```
"""

import dataclasses

import tensorflow as tf

from tlnlp_tf.data.examples import check_tag_rows
from tlnlp_tf.data.examples import sampled
from tlnlp_tf.data.loading import _source
from tlnlp_tf.data.loading import is_streamed
from tlnlp_tf.data.readers import read_text
from tlnlp_tf.data.readers import split_lines
from tlnlp_tf.data.reservoir import reservoir_sample
from tlnlp_tf.data.streamed_sentences import StreamedSentences
from tlnlp_tf.data.streams import data_files
from tlnlp_tf.data.streams import text_lines
from tlnlp_tf.errors import DataError

SCHEMES = ("auto", "iob1", "iob2", "bioes", "bmes")
_PREFIXES = {"iob1": "BI", "iob2": "BI", "bioes": "BIES", "bmes": "BMES"}


@dataclasses.dataclass
class TaggedSentences:
    """Sentences as word lists with one IOB2 tag per word.

    Attributes:
        words: a list of sentences, each a list of words.
        tags: the IOB2 tag of each word, or `None` when unlabelled.
        source: the file the sentences came from.
        lines: the line number where each sentence starts (`(file, line)`
            when read from several files).
        scheme: the tag scheme of the file (before conversion to IOB2).

    Example:

    ```python
    sentences = TaggedSentences([["Merkel", "visited", "Paris"]],
                                [["B-PER", "O", "B-LOC"]])
    assert sentences.tag_names() == ["O", "B-LOC", "I-LOC", "B-PER", "I-PER"]
    ```
    """

    words: list
    tags: list = None
    source: str = "<lists>"
    lines: list = None
    scheme: str = "iob2"

    def __post_init__(self):
        if self.lines is None:
            self.lines = list(range(1, len(self.words) + 1))

    def __len__(self):
        return len(self.words)

    def tag_names(self):
        """`"O"` first, then entity types in order, `B-` before `I-`.

        These are the tags a tagger trains on: a file whose every tag is
        `O` is an error.

        ```python
        TaggedSentences([["Paris", "is", "big"]], [["B-LOC", "O", "O"]]).tag_names()
        # ["O", "B-LOC", "I-LOC"]
        ```
        """
        if self.tags is None:
            raise DataError(f"{self.source}: has no tags.")
        types = sorted(
            {tag[2:] for sentence in self.tags for tag in sentence if tag != "O"}
        )
        if not types:
            raise DataError(
                f"{self.source}: every tag is 'O'; a tagger needs entity tags "
                "(B-TYPE, I-TYPE) in its training data."
            )
        return ["O"] + [f"{p}-{t}" for t in types for p in "BI"]

    def check_tags(self, names):
        """Raise `DataError` at the first tag not in `names`."""
        return check_tag_rows(self, names)

    def sample(self, count, seed=0):
        """A seeded random sample of `count` sentences (all if fewer)."""
        return sampled(self, ("words", "tags", "lines"), count, seed)

    def to_dataset(self):
        """An unbatched `tf.data.Dataset` of `(sentence, tags)` space-joined strings.

        Words contain no spaces (they were whitespace-separated columns), so
        one string per sentence batches with a plain `.batch()`.
        """
        sentences = tf.constant([" ".join(words) for words in self.words])
        if self.tags is None:
            return tf.data.Dataset.from_tensor_slices(sentences)
        tags = tf.constant([" ".join(tags) for tags in self.tags])
        return tf.data.Dataset.from_tensor_slices((sentences, tags))


def read_conll(
    path, token_column=0, tag_column=-1, scheme="auto", limit=None, seed=0, stream=False
):
    """Read a CoNLL-style file into `TaggedSentences` with IOB2 tags.

    Args:
        path: the file; or a glob or list of files, plain or gzip (`.gz`),
            read line by line and joined in order. Each file's scheme is
            detected on its own.
        token_column, tag_column: column indices (negative counts from the
            end); every non-blank line must have the same number of columns.
        scheme: `"auto"` (detected from the tags), `"iob1"`, `"iob2"`,
            `"bioes"` or `"bmes"`.
        limit: keep a seeded random sample of this many sentences (`None`:
            all). A streamed input (several files, gzip, or one of
            `STREAM_BYTES` or more) is sampled while it is read (a
            reservoir: memory holds the sample, not the corpus); a single
            plain file is read whole and sampled as `TaggedSentences.sample`.
        seed: the sample's seed.
        stream: with no `limit`, a streamed input is not held: one pass
            checks and counts it, and the result is a `StreamedSentences`
            whose `to_dataset()` reads the files again each epoch.

    Example:

    ```python
    train = read_conll("train.txt")  # token first column, tag last
    train.words[0], train.tags[0]     # ["EU", "rejects", ...], ["B-ORG", "O", ...]
    big = read_conll("ner/*.txt.gz", stream=True)  # counted, not held
    ```
    """
    if scheme not in SCHEMES:
        raise DataError(f"scheme must be one of {SCHEMES}, got {scheme!r}.")
    files = data_files(path)
    if not is_streamed(files):
        numbered = enumerate(split_lines(read_text(files[0])), start=1)
        sentences = _read_lines(files[0], numbered, token_column, tag_column, scheme)
        return sentences.sample(limit, seed=seed)
    source = _source(path, files)
    if limit is not None:
        return _sample_stream(
            files, source, token_column, tag_column, scheme, limit, seed
        )
    if stream:
        return StreamedSentences.scan(files, token_column, tag_column, scheme, source)
    parts = [
        _read_lines(file, text_lines(file), token_column, tag_column, scheme)
        for file in files
    ]
    if len(parts) == 1:
        return parts[0]
    return TaggedSentences(
        words=[words for part in parts for words in part.words],
        tags=[tags for part in parts for tags in part.tags],
        source=source,
        lines=[(part.source, line) for part in parts for line in part.lines],
        scheme="+".join(sorted({part.scheme for part in parts})),
    )


def _sample_stream(files, source, token_column, tag_column, scheme, limit, seed):
    """A reservoir sample of `limit` sentences of `files`, each converted
    with its file's scheme (detected over the whole file as it streams)."""
    scans = {file: SchemeScan(file) for file in files}

    def stream():
        for file in files:
            found = 0
            for line, words, tags in sentences(
                file, text_lines(file), token_column, tag_column
            ):
                scans[file].add(tags, line)
                found += 1
                yield file, line, words, tags
            if not found:
                raise DataError(f"{file}: no sentences found.")

    kept = reservoir_sample(stream(), limit, seed)
    found = {
        file: scan.scheme() if scheme == "auto" else scheme
        for file, scan in scans.items()
    }
    single = len(files) == 1
    return TaggedSentences(
        words=[words for _, _, words, _ in kept],
        tags=[to_iob2(tags, found[file], file, line) for file, line, _, tags in kept],
        source=source,
        lines=[line if single else (file, line) for file, line, _, _ in kept],
        scheme="+".join(sorted(set(found.values()))),
    )


def _read_lines(path, numbered, token_column, tag_column, scheme):
    """`TaggedSentences` of one file, from its `(line number, text)` pairs."""
    words, tags, lines = [], [], []
    for start, sentence, sentence_tags in sentences(
        path, numbered, token_column, tag_column
    ):
        words.append(sentence)
        tags.append(sentence_tags)
        lines.append(start)
    if not words:
        raise DataError(f"{path}: no sentences found.")
    found = detect_scheme(tags, path, lines) if scheme == "auto" else scheme
    converted = [to_iob2(t, found, path, line) for t, line in zip(tags, lines)]
    return TaggedSentences(words, converted, path, lines, found)


def sentences(path, numbered, token_column=0, tag_column=-1):
    """`(start line, words, tags)` of each sentence of one file, as it is read.

    `numbered`: the file's `(line number, text)` pairs (`text_lines`). The
    columns are checked on the first token line; every other token line
    must have as many. Tags are as written (not yet IOB2).

    ```python
    for line, words, tags in sentences("train.txt", text_lines("train.txt")):
        print(line, words, tags)
    ```
    """
    sentence, sentence_tags, start, width = [], [], None, None
    for number, raw in numbered:
        fields = raw.split()
        if not fields or fields[0] == "-DOCSTART-":
            if sentence:
                yield start, sentence, sentence_tags
            sentence, sentence_tags, start = [], [], None
            continue
        if width is None:
            width = len(fields)
            _check_columns(path, number, width, token_column, tag_column)
        if len(fields) != width:
            raise DataError(
                f"{path}, line {number}: expected {width} columns like the first "
                f"token line, found {len(fields)}."
            )
        if start is None:
            start = number
        sentence.append(fields[token_column])
        sentence_tags.append(fields[tag_column])
    if sentence:
        yield start, sentence, sentence_tags


class SchemeScan:
    """The tag scheme of sentences seen one at a time (`detect_scheme`, streamed).

    Keeps the prefixes seen and whether an `I-` tag ever starts an entity:
    constant memory, however many sentences pass.

    ```python
    scan = SchemeScan("train.txt")
    scan.add(["I-PER", "O"], line=3)
    scan.scheme()  # "iob1"
    ```
    """

    def __init__(self, source="<tags>"):
        self.source = source
        self.prefixes = set()
        self.inside_first = False

    def add(self, tags, line, per_token=True):
        """Check one sentence's tags (`line`: where it starts; with
        `per_token`, a bad tag is named at `line + offset`)."""
        previous = "O"
        for offset, tag in enumerate(tags):
            if tag != "O":
                if len(tag) < 3 or tag[1] != "-" or tag[0] not in "BIMES":
                    raise DataError(
                        f"{self.source}, line {line + offset if per_token else line}: "
                        f"tag '{tag}' is not 'O' or PREFIX-TYPE with a prefix in "
                        "B, I, M, E, S."
                    )
                self.prefixes.add(tag[0])
                if tag[0] == "I" and (previous == "O" or previous[2:] != tag[2:]):
                    self.inside_first = True
            previous = tag

    def scheme(self):
        """`bmes`, `bioes`, `iob1` or `iob2`, from what was added."""
        if "M" in self.prefixes:
            return "bmes"
        if self.prefixes & {"E", "S"}:
            return "bioes"
        return "iob1" if self.inside_first else "iob2"


def detect_scheme(tags, source="<tags>", lines=None):
    """The scheme a corpus's tags use: `iob2`, `iob1`, `bioes` or `bmes`."""
    scan = SchemeScan(source)
    for index, sentence in enumerate(tags):
        if lines:
            scan.add(sentence, lines[index])
        else:
            scan.add(sentence, index + 1, per_token=False)
    return scan.scheme()


def to_iob2(tags, scheme, source="<tags>", line=1):
    """Convert one sentence's tags from `scheme` to IOB2."""
    allowed = _PREFIXES[scheme]
    result, previous = [], "O"
    for offset, tag in enumerate(tags):
        if tag == "O":
            result.append("O")
            previous = "O"
            continue
        prefix, kind = tag[0], tag[2:]
        if len(tag) < 3 or tag[1] != "-" or prefix not in allowed:
            raise DataError(
                f"{source}, line {line + offset}: tag '{tag}' is not in the "
                f"{scheme.upper()} scheme (prefixes {', '.join(allowed)} or 'O')."
            )
        if prefix in "BS":
            new = f"B-{kind}"
        elif prefix == "I" and scheme == "iob1":
            continues = previous != "O" and previous[2:] == kind
            new = f"I-{kind}" if continues else f"B-{kind}"
        else:  # I, M, E continue an entity; a dangling one starts it
            continues = previous != "O" and previous[2:] == kind
            new = f"I-{kind}" if continues else f"B-{kind}"
        result.append(new)
        previous = new
    return result


def _check_columns(path, number, width, token_column, tag_column):
    for name, column in (("token", token_column), ("tag", tag_column)):
        if isinstance(column, bool) or not isinstance(column, int):
            raise DataError(f"{name}_column must be an integer, got {column!r}.")
        if not -width <= column < width:
            raise DataError(
                f"{path}, line {number}: {name} column {column} does not exist; "
                f"the line has {width} columns."
            )
    if token_column % width == tag_column % width:
        raise DataError(
            f"{path}, line {number}: the token and the tag are the same column "
            f"({width} column{'s' if width > 1 else ''} on the line); expected "
            "a token and its tag, separated by whitespace."
        )
