"""The masked-LM head of a pretrained folder, put back on a backbone.

`save_pretrained` saves the masked-LM task the keras-hub way:
`task.json` (the task, with its masking preprocessor) and `task.weights.h5`
(the head's own weights) beside the backbone and tokenizer, so that
`keras_hub.models.MaskedLM.from_preset(folder)` reloads it whole.
`load_masked_lm(folder, backbone)` builds the same task around another
backbone (e.g. a model fine-tuned from the folder) and loads the head with
keras-hub's `Task.load_task_weights`; that is what the masked-LM forgetting
probe scores. Folders written before (`masked_lm_head.weights.h5`, a format
of our own) are still read.

Example:

```python
masked_lm = load_masked_lm("minilm-reviews")                 # the folder's backbone
tuned = load_masked_lm("minilm-reviews", model.backbone)     # after model.fit
folder, batches = head_masked_batches("minilm-reviews", texts)
score_masked_batches(tuned, batches)  # {"loss", "accuracy", "masked_tokens"}
```
"""

import json
import os
import random

import keras_hub
import numpy as np

from tlnlp_tf.backbones.loading import load_backbone
from tlnlp_tf.backbones.loading import resolve_spec
from tlnlp_tf.errors import BackboneError
from tlnlp_tf.pretraining.masked_lm import HEAD_FILE
from tlnlp_tf.pretraining.masked_lm import _head_variables
from tlnlp_tf.pretraining.masked_lm import _masked_batches
from tlnlp_tf.pretraining.masked_lm import _masked_lm_class
from tlnlp_tf.pretraining.masked_lm import _scores

TASK_CONFIG = "task.json"
# The format of folders written before the head was saved the keras-hub way:
# the head's weights by variable path, the task and masking config as attributes.
LEGACY_HEAD_FILE = "masked_lm_head.weights.h5"
# The masked-LM preprocessor's options that the saved head was trained with.
MASKING_OPTIONS = (
    "sequence_length",
    "truncate",
    "mask_selection_rate",
    "mask_selection_length",
    "mask_token_rate",
    "random_token_rate",
)
_HINT = (
    "The masked-LM forgetting probe needs a source pretrained with `tlnlp "
    "pretrain` (or saved by tlnlp_tf.pretraining.save_pretrained), whose "
    "folder keeps the masked-LM head; sentence-embedding sources such as "
    "minilm have none: use the sentence-similarity probe for them "
    "(ForgettingReport, --forgetting-probe sts)."
)


def load_masked_lm(folder, backbone=None):
    """The masked-LM task of a folder written by `save_pretrained`, around `backbone`.

    The head is the one saved in the folder; the backbone is `backbone` when
    given, e.g. `model.backbone` of a task model fine-tuned from the folder
    (used as is, not copied: the output projection is its token embedding),
    else the folder's own. The preprocessor is the masked-LM preprocessor of
    pretraining (the same sequence length and masking rates), on the
    folder's tokenizer.

    Raises:
        BackboneError: the folder has no saved head (it was not written by
            `tlnlp pretrain` / `save_pretrained`: sentence-embedding sources
            such as `"minilm"` have none), or the head does not fit
            `backbone` (another architecture or vocabulary).

    Example:

    ```python
    masked_lm = load_masked_lm("minilm-reviews")
    model = tl.TextClassifier.from_backbone("minilm-reviews", labels=["neg", "pos"])
    # ... model.fit on the task's data ...
    tuned = load_masked_lm("minilm-reviews", model.backbone)
    tl.pretraining.masked_lm_scores(tuned, texts)  # {"loss", "accuracy", ...}
    ```
    """
    folder, kind = find_head(folder)
    if kind == "legacy":
        return _load_legacy(folder, backbone)
    config = _task_config(folder)
    if backbone is None:
        with _python_random_kept():
            return keras_hub.models.MaskedLM.from_preset(folder)
    task_class = _masked_lm_class(backbone)
    _check_task(folder, config["class_name"], task_class)
    preprocessor = _preprocessor(folder, task_class, config["options"])
    with _python_random_kept():
        masked_lm = task_class(backbone=backbone, preprocessor=preprocessor)
    path = os.path.join(folder, HEAD_FILE)
    try:
        masked_lm.load_task_weights(path)
    except ValueError as error:
        raise BackboneError(
            f"{path}: the saved head does not fit this {type(backbone).__name__} "
            f"({error}); pass the backbone of a model built from {folder}."
        ) from None
    return masked_lm


