"""Domain-adaptive continued pretraining: masked-LM training on unlabelled text.

A pretrained backbone keeps learning its masked-language-model objective on
text from the target domain (reviews, clinical notes, legal text), and is
saved as a keras-hub preset folder that every `--backbone` option accepts.
The masked-LM head comes from keras-hub (`BertMaskedLM` for BERT-family
backbones, the matching `MaskedLM` task for others); its weights start
random (the output projection is tied to the pretrained token embeddings).

Example:

```python
texts = tlnlp_tf.pretraining.read_corpus("reviews.txt")
masked_lm, report = tlnlp_tf.pretraining.pretrain_masked_lm("minilm", texts, epochs=1)
tlnlp_tf.pretraining.save_pretrained(masked_lm, "minilm-reviews", report)
model = tlnlp_tf.TextClassifier.from_backbone("minilm-reviews", labels=["neg", "pos"])
```

The folder also keeps the masked-LM head's own weights
(`masked_lm_head.weights.h5`): `load_masked_lm` puts that head back on the
folder's backbone, or on a fine-tuned copy of it, which is what the
masked-LM forgetting probe (`tlnlp_tf.probes.masked_lm_probe`) scores.

For a language the pretrained vocabularies do not cover (Chinese, with the
English MiniLM), `new_backbone_preset` writes a new, randomly initialised BERT
with a WordPiece vocabulary learned from the corpus, to pretrain from scratch:

```python
report = tlnlp_tf.pretraining.new_backbone_preset("zh-new", texts, vocabulary_size=8000)
masked_lm, _ = tlnlp_tf.pretraining.pretrain_masked_lm("zh-new", texts, epochs=10)
```
"""

import collections
import json
import math
import os
import random
import shutil
import tempfile
import time
import warnings

import keras
import keras_hub
import numpy as np
import tensorflow as tf

# keras-hub's own pre-tokenization (lowercasing, splitting on whitespace,
# punctuation and CJK characters): the words its WordPiece tokenizers see.
from keras_hub.src.tokenizers.word_piece_tokenizer import pretokenize

from tlnlp_tf.backbones.loading import load_backbone
from tlnlp_tf.backbones.loading import resolve_spec
from tlnlp_tf.data.lengths import choose_sequence_length
from tlnlp_tf.data.readers import load_jsonl
from tlnlp_tf.data.readers import load_table
from tlnlp_tf.data.readers import read_text
from tlnlp_tf.data.readers import split_lines
from tlnlp_tf.errors import BackboneError
from tlnlp_tf.errors import DataError
from tlnlp_tf.errors import PolicyError
from tlnlp_tf.training import fine_tuning_adamw

REPORT_FILE = "pretrain.json"
# The masked-LM head's own weights (not the backbone's, not the tied output
# projection), by variable path, with the task and masking config as attributes.
HEAD_FILE = "masked_lm_head.weights.h5"
_HEAD_PREPROCESSOR = (
    "sequence_length",
    "truncate",
    "mask_selection_rate",
    "mask_selection_length",
    "mask_token_rate",
    "random_token_rate",
)
_TABLES = (".csv", ".tsv", ".jsonl")
_LENGTH_SAMPLE = 1000  # documents tokenized to choose max_length
# The masked-LM head is new (random) on top of a pretrained backbone: its own
# weights learn at this multiple of the learning rate (the output projection
# is the pretrained token embedding, at the base rate).
HEAD_MULTIPLIER = 10.0
# The special tokens of a new BERT vocabulary, at the ids of the original BERT
# vocabularies' order ([PAD] = 0); BertTokenizer looks each up by name.
RESERVED_TOKENS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")
MIN_VOCABULARY = 20  # the reserved tokens and room for a few characters
_UNKNOWN_SAMPLE = 2000  # documents scored for the [UNK] rate of a new vocabulary


