"""Word-vector files (word2vec text and binary, GloVe, fastText) read and checked.

gensim's `KeyedVectors` reads the files; text files are checked here first,
so that a bad line is a `DataError` naming the file and the line rather than
a gensim traceback. gensim comes with the `word-vectors` extra.

Example:

```python
vectors = load_vectors("glove.6B.100d.txt")  # GloVe, found by its first line
vectors = load_vectors("glove.6B.100d.txt", limit=1000)  # the most frequent words
```
"""

import os

import numpy as np

from tlnlp_tf.errors import DataError
from tlnlp_tf.errors import PolicyError
from tlnlp_tf.extras import require

FORMATS = ("auto", "word2vec", "glove", "binary", "fasttext")
_FASTTEXT_MAGIC = 793712314  # the first int32 of a fastText .bin model


def load_vectors(path, format="auto", limit=None):
    """Read word vectors into a gensim `KeyedVectors`.

    Args:
        path: the file (`.gz` and `.bz2` are read compressed).
        format: `"word2vec"` (text, header line `COUNT DIMENSION`), `"glove"`
            (text, no header), `"binary"` (word2vec C binary), `"fasttext"`
            (a `.vec` text file, or a `.bin` model whose n-grams give vectors
            for any word), or `"auto"`: fastText `.bin` by its magic number,
            other `.bin` files binary, text files word2vec when the first line
            is two integers and GloVe otherwise.
        limit: read only the first `limit` vectors (files are usually sorted
            most frequent first).

    Text files are checked line by line before gensim reads them: a line
    whose number of values differs from the header's (or, for GloVe, the
    first line's) is a `DataError` naming the file and the line.

    Example:

    ```python
    vectors = load_vectors("glove.6B.100d.txt")  # format="glove", detected
    vectors["film"].shape  # (100,)
    ```
    """
    KeyedVectors = require("gensim.models").KeyedVectors

    path = os.fspath(path)
    if format not in FORMATS:
        raise PolicyError(
            f"format must be one of {', '.join(FORMATS)}; got '{format}'."
        )
    if limit is not None and (not isinstance(limit, int) or limit <= 0):
        raise PolicyError(f"limit must be a positive integer or None, got {limit!r}.")
    if not os.path.isfile(path):
        raise DataError(
            f"{path}: no such file; expected a word-vectors file (word2vec "
            "text or binary, GloVe, fastText)."
        )
    if format == "auto":
        format = _detect_format(path)
    elif format == "fasttext":
        format = "fasttext" if _is_fasttext_bin(path) else "word2vec"
    if format == "fasttext" and limit is not None:
        raise PolicyError(
            f"{path}: limit does not apply to a fastText .bin model (it is "
            "read whole); pass limit=None."
        )
    try:
        if format == "fasttext":
            fasttext = require("gensim.models.fasttext")
            return fasttext.load_facebook_vectors(path)
        if format == "binary":
            _check_binary_header(path)
            return KeyedVectors.load_word2vec_format(path, binary=True, limit=limit)
        count = _check_text(path, header=format == "word2vec", limit=limit)
        try:
            return KeyedVectors.load_word2vec_format(
                path, binary=False, no_header=format == "glove", limit=count
            )
        except ValueError:
            bad = _find_bad_value(path, format == "word2vec", count)
            if bad is None:
                raise
            raise bad from None
    except (ValueError, EOFError, UnicodeDecodeError, NotImplementedError) as error:
        if isinstance(error, (DataError, PolicyError)):
            raise
        raise DataError(
            f"{path}: cannot read it as {format} vectors ({error})."
        ) from None


def _detect_format(path):
    if _is_fasttext_bin(path):
        return "fasttext"
    name = path.lower()
    for suffix in (".gz", ".bz2"):
        name = name.removesuffix(suffix)
    if name.endswith(".bin"):
        return "binary"
    first = _first_line(path)
    return "word2vec" if _is_header(first) else "glove"


def _is_fasttext_bin(path):
    utils = require("gensim.utils")

    with utils.open(path, "rb") as file:
        head = file.read(4)
    return len(head) == 4 and int(np.frombuffer(head, "<i4")[0]) == _FASTTEXT_MAGIC


