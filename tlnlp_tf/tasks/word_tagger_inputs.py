"""`WordTaggerInputs`: the data side of `WordTagger`, and its token vocabulary.

Token ids are looked up in `tf.data` (the lookup is not part of the model's
graph); tags are checked against the model's before training, with the file
and line of the first bad one.

```python
from tlnlp_tf.tasks.word_tagger_inputs import token_vocabulary
token_vocabulary([["张", "三", "。"], ["三"]])  # ["", "[UNK]", "三", "张", "。"]
```
"""

import collections

import keras
import numpy as np
import tensorflow as tf

from tlnlp_tf.data.conll import TaggedSentences
from tlnlp_tf.errors import DataError
from tlnlp_tf.errors import PolicyError
from tlnlp_tf.pretraining import word_vectors
from tlnlp_tf.tasks.inputs import samples_encoder
from tlnlp_tf.tasks.token_classifier import TokenClassifier
from tlnlp_tf.tasks.word_inputs import check_string_batches

BATCH = 32


class WordTaggerInputs:
    """Token ids, tag ids and the `tf.data` pipeline, mixed into `WordTagger`.

    Reads the model's `lookup`, `lowercase` and `tags`.

    ```python
    model = tl.tasks.WordTagger(["", "[UNK]", "rome"], tags=["O", "B-LOC"])
    model.token_ids(["rome paris"])  # [[2, 1]]
    ```
    """

    def token_ids(self, sentences):
        """Token ids `[batch, tokens]` (0 padding) of space-joined sentences
        (`[batch]` strings) or a ragged tensor of tokens, in the graph."""
        if isinstance(sentences, tf.RaggedTensor):
            tokens = sentences
        else:
            sentences = tf.convert_to_tensor(sentences)
            if sentences.shape.rank == 2 and sentences.shape[-1] == 1:
                sentences = tf.squeeze(sentences, -1)
            tokens = tf.strings.split(sentences)
        flat = tokens.flat_values
        if self.lowercase:
            flat = tf.strings.lower(flat, encoding="utf-8")
        ids = tokens.with_flat_values(tf.cast(self.lookup(flat), "int32"))
        ids = ids.to_tensor(0)
        return tf.pad(ids, [[0, 0], [0, tf.maximum(1 - tf.shape(ids)[1], 0)]])

    # Space-joined tag names to ragged tag ids, checked in the graph.
    encode_targets = TokenClassifier.encode_targets

    def preprocess_samples(self, x, y=None, sample_weight=None):
        """One batch of `(sentences, tags)` strings as the model takes it: token
        ids, padded tag ids, and weights that are 0 on padding."""
        if x.dtype != tf.string:
            return keras.utils.pack_x_y_sample_weight(x, y, sample_weight)
        ids = self.token_ids(x)
        if y is None:
            return ids
        tags = self.encode_targets(y)
        words = tf.strings.split(tf.reshape(x, [-1]))
        check = tf.debugging.assert_equal(
            tags.row_lengths(),
            words.row_lengths(),
            message="A sentence and its tags differ in length",
        )
        with tf.control_dependencies([check]):
            tags = tags.to_tensor(0)
        width = tf.shape(ids)[1]
        tags = tf.pad(tags, [[0, 0], [0, width - tf.shape(tags)[1]]])
        weights = tf.cast(tf.not_equal(ids, 0), "float32")
        if sample_weight is not None:
            weights *= tf.reshape(tf.cast(sample_weight, "float32"), [-1, 1])
        return ids, tags, weights

    def _pipeline(self, x, y=None, batch_size=None, shuffle=False):
        """A batched dataset of `(ids, tags, weights)`, or `None` for arrays."""
        if isinstance(x, (list, tuple)) and y is not None:
            x = tagged_sentences(x, y)
        if isinstance(x, TaggedSentences):
            if x.tags is None:
                raise DataError(f"{x.source}: has no tags to train or evaluate on.")
            self.check_tags(x)
            data = x.to_dataset()
            if shuffle:
                data = data.shuffle(len(x), reshuffle_each_iteration=True)
            data = data.batch(batch_size or BATCH)
        elif isinstance(x, tf.data.Dataset):
            check_string_batches(
                x, "WordTagger takes a batched dataset of (sentence, tags)"
            )
            data = x
        else:
            return None  # token ids: Keras takes them as they are

        encode = samples_encoder(self)
        return data.map(encode, num_parallel_calls=tf.data.AUTOTUNE).prefetch(
            tf.data.AUTOTUNE
        )

    def check_tags(self, data):
        """Raise `DataError` at the first tag of `data` (`TaggedSentences`) that is
        not one of the model's tags, or a sentence whose tags do not match it."""
        allowed = set(self.tags)
        for index, (words, tags) in enumerate(zip(data.words, data.tags)):
            line = data.lines[index]
            source, line = line if isinstance(line, tuple) else (data.source, line)
            where = f"{source}, sentence {index + 1} (line {line})"
            if len(words) != len(tags):
                raise DataError(
                    f"{where}: {len(words)} tokens but {len(tags)} tags; give "
                    "one tag per token."
                )
            for tag in tags:
                if tag not in allowed:
                    raise DataError(
                        f"{where}: tag '{tag}' is not one of the model's tags "
                        f"{self.tags}."
                    )
        return data


def token_vocabulary(sentences, max_tokens=20000, vectors=None, lowercase=True):
    """The tokens of a `WordTagger`: padding, `[UNK]`, the training tokens by
    frequency (ties in order of appearance), then the vectors' keys in order.

    ```python
    token_vocabulary([["张", "三", "。"], ["三"]])  # ["", "[UNK]", "三", "张", "。"]
    ```
    """
    if not isinstance(max_tokens, (int, np.integer)) or max_tokens < 3:
        raise PolicyError(f"max_tokens must be an integer >= 3, got {max_tokens!r}.")

    def norm(token):
        return token.lower() if lowercase else token

    counts = collections.Counter(norm(w) for words in sentences for w in words)
    reserved = {word_vectors.PADDING, word_vectors.UNKNOWN}
    tokens = [t for t, _ in counts.most_common() if t not in reserved]
    tokens = tokens[: max_tokens - 2]
    if not tokens:
        raise DataError("The training sentences have no tokens.")
    if vectors is not None and len(tokens) < max_tokens - 2:
        seen = set(tokens) | reserved
        for key in vectors.index_to_key:
            if len(tokens) >= max_tokens - 2:
                break
            key = norm(str(key))
            if key not in seen and key.strip() == key and " " not in key:
                seen.add(key)
                tokens.append(key)
    return [word_vectors.PADDING, word_vectors.UNKNOWN] + tokens


def tagged_sentences(sentences, tags):
    """`TaggedSentences` from lists (a string is split on whitespace).

    ```python
    tagged_sentences(["rome is big"], ["B-LOC O O"]).words  # [["rome", "is", "big"]]
    ```
    """
    words = [s.split() if isinstance(s, str) else list(s) for s in sentences]
    tags = [t.split() if isinstance(t, str) else list(t) for t in tags]
    if len(words) != len(tags):
        raise DataError(f"{len(words)} sentences but {len(tags)} tag lists.")
    return TaggedSentences(words, tags, source="<lists>")
