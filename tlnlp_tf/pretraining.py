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
"""

import json
import math
import os
import shutil
import tempfile
import time
import warnings

import keras
import keras_hub
import numpy as np
import tensorflow as tf

from tlnlp_tf.backbones import load_backbone
from tlnlp_tf.backbones import resolve_spec
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
_TABLES = (".csv", ".tsv", ".jsonl")
_LENGTH_SAMPLE = 1000  # documents tokenized to choose max_length
# The masked-LM head is new (random) on top of a pretrained backbone: its own
# weights learn at this multiple of the learning rate (the output projection
# is the pretrained token embedding, at the base rate).
HEAD_MULTIPLIER = 10.0


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
        raise DataError("pretrain_masked_lm: the corpus is empty; expected "
                        "at least one non-blank document.")
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
    masked_lm.compile(optimizer=fine_tuning_adamw(
        learning_rate, total_steps=steps, multipliers={"mlm_head/": HEAD_MULTIPLIER}))
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
        "history": {name: [round(float(v), 6) for v in values]
                    for name, values in history.history.items()},
    }
    return masked_lm, report


def masked_lm_scores(masked_lm, texts, batch_size=32, seed=0):
    """Masked-LM loss (mean over masked tokens) and accuracy on `texts`.

    The masks are drawn from `seed` (this resets TensorFlow's global seed),
    so two models, or one model before and after training, are scored on
    the same masked tokens.

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
    The preset is written to a temporary folder and renamed into place: an
    interrupted save leaves no half-written preset. An existing preset
    folder is replaced; any other non-empty folder is an error.

    Example:

    ```python
    save_pretrained(masked_lm, "minilm-reviews", report)
    backbone, preprocessor = tlnlp_tf.load_backbone("minilm-reviews")
    ```
    """
    folder = os.path.abspath(os.fspath(folder))
    check_output_folder(folder)
    parent = os.path.dirname(folder)
    os.makedirs(parent, exist_ok=True)
    backbone = masked_lm.backbone
    tokenizer = masked_lm.preprocessor.tokenizer
    # The backbone's full length: task models choose their own from their data.
    length = getattr(backbone, "max_sequence_length", None)
    length = length or masked_lm.preprocessor.sequence_length
    classifier_preprocessor = _classifier_preprocessor_class(backbone)(
        tokenizer=tokenizer, sequence_length=length
    )
    tmp = tempfile.mkdtemp(prefix="." + os.path.basename(folder) + ".", dir=parent)
    try:
        backbone.save_to_preset(tmp)
        classifier_preprocessor.save_to_preset(tmp)  # writes the tokenizer too
        _copy_pooling(report, tmp)
        if report is not None:
            with open(os.path.join(tmp, REPORT_FILE), "w", encoding="utf-8") as file:
                json.dump(report, file, indent=2, ensure_ascii=False)
                file.write("\n")
        os.chmod(tmp, 0o777 & ~_umask())  # mkdtemp makes 0700
        old = None
        if os.path.isdir(folder):
            old = tempfile.mkdtemp(prefix="." + os.path.basename(folder) + ".old.",
                                   dir=parent)
            os.replace(folder, os.path.join(old, "preset"))
        os.replace(tmp, folder)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    finally:
        if os.path.isdir(tmp):
            shutil.rmtree(tmp, ignore_errors=True)
    return folder


def check_output_folder(folder):
    """Refuse an output folder that exists, is not empty and is not a preset."""
    folder = os.fspath(folder)
    if os.path.exists(folder) and not os.path.isdir(folder):
        raise DataError(f"{folder}: exists and is not a folder; choose another output.")
    if (os.path.isdir(folder) and os.listdir(folder)
            and not os.path.isfile(os.path.join(folder, "config.json"))):
        raise DataError(
            f"{folder}: exists, is not empty and is not a preset folder; choose a "
            "new output folder (a preset folder written before is replaced)."
        )


# === helpers ===

def _empty(path):
    return (f"{path}: the pretraining corpus is empty; expected at least one "
            "non-blank document (one per line, or one per row of the text column).")


def _check_options(epochs, batch_size, max_length, mask_rate, validation_fraction):
    for name, value in (("epochs", epochs), ("batch_size", batch_size)):
        if not isinstance(value, int) or value <= 0:
            raise PolicyError(f"{name} must be a positive integer, got {value!r}.")
    if max_length is not None and (not isinstance(max_length, int) or max_length < 3):
        raise PolicyError(
            f"max_length must be an integer >= 3 or None, got {max_length!r}.")
    if not 0.0 < mask_rate < 1.0:
        raise PolicyError(f"mask_rate must be between 0 and 1, got {mask_rate!r}.")
    if not 0.0 <= validation_fraction < 1.0:
        raise PolicyError(
            f"validation_fraction must be in [0, 1), got {validation_fraction!r}.")


def _split(texts, fraction, seed):
    """A seeded split into (train, held_out); at least one held out when asked."""
    order = np.random.default_rng(seed).permutation(len(texts))
    held = int(round(len(texts) * fraction))
    if fraction > 0 and held == 0 and len(texts) >= 2:
        held = 1
    if len(texts) - held < 1:
        raise DataError(
            f"The corpus has {len(texts)} document(s): too few to hold out "
            f"{fraction:.0%} and train on the rest.")
    return ([texts[i] for i in order[held:]], [texts[i] for i in order[:held]])


def _masked_lm_class(backbone):
    return _task_class(backbone, keras_hub.models.MaskedLM, "masked-LM task")


def _classifier_preprocessor_class(backbone):
    return _task_class(backbone, keras_hub.models.TextClassifierPreprocessor,
                       "text-classifier preprocessor")


def _task_class(backbone, base, what):
    """The keras-hub subclass of `base` made for this backbone's class."""
    for name in dir(keras_hub.models):
        candidate = getattr(keras_hub.models, name)
        if (isinstance(candidate, type) and issubclass(candidate, base)
                and candidate is not base
                and getattr(candidate, "backbone_cls", None) is type(backbone)):
            return candidate
    raise BackboneError(
        f"keras-hub has no {what} for {type(backbone).__name__}; masked-LM "
        "pretraining needs an encoder such as BERT, RoBERTa, DistilBERT, ALBERT "
        "or DeBERTa-v3.")


def _masked_batches(preprocessor, texts, batch_size, seed):
    """Masked batches drawn once, kept in memory, scored the same every time."""
    if not texts:
        return []
    tf.random.set_seed(seed)
    data = tf.data.Dataset.from_tensor_slices(texts).batch(batch_size)
    return [preprocessor(batch) for batch in data]


def _scores(masked_lm, batches):
    """Mean cross-entropy and accuracy over the masked tokens of `batches`."""
    if not batches:
        return {"loss": None, "accuracy": None}
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
        return {"loss": None, "accuracy": None}
    return {"loss": round(total_loss / total_weight, 6),
            "accuracy": round(total_correct / total_weight, 6)}


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


def _umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask
