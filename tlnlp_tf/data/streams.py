"""Stream the rows of CSV/TSV/JSONL files, plain or gzip, one line at a time.

Memory stays constant however large the files are: a row is checked, handed
on and dropped. Each check of the in-memory readers (`load_table`,
`load_jsonl`) runs per line in the stream, so an error names the file and
line wherever it is: bytes that are not UTF-8, a NUL byte, a wrong field
count, a missing column, an empty text or label, a line that is not a JSON
object, a shard whose header differs from the first shard's, a gzip file
that ends early.

`path` is a file, a glob (`"shards/train-*.tsv.gz"`) or a list of files;
globs are expanded in sorted order.

```python
files = data_files("shards/*.tsv.gz")
for source, line, (text, label) in stream_rows(files, ["sentence", "label"]):
    print(source, line, label)
```
"""

import codecs
import csv
import glob
import gzip
import os
import zlib

from tlnlp_tf.data.json_lines import json_field
from tlnlp_tf.data.json_lines import json_object
from tlnlp_tf.data.readers import _quote_hint
from tlnlp_tf.data.readers import check_header
from tlnlp_tf.errors import DataError
from tlnlp_tf.errors import PolicyError

_GLOB = ("*", "?", "[")


def data_files(path):
    """The files of `path` (a file, a glob, or a list of them), checked to exist.

    ```python
    data_files("train.tsv")          # ["train.tsv"]
    data_files("shards/*.tsv.gz")  # sorted; an error if nothing matches
    ```
    """
    paths = [path] if isinstance(path, (str, os.PathLike)) else list(path)
    if not paths:
        raise DataError("no data files: the list of files is empty.")
    files = []
    for item in paths:
        item = os.fspath(item)
        if any(char in item for char in _GLOB) and not os.path.exists(item):
            matched = sorted(name for name in glob.glob(item) if os.path.isfile(name))
            if not matched:
                raise DataError(f"{item}: the pattern matches no file.")
            files.extend(matched)
            continue
        if os.path.isdir(item):
            raise DataError(f"{item}: is a folder; expected a file.")
        if not os.path.isfile(item):
            raise DataError(f"{item}: no such file.")
        files.append(item)
    return files


def text_lines(path, bad=None):
    """`(line, text)` of each line of a UTF-8 file, plain or gzip (`.gz`).

    The line break is dropped (`"\\r\\n"` too); a byte-order mark at the
    start is dropped. Lines split at `"\\n"` only, as `split_lines`. A line
    that is not UTF-8 (or holds a NUL byte) is an error, or with `bad` (a
    `BadLines` that skips) counted and given as an empty line.

    ```python
    for line, text in text_lines("reviews.txt"):  # or "reviews.txt.gz"
        print(line, text)
    ```
    """
    path = os.fspath(path)
    zipped = path.lower().endswith(".gz")
    number = 0
    try:
        with gzip.open(path, "rb") if zipped else open(path, "rb") as file:
            for number, raw in enumerate(file, start=1):
                try:
                    text = _decoded(path, number, raw)
                except _BadLine as error:
                    _reject(bad, error)
                    text = ""
                yield number, text
    except (EOFError, zlib.error) as error:
        raise DataError(
            f"{path}, line {number + 1}: the gzip data ends early or is corrupt "
            f"({error}); is the file truncated?"
        ) from None
    except gzip.BadGzipFile:
        raise DataError(
            f"{path}: not a gzip file; a .gz name needs gzip-compressed data."
        ) from None
    except OSError as error:
        raise DataError(
            f"{path}: cannot be read ({error.strerror or error})."
        ) from None


def _decoded(path, number, raw):
    if number == 1:
        if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            raise DataError(f"{path}: the file is UTF-16; re-save it as UTF-8.")
        raw = raw.removeprefix(codecs.BOM_UTF8)
    nul = raw.find(b"\x00")
    if nul >= 0:
        raise _BadLine(
            f"{path}, line {number}, column {nul + 1}: a NUL byte; this looks "
            "like a binary file, not text (UTF-8 expected)."
        )
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise _BadLine(
            f"{path}, line {number}, column {error.start + 1}: byte "
            f"0x{raw[error.start]:02x} is not valid UTF-8; re-save the file "
            "as UTF-8."
        ) from None
    if text.endswith("\n"):
        text = text[:-1]
    return text[:-1] if text.endswith("\r") else text


def stream_rows(files, wanted, label=None, delimiter=None, bad=None):
    """`(file, line, values)` of each row, `values` the `wanted` columns in order.

    `.jsonl` (and `.jsonl.gz`) files hold one JSON object per line; other
    files are tables with a header row: `.tsv`/`.txt` tab-separated without
    quoting, anything else comma-separated with CSV quoting. `label` names
    the wanted column that is a label (a JSON number or boolean is kept as
    its text). Every shard of a table must have the first shard's header.
    A bad row is a `DataError`, or with `bad` (a skipping `BadLines`) counted
    and left out; a bad file (header, gzip data) is an error either way.
    """
    header = None
    for path in files:
        if _bare(path).endswith(".jsonl"):
            yield from _jsonl_rows(path, wanted, label, bad)
        else:
            rows = _table_rows(path, wanted, label, delimiter, header, bad)
            header = next(rows)
            yield from rows


def _bare(path):
    """The lower-case file name without a `.gz` suffix."""
    name = os.fspath(path).lower()
    return name[:-3] if name.endswith(".gz") else name


def _table_rows(path, wanted, label, delimiter, first_header, bad):
    """The header (first yield), then `(path, line, values)` of each row."""
    if delimiter is None:
        delimiter = "\t" if _bare(path).endswith((".tsv", ".txt")) else ","
    quoting = csv.QUOTE_NONE if delimiter == "\t" else csv.QUOTE_MINIMAL
    lines = (text + "\n" for _, text in text_lines(path, bad))
    reader = csv.reader(lines, delimiter=delimiter, quoting=quoting)
    rows = _csv_rows(path, reader, bad)
    start, header = next(rows, (None, None))
    if header is None:
        raise DataError(f"{path}: the file is empty; expected a header row.")
    header = [name.strip() for name in header]
    if first_header is not None and header != first_header:
        raise DataError(
            f"{path}, line {start}: the header ({', '.join(header)}) differs "
            f"from the first file's ({', '.join(first_header)}); every shard "
            "needs the same columns."
        )
    check_header(path, start, header, wanted)
    yield header
    index = [header.index(name) for name in wanted]
    width = len(header)
    for line, row in rows:
        try:
            if len(row) != width:
                raise _BadLine(
                    f"{path}, line {line}: expected {width} fields "
                    f"({', '.join(header)}), found {len(row)}"
                    + _quote_hint(line, reader.line_num)
                    + "."
                )
            values = tuple(row[i] for i in index)
            _check_filled(path, line, wanted, values, label)
        except _BadLine as error:
            _reject(bad, error)
            continue
        yield path, line, values


def _csv_rows(path, reader, bad=None):
    """`(line, row)` of each non-blank row (as `readers._rows`, streamed)."""
    while True:
        start = reader.line_num + 1
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            _reject(
                bad,
                _BadLine(
                    f"{path}, line {start}: {error}"
                    + _quote_hint(start, reader.line_num)
                    + "."
                ),
            )
            continue
        if not row or (len(row) == 1 and not row[0].strip()):
            continue
        yield start, row


def _jsonl_rows(path, wanted, label, bad):
    for line, raw in text_lines(path, bad):
        if not raw.strip():
            continue
        try:
            values = _json_values(path, line, raw, wanted, label)
        except _BadLine as error:
            _reject(bad, error)
            continue
        yield path, line, values


def _json_values(path, line, raw, wanted, label):
    where = f"{path}, line {line}"
    try:
        record = json_object(raw, where)
    except DataError as error:
        raise _BadLine(str(error)) from None
    values = []
    for name in wanted:
        if name not in record:
            raise _BadLine(
                f"{where}: no field '{name}'; the object has: "
                f"{', '.join(record) or 'no fields'}."
            )
        try:
            values.append(json_field(record[name], name, name == label, where))
        except DataError as error:
            raise _BadLine(str(error)) from None
    values = tuple(values)
    _check_filled(path, line, wanted, values, label)
    return values


def _check_filled(path, line, wanted, values, label):
    for name, value in zip(wanted, values):
        if not value.strip():
            what = "a label" if name == label else "a text"
            raise _BadLine(
                f"{path}, line {line}: column '{name}' is empty; every "
                f"example needs {what}."
            )


class BadLines:
    """What a stream does with a bad line: stop (`"error"`) or skip and count it.

    `count` is the number of lines skipped, `first` the error of the first.

    ```python
    bad = BadLines("skip")
    rows = list(stream_rows(data_files("train.tsv"), ["sentence", "label"], bad=bad))
    bad.count, bad.first  # 0, None: every line was good
    ```
    """

    POLICIES = ("error", "skip")

    def __init__(self, policy="error"):
        if policy not in self.POLICIES:
            raise PolicyError(
                f"on_bad_line must be one of {', '.join(self.POLICIES)}, "
                f"got {policy!r}."
            )
        self.policy = policy
        self.count = 0
        self.first = None

    def reject(self, error):
        """Raise `error` (`"error"`), or count it (`"skip"`)."""
        if self.policy == "error":
            raise DataError(str(error)) from None
        self.count += 1
        if self.first is None:
            self.first = str(error)


class _BadLine(DataError):
    """A line-level problem: `BadLines` may skip it (a file-level one it may not)."""


def _reject(bad, error):
    if bad is None:
        raise DataError(str(error)) from None
    bad.reject(error)
