"""A new BERT preset with a WordPiece vocabulary learned from a corpus.

For a language the pretrained vocabularies do not cover (Chinese, with the
English MiniLM):

```python
report = new_backbone_preset("zh-new", texts, vocabulary_size=8000)
masked_lm, _ = tl.pretraining.pretrain_masked_lm("zh-new", texts, epochs=10)
```
"""

import collections
import math

import keras
import keras_hub
import numpy as np
import tensorflow as tf

from tlnlp_tf.errors import DataError
from tlnlp_tf.errors import PolicyError
from tlnlp_tf.pretraining.bert_words import bert_words
from tlnlp_tf.pretraining.folders import check_output_folder
from tlnlp_tf.pretraining.folders import write_folder
from tlnlp_tf.progress import progress

# The special tokens of a new BERT vocabulary, at the ids of the original BERT
# vocabularies' order ([PAD] = 0); BertTokenizer looks each up by name.
RESERVED_TOKENS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")
MIN_VOCABULARY = 20  # the reserved tokens and room for a few characters
_UNKNOWN_SAMPLE = 2000  # documents scored for the [UNK] rate of a new vocabulary
_PROGRESS_DOCUMENTS = 20_000  # from this many documents, counting words shows a bar


def new_backbone_preset(
    folder,
    texts,
    vocabulary_size=8000,
    num_layers=2,
    hidden_dim=128,
    num_heads=2,
    intermediate_dim=None,
    max_sequence_length=512,
    lowercase=True,
    seed=0,
):
    """Write a keras-hub BERT preset folder with random weights and a
    WordPiece vocabulary learned from `texts`.

    The vocabulary comes from `keras_hub.tokenizers.compute_word_piece_vocabulary`
    (each CJK character is a word of its own), completed so that every
    character of the corpus is a token while the budget allows (keras-hub
    keeps at most 1 000 distinct characters and, when the vocabulary is too
    small, drops characters by code point rather than by frequency); the
    `##` forms of characters that never occur inside a word (CJK characters,
    punctuation) are left out, as no word can use them. The folder holds a
    `BertBackbone` seeded with `seed` and a `BertTextClassifierPreprocessor`,
    so `load_backbone(folder)` and `pretrain_masked_lm(folder, texts)` accept
    it. It is written through a temporary folder and a rename, as
    `save_pretrained`.

    Args:
        folder: the preset folder to write (an existing preset folder is
            replaced; any other non-empty folder is refused).
        texts: the corpus, a list of documents.
        vocabulary_size: the most tokens, the 5 special ones included
            (`[PAD]`, `[UNK]`, `[CLS]`, `[SEP]`, `[MASK]`); at least 20.
        intermediate_dim: the feed-forward width; `None` is `4 * hidden_dim`.
        lowercase: lowercase the text (for the vocabulary and the tokenizer).

    Returns:
        A dict: `vocabulary_size` (obtained, at most the one asked for),
        the architecture, `parameters` (the backbone's weight count) and
        `unknown_token_rate`: the fraction of the corpus's characters (of a
        seeded sample of at most 2 000 documents) in words that tokenize to
        `[UNK]`.

    Example:

    ```python
    report = new_backbone_preset("zh-new", texts, vocabulary_size=8000)
    report["unknown_token_rate"]  # 0.0: every character of the corpus is a token
    masked_lm, _ = tl.pretraining.pretrain_masked_lm("zh-new", texts, epochs=10)
    ```
    """
    texts = [str(text) for text in texts]
    texts = [text for text in texts if text.strip()]
    if not texts:
        raise DataError(
            "new_backbone_preset: the corpus is empty; expected at least "
            "one non-blank document to learn the vocabulary from."
        )
    intermediate_dim = 4 * hidden_dim if intermediate_dim is None else intermediate_dim
    _check_architecture(
        vocabulary_size,
        num_layers,
        hidden_dim,
        num_heads,
        intermediate_dim,
        max_sequence_length,
    )
    check_output_folder(folder)
    counts = _word_counts(texts, lowercase, "Counting the corpus's words")
    if not counts:
        raise DataError(
            "new_backbone_preset: the corpus has no words (only spaces "
            "and control characters); expected text to learn the "
            "vocabulary from."
        )
    vocabulary = _learn_vocabulary(texts, counts, vocabulary_size, lowercase)

    keras.utils.set_random_seed(seed)
    backbone = keras_hub.models.BertBackbone(
        vocabulary_size=len(vocabulary),
        num_layers=num_layers,
        num_heads=num_heads,
        hidden_dim=hidden_dim,
        intermediate_dim=intermediate_dim,
        max_sequence_length=max_sequence_length,
    )
    tokenizer = keras_hub.models.BertTokenizer(
        vocabulary=vocabulary, lowercase=lowercase
    )
    preprocessor = keras_hub.models.BertTextClassifierPreprocessor(
        tokenizer=tokenizer, sequence_length=max_sequence_length
    )
    sample = texts
    if len(texts) > _UNKNOWN_SAMPLE:
        order = np.random.default_rng(seed).permutation(len(texts))[:_UNKNOWN_SAMPLE]
        sample = [texts[i] for i in sorted(order)]
    unknown = _unknown_rate(tokenizer, _word_counts(sample, lowercase))

    def write(tmp):
        backbone.save_to_preset(tmp)
        preprocessor.save_to_preset(tmp)  # writes the tokenizer too

    write_folder(folder, write)
    return {
        "vocabulary_size": len(vocabulary),
        "requested_vocabulary_size": vocabulary_size,
        "num_layers": num_layers,
        "num_heads": num_heads,
        "hidden_dim": hidden_dim,
        "intermediate_dim": intermediate_dim,
        "max_sequence_length": max_sequence_length,
        "lowercase": lowercase,
        "seed": seed,
        "parameters": int(backbone.count_params()),
        "documents": len(texts),
        "characters": len({char for word in counts for char in word}),
        "unknown_token_rate": round(unknown, 6),
        "unknown_token_rate_documents": len(sample),
    }


def _check_architecture(
    vocabulary_size,
    num_layers,
    hidden_dim,
    num_heads,
    intermediate_dim,
    max_sequence_length,
):
    for name, value in (
        ("vocabulary_size", vocabulary_size),
        ("num_layers", num_layers),
        ("hidden_dim", hidden_dim),
        ("num_heads", num_heads),
        ("intermediate_dim", intermediate_dim),
        ("max_sequence_length", max_sequence_length),
    ):
        if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
            raise PolicyError(f"{name} must be a positive integer, got {value!r}.")
    if vocabulary_size < MIN_VOCABULARY:
        raise PolicyError(
            f"vocabulary_size={vocabulary_size} is too small: expected at least "
            f"{MIN_VOCABULARY} (the {len(RESERVED_TOKENS)} special tokens "
            f"{' '.join(RESERVED_TOKENS)} and the characters of the corpus)."
        )
    if hidden_dim % num_heads:
        multiple = num_heads * math.ceil(hidden_dim / num_heads)
        raise PolicyError(
            f"hidden_dim={hidden_dim} is not divisible by num_heads={num_heads}: "
            "each attention head gets hidden_dim / num_heads dimensions; expected a "
            f"multiple of {num_heads} (e.g. hidden_dim={multiple})."
        )
    if max_sequence_length < 3:
        raise PolicyError(
            f"max_sequence_length must be at least 3 ([CLS], a token, [SEP]), got "
            f"{max_sequence_length}."
        )


def _word_counts(texts, lowercase, label=None):
    """{word: count} of `texts`, split and normalized as keras-hub's BERT tokenizer.

    With `label`, a corpus of `_PROGRESS_DOCUMENTS` or more shows a bar.
    """
    counts = collections.Counter()
    starts = range(0, len(texts), 1024)
    shown = 1 if label is not None and len(texts) >= _PROGRESS_DOCUMENTS else 0
    for start in progress(starts, label, verbose=shown, unit="batch"):
        for words in bert_words(texts[start : start + 1024], lowercase):
            counts.update(words)
    return {word: count for word, count in counts.items() if word}


def _learn_vocabulary(texts, counts, size, lowercase):
    """A WordPiece vocabulary of at most `size` tokens covering the corpus's characters.

    keras-hub's learner (tensorflow-text's) keeps the 1 000 most frequent
    characters only, adds `##c` for every character (unusable for characters
    that are always words of their own: CJK, punctuation) and truncates to
    `size` in code-point order. Here every character gets a token, and `##c`
    every character seen inside a word; if they do not all fit, the most
    frequent win. The learned multi-character pieces fill the rest, in the
    learner's order (most frequent first).
    """
    chars, inner = collections.Counter(), collections.Counter()
    for word, count in counts.items():
        for i, char in enumerate(word):
            chars[char] += count
            if i:
                inner[char] += count
    units = sorted(
        [(-n, char) for char, n in chars.items()]
        + [(-n, "##" + char) for char, n in inner.items()]
    )
    units = [token for _, token in units if token not in RESERVED_TOKENS]
    base = list(RESERVED_TOKENS) + units[: size - len(RESERVED_TOKENS)]
    room = size - len(base)
    if room <= 0:  # the characters fill the vocabulary
        return base
    pieces = []
    target = size
    for _ in range(2):  # once more, larger, if the learner filled its target
        learned = keras_hub.tokenizers.compute_word_piece_vocabulary(
            tf.data.Dataset.from_tensor_slices(texts),
            target,
            lowercase=lowercase,
            strip_accents=False,
            split=True,
            split_on_cjk=True,
            reserved_tokens=list(RESERVED_TOKENS),
        )
        known = set(base)
        pieces = [
            token
            for token in learned
            if token not in known and len(token.removeprefix("##")) > 1
        ]
        if len(pieces) >= room or len(learned) < 0.95 * target:
            break
        target += room - len(pieces)
    return base + pieces[:room]


def _unknown_rate(tokenizer, counts):
    """The fraction of the characters of `counts` in words that tokenize to [UNK]."""
    if not counts:
        return 0.0
    words = list(counts)
    unknown_id = tokenizer.token_to_id(RESERVED_TOKENS[1])
    unknown = total = 0
    for start in range(0, len(words), 4096):
        batch = words[start : start + 4096]
        for word, ids in zip(batch, tokenizer(tf.constant(batch))):
            characters = len(word) * counts[word]
            total += characters
            if unknown_id in list(np.asarray(ids).reshape(-1)):
                unknown += characters
    return unknown / total if total else 0.0
