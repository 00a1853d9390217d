"""`WordSplitter`: split raw text into words as the training data split them.

`split_words` cuts every punctuation mark off ("U.S." is four words), but a
tagger trained on CoNLL-2003 learned "U.S.", "cross-border" and "3.5" as
one word each. A splitter fitted on the training words keeps such words
whole when it meets them in raw text: the words themselves, and the
shapes of the words with punctuation inside ("a-a", "0.0", "a.a.").

```python
splitter = WordSplitter().fit([["U.S.", "cross-border", "3.5", "drop"],
                               ["Mr.", "Smith", "left", "Paris", "."],
                               ["long-term", "4.25", "U.S."]])
[word for word, _, _ in splitter.split("Mr. Smith's well-known U.S. trip: 2.75%.")]
# ["Mr.", "Smith", "'", "s", "well-known", "U.S.", "trip", ":", "2.75", "%", "."]
```
"""

import collections
import re

from tlnlp_tf.data.words import split_words
from tlnlp_tf.errors import PolicyError

_MAX_WHOLE = 5000  # the most frequent multi-piece training words kept
_MAX_SHAPES = 500
_MIN_SHAPE_TYPES = 2  # a shape generalises once two different words show it
_MAX_PIECES = 16  # the longest run of pieces a fitted splitter merges
_LETTERS = re.compile(r"[^\W\d_]+")
_DIGITS = re.compile(r"\d+")
_ABBREVIATION = re.compile(r"(?:[^\W\d_]\.){2,}")  # "U.S.", "e.g."
_CHUNK = re.compile(r"\S+")
_CLITIC = re.compile(r"[^\w\s][^\W\d_]+")  # "'s", "'re"


def word_shape(word):
    """A word with letter runs as `a`, digit runs as `0`, punctuation kept.

    ```python
    [word_shape(w) for w in ["cross-border", "3.5", "U.S.", "1,000"]]
    # ["a-a", "0.0", "a.a.", "0,0"]
    ```
    """
    return _DIGITS.sub("0", _LETTERS.sub("a", word))


def _generalises(word):
    """Whether a word's shape may stand for other words: punctuation inside it
    ("cross-border", "3.5"), or an abbreviation ("U.S."); not "Mr." or "Paris."."""
    return (word[0].isalnum() and word[-1].isalnum()) or bool(
        _ABBREVIATION.fullmatch(word)
    )


