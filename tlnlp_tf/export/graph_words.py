"""`GraphWordSplitter`: `split_words` and a fitted `WordSplitter`, in TF ops.

The serving signatures split raw text into words inside the graph, as
`TokenClassifier.predict` and `SpanExtractor.predict` split it in Python,
with the same words and the same character offsets. The patterns are the
RE2 spelling of `tlnlp_tf.data.words` and `tlnlp_tf.data.word_splitter`
(`regex_split_with_offsets` from tensorflow-text), and a fitted splitter's
words, shapes and clitics become lookup tables saved with the graph. The
character classes agree with Python's `re` for every code point that
Python's Unicode database assigns (checked over all of them with Python
3.11, Unicode 14); a character assigned later is a letter or digit to RE2
and a punctuation mark to Python.

```python
splitter = GraphWordSplitter(WordSplitter(["U.S."]))
words, starts, ends = splitter(tf.constant(["In the U.S., café."]))
# words  [[b"In", b"the", b"U.S.", b",", b"caf\xc3\xa9", b"."]]
# starts [[0, 3, 7, 11, 13, 17]], ends [[2, 6, 11, 12, 17, 18]]: characters
```
"""

import tensorflow as tf
import tensorflow_text as tf_text

from tlnlp_tf.data.word_splitter import WordSplitter

_CJK = (
    r"\x{3400}-\x{4dbf}\x{4e00}-\x{9fff}\x{f900}-\x{faff}"
    r"\x{3040}-\x{30ff}\x{ac00}-\x{d7af}"
)
# Python's `str.isspace()`: RE2's `\s` is ASCII and lacks `\v`.
_SPACE = (
    r"\t\n\x{0b}\f\r\x{1c}-\x{1f} \x{85}\x{a0}\x{1680}\x{2000}-\x{200a}"
    r"\x{2028}\x{2029}\x{202f}\x{205f}\x{3000}"
)
# `tlnlp_tf.data.words._WORD`: a CJK character, a run of letters and digits
# (not CJK), one other mark, or "_". Python's `\w` is RE2's `[\pL\pN_]`.
WORD = rf"[{_CJK}]|(?:[^\PL{_CJK}]|[^\PN{_CJK}])+|[^\pL\pN_{_SPACE}]|_"
_ALNUM = r"[\pL\pN].*"  # starts with a letter or digit (`str.isalnum`)
_LETTERS = r"[\pL\p{Nl}\p{No}]+"  # Python's `[^\W\d_]+`
_DIGITS = r"\p{Nd}+"  # Python's `\d+`
_ABBREVIATION = r"(?:[\pL\p{Nl}\p{No}]\.){2,}"
_TRAILING_SPACE = rf"[{_SPACE}]+$"


