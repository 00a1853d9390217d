"""`StreamedSentences`: a tagged corpus too large to hold, counted, streamed each epoch.

`read_conll(path, stream=True)` returns one for a streamed input (a glob of
shards, gzip, or a file of `STREAM_BYTES` or more) read whole (no `limit`).
One pass over the files checks every line (the column count, each tag's
form), detects each file's tag scheme, counts the sentences and notes
where each entity type first appears; it keeps nothing else, so memory does
not grow with the corpus. `to_dataset()` reads the files again each time it
is iterated and gives what `TaggedSentences.to_dataset()` gives: `(sentence,
tags)` as space-joined strings, tags in IOB2. `tlnlp fit --task
token-classification` tokenizes that stream once (to disk above
`DISK_TOKENS_EXAMPLES`, or with `--token-cache`).

```python
train = tl.data.read_conll("ner/train-*.txt.gz", stream=True)
len(train), train.tag_names()  # 2, ['O', 'B-LOC', 'I-LOC', 'B-PER', 'I-PER']
model.fit(train.to_dataset().batch(8), epochs=1)
```
"""

import dataclasses
from typing import ClassVar

import tensorflow as tf

from tlnlp_tf.data.generator_dataset import generator_dataset
from tlnlp_tf.errors import DataError


@dataclasses.dataclass
class StreamedSentences:
    """The files, columns, schemes and counts of a streamed tagged corpus.

    Attributes:
        files: the files, in order.
        schemes: each file's tag scheme (detected or given), converted to
            IOB2 as the sentences stream.
        token_column, tag_column: the columns read.
        source: the path, glob or first file, for messages.
        count: the sentences.
        types: `entity type -> (file, line)` where each type first appears.
        skipped: always 0 (a bad CoNLL line is an error).

    ```python
    train = tl.data.read_conll("ner/train-*.txt.gz", stream=True)
    train.schemes, train.types  # ['iob2', 'iob2'], {'PER': ('…part-0.txt.gz', 1), …}
    for sentence, tags in train.to_dataset().take(1):
        print(sentence, tags)
    ```
    """

    unit: ClassVar[str] = "sentences"  # what `len` counts, for messages
    files: list
    schemes: list
    token_column: int = 0
    tag_column: int = -1
    source: str = ""
    count: int = 0
    types: dict = None
    skipped: int = 0

    @classmethod
    def scan(cls, files, token_column=0, tag_column=-1, scheme="auto", source=""):
        """One checking pass over `files`: counts, types and each file's scheme."""
        from tlnlp_tf.data.conll import SchemeScan
        from tlnlp_tf.data.conll import sentences
        from tlnlp_tf.data.streams import text_lines

        schemes, types, count = [], {}, 0
        for file in files:
            scan, found = SchemeScan(file), 0
            for line, _, tags in sentences(
                file, text_lines(file), token_column, tag_column
            ):
                scan.add(tags, line)
                found += 1
                for offset, tag in enumerate(tags):
                    if tag != "O" and tag[2:] not in types:
                        types[tag[2:]] = (file, line + offset)
            if not found:
                raise DataError(f"{file}: no sentences found.")
            schemes.append(scan.scheme() if scheme == "auto" else scheme)
            count += found
        return cls(
            files=list(files),
            schemes=schemes,
            token_column=token_column,
            tag_column=tag_column,
            source=source or files[0],
            count=count,
            types=types,
        )

    def __len__(self):
        return self.count

    def tag_names(self):
        """`"O"`, then `B-`/`I-` of each entity type in order, as
        `TaggedSentences.tag_names` gives them."""
        if not self.types:
            raise DataError(
                f"{self.source}: every tag is 'O'; a tagger needs entity tags "
                "(B-TYPE, I-TYPE) in its training data."
            )
        return ["O"] + [f"{p}-{t}" for t in sorted(self.types) for p in "BI"]

    def check_tags(self, names):
        """Raise `DataError` where an entity type outside `names` first appears."""
        check_first_seen(self.types, names)
        return self

    def tagged(self):
        """`(file, line, words, IOB2 tags)` of every sentence, read again."""
        from tlnlp_tf.data.conll import sentences
        from tlnlp_tf.data.conll import to_iob2
        from tlnlp_tf.data.streams import text_lines

        for file, scheme in zip(self.files, self.schemes):
            for line, words, tags in sentences(
                file, text_lines(file), self.token_column, self.tag_column
            ):
                yield file, line, words, to_iob2(tags, scheme, file, line)

    def to_dataset(self):
        """An unbatched `tf.data.Dataset` of `(sentence, tags)` space-joined
        strings, streamed from the files each time it is iterated. Its
        cardinality is the sentence count. Under a multi-worker strategy
        every worker reads every file and keeps its share (sharded by data)."""

        def generate():
            for _, _, words, tags in self.tagged():
                yield " ".join(words), " ".join(tags)

        string = tf.TensorSpec((), tf.string)
        return generator_dataset(generate, (string, string), self.count)


def check_first_seen(first_seen, names):
    """Raise `DataError` at the `(file, line)` where a type of `first_seen`
    (`type -> (file, line)`) appears whose `B-`/`I-` tags are not in `names`."""
    from tlnlp_tf.data.examples import unseen

    allowed = set(names)
    for kind, (file, line) in first_seen.items():
        for tag in (f"B-{kind}", f"I-{kind}"):
            if tag not in allowed:
                raise unseen(file, line, "tag", tag, allowed)