def read_corpus(path, text_column=None):
    """The documents of an unlabelled corpus file, as a list of strings.

    A plain-text file holds one document per line (blank lines skipped);
    a `.csv`, `.tsv` or `.jsonl` file needs `text_column`.

    Example:

    ```python
    texts = read_corpus("reviews.txt")
    texts = read_corpus("reviews.jsonl", text_column="text")
    ```
    """
    path = os.fspath(path)
    is_table = path.lower().endswith(_TABLES)
    if is_table and text_column is None:
        raise DataError(
            f"{path}: name the text column (text_column=..., or --text-column) "
            "to read a .csv, .tsv or .jsonl corpus."
        )
    if is_table or text_column is not None:
        if not os.path.isfile(path):
            raise DataError(f"{path}: no such file.")
        if not read_text(path).strip():
            raise DataError(_empty(path))
        if path.lower().endswith(".jsonl"):
            return list(load_jsonl(path, text_column).texts)
        return list(load_table(path, text_column).texts)
    texts = [line for line in split_lines(read_text(path)) if line.strip()]
    if not texts:
        raise DataError(_empty(path))
    return texts


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
    masked_lm, _ = pretrain_masked_lm("zh-new", texts, epochs=10)
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
    counts = _word_counts(texts, lowercase)
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

    _write_folder(folder, write)
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


def pretrain_masked_lm(
    spec,
    texts,
    epochs=1,
    batch_size=32,
    max_length=None,
    mask_rate=0.15,
    learning_rate=5e-5,
    validation_fraction=0.05,
    seed=0,
    weights="pretrained",
    verbose="auto",
):
    """Continue masked-LM training of a backbone on `texts`.

    Args:
        spec: a backbone spec (preset name, preset or Hugging Face folder,
            `"minilm"`), as for `load_backbone`.
        texts: a list of unlabelled documents.
        max_length: tokens per document; `None` chooses it from the data
            (capped at the backbone's maximum).
        mask_rate: the fraction of tokens selected for prediction (of those,
            80% become [MASK], 10% a random token, 10% stay; as BERT).
        learning_rate: the peak rate of AdamW with warmup and linear decay.
        validation_fraction: documents held out to measure masked-LM loss
            and accuracy before and after training (0 for none).
        weights: `"pretrained"`, or `"random"` to pretrain from scratch.
        verbose: passed to `fit` (`"auto"`, 0, 1 or 2).

    Returns:
        `(masked_lm, report)`: the trained `keras_hub.models.MaskedLM` and a
        dict with the document counts, held-out `masked_lm_loss` and
        `masked_accuracy` (`{"before", "after"}`), `train_seconds` and the
        Keras `history`.

    Example:

    ```python
    masked_lm, report = pretrain_masked_lm("minilm", texts, epochs=1)
    report["masked_lm_loss"]  # {"before": 11.0, "after": 6.9}, held out
    ```
    """
    texts = [str(text) for text in texts]
    if not any(text.strip() for text in texts):
        raise DataError(
            "pretrain_masked_lm: the corpus is empty; expected "
            "at least one non-blank document."
        )
    texts = [text for text in texts if text.strip()]
    _check_options(epochs, batch_size, max_length, mask_rate, validation_fraction)
    train, held_out = _split(texts, validation_fraction, seed)

    keras.utils.set_random_seed(seed)
    backbone, classifier_preprocessor = load_backbone(spec, weights=weights)
    tokenizer = classifier_preprocessor.tokenizer
    limit = int(getattr(backbone, "max_sequence_length", 512) or 512)
    if max_length is None:
        sample = train[:_LENGTH_SAMPLE]
        max_length = choose_sequence_length(tokenizer, sample, limit=limit)
    elif max_length > limit:
        raise PolicyError(
            f"max_length={max_length} is longer than the backbone's "
            f"max_sequence_length={limit}; pass max_length <= {limit}."
        )
    task_class = _masked_lm_class(backbone)
    preprocessor = task_class.preprocessor_cls(
        tokenizer=tokenizer,
        sequence_length=max_length,
        mask_selection_rate=mask_rate,
        mask_selection_length=max(1, math.ceil(max_length * mask_rate * 1.5)),
    )
    masked_lm = task_class(backbone=backbone, preprocessor=preprocessor)

    steps = math.ceil(len(train) / batch_size) * epochs
    masked_lm.compile(
        optimizer=fine_tuning_adamw(
            learning_rate, total_steps=steps, multipliers={"mlm_head/": HEAD_MULTIPLIER}
        )
    )
    held_out_batches = _masked_batches(preprocessor, held_out, batch_size, seed)
    before = _scores(masked_lm, held_out_batches)
    data = (
        tf.data.Dataset.from_tensor_slices(train)
        .shuffle(len(train), seed=seed, reshuffle_each_iteration=True)
        .batch(batch_size)
    )  # the task maps its preprocessor over this in tf.data: new masks every epoch
    start = time.perf_counter()
    with warnings.catch_warnings():  # the unused [CLS] pooler gets no gradient
        warnings.filterwarnings("ignore", message="Gradients do not exist")
        history = masked_lm.fit(data, epochs=epochs, shuffle=False, verbose=verbose)
    seconds = time.perf_counter() - start
    after = _scores(masked_lm, held_out_batches)
    report = {
        "backbone": str(spec),
        "weights": weights,
        "train_documents": len(train),
        "held_out_documents": len(held_out),
        "max_length": int(max_length),
        "mask_rate": mask_rate,
        "epochs": epochs,
        "batch_size": batch_size,
        "learning_rate": learning_rate,
        "seed": seed,
        "masked_lm_loss": {"before": before["loss"], "after": after["loss"]},
        "masked_accuracy": {"before": before["accuracy"], "after": after["accuracy"]},
        "train_seconds": round(seconds, 2),
        "history": {
            name: [round(float(v), 6) for v in values]
            for name, values in history.history.items()
        },
    }
    return masked_lm, report


