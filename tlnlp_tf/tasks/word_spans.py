"""Words of a text and the entities over them, shared by the taggers.

`word_lists` splits sentences into words, `sub_word_windows` cuts a long
sentence into overlapping word windows that fit the encoder (`windowed`
runs a tagger over them and keeps each word's most central window), and
`located_entities` turns one sentence's IOB2 word tags into entity spans
with character offsets.

```python
from tlnlp_tf.tasks.word_spans import word_lists
word_lists(["Merkel visited Paris."])  # [["Merkel", "visited", "Paris", "."]]
```
"""

import numpy as np

from tlnlp_tf.data.words import split_words
from tlnlp_tf.errors import DataError
from tlnlp_tf.metrics.entities import get_entities


def located_entities(source, words, tags, scores):
    """`[{"text", "type", "start", "end", "score"}]` of one text's IOB2 word tags.

    `words` are `(word, start, end)` in `source`; `score` is the mean tag
    probability of the entity's words.

    ```python
    located_entities("Ann left", [("Ann", 0, 3), ("left", 4, 8)],
                     ["B-PER", "O"], [0.9, 0.8])
    # [{"text": "Ann", "type": "PER", "start": 0, "end": 3, "score": 0.9}]
    ```
    """
    entities = []
    for kind, first, end in get_entities(tags):
        start, stop = words[first][1], words[end - 1][2]
        entities.append(
            {
                "text": source[start:stop],
                "type": kind,
                "start": start,
                "end": stop,
                "score": round(float(np.mean(scores[first:end])), 6),
            }
        )
    return entities


def word_lists(sentences, splitter=None):
    """Sentences as lists of words; a string is split by `splitter` (a
    `WordSplitter`), else as `split_words` splits it.

    ```python
    word_lists(["Merkel visited Paris.", ["Hi", "there"]])
    # [["Merkel", "visited", "Paris", "."], ["Hi", "there"]]
    from tlnlp_tf.data.word_splitter import WordSplitter
    word_lists(["In the U.S."], WordSplitter(["U.S."]))  # [["In", "the", "U.S."]]
    ```
    """
    split = split_words if splitter is None else splitter.split
    sentences = [
        [w for w, _, _ in split(s)] if isinstance(s, str) else list(s)
        for s in ([sentences] if isinstance(sentences, str) else sentences)
    ]
    for index, words in enumerate(sentences):
        if not all(isinstance(word, str) and word.strip() for word in words):
            raise DataError(
                f"Sentence {index}: expected a list of words (non-empty "
                "strings) or a string to split."
            )
    return sentences


def sub_word_windows(counts, budget):
    """Overlapping `(start, end)` word windows of at most `budget` sub-words.

    `counts` holds each word's sub-word count. Windows advance by half a
    window; a single word longer than `budget` stands alone.

    ```python
    sub_word_windows([2, 2, 2, 2], 4)  # [(0, 2), (1, 3), (2, 4)]
    ```
    """
    total = len(counts)
    if total == 0:
        return []
    if int(np.sum(counts)) <= budget:
        return [(0, total)]
    windows, start = [], 0
    while True:
        end, used = start, 0
        while end < total and used + counts[end] <= budget:
            used += counts[end]
            end += 1
        end = max(end, start + 1)  # a single over-long word stands alone
        windows.append((start, end))
        if end >= total:
            return windows
        start = max(start + 1, start + (end - start) // 2)  # half-window stride


def windowed(sentences, counts, budget, tag_windows):
    """Per sentence, one `(id, score)` per word from a tagger run on windows.

    Each sentence is cut by `sub_word_windows(counts[i], budget)`;
    `tag_windows(texts, window_counts)` gets every window as space-joined
    words with its words' sub-word counts and returns, per window, the tag
    ids and scores of its words. A word in several windows keeps the values
    of the window where it is furthest from an edge.

    ```python
    windowed([["a", "b", "c"]], [[2, 2, 2]], 4,
             lambda texts, counts: [(list(range(len(c))), [1.0] * len(c))
                                    for c in counts])
    # ([array([0, 1, 1])], [array([1., 1., 1.])])
    ```
    """
    segments = []  # (sentence, first word, end word)
    for index in range(len(sentences)):
        for start, end in sub_word_windows(counts[index], budget):
            segments.append((index, start, end))
    outputs = tag_windows(
        [" ".join(sentences[i][a:b]) for i, a, b in segments],
        [counts[i][a:b] for i, a, b in segments],
    )
    ids = [np.zeros(len(words), int) for words in sentences]
    scores = [np.zeros(len(words)) for words in sentences]
    centrality = [np.full(len(words), -1.0) for words in sentences]
    for (index, start, end), (window_ids, window_scores) in zip(segments, outputs):
        for offset, word in enumerate(range(start, end)):
            distance = min(word - start, end - 1 - word)  # prefer central windows
            if distance > centrality[index][word]:
                centrality[index][word] = distance
                ids[index][word] = window_ids[offset]
                scores[index][word] = window_scores[offset]
    return ids, scores
