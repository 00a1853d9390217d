"""Split text into the words a BERT WordPiece tokenizer sees, before its word pieces.

The definition is BERT's basic tokenizer (google-research/bert,
`tokenization.py`), as keras-hub's `WordPieceTokenizer(split=True,
split_on_cjk=True, strip_accents=False)` applies it: split on whitespace and
control characters (dropped) and on punctuation and CJK characters (each kept
as a word of its own); then Unicode case folding when `lowercase`.
Punctuation is every non-alphanumeric ASCII character and Unicode class `P`.

Example:

```python
bert_words(["Don't stop, 北京!"], lowercase=True)
# [["don", "'", "t", "stop", ",", "北", "京", "!"]]
```
"""

import tensorflow as tf
import tensorflow_text as tf_text

_WHITESPACE = r"\s|\p{Cc}|\p{Cf}"
_PUNCTUATION = r"[!-/]|[:-@]|[\[-`]|[{-~]|[\p{P}]"
_CJK = "|".join(
    rf"[\x{{{low}}}-\x{{{high}}}]"
    for low, high in (
        ("4E00", "9FFF"),
        ("3400", "4DBF"),
        ("20000", "2A6DF"),
        ("2A700", "2B73F"),
        ("2B740", "2B81F"),
        ("2B820", "2CEAF"),
        ("F900", "FAFF"),
        ("2F800", "2FA1F"),
    )
)


def bert_words(texts, lowercase=True):
    """The words of each text, as a list of lists of strings."""
    words = tf_text.regex_split(
        tf.constant(list(texts), tf.string),
        delim_regex_pattern="|".join((_WHITESPACE, _PUNCTUATION, _CJK)),
        keep_delim_regex_pattern="|".join((_PUNCTUATION, _CJK)),
    )
    if lowercase:
        words = tf_text.case_fold_utf8(words)
    return [[w.decode("utf-8") for w in row] for row in words.to_list()]