def masked_lm_scores(masked_lm, texts, batch_size=32, seed=0):
    """Masked-LM loss (mean over masked tokens) and accuracy on `texts`.

    Returns `{"loss", "accuracy", "masked_tokens"}` (`None`s and 0 when
    `texts` has no token to mask). The masks are drawn from `seed` (this
    resets TensorFlow's global seed; Python's `random`, which keras-hub's
    mask generator uses eagerly, is seeded for the draw and restored), so
    two models, or one model before and after training, are scored on the
    same masked tokens.

    Example:

    ```python
    masked_lm_scores(masked_lm, ["the film was very good ."])  # {"loss", "accuracy"}
    ```
    """
    batches = _masked_batches(masked_lm.preprocessor, list(texts), batch_size, seed)
    return _scores(masked_lm, batches)


def save_pretrained(masked_lm, folder, report=None):
    """Save the backbone of `masked_lm` as a keras-hub preset folder.

    The folder holds the backbone, the tokenizer and a text-classifier
    preprocessor, so `load_backbone(folder)` and every `--backbone folder`
    accept it; `report` (if given) is written beside them as `pretrain.json`,
    and the pooling config (`1_Pooling/`) of the sentence-transformer folder
    named by `report["backbone"]`, if any, is kept.
    The masked-LM head's own weights (all of `masked_lm`'s that are not
    the backbone's: for BERT the head's dense layer, layer norm and output
    bias; the output projection is the backbone's token embedding) are
    saved as `masked_lm_head.weights.h5`, with the task class and the
    masking config, for `load_masked_lm`; `pretrain.json` records it under
    `"masked_lm_head"`.
    The preset is written to a temporary folder and renamed into place: an
    interrupted save leaves no half-written preset. An existing preset
    folder is replaced; any other non-empty folder is an error.

    Example:

    ```python
    save_pretrained(masked_lm, "minilm-reviews", report)
    backbone, preprocessor = tlnlp_tf.load_backbone("minilm-reviews")
    masked_lm = load_masked_lm("minilm-reviews")  # the backbone and the head
    ```
    """
    check_output_folder(folder)  # before anything is built
    backbone = masked_lm.backbone
    tokenizer = masked_lm.preprocessor.tokenizer
    # The backbone's full length: task models choose their own from their data.
    length = getattr(backbone, "max_sequence_length", None)
    length = length or masked_lm.preprocessor.sequence_length
    classifier_preprocessor = _classifier_preprocessor_class(backbone)(
        tokenizer=tokenizer, sequence_length=length
    )

    head_weights, head_config = _head_state(masked_lm)
    if report is not None:
        report = {
            **report,
            "masked_lm_head": {
                "file": HEAD_FILE,
                "task": head_config["task"],
                "weights": sorted(head_weights),
            },
        }

    def write(tmp):
        backbone.save_to_preset(tmp)
        classifier_preprocessor.save_to_preset(tmp)  # writes the tokenizer too
        _write_head(os.path.join(tmp, HEAD_FILE), head_weights, head_config)
        _copy_pooling(report, tmp)
        if report is not None:
            with open(os.path.join(tmp, REPORT_FILE), "w", encoding="utf-8") as file:
                json.dump(report, file, indent=2, ensure_ascii=False)
                file.write("\n")

    return _write_folder(folder, write)