def head_masked_batches(folder, texts, batch_size=32, seed=0):
    """`(folder, batches)`: `texts` masked once, from `seed`, as the head was trained.

    `folder` is the resolved source folder; score the batches with
    `score_masked_batches` on any backbone the head fits (before and after
    fine-tuning: the same masked tokens).

    Example:

    ```python
    folder, batches = head_masked_batches("minilm-reviews", held_out_texts)
    masked_lm = tl.pretraining.load_masked_lm("minilm-reviews")
    score_masked_batches(masked_lm, batches)  # {"loss", "accuracy", "masked_tokens"}
    ```
    """
    folder, kind = find_head(folder)
    if kind == "legacy":
        path, _, config = read_head(folder)
        preprocessor = _legacy_preprocessor(folder, path, config)
    else:
        config = _task_config(folder)
        task_class = _named_task_class(folder, config["class_name"])
        preprocessor = _preprocessor(folder, task_class, config["options"])
    return folder, _masked_batches(preprocessor, list(texts), batch_size, seed)


def score_masked_batches(masked_lm, batches):
    """`{"loss", "accuracy", "masked_tokens"}` of `masked_lm` on batches of a head.

    Example:

    ```python
    _, batches = head_masked_batches("minilm-reviews", held_out_texts)
    model = tl.TextClassifier.from_backbone("minilm-reviews", num_classes=2)
    tuned = tl.pretraining.load_masked_lm("minilm-reviews", model.backbone)
    score_masked_batches(tuned, batches)["loss"]  # before fine-tuning: as the source
    ```
    """
    return _scores(masked_lm, batches)


def find_head(spec):
    """`(folder, kind)` of a source's saved masked-LM head.

    `kind` is `"keras-hub"` (`task.json` of a keras-hub `MaskedLM` and
    `task.weights.h5`) or `"legacy"` (`masked_lm_head.weights.h5`). Raises
    `BackboneError`, naming the folder, when it has neither.

    Example:

    ```python
    folder, kind = find_head("minilm-reviews")  # kind "keras-hub": save_pretrained's
    ```
    """
    if not isinstance(spec, (str, os.PathLike)):
        raise BackboneError(
            f"The masked-LM head is read from a preset folder; got "
            f"{type(spec).__name__}."
        )
    spec = os.fspath(spec)
    try:
        source = resolve_spec(spec) if not os.path.isdir(spec) else spec
    except BackboneError:
        source = spec
    if not os.path.isdir(source):
        raise BackboneError(
            f"'{spec}' is not a local folder, so it has no saved masked-LM head "
            f"({TASK_CONFIG} and {HEAD_FILE} of a keras-hub MaskedLM). {_HINT}"
        )
    folder = os.path.abspath(source)
    if os.path.isfile(os.path.join(folder, HEAD_FILE)) and _is_masked_lm_task(folder):
        return folder, "keras-hub"
    if os.path.isfile(os.path.join(folder, LEGACY_HEAD_FILE)):
        return folder, "legacy"
    named = (
        source
        if os.path.abspath(source) == os.path.abspath(spec)
        else (f"'{spec}' ({source})")
    )
    raise BackboneError(
        f"{named}: no saved masked-LM head ({TASK_CONFIG} and {HEAD_FILE} of a "
        f"keras-hub MaskedLM). {_HINT}"
    )


