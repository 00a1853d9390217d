"""Split raw text into words with character offsets (the edge of token tasks)."""

import re

# A CJK character is a word of its own (as in character-per-line Chinese NER
# data); otherwise a run of letters/digits, or one punctuation mark.
_WORD = re.compile(
    r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\u3040-\u30ff\uac00-\ud7af]"
    r"|[^\W_\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\u3040-\u30ff\uac00-\ud7af]+"
    r"|[^\w\s]|_"
)


def split_words(text):
    """`[(word, start, end)]`: the words of `text` and where each one stands.

    `text[start:end] == word` for every word.

    Example:

    ```python
    split_words("Merkel visited Paris.")
    # [("Merkel", 0, 6), ("visited", 7, 14), ("Paris", 15, 20), (".", 20, 21)]
    ```
    """
    return [(m.group(), m.start(), m.end()) for m in _WORD.finditer(text)]