def load_masked_lm(folder, backbone=None):
    """The masked-LM task of a folder written by `save_pretrained`, around `backbone`.

    The head is the one saved in the folder (`masked_lm_head.weights.h5`);
    the backbone is `backbone` when given, e.g. `model.backbone` of a task
    model fine-tuned from the folder (used as is, not copied: the output
    projection is its token embedding), else the folder's own. The
    preprocessor is the masked-LM preprocessor of pretraining (the same
    sequence length and masking rates), on the folder's tokenizer.

    Raises:
        BackboneError: the folder has no saved head (it was not written by
            `tlnlp pretrain` / `save_pretrained`: sentence-embedding sources
            such as `"minilm"` have none), or the head does not fit
            `backbone` (another architecture or vocabulary).

    Example:

    ```python
    masked_lm = load_masked_lm("minilm-reviews")
    model = tlnlp_tf.TextClassifier.from_backbone("minilm-reviews", labels=["neg", "pos"])
    model.fit(...)
    tuned = load_masked_lm("minilm-reviews", model.backbone)
    masked_lm_scores(tuned, held_out_texts)  # {"loss", "accuracy", "masked_tokens"}
    ```
    """
    path, head_weights, config = read_head(folder)
    folder = os.path.dirname(path)
    if backbone is None:
        backbone, _ = load_backbone(folder)
    task_class = _masked_lm_class(backbone)
    if task_class.__name__ != config.get("task"):
        raise BackboneError(
            f"{path}: the head of a {config.get('task')} does not fit a "
            f"{type(backbone).__name__} (whose masked-LM task is "
            f"{task_class.__name__}); pass the backbone of a model built from {folder}."
        )
    preprocessor = _head_preprocessor(folder, path, config)
    state = random.getstate()  # the unused initializers draw from Python's RNG
    try:
        masked_lm = task_class(backbone=backbone, preprocessor=preprocessor)
    finally:
        random.setstate(state)
    variables = _head_variables(masked_lm)
    if set(variables) != set(head_weights):
        raise BackboneError(
            f"{path}: the saved head holds {sorted(head_weights)}, but a "
            f"{task_class.__name__} on this backbone has {sorted(variables)}."
        )
    for name, variable in variables.items():
        value = head_weights[name]
        if tuple(variable.shape) != value.shape:
            raise BackboneError(
                f"{path}: '{name}' has shape {value.shape}, but this backbone's "
                f"{task_class.__name__} needs {tuple(variable.shape)} (another "
                "vocabulary or width); pass the backbone of a model built from "
                f"{folder}."
            )
        variable.assign(value)
    return masked_lm