class WordSplitter:
    """Split raw text into words the way a model's training data was split.

    Unfitted, it splits as `split_words` does. `fit(word_lists)` learns
    from the training words which runs of `split_words` pieces stay one
    word: the training words that `split_words` would cut (the 5,000 most
    frequent, e.g. "U.S.", "Mr.", "cross-border"), and the shapes of those
    with punctuation inside or of abbreviations ("a-a", "0.0", "a.a.") once
    two different words show one. A word like "Mr." ends in punctuation: it
    stays whole only as itself, so "Paris." is still "Paris" and ".". A
    shape does not swallow a learned clitic: with "'s" a training word,
    "Bitar's" is "Bitar" and "'s" even if "O'Neill" taught "a'a". The
    period that ends the text ends the sentence ("at 6." is "6", ".";
    "Corp." is "Corp", "."), unless the word before it is none without it.
    `split` merges, within each whitespace-separated chunk, the longest runs
    of pieces that are such a word; offsets slice the text exactly. The
    config is plain JSON lists (`get_config`, `from_config`).

    Args:
        whole: words kept whole as they are.
        shapes: word shapes (`word_shape`) kept whole.
        max_pieces: the most `split_words` pieces one kept word spans
            (default: the most among `whole` and `shapes`; `fit` keeps
            it at 16 at most).

    Example:

    ```python
    splitter = WordSplitter().fit([["U.S.", "cross-border", "long-term", "."]])
    splitter.split("the U.S. well-known.")
    # [("the", 0, 3), ("U.S.", 4, 8), ("well-known", 9, 19), (".", 19, 20)]
    WordSplitter().split("U.S.") == split_words("U.S.")  # True
    WordSplitter.from_config(splitter.get_config()).split("U.S.")  # [("U.S.", 0, 4)]
    ```
    """

    def __init__(self, whole=(), shapes=(), max_pieces=None):
        self.whole = frozenset(str(word) for word in whole)
        self.shapes = frozenset(str(shape) for shape in shapes)
        if max_pieces is None:
            max_pieces = max(
                [len(split_words(w)) for w in self.whole | self.shapes], default=1
            )
        self.max_pieces = int(max_pieces)
        # Learned clitics ("'s"): a word by a shape ("Bitar's" as "a'a")
        # does not swallow one, as the training data split it off.
        self._clitics = frozenset(w for w in self.whole if _CLITIC.fullmatch(w))
        self._firsts = frozenset(split_words(w)[0][0] for w in self.whole)

    @property
    def fitted(self):
        """Whether it keeps any word whole (else it is `split_words`).

        ```python
        WordSplitter().fitted, WordSplitter(["U.S."]).fitted  # (False, True)
        ```
        """
        return bool(self.whole or self.shapes)

    def fit(self, word_lists):
        """Learn the words and shapes to keep whole from training sentences.

        Args:
            word_lists: sentences, each a list of words (or an iterable of
                words), as the training data split them.

        Returns:
            `self`, fitted (what it had learned before is replaced).

        ```python
        WordSplitter().fit([["U.S.", "3.5"], ["1.25", "x"]]).shapes  # {"0.0"}
        ```
        """
        counts = collections.Counter(
            word
            for words in word_lists
            for word in words
            if word and len(split_words(word)) > 1
        )
        ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
        shape_types = collections.Counter(  # with punctuation: not CJK runs
            word_shape(word)
            for word in counts
            if _generalises(word) and not word_shape(word).isalnum()
        )
        shapes = sorted(
            (
                (-types, shape)
                for shape, types in shape_types.items()
                if types >= _MIN_SHAPE_TYPES
            )
        )[:_MAX_SHAPES]
        whole = {word for word, _ in ranked[:_MAX_WHOLE]}
        shapes = {shape for _, shape in shapes}
        kept = [w for w in counts if w in whole or word_shape(w) in shapes]
        max_pieces = max([len(split_words(w)) for w in kept], default=1)
        self.__init__(whole, shapes, min(max_pieces, _MAX_PIECES))
        return self

    def split(self, text):
        """`[(word, start, end)]` like `split_words`, learned words kept whole.

        `text[start:end] == word` for every word.

        ```python
        WordSplitter(["U.S."]).split("U.S.,")  # [("U.S.", 0, 4), (",", 4, 5)]
        ```
        """
        if not self.fitted:
            return split_words(text)
        words, final = [], len(text.rstrip())
        for chunk in _CHUNK.finditer(text):
            offset = chunk.start()
            pieces = [
                (start + offset, end + offset)
                for _, start, end in split_words(chunk.group())
            ]
            # A shape needs punctuation: the first punctuation piece from each.
            punctuation = [len(pieces)] * (len(pieces) + 1)
            for k in range(len(pieces) - 1, -1, -1):
                alnum = text[pieces[k][0]].isalnum()
                punctuation[k] = punctuation[k + 1] if alnum else k
            index = 0
            while index < len(pieces):
                start, end = pieces[index]
                last = min(len(pieces), index + self.max_pieces)
                if text[start:end] not in self._firsts and not (
                    self.shapes and punctuation[index + 1] < last
                ):
                    last = index  # no learned word or shape can start here
                for stop in range(last, index + 1, -1):  # the longest run first
                    if self._keeps(text, pieces[index:stop], final):
                        end, index = pieces[stop - 1][1], stop - 1
                        break
                words.append((text[start:end], start, end))
                index += 1
        return words

    __call__ = split

    def _keeps(self, text, run, final):
        """Whether a run of two or more pieces is one word."""
        start, end = run[0][0], run[-1][1]
        rest = run[:-1]
        if end == final and text[rest[-1][1] : end] == "." and text[end - 2].isalnum():
            # The text's last period ends the sentence, unless what it
            # follows is no word without it ("U.S." when "U.S" is unknown).
            if len(rest) == 1 or self._keeps(text, rest, None):
                return False
        word = text[start:end]
        if word in self.whole:
            return True
        clitic = text[run[-2][0] : end]  # "Bitar's" by shape "a'a": not with "'s"
        return (
            bool(self.shapes)
            and clitic not in self._clitics
            and _generalises(word)
            and word_shape(word) in self.shapes
        )

    def get_config(self):
        """The splitter as plain JSON (sorted lists).

        ```python
        WordSplitter(["U.S."]).get_config()
        # {"whole": ["U.S."], "shapes": [], "max_pieces": 4}
        ```
        """
        return {
            "whole": sorted(self.whole),
            "shapes": sorted(self.shapes),
            "max_pieces": self.max_pieces,
        }

    @classmethod
    def from_config(cls, config):
        """A splitter from `get_config()`'s dict.

        ```python
        WordSplitter.from_config({"whole": ["U.S."], "shapes": []}).fitted  # True
        ```
        """
        return cls(**config)

    def __eq__(self, other):
        return isinstance(other, WordSplitter) and self.get_config() == (
            other.get_config()
        )

    __hash__ = None

    def __repr__(self):
        return (
            f"WordSplitter({len(self.whole)} words, {len(self.shapes)} shapes, "
            f"max_pieces={self.max_pieces})"
        )


def as_word_splitter(value):
    """A model's `word_splitter` argument as a `WordSplitter`, or `None` (to fit).

    Takes a `WordSplitter`, its `get_config()` dict (as a saved model holds
    it) or `None`; anything else is a `PolicyError`.

    ```python
    as_word_splitter({"whole": ["U.S."], "shapes": []}).whole  # frozenset({"U.S."})
    ```
    """
    if isinstance(value, dict):
        value = WordSplitter.from_config(value)
    if value is not None and not isinstance(value, WordSplitter):
        raise PolicyError(
            "word_splitter must be a tl.data.WordSplitter, its config dict "
            f"or None, got {type(value).__name__}."
        )
    return value
