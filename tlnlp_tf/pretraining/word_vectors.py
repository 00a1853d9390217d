"""Static word embeddings: word2vec, GloVe and fastText vectors for Keras models.

The pre-transformer transfer path: word vectors trained on unlabelled text
(downloaded, or trained here with gensim's `Word2Vec`) initialise the
`Embedding` of a small CNN or BiLSTM classifier (`tlnlp_tf.WordClassifier`).
Files are read by gensim's `KeyedVectors` (`vector_files.load_vectors`, also
here); text files are checked first, so that a bad line is an error naming
the file and the line. gensim comes
with the `word-vectors` extra: `pip install "tlnlp_tf[word-vectors]"`.

Words are the tokens of `tokenize`: lower-cased, punctuation stripped, split
on whitespace, exactly as the `TextVectorization` layer inside
`WordClassifier` splits them (both use `standardize`).

Example:

```python
vectors = tlnlp_tf.pretraining.word_vectors.load_vectors("glove.6B.100d.txt")
vectors = tlnlp_tf.pretraining.word_vectors.train_word2vec(texts, vector_size=100)
model = tlnlp_tf.WordClassifier.from_vectors(vectors, texts=train_texts,
                                             labels=["neg", "pos"])
```
"""

import collections
import os
import tempfile
import time

import keras
import numpy as np
import tensorflow as tf

from tlnlp_tf import outputs
from tlnlp_tf.errors import DataError
from tlnlp_tf.errors import PolicyError
from tlnlp_tf.extras import require
from tlnlp_tf.pretraining.vector_files import FORMATS  # noqa: F401 (the API)
from tlnlp_tf.pretraining.vector_files import load_vectors  # noqa: F401 (the API)

PADDING, UNKNOWN = "", "[UNK]"  # rows 0 and 1 of every vocabulary
REPORT_FILE = "pretrain.json"
VECTORS_FILE = "vectors.txt"
# What Keras's TextVectorization strips with standardize="lower_and_strip_punctuation".
PUNCTUATION = r'[!"#$%&()\*\+,-\./:;<=>?@\[\\\]^_`{|}~\']'
_BATCH = 4096  # texts tokenized per TensorFlow call


@keras.saving.register_keras_serializable(package="tlnlp_tf")
def standardize(texts):
    """Lower-case and strip punctuation: the word tokenization's first step.

    The same ops as `TextVectorization(standardize="lower_and_strip_punctuation")`
    (`tf.strings.lower`, ASCII punctuation removed); `WordClassifier` uses this
    function in its `TextVectorization` layer and `train_word2vec` uses it
    through `tokenize`, so both see the same words.

    Example:

    ```python
    standardize(tf.constant(["It's GREAT!"]))  # [b"its great"]
    ```
    """
    return tf.strings.regex_replace(tf.strings.lower(texts), PUNCTUATION, "")


def tokenize(texts):
    """The words of each text, as `WordClassifier` sees them (list of lists of str).

    Example:

    ```python
    tokenize(["A gripping, funny film!"])  # [["a", "gripping", "funny", "film"]]
    ```
    """
    texts = [str(text) for text in texts]
    words = []
    for start in range(0, len(texts), _BATCH):
        batch = tf.constant(texts[start : start + _BATCH], tf.string)
        for row in tf.strings.split(standardize(batch)).to_list():
            words.append([word.decode("utf-8", errors="replace") for word in row])
    return words


# === Training vectors ===


def train_word2vec(
    texts,
    vector_size=100,
    window=5,
    min_count=2,
    epochs=10,
    seed=0,
    workers=1,
    **options,
):
    """Train word2vec (skip-gram, negative sampling) on unlabelled texts with gensim.

    Texts are split into words by `tokenize`, the tokenization of
    `WordClassifier`. With `workers=1` (the default) the same texts and seed
    give the same vectors.

    Args:
        texts: a list of unlabelled documents.
        vector_size: the dimension of the vectors.
        window: words either side of a word that count as its context.
        min_count: words seen fewer times get no vector.
        epochs: passes over the corpus.
        **options: passed to `gensim.models.Word2Vec` (`sg=0` for CBOW,
            `negative`, `sample`, ...).

    Returns:
        The trained `KeyedVectors` (`.save_word2vec_format` writes them).

    Example:

    ```python
    vectors = train_word2vec(pretraining.read_corpus("reviews.txt"), vector_size=100)
    vectors.most_similar("great", topn=3)
    ```
    """
    Word2Vec = require("gensim.models").Word2Vec

    for name, value in (
        ("vector_size", vector_size),
        ("window", window),
        ("min_count", min_count),
        ("epochs", epochs),
        ("workers", workers),
    ):
        if not isinstance(value, (int, np.integer)) or value <= 0:
            raise PolicyError(f"{name} must be a positive integer, got {value!r}.")
    sentences = [words for words in tokenize(texts) if words]
    if not sentences:
        raise DataError(
            "train_word2vec: the corpus is empty; expected at least one text with "
            "words (after lower-casing, stripping punctuation and splitting on "
            f"whitespace), got {len(texts)} text(s) with none."
        )
    counts = collections.Counter(word for words in sentences for word in words)
    if max(counts.values()) < min_count:
        raise DataError(
            f"train_word2vec: no word occurs min_count={min_count} times in the corpus "
            f"({len(counts)} distinct words); pass min_count=1 or more text."
        )
    options = {"sg": 1, **options}
    model = Word2Vec(
        vector_size=vector_size,
        window=window,
        min_count=min_count,
        seed=seed,
        workers=workers,
        **options,
    )
    model.build_vocab(sentences)
    model.train(sentences, total_examples=len(sentences), epochs=epochs)
    return model.wv