def head_masked_batches(folder, texts, batch_size=32, seed=0):
    """`(folder, batches)`: `texts` masked once, from `seed`, as the saved head was trained.

    `folder` is the resolved source folder; score the batches with
    `score_masked_batches` on any backbone the head fits (before and after
    fine-tuning: the same masked tokens).
    """
    path, _, config = read_head(folder)
    folder = os.path.dirname(path)
    preprocessor = _head_preprocessor(folder, path, config)
    return folder, _masked_batches(preprocessor, list(texts), batch_size, seed)


def score_masked_batches(masked_lm, batches):
    """`{"loss", "accuracy", "masked_tokens"}` of `masked_lm` on batches of `head_masked_batches`."""
    return _scores(masked_lm, batches)


def read_head(folder):
    """`(path, {variable path: array}, config)` of a folder's saved masked-LM head.

    Raises `BackboneError`, naming the folder and `masked_lm_head.weights.h5`,
    when the folder has none.
    """
    if not isinstance(folder, (str, os.PathLike)):
        raise BackboneError(
            f"The masked-LM head is read from a preset folder; got "
            f"{type(folder).__name__}."
        )
    spec = os.fspath(folder)
    hint = (
        "The masked-LM forgetting probe needs a source pretrained with `tlnlp "
        "pretrain` (or saved by tlnlp_tf.pretraining.save_pretrained), whose "
        "folder keeps the masked-LM head; sentence-embedding sources such as "
        "minilm have none: use the sentence-similarity probe for them "
        "(ForgettingReport, --forgetting-probe sts)."
    )
    try:
        source = resolve_spec(spec) if not os.path.isdir(spec) else spec
    except BackboneError:
        source = spec
    if not os.path.isdir(source):
        raise BackboneError(
            f"'{spec}' is not a local folder, so it has no saved "
            f"masked-LM head ({HEAD_FILE}). {hint}"
        )
    path = os.path.join(os.path.abspath(source), HEAD_FILE)
    if not os.path.isfile(path):
        named = (
            source
            if os.path.abspath(source) == os.path.abspath(spec)
            else (f"'{spec}' ({source})")
        )
        raise BackboneError(
            f"{named}: no {HEAD_FILE} (the saved masked-LM head). " + hint
        )
    import h5py

    try:
        with h5py.File(path, "r") as file:
            config = json.loads(file.attrs["config"])
            weights = {}
            file.visititems(
                lambda name, item: (
                    weights.__setitem__(name, item[()])
                    if isinstance(item, h5py.Dataset)
                    else None
                )
            )
    except (OSError, KeyError, ValueError) as error:
        raise BackboneError(
            f"{path}: could not be read as a saved masked-LM head: {error}"
        ) from None
    return path, {name: np.asarray(value) for name, value in weights.items()}, config


def check_output_folder(folder):
    """Refuse an output folder that exists, is not empty and is not a preset."""
    folder = os.fspath(folder)
    if os.path.exists(folder) and not os.path.isdir(folder):
        raise DataError(f"{folder}: exists and is not a folder; choose another output.")
    if (
        os.path.isdir(folder)
        and os.listdir(folder)
        and not os.path.isfile(os.path.join(folder, "config.json"))
    ):
        raise DataError(
            f"{folder}: exists, is not empty and is not a preset folder; choose a "
            "new output folder (a preset folder written before is replaced)."
        )


# === helpers ===


def _empty(path):
    return (
        f"{path}: the pretraining corpus is empty; expected at least one "
        "non-blank document (one per line, or one per row of the text column)."
    )