class GraphWordSplitter(tf.Module):
    """Split a batch of texts into words with character offsets, in the graph.

    Args:
        splitter: a `tlnlp_tf.data.WordSplitter` (a fitted one keeps its
            learned words whole), or `None` for `split_words`.

    Calling it on a `[batch]` string tensor returns `(words, starts, ends)`,
    ragged `[batch, (words)]`: the words (bytes) and their character
    offsets (int64), so `text[start:end] == word` in Python. It is a
    `tf.Module`: its lookup tables are saved with whatever tracks it.
    """

    def __init__(self, splitter=None, name=None):
        super().__init__(name=name)
        splitter = splitter or WordSplitter()
        self.fitted = splitter.fitted
        self.max_pieces = int(splitter.max_pieces)
        self.has_shapes = bool(splitter.shapes)
        self.whole = _string_set(splitter.whole)
        self.shapes = _string_set(splitter.shapes)
        self.clitics = _string_set(splitter._clitics)
        self.firsts = _string_set(splitter._firsts)

    def __call__(self, texts):
        pieces, starts, ends = _split_words(texts)
        if self.fitted and self.max_pieces > 1:
            pieces, starts, ends = self._merge(texts, pieces, starts, ends)
        return (
            pieces,
            char_offsets(texts, starts),
            char_offsets(texts, ends),
        )

    def _merge(self, texts, pieces, starts, ends):
        """`WordSplitter.split`: runs of pieces that are one learned word."""
        rows = pieces.value_rowids()
        piece, start, end = pieces.flat_values, starts.flat_values, ends.flat_values
        count = tf.size(piece)
        index = tf.range(count)
        # A chunk (between whitespace) is a run of touching pieces.
        touches = tf.concat(
            [[False], (end[:-1] == start[1:]) & (rows[:-1] == rows[1:])], 0
        )
        chunk = tf.cumsum(tf.cast(~touches, tf.int32)) - 1
        chunk_end = tf.math.unsorted_segment_max(index, chunk, count)
        longest = tf.minimum(tf.gather(chunk_end, chunk) - index + 1, self.max_pieces)
        alnum = tf.strings.regex_full_match(piece, _ALNUM)
        final = tf.strings.length(
            tf.strings.regex_replace(texts, _TRAILING_SPACE, "")
        )  # bytes: the text's end before trailing whitespace
        at_final = end == tf.cast(tf.gather(final, rows), end.dtype)

        def shifted(values, by, fill):
            """`values[i + by]`, `fill` past the end."""
            tail = tf.fill([tf.minimum(by, count)], fill)
            return tf.concat([values[by:], tail], 0)

        # Runs of `length` pieces from each piece, longest kept last.
        words = [piece]
        keeps = [tf.zeros_like(alnum)]  # one piece: no merge
        kept_before = tf.zeros_like(alnum)
        punctuation = tf.zeros_like(alnum)  # a non-alnum piece after the first
        for length in range(2, self.max_pieces + 1):
            valid = longest >= length
            last = shifted(piece, length - 1, "")
            previous = shifted(piece, length - 2, "")
            word = tf.strings.join([words[-1], last])
            words.append(word)
            punctuation |= valid & ~shifted(alnum, length - 1, True)
            generalises = (alnum & shifted(alnum, length - 1, False)) | (
                tf.strings.regex_full_match(word, _ABBREVIATION)
            )
            # `WordSplitter._keeps` without its sentence-end rule.
            kept = valid & self.whole(word)
            if self.has_shapes:
                clitic = tf.strings.join([previous, last])
                shape = tf.strings.regex_replace(
                    tf.strings.regex_replace(word, _LETTERS, "a"), _DIGITS, "0"
                )
                kept |= valid & ~self.clitics(clitic) & generalises & self.shapes(shape)
            # The text's last period ends the sentence, unless the word
            # before it is none without it.
            sentence_end = (
                shifted(at_final, length - 1, False)
                & tf.equal(last, ".")
                & shifted(alnum, length - 2, False)
            )
            if length > 2:
                sentence_end &= kept_before
            keeps.append(kept & ~sentence_end)
            kept_before = kept
        may_start = self.firsts(piece)
        if self.has_shapes:
            may_start |= punctuation
        lengths = tf.range(1, self.max_pieces + 1)
        best = tf.reduce_max(
            tf.where(tf.stack(keeps, 1) & may_start[:, None], lengths, 1), axis=1
        )
        # Walk each chunk from its first piece, one word at a time.
        first = tf.boolean_mask(index, ~touches)

        def step(frontier, taken):
            taken = tf.tensor_scatter_nd_update(
                taken, frontier[:, None], tf.ones_like(frontier, tf.bool)
            )
            following = frontier + tf.gather(best, frontier)
            inside = following <= tf.gather(chunk_end, tf.gather(chunk, frontier))
            return tf.boolean_mask(following, inside), taken

        _, taken = tf.while_loop(
            lambda frontier, _: tf.size(frontier) > 0,
            step,
            (first, tf.zeros([count], tf.bool)),
            shape_invariants=(tf.TensorShape([None]), tf.TensorShape([None])),
        )
        chosen = tf.boolean_mask(index, taken)
        size = tf.gather(best, chosen)
        word = tf.gather_nd(tf.stack(words, 1), tf.stack([chosen, size - 1], 1))
        pieces = tf.RaggedTensor.from_value_rowids(
            word, tf.gather(rows, chosen), nrows=tf.size(texts, tf.int64)
        )
        return (
            pieces,
            pieces.with_flat_values(tf.gather(start, chosen)),
            pieces.with_flat_values(tf.gather(end, chosen + size - 1)),
        )


def _split_words(texts):
    """`split_words` on a batch: words and their byte offsets, ragged."""
    pieces, starts, ends = tf_text.regex_split_with_offsets(texts, WORD, WORD)
    # The pieces between the matches are whitespace: drop them.
    keep = tf.ragged.map_flat_values(tf.strings.regex_full_match, pieces, WORD)
    return tuple(
        tf.ragged.boolean_mask(values, keep) for values in (pieces, starts, ends)
    )


def char_offsets(texts, byte_offsets):
    """Byte offsets into UTF-8 `texts` (ragged `[batch, (n)]`) as character offsets.

    ```python
    char_offsets(tf.constant(["café au lait"]), tf.ragged.constant([[0, 6, 9]]))
    # [[0, 5, 8]]
    ```
    """
    _, char_starts = tf.strings.unicode_decode_with_offsets(texts, "UTF-8")
    sorted_starts = char_starts.to_tensor(default_value=char_starts.dtype.max)
    offsets = tf.cast(byte_offsets, char_starts.dtype)
    found = tf.searchsorted(sorted_starts, offsets.to_tensor(), side="left")
    return tf.RaggedTensor.from_tensor(found, lengths=offsets.row_lengths())


class _StringSet(tf.Module):
    """A set of strings as a lookup table: `set(words)` is a bool tensor."""

    def __init__(self, values):
        super().__init__()
        self.table = tf.lookup.StaticHashTable(
            tf.lookup.KeyValueTensorInitializer(
                tf.constant(sorted(values), tf.string),
                tf.ones([len(values)], tf.int32),
            ),
            default_value=0,
        )

    def __call__(self, words):
        return self.table.lookup(words) > 0


def _string_set(values):
    if values:
        return _StringSet(values)
    return lambda words: tf.zeros_like(words, tf.bool)


def checked_texts(texts, what="text"):
    """`texts` once every one is non-empty (as `predict` checks them), in the graph.

    An empty or all-whitespace text fails the call with an
    `InvalidArgumentError` that names the input.

    ```python
    texts = checked_texts(tf.constant(["a fine film"]), "text")  # [" "] would fail
    ```
    """
    blank = tf.equal(tf.strings.regex_replace(texts, f"[{_SPACE}]+", ""), "")
    check = tf.debugging.Assert(
        ~tf.reduce_any(blank),
        [
            f"An input '{what}' is empty (or only whitespace): there is no text "
            "to predict from; remove it or give it some text. Rows:",
            tf.where(blank)[:, 0],
        ],
    )
    with tf.control_dependencies([check]):
        return tf.identity(texts)