def read_head(folder):
    """`(path, {variable path: array}, config)` of a folder's legacy head file.

    Folders written before the masked-LM task was saved the keras-hub way
    hold `masked_lm_head.weights.h5`. Raises `BackboneError`, naming the
    folder, when it has none.

    Example:

    ```python
    try:
        read_head("minilm-reviews")  # written by save_pretrained: not legacy
    except tl.BackboneError as error:
        print(error)  # ... its head is saved the keras-hub way ...: use load_masked_lm.
    ```
    """
    folder, kind = find_head(folder)
    path = os.path.join(folder, LEGACY_HEAD_FILE)
    if kind != "legacy":
        raise BackboneError(
            f"{folder}: no {LEGACY_HEAD_FILE}; its head is saved the keras-hub way "
            f"({TASK_CONFIG}, {HEAD_FILE}): use load_masked_lm."
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


# === helpers ===


class _python_random_kept:
    """Keep Python's `random` state: unused initializers draw from it."""

    def __enter__(self):
        self.state = random.getstate()

    def __exit__(self, *exc):
        random.setstate(self.state)


def _is_masked_lm_task(folder):
    try:
        with open(os.path.join(folder, TASK_CONFIG), encoding="utf-8") as file:
            name = json.load(file).get("class_name", "")
    except (OSError, ValueError, AttributeError):
        return False
    task_class = getattr(keras_hub.models, str(name), None)
    return isinstance(task_class, type) and issubclass(
        task_class, keras_hub.models.MaskedLM
    )


def _task_config(folder):
    """`{"class_name", "options"}` of the folder's `task.json`."""
    path = os.path.join(folder, TASK_CONFIG)
    with open(path, encoding="utf-8") as file:
        config = json.load(file)
    preprocessor = (config.get("config", {}).get("preprocessor") or {}).get(
        "config", {}
    )
    options = {k: preprocessor[k] for k in MASKING_OPTIONS if k in preprocessor}
    return {"class_name": config["class_name"], "options": options}


def _named_task_class(folder, name):
    task_class = getattr(keras_hub.models, str(name), None)
    if not (
        isinstance(task_class, type)
        and issubclass(task_class, keras_hub.models.MaskedLM)
    ):
        raise BackboneError(
            f"{os.path.join(folder, TASK_CONFIG)}: keras-hub has no masked-LM task "
            f"{name!r}; save the folder again."
        )
    return task_class


def _check_task(folder, saved, task_class):
    if task_class.__name__ != saved:
        raise BackboneError(
            f"{os.path.join(folder, TASK_CONFIG)}: the head of a {saved} does not "
            f"fit a {task_class.backbone_cls.__name__} (whose masked-LM task is "
            f"{task_class.__name__}); pass the backbone of a model built from {folder}."
        )


def _preprocessor(folder, task_class, options):
    """The task's masked-LM preprocessor with `options`, on the folder's tokenizer."""
    tokenizer = _folder_tokenizer(folder)
    return task_class.preprocessor_cls(tokenizer=tokenizer, **options)


def _folder_tokenizer(folder):
    try:
        return keras_hub.models.TextClassifierPreprocessor.from_preset(folder).tokenizer
    except (OSError, ValueError) as error:
        raise BackboneError(
            f"{folder}: could not load its tokenizer: {error}"
        ) from None


# === the legacy format (masked_lm_head.weights.h5) ===


def _load_legacy(folder, backbone):
    path, head_weights, config = read_head(folder)
    if backbone is None:
        backbone, _ = load_backbone(folder)
    task_class = _masked_lm_class(backbone)
    if task_class.__name__ != config.get("task"):
        raise BackboneError(
            f"{path}: the head of a {config.get('task')} does not fit a "
            f"{type(backbone).__name__} (whose masked-LM task is "
            f"{task_class.__name__}); pass the backbone of a model built from {folder}."
        )
    preprocessor = _legacy_preprocessor(folder, path, config)
    with _python_random_kept():
        masked_lm = task_class(backbone=backbone, preprocessor=preprocessor)
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


def _legacy_preprocessor(folder, path, config):
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
        if key in MASKING_OPTIONS
    }
    return _preprocessor(folder, task_class, options)