def _first_line(path):
    utils = require("gensim.utils")

    with utils.open(path, "rb") as file:
        return file.readline()


def _is_header(line):
    parts = line.split()
    return len(parts) == 2 and all(part.isdigit() for part in parts)


def _check_binary_header(path):
    first = _first_line(path)
    if not _is_header(first):
        raise DataError(
            f"{path}, line 1: expected the word2vec binary header 'COUNT "
            f"DIMENSION', found {_show(first)}."
        )


def _check_text(path, header, limit):
    """Check a text vectors file; the number of vectors gensim should read.

    Every vector line must be the word and then DIMENSION values separated by
    single spaces (gensim splits at " "). Blank lines at the end are allowed
    (not read); a blank line before a vector is an error.
    """
    utils = require("gensim.utils")

    expected = declared = None
    vectors = 0
    blank = None  # the first blank line seen: an error if a vector follows
    with utils.open(path, "rb") as file:
        for number, line in enumerate(file, start=1):
            if number == 1 and header:
                if not _is_header(line):
                    hint = (
                        (
                            "; a file without a header line is GloVe format: pass "
                            "format='glove' or 'auto'"
                        )
                        if line.strip()
                        else ""
                    )
                    raise DataError(
                        f"{path}, line 1: expected the word2vec header 'COUNT "
                        f"DIMENSION', found {_show(line)}{hint}."
                    )
                declared, expected = (int(part) for part in line.split())
                if expected <= 0:
                    raise DataError(
                        f"{path}, line 1: the header declares dimension "
                        f"{expected}; expected a positive number."
                    )
                continue
            fields = line.rstrip().split(b" ")
            if fields == [b""]:
                blank = blank or number
                continue
            if limit is not None and vectors >= limit:
                break
            if declared is not None and vectors >= declared:
                raise DataError(
                    f"{path}, line {number}: the header on line 1 declares "
                    f"{declared} vectors, but the file has more; fix the count "
                    "in the header."
                )
            if blank is not None:
                raise DataError(
                    f"{path}, line {blank}: blank line; expected "
                    "'WORD VALUE VALUE ...' on every line."
                )
            try:
                fields[0].decode("utf-8")
            except UnicodeDecodeError:
                raise DataError(
                    f"{path}, line {number}: the word is not valid UTF-8."
                ) from None
            found = len(fields) - 1
            if expected is None:
                if _is_header(line):
                    raise DataError(
                        f"{path}, line {number}: looks like a word2vec header ('COUNT "
                        "DIMENSION'); pass format='word2vec' or 'auto'."
                    )
                if found == 0:
                    raise DataError(
                        f"{path}, line {number}: a word with no values; "
                        "expected 'WORD VALUE VALUE ...'."
                    )
                expected, first = found, number
            elif found != expected:
                source = "the header on line 1" if header else f"line {first}"
                raise DataError(
                    f"{path}, line {number}: expected {expected} values after the word "
                    f"(the dimension of {source}), found {found}."
                )
            vectors += 1
    if vectors == 0:
        raise DataError(
            f"{path}: no vectors; expected lines of 'WORD VALUE VALUE ...'."
        )
    if (
        declared is not None
        and vectors < declared
        and (limit is None or limit > vectors)
    ):
        raise DataError(
            f"{path}: the header on line 1 declares {declared} vectors, the "
            f"file has {vectors}; fix the count in the header."
        )
    return vectors


def _find_bad_value(path, header, count):
    """The error for the first value that is not a number (after gensim failed)."""
    utils = require("gensim.utils")

    with utils.open(path, "rb") as file:
        for number, line in enumerate(file, start=1):
            if header and number == 1:
                continue
            if number - int(header) > count:
                break
            for value in line.rstrip().split(b" ")[1:]:
                if not _is_number(value):
                    return DataError(
                        f"{path}, line {number}: value {_show(value)} is not a number."
                    )
    return None


def _is_number(text):
    try:
        float(text)
    except ValueError:
        return False
    return True


def _show(line, width=40):
    text = line.decode("utf-8", errors="replace").rstrip("\r\n")
    return repr(text if len(text) <= width else text[:width] + "...")
