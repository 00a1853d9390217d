"""What a token task's training data look like: size, entity density, sub-words.

The properties the token-task defaults are chosen from (issue 16, item 5;
`tlnlp_tf.tasks.token_rates`), measured on a sample of the training
sentences with the model's own tokenizer.

Example:

```python
profile = token_data_profile(tokenizer, [["Merkel", "spoke"]], [["B-PER", "O"]])
profile["entity_density"]  # 0.5: the share of words inside an entity
```
"""

import numpy as np
import tensorflow as tf

from tlnlp_tf.tasks.word_pieces import unknown_id
from tlnlp_tf.tasks.word_pieces import word_pieces

PROFILE_SAMPLE = 2000  # sentences read; enough for shares to ~1 point


def token_data_profile(tokenizer, words, tags, sample=PROFILE_SAMPLE):
    """`{"sentences", "words_per_sentence", "entity_density", "entities_per_sentence",
    "subwords_per_word", "unknown_share"}` of `sample` sentences spread evenly
    over those given.

    `entity_density` is the share of words whose tag is not `O` (for SRL,
    words inside an argument or the predicate); `entities_per_sentence`
    counts the spans that begin (`B-`, `S-`, or an `I-` after `O`);
    `subwords_per_word` and `unknown_share` (first sub-words that are the
    unknown token) come from the tokenizer word by word, as the model reads
    them. `sentences` is the number given, not the sample's.

    ```python
    token_data_profile(tokenizer, [["Merkel", "spoke"]], [["B-PER", "O"]])
    ```
    """
    words, tags = list(words), list(tags)
    if not words:
        raise ValueError("token_data_profile needs at least one sentence.")
    total = len(words)
    if total > sample:  # spread over the data: a file's first part need not be typical
        step = total / sample
        chosen = [int(i * step) for i in range(sample)]
        words, tags = [words[i] for i in chosen], [tags[i] for i in chosen]
    read_words = [w for sentence in words for w in sentence]
    read_tags = [t for sentence in tags for t in sentence]
    pieces = word_pieces(tokenizer, tf.constant(read_words or [""]))
    lengths = pieces.row_lengths().numpy()
    first = pieces.values.numpy()[pieces.row_starts().numpy()]
    inside = np.array([t != "O" for t in read_tags], bool)
    starts = 0
    for sentence in tags:
        previous = "O"
        for tag in sentence:
            starts += tag[:2] in ("B-", "S-") or (
                tag.startswith(("I-", "M-", "E-")) and previous == "O"
            )
            previous = tag
    read = len(words)
    return {
        "sentences": total,
        "words_per_sentence": round(len(read_words) / read, 2),
        "entity_density": round(float(inside.mean()) if inside.size else 0.0, 4),
        "entities_per_sentence": round(starts / read, 3),
        "subwords_per_word": round(float(lengths.mean()), 3),
        "unknown_share": round(float(np.mean(first == unknown_id(tokenizer))), 4),
    }