def save_vectors(vectors, path, binary=False):
    """Write `KeyedVectors` in word2vec format (text, or C binary), atomically.

    Example:

    ```python
    save_vectors(vectors, "reviews-w2v/vectors.txt")
    load_vectors("reviews-w2v/vectors.txt")  # the same words and vectors
    ```
    """
    path = os.path.abspath(os.fspath(path))
    folder = os.path.dirname(path)
    os.makedirs(folder, exist_ok=True)
    handle, tmp = tempfile.mkstemp(
        prefix="." + os.path.basename(path) + ".", dir=folder
    )
    os.close(handle)
    try:
        vectors.save_word2vec_format(tmp, binary=binary)
        mask = os.umask(0)
        os.umask(mask)
        os.chmod(tmp, 0o666 & ~mask)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return path


def pretrain_word2vec(
    texts,
    folder,
    vector_size=100,
    window=5,
    min_count=2,
    epochs=10,
    seed=0,
    source=None,
):
    """Train word2vec on `texts` and write `folder/vectors.txt` and `pretrain.json`.

    What `tlnlp pretrain --kind word2vec` runs. The folder must be new,
    empty, or a folder this function wrote before (its files are replaced).
    `source` (a dict, e.g. the corpus file) is recorded first in the report.

    Returns:
        `(vectors, report)`: the `KeyedVectors` and the dict written as
        `pretrain.json` (document, token and vocabulary counts, the options,
        `train_seconds`).

    Example:

    ```python
    texts = tl.pretraining.read_corpus("reviews.txt")
    vectors, report = pretrain_word2vec(texts, "reviews-w2v")
    ```
    """
    folder = os.fspath(folder)
    check_output_folder(folder)
    start = time.perf_counter()
    vectors = train_word2vec(
        texts,
        vector_size=vector_size,
        window=window,
        min_count=min_count,
        epochs=epochs,
        seed=seed,
    )
    seconds = time.perf_counter() - start
    tokens = sum(len(words) for words in tokenize(texts))
    report = {
        **(source or {}),
        "kind": "word2vec",
        "algorithm": "gensim Word2Vec, skip-gram with negative sampling",
        "documents": len(texts),
        "tokens": tokens,
        "vocabulary_size": len(vectors),
        "vector_size": vector_size,
        "window": window,
        "min_count": min_count,
        "epochs": epochs,
        "seed": seed,
        "tokenization": "lower-case, ASCII punctuation stripped, split on whitespace "
        "(as WordClassifier)",
        "vectors": VECTORS_FILE,
        "train_seconds": round(seconds, 2),
    }
    save_vectors(vectors, os.path.join(folder, VECTORS_FILE))
    outputs.write_json(os.path.join(folder, REPORT_FILE), report)
    return vectors, report


def check_output_folder(folder):
    """Refuse an output folder that exists, is not empty and holds no vectors.txt.

    Example:

    ```python
    check_output_folder("reviews-w2v")  # fine: new, empty, or a word2vec folder
    ```
    """
    if os.path.exists(folder) and not os.path.isdir(folder):
        raise DataError(f"{folder}: exists and is not a folder; choose another output.")
    if os.path.isdir(folder):
        names = [n for n in os.listdir(folder) if not n.startswith(".")]
        if names and VECTORS_FILE not in names:
            raise DataError(
                f"{folder}: exists, is not empty and holds no {VECTORS_FILE}; choose "
                "a new output folder (a word2vec folder written before is replaced)."
            )


