"""`StreamedExamples`: training data too large to hold, counted, streamed each epoch.

`load_examples(path, …, stream=True)` returns one for a streamed input (a
glob of shards, gzip, a file of `STREAM_BYTES` or more) read whole (no
`limit`). One pass over the files checks every line (as `load_examples`
does), counts the rows and each label, and keeps nothing else: memory
does not grow with the data. `to_dataset()` then streams the rows again,
each time it is iterated; `tlnlp fit` tokenizes that stream once (to disk
above `DISK_TOKENS_EXAMPLES`, or with `--token-cache`).

It answers what `tlnlp fit` asks of `Examples`: `len`, `label_names()`,
`check_labels`, `check_numeric`, `skipped`, `to_dataset()`.

```python
train = load_examples("shards/train-*.tsv.gz", "sentence", "label", stream=True)
len(train), train.label_names()  # 40, ['0', '1']: nothing else is kept
model.fit(train.to_dataset().batch(8), epochs=1)
```
"""

import dataclasses
import math
from typing import ClassVar

from tlnlp_tf.errors import DataError

# More distinct label values than this are not counted (regression targets).
MAX_LABELS = 10_000


@dataclasses.dataclass
class StreamedExamples:
    """The files, columns and counts of a streamed training set.

    Attributes:
        files: the files, in order.
        text, label, text_pair: the column (or JSON field) names.
        source: the path, glob or first file, for messages.
        count: the rows kept (after any skipped).
        label_counts: rows per label; `None` with over `MAX_LABELS` values.
        first_seen: `label -> "file, line N"` where each label first appears.
        not_numeric: `(where, value)` of the first label that is not a
            finite number, or `None`.
        skipped: bad lines left out (`on_bad_line="skip"`).
        delimiter, on_bad_line: as `load_examples` took them.

    ```python
    train = tl.data.load_examples(
        "shards/train-*.tsv.gz", "sentence", "label", stream=True
    )
    train.label_counts  # {'1': 8, '0': 8}
    for features, label in train.to_dataset().take(1):
        print(features, label)
    ```
    """

    unit: ClassVar[str] = "examples"  # what `len` counts, for messages
    files: list
    text: str
    label: str = None
    text_pair: str = None
    source: str = ""
    count: int = 0
    label_counts: dict = None
    first_seen: dict = None
    not_numeric: tuple = None
    skipped: int = 0
    delimiter: str = None
    on_bad_line: str = "error"

    @classmethod
    def scan(cls, files, rows, text, label, text_pair, source, **options):
        """Count `rows` (`(file, line, values)` of the `text`, `label`,
        `text_pair` columns, in `streams.stream_rows`' order)."""
        counts, first, not_numeric, count = {}, {}, None, 0
        wanted = [name for name in (text, label, text_pair) if name is not None]
        at = wanted.index(label) if label is not None else None
        for file, line, values in rows:
            count += 1
            if at is None:
                continue
            value = values[at].strip()
            if not_numeric is None and not _finite(value):
                not_numeric = (f"{file}, line {line}", value)
            if counts is not None and value not in counts:
                if len(counts) >= MAX_LABELS:
                    counts = first = None  # a regression target: not counted
                    continue
                counts[value] = 0
                first[value] = f"{file}, line {line}"
            if counts is not None:
                counts[value] += 1
        if not count:
            raise DataError(f"{source}: no examples after the header.")
        return cls(
            files=list(files),
            text=text,
            label=label,
            text_pair=text_pair,
            source=source,
            count=count,
            label_counts=counts,
            first_seen=first,
            not_numeric=not_numeric,
            **options,
        )

    def __len__(self):
        return self.count

    def label_names(self):
        """The sorted distinct labels, as `Examples.label_names` gives them."""
        from tlnlp_tf.data.examples import ordered_labels

        if self.label is None:
            raise DataError(f"{self.source}: has no labels.")
        if self.label_counts is None:
            raise DataError(
                f"{self.source}: over {MAX_LABELS:,} distinct labels; a "
                "classifier needs a label column (is this a regression target?)."
            )
        return ordered_labels(self.source, set(self.label_counts))

    def check_labels(self, names):
        """Raise `DataError` at the first label not in `names`."""
        from tlnlp_tf.data.examples import unseen

        allowed = set(names)
        for value, where in (self.first_seen or {}).items():
            if value not in allowed:
                raise unseen(self.source, where, "label", value, allowed)
        return self

    def check_numeric(self):
        """Raise `DataError` at the first label that is not a finite number."""
        if self.label is None:
            raise DataError(f"{self.source}: has no targets.")
        if self.not_numeric is not None:
            where, value = self.not_numeric
            raise DataError(
                f"{where}: target '{value}' is not a finite number; regression "
                "needs finite numeric targets."
            )
        return self

    def to_dataset(self):
        """The rows as an unbatched `tf.data.Dataset`, streamed from the files
        each time it is iterated (`stream_examples`)."""
        from tlnlp_tf.data.loading import stream_examples

        return stream_examples(
            self.files,
            self.text,
            self.label,
            self.text_pair,
            delimiter=self.delimiter,
            on_bad_line=self.on_bad_line,
        )


def _finite(value):
    try:
        return math.isfinite(float(value))
    except ValueError:
        return False
