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

The folder is the masked-LM task saved the keras-hub way (`task.json`,
`task.weights.h5`: `keras_hub.models.MaskedLM.from_preset(folder)` reloads
it): `load_masked_lm` puts that head back on the folder's backbone, or on a
fine-tuned copy of it, which is what the masked-LM forgetting probe
(`tlnlp_tf.probes.masked_lm_probe`) scores (`tlnlp_tf.pretraining.masked_lm_head`).

Reading a corpus (`corpus.py`), a new vocabulary and backbone to pretrain
from scratch (`vocabulary.py`) and the saved head (`masked_lm_head.py`) have
their own files.
"""

import json
import math
import os
import random
import time
import warnings

import keras
import keras_hub
import numpy as np
import tensorflow as tf

from tlnlp_tf.backbones.loading import load_backbone
from tlnlp_tf.data.lengths import choose_sequence_length
from tlnlp_tf.errors import BackboneError
from tlnlp_tf.errors import DataError
from tlnlp_tf.errors import PolicyError
from tlnlp_tf.pretraining.folders import check_output_folder
from tlnlp_tf.pretraining.folders import copy_pooling
from tlnlp_tf.pretraining.folders import write_folder
from tlnlp_tf.progress import progress
from tlnlp_tf.training import fine_tuning_adamw
from tlnlp_tf.training.eager_build import build_optimizer

REPORT_FILE = "pretrain.json"
# keras-hub's file of a task's own weights (the masked-LM head), beside
# its `task.json`, in the folders `save_pretrained` writes.
HEAD_FILE = "task.weights.h5"
_LENGTH_SAMPLE = 1000  # documents tokenized to choose max_length
# The masked-LM head is new (random) on top of a pretrained backbone: its own
# weights learn at this multiple of the learning rate (the output projection
# is the pretrained token embedding, at the base rate).
HEAD_MULTIPLIER = 10.0


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
    masked_lm = _new_masked_lm(backbone, tokenizer, max_length, mask_rate)
    preprocessor = masked_lm.preprocessor

    steps = math.ceil(len(train) / batch_size) * epochs
    head = {path: HEAD_MULTIPLIER for path in _head_variables(masked_lm)}
    masked_lm.compile(
        optimizer=fine_tuning_adamw(learning_rate, total_steps=steps, multipliers=head)
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
        build_optimizer(masked_lm)  # traced once, not twice
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
    """Save `masked_lm` as a keras-hub preset folder: task, backbone and tokenizer.

    The masked-LM task is saved the keras-hub way (`masked_lm.save_to_preset`):
    `task.json` (the task and its masking preprocessor) and `task.weights.h5`
    (the head's own weights; for BERT its dense layer, layer norm and output
    bias: the output projection is the backbone's token embedding), beside
    the backbone (`config.json`, `model.weights.h5`) and the tokenizer. So
    `keras_hub.models.MaskedLM.from_preset(folder)` reloads the whole task,
    and `load_masked_lm` puts its head on another backbone. The folder's
    `preprocessor.json` is a text-classifier preprocessor at the backbone's
    full length, so that `load_backbone(folder)` and every `--backbone
    folder` accept it. `report` (if given) is written beside them as
    `pretrain.json` (its `"masked_lm_head"` names the task and its weights),
    and the pooling config (`1_Pooling/`) of the sentence-transformer folder
    named by `report["backbone"]`, if any, is kept.
    The preset is written to a temporary folder and renamed into place: an
    interrupted save leaves no half-written preset. An existing preset
    folder is replaced; any other non-empty folder is an error.

    Example:

    ```python
    save_pretrained(masked_lm, "minilm-reviews", report)
    backbone, preprocessor = tlnlp_tf.load_backbone("minilm-reviews")
    masked_lm = keras_hub.models.MaskedLM.from_preset("minilm-reviews")
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
    if report is not None:
        report = {
            **report,
            "masked_lm_head": {
                "file": HEAD_FILE,
                "task": type(masked_lm).__name__,
                "weights": sorted(_head_variables(masked_lm)),
            },
        }

    task = _without_optimizer(masked_lm)

    def write(tmp):
        task.save_to_preset(tmp)  # task.json, task.weights.h5, backbone
        # preprocessor.json: the text-classifier preprocessor that task models
        # load; the masked-LM preprocessor is saved inside task.json.
        classifier_preprocessor.save_to_preset(tmp)
        copy_pooling(report, tmp)
        if report is not None:
            with open(os.path.join(tmp, REPORT_FILE), "w", encoding="utf-8") as file:
                json.dump(report, file, indent=2, ensure_ascii=False)
                file.write("\n")

    return write_folder(folder, write)


# === helpers ===


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


def _new_masked_lm(backbone, tokenizer, max_length, mask_rate):
    """A keras-hub masked-LM task on `backbone`, masking `mask_rate` of
    `max_length` tokens (checked against the backbone's positions)."""
    limit = int(getattr(backbone, "max_sequence_length", 512) or 512)
    if max_length > limit:
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
    return task_class(backbone=backbone, preprocessor=preprocessor)


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
    label = f"Scoring the masked-LM loss on {len(batches)} batches"
    for x, y, weight in progress(batches, label, unit="batch"):
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


def _without_optimizer(masked_lm):
    """The same task, uncompiled: its saved task weights hold no optimizer state.

    keras-hub's `save_task_weights` saves everything outside the backbone,
    the optimizer's moments of every weight included. The twin shares the
    backbone and preprocessor and holds a copy of the head's weights.
    """
    if masked_lm.optimizer is None:
        return masked_lm
    state = random.getstate()  # the unused initializers draw from Python's RNG
    try:
        twin = type(masked_lm)(
            backbone=masked_lm.backbone, preprocessor=masked_lm.preprocessor
        )
    finally:
        random.setstate(state)
    source = _head_variables(masked_lm)
    for path, variable in _head_variables(twin).items():
        variable.assign(source[path])
    return twin