# === Vocabulary and embedding matrix ===


def build_vocabulary(texts, max_tokens=20000, vectors=None):
    """The words of a `WordClassifier`: padding, `[UNK]`, then words by frequency.

    The training texts' words come first, most frequent first (ties in order
    of first appearance). When `vectors` are given and room is left under
    `max_tokens` (which counts the padding and `[UNK]` rows), the vectors'
    own words follow in their file order (most frequent first), so that words
    unseen in the labelled data keep their pretrained meaning.

    Example:

    ```python
    build_vocabulary(["good film", "bad film"])  # ["", "[UNK]", "film", "good", "bad"]
    ```
    """
    if not isinstance(max_tokens, (int, np.integer)) or max_tokens < 3:
        raise PolicyError(f"max_tokens must be an integer >= 3, got {max_tokens!r}.")
    counts = collections.Counter(word for words in tokenize(texts) for word in words)
    words = [word for word, _ in counts.most_common()][: max_tokens - 2]
    if vectors is not None and len(words) < max_tokens - 2:
        seen = set(words)
        for word in _vector_words(vectors):
            if len(words) >= max_tokens - 2:
                break
            if word not in seen:
                seen.add(word)
                words.append(word)
    return [PADDING, UNKNOWN] + words


def embedding_matrix(vocabulary, vectors=None, seed=0, dim=None):
    """The initial `Embedding` matrix for `vocabulary`, and which rows were found.

    The out-of-vocabulary policy:

    - row 0 (padding) and row 1 (`[UNK]`, every word outside the vocabulary)
      are zeros;
    - a word with a vector gets exactly that vector; a word is looked up as it
      is, else as the most frequent vectors key that tokenizes to it ("Good"
      or "good," for "good"); fastText `.bin` vectors compose a vector from
      character n-grams for any other word;
    - a vocabulary word without a vector gets a random row drawn from
      U[-a, a], `a = sqrt(3) * std(found vectors)` (the vectors' variance, as
      Kim 2014), seeded by `seed`;
    - without vectors, every word row is drawn from U[-0.05, 0.05] (Keras's
      default), seeded.

    Returns:
        `(matrix, found)`: float32 `[len(vocabulary), dim]` and a boolean
        array, `True` for the rows taken from `vectors`.

    Example:

    ```python
    matrix, found = embedding_matrix(build_vocabulary(texts, vectors=vectors), vectors)
    ```
    """
    rng = np.random.default_rng(seed)
    size = len(vocabulary)
    found = np.zeros(size, dtype=bool)
    if vectors is None:
        dim = int(dim or 100)
        matrix = rng.uniform(-0.05, 0.05, (size, dim)).astype("float32")
        matrix[:2] = 0.0
        return matrix, found
    dim = int(vectors.vector_size)
    matrix = np.zeros((size, dim), dtype="float32")
    table = _lookup_table(vectors)
    subwords = _has_subwords(vectors)
    for row, word in enumerate(vocabulary):
        if row < 2:
            continue
        index = table.get(word)
        if index is not None:
            matrix[row] = vectors.vectors[index]
            found[row] = True
        elif subwords and word:
            matrix[row] = vectors.get_vector(word)
            found[row] = True
    scale = float(np.std(matrix[found])) * np.sqrt(3.0) if found.any() else 0.05
    missing = ~found
    missing[:2] = False
    matrix[missing] = rng.uniform(-scale, scale, (int(missing.sum()), dim))
    return matrix, found


def _has_subwords(vectors):
    return getattr(vectors, "bucket", 0) and hasattr(vectors, "vectors_ngrams")


def _vector_words(vectors):
    """The vectors' keys that are already words as `tokenize` makes them, in order."""
    keys = list(vectors.index_to_key)
    for start in range(0, len(keys), _BATCH * 4):
        batch = [str(key) for key in keys[start : start + _BATCH * 4]]
        for key, words in zip(batch, tokenize(batch)):
            if words == [key]:
                yield key


def _lookup_table(vectors):
    """word -> row of `vectors.vectors`: exact keys first, then normalised keys."""
    keys = [str(key) for key in vectors.index_to_key]
    table = {}
    normal = []
    for start in range(0, len(keys), _BATCH * 4):
        batch = keys[start : start + _BATCH * 4]
        normal.extend(
            words[0] if len(words) == 1 else None for words in tokenize(batch)
        )
    for index, (key, word) in enumerate(zip(keys, normal)):
        if word == key:
            table.setdefault(key, index)
    for index, word in enumerate(normal):
        if word is not None:
            table.setdefault(word, index)
    return table