def _check_options(epochs, batch_size, max_length, mask_rate, validation_fraction):
    for name, value in (("epochs", epochs), ("batch_size", batch_size)):
        if not isinstance(value, int) or value <= 0:
            raise PolicyError(f"{name} must be a positive integer, got {value!r}.")
    if max_length is not None and (not isinstance(max_length, int) or max_length < 3):
        raise PolicyError(
            f"max_length must be an integer >= 3 or None, got {max_length!r}."
        )
    if not 0.0 < mask_rate < 1.0:
        raise PolicyError(f"mask_rate must be between 0 and 1, got {mask_rate!r}.")
    if not 0.0 <= validation_fraction < 1.0:
        raise PolicyError(
            f"validation_fraction must be in [0, 1), got {validation_fraction!r}."
        )


def _split(texts, fraction, seed):
    """A seeded split into (train, held_out); at least one held out when asked."""
    order = np.random.default_rng(seed).permutation(len(texts))
    held = int(round(len(texts) * fraction))
    if fraction > 0 and held == 0 and len(texts) >= 2:
        held = 1
    if len(texts) - held < 1:
        raise DataError(
            f"The corpus has {len(texts)} document(s): too few to hold out "
            f"{fraction:.0%} and train on the rest."
        )
    return ([texts[i] for i in order[held:]], [texts[i] for i in order[:held]])


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


def _word_counts(texts, lowercase):
    """{word: count} of `texts`, split and normalized as keras-hub's BERT tokenizer."""
    counts = collections.Counter()
    for start in range(0, len(texts), 1024):
        words = pretokenize(
            tf.constant(texts[start : start + 1024]),
            lowercase=lowercase,
            strip_accents=False,
            split=True,
            split_on_cjk=True,
        )
        counts.update(words.flat_values.numpy().tolist())
    return {word.decode("utf-8"): count for word, count in counts.items() if word}


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


def _masked_lm_class(backbone):
    return _task_class(backbone, keras_hub.models.MaskedLM, "masked-LM task")


def _classifier_preprocessor_class(backbone):
    return _task_class(
        backbone,
        keras_hub.models.TextClassifierPreprocessor,
        "text-classifier preprocessor",
    )


def _task_class(backbone, base, what):
    """The keras-hub subclass of `base` made for this backbone's class."""
    for name in dir(keras_hub.models):
        candidate = getattr(keras_hub.models, name)
        if (
            isinstance(candidate, type)
            and issubclass(candidate, base)
            and candidate is not base
            and getattr(candidate, "backbone_cls", None) is type(backbone)
        ):
            return candidate
    raise BackboneError(
        f"keras-hub has no {what} for {type(backbone).__name__}; masked-LM "
        "pretraining needs an encoder such as BERT, RoBERTa, DistilBERT, ALBERT "
        "or DeBERTa-v3."
    )


def _masked_batches(preprocessor, texts, batch_size, seed):
    """Masked batches drawn once, kept in memory, scored the same every time.

    Called eagerly, keras-hub's mask generator draws from Python's `random`
    (in a `tf.function` or `tf.data` map, from TensorFlow's ops): both are
    seeded from `seed`, and Python's state is restored afterwards.
    """
    if not texts:
        return []
    tf.random.set_seed(seed)
    state = random.getstate()
    random.seed(f"masked-lm masks {seed}")
    try:
        data = tf.data.Dataset.from_tensor_slices(texts).batch(batch_size)
        return [preprocessor(batch) for batch in data]
    finally:
        random.setstate(state)


def _scores(masked_lm, batches):
    """Mean cross-entropy and accuracy over the masked tokens of `batches`."""
    if not batches:
        return {"loss": None, "accuracy": None, "masked_tokens": 0}
    total_loss = total_correct = total_weight = 0.0
    for x, y, weight in batches:
        logits = masked_lm(x, training=False)
        loss = keras.losses.sparse_categorical_crossentropy(y, logits, from_logits=True)
        weight = tf.cast(weight, "float32")
        predicted = tf.argmax(logits, -1, output_type=y.dtype)
        correct = tf.cast(tf.equal(predicted, y), "float32")
        total_loss += float(tf.reduce_sum(tf.cast(loss, "float32") * weight))
        total_correct += float(tf.reduce_sum(correct * weight))
        total_weight += float(tf.reduce_sum(weight))
    if total_weight == 0:
        return {"loss": None, "accuracy": None, "masked_tokens": 0}
    return {
        "loss": round(total_loss / total_weight, 6),
        "accuracy": round(total_correct / total_weight, 6),
        "masked_tokens": int(total_weight),
    }


