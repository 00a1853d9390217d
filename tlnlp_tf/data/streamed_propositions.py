"""`StreamedPropositions`: SRL blocks too many to hold, counted, streamed each epoch.

`read_srl(path, stream=True)` returns one for a streamed input (a glob of
shards, gzip, or a file of `STREAM_BYTES` or more) read whole (no `limit`).
One pass over the files checks every line (the column count, the 0/1
predicate marker, each tag's form, one predicate per block), counts the
predicate instances and notes where each role first appears; it keeps
nothing else, so memory does not grow with the corpus. `to_dataset()`
reads the files again each time it is iterated and gives what
`Propositions.to_dataset()` gives: `((sentence, predicate), tags)`.
`tlnlp fit --task semantic-role-labeling` tokenizes that stream once (to
disk above `DISK_TOKENS_EXAMPLES`, or with `--token-cache`).

```python
train = tl.data.read_srl("srl/train-*.tsv.gz", stream=True)
len(train), train.tag_names()  # 2, ['O', 'B-ARG0', 'I-ARG0', 'B-V', 'I-V']
model.fit(train.to_dataset().batch(8), epochs=1)
```
"""

import dataclasses
from typing import ClassVar

import tensorflow as tf

from tlnlp_tf.data.generator_dataset import generator_dataset
from tlnlp_tf.data.streamed_sentences import check_first_seen
from tlnlp_tf.errors import DataError


@dataclasses.dataclass
class StreamedPropositions:
    """The files, columns and counts of a streamed SRL corpus.

    Attributes:
        files: the files, in order.
        token_column, predicate_column, tag_column: the columns read.
        source: the path, glob or first file, for messages.
        count: the predicate instances (blocks).
        roles: `role -> (file, line)` where each role (`V` among them)
            first appears.
        skipped: always 0 (a bad SRL line is an error).

    ```python
    train = tl.data.read_srl("srl/train-*.tsv.gz", stream=True)
    train.roles  # {'ARG0': ('…train-0.tsv.gz', 1), 'V': ('…train-0.tsv.gz', 2), …}
    for (sentence, predicate), tags in train.to_dataset().take(1):
        print(sentence, predicate, tags)
    ```
    """

    unit: ClassVar[str] = "predicate instances"  # what `len` counts
    files: list
    token_column: int = 0
    predicate_column: int = 1
    tag_column: int = -1
    source: str = ""
    count: int = 0
    roles: dict = None
    skipped: int = 0

    @classmethod
    def scan(cls, files, token_column=0, predicate_column=1, tag_column=-1, source=""):
        """One checking pass over `files`: the count and where each role appears."""
        from tlnlp_tf.data.srl import propositions
        from tlnlp_tf.data.streams import text_lines

        if tag_column is None:
            raise DataError(
                f"{source or files[0]}: a streamed SRL corpus is for training; it "
                "needs a tag column."
            )
        roles, count = {}, 0
        for file in files:
            found = 0
            for line, _, _, tags in propositions(
                file, text_lines(file), token_column, predicate_column, tag_column
            ):
                found += 1
                for offset, tag in enumerate(tags):
                    if tag != "O" and tag[2:] not in roles:
                        roles[tag[2:]] = (file, line + offset)
            if not found:
                raise DataError(f"{file}: no predicate blocks found.")
            count += found
        return cls(
            files=list(files),
            token_column=token_column,
            predicate_column=predicate_column,
            tag_column=tag_column,
            source=source or files[0],
            count=count,
            roles=roles,
        )

    def __len__(self):
        return self.count

    def tag_names(self):
        """`"O"`, then `B-`/`I-` of each role in order (`V` among them), as
        `Propositions.tag_names` gives them."""
        return ["O"] + [f"{p}-{role}" for role in sorted(self.roles) for p in "BI"]

    def check_tags(self, names):
        """Raise `DataError` where a role outside `names` first appears."""
        check_first_seen(self.roles, names)
        return self

    def instances(self):
        """`(file, line, words, predicate index, IOB2 tags)` of every block,
        read again."""
        from tlnlp_tf.data.srl import propositions
        from tlnlp_tf.data.streams import text_lines

        columns = (self.token_column, self.predicate_column, self.tag_column)
        for file in self.files:
            for block in propositions(file, text_lines(file), *columns):
                yield (file, *block)

    def to_dataset(self):
        """An unbatched `tf.data.Dataset` of `((sentence, predicate), tags)`,
        streamed from the files each time it is iterated; its cardinality is
        the instance count. Under a multi-worker strategy every worker reads
        every file and keeps its share (sharded by data)."""

        def generate():
            for _, _, words, predicate, tags in self.instances():
                yield (" ".join(words), predicate), " ".join(tags)

        string = tf.TensorSpec((), tf.string)
        signature = ((string, tf.TensorSpec((), tf.int32)), string)
        return generator_dataset(generate, signature, self.count)