def _head_variables(masked_lm):
    """{path: variable} of the task's weights that are not its backbone's."""
    backbone = {id(variable) for variable in masked_lm.backbone.weights}
    return {
        variable.path: variable
        for variable in masked_lm.weights
        if id(variable) not in backbone
    }


def _head_state(masked_lm):
    """`({path: array}, config)` of the masked-LM head, for `HEAD_FILE`."""
    weights = {
        name: np.asarray(keras.ops.convert_to_numpy(variable))
        for name, variable in _head_variables(masked_lm).items()
    }
    preprocessor = masked_lm.preprocessor
    config = {
        "task": type(masked_lm).__name__,
        "preprocessor": {
            key: getattr(preprocessor, key)
            for key in _HEAD_PREPROCESSOR
            if getattr(preprocessor, key, None) is not None
        },
    }
    return weights, config


def _write_head(path, weights, config):
    import h5py

    with h5py.File(path, "w") as file:
        file.attrs["config"] = json.dumps(config)
        for name, value in weights.items():
            file.create_dataset(name, data=value)


def _head_preprocessor(folder, path, config):
    task_class = getattr(keras_hub.models, str(config.get("task")), None)
    if not (
        isinstance(task_class, type)
        and issubclass(task_class, keras_hub.models.MaskedLM)
    ):
        raise BackboneError(
            f"{path}: keras-hub has no masked-LM task "
            f"{config.get('task')!r}; save the folder again."
        )
    options = {
        key: value
        for key, value in config.get("preprocessor", {}).items()
        if key in _HEAD_PREPROCESSOR
    }
    return task_class.preprocessor_cls(tokenizer=_folder_tokenizer(folder), **options)


def _folder_tokenizer(folder):
    try:
        return keras_hub.models.TextClassifierPreprocessor.from_preset(folder).tokenizer
    except (OSError, ValueError) as error:
        raise BackboneError(
            f"{folder}: could not load its tokenizer: {error}"
        ) from None


def _copy_pooling(report, folder):
    """Keep a sentence-transformer's pooling config (`1_Pooling/`) with the preset."""
    if not report or "backbone" not in report:
        return
    try:
        source = resolve_spec(report["backbone"])
    except BackboneError:
        return
    pooling = os.path.join(source, "1_Pooling")
    if os.path.isfile(os.path.join(pooling, "config.json")):
        shutil.copytree(pooling, os.path.join(folder, "1_Pooling"))


def _write_folder(folder, write):
    """Run `write(tmp)` on a temporary folder beside `folder`, then rename it there.

    An existing preset folder is replaced; any other non-empty folder is
    refused first (`check_output_folder`).
    """
    folder = os.path.abspath(os.fspath(folder))
    check_output_folder(folder)
    parent = os.path.dirname(folder)
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix="." + os.path.basename(folder) + ".", dir=parent)
    try:
        write(tmp)
        os.chmod(tmp, 0o777 & ~_umask())  # mkdtemp makes 0700
        old = None
        if os.path.isdir(folder):
            old = tempfile.mkdtemp(
                prefix="." + os.path.basename(folder) + ".old.", dir=parent
            )
            os.replace(folder, os.path.join(old, "preset"))
        os.replace(tmp, folder)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    finally:
        if os.path.isdir(tmp):
            shutil.rmtree(tmp, ignore_errors=True)
    return folder


def _umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask
