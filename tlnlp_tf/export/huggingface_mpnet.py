"""The MPNet half of `export_huggingface`: Hugging Face `MPNetModel` names and config.

The inverse of `tlnlp_tf.backbones.mpnet_checkpoint`: an `MPNetBackbone`'s
weights under the names and PyTorch layouts of Hugging Face's MPNet
(`encoder.layer.0.attention.attn.q.weight`, `[out, in]`; the relative
position table `encoder.relative_attention_bias.weight`), its
`config.json` (`model_type: "mpnet"`), and the settings of its
`MPNetTokenizer` (lowercase WordPiece with `<s>`, `</s>`, `<pad>`, `<mask>`).
A folder loaded with `tl.load_backbone` and exported again holds the same
tensors it started with.

Example:

```python
backbone, preprocessor = tl.load_backbone("all-mpnet-base-v2")
tensors = mpnet_tensors(backbone, np.asarray)
tensors["encoder.layer.0.attention.attn.q.weight"].shape  # (768, 768)
```
"""

import numpy as np

from tlnlp_tf.errors import BackboneError

# Hugging Face's MPNet computes its relative buckets with this distance.
HF_MAX_DISTANCE = 128


def mpnet_tensors(backbone, array):
    """`{Hugging Face name: float32 array}` of an `MPNetBackbone`, names unprefixed.

    `array` turns a Keras variable into a float32 numpy array (the exporter's
    own, which refuses quantized weights). Keras attention kernels are
    `[in, heads, head_dim]` (the output one `[heads, head_dim, out]`),
    PyTorch `Linear` weights `[out, in]`.

    ```python
    backbone, _ = tl.load_backbone("all-mpnet-base-v2")
    mpnet_tensors(backbone, np.asarray)["pooler.dense.weight"].shape  # (768, 768)
    ```
    """
    if backbone.max_distance != HF_MAX_DISTANCE:
        raise BackboneError(
            f"export_huggingface: this MPNetBackbone buckets relative positions "
            f"up to {backbone.max_distance}; Hugging Face's MPNet always uses "
            f"{HF_MAX_DISTANCE}, so it would attend differently."
        )

    def dense(name, layer):
        return {
            f"{name}.weight": array(layer.kernel).T,
            f"{name}.bias": array(layer.bias),
        }

    def norm(name, layer):
        return {f"{name}.weight": array(layer.gamma), f"{name}.bias": array(layer.beta)}

    tensors = {
        "embeddings.word_embeddings.weight": array(backbone.token_embedding.embeddings),
        "embeddings.position_embeddings.weight": array(
            backbone.position_embedding.embeddings.embeddings
        ),
        "encoder.relative_attention_bias.weight": array(
            backbone.relative_position_bias.embeddings.embeddings
        ),
        **norm("embeddings.LayerNorm", backbone.embeddings_layer_norm),
        **dense("pooler.dense", backbone.pooled_dense),
    }
    for index, layer in enumerate(backbone.transformer_layers):
        name = f"encoder.layer.{index}"
        attention = layer.self_attention
        for part, projection in (
            ("q", attention._query_dense),
            ("k", attention._key_dense),
            ("v", attention._value_dense),
        ):
            kernel = array(projection.kernel)  # [in, heads, head_dim]
            tensors[f"{name}.attention.attn.{part}.weight"] = kernel.reshape(
                kernel.shape[0], -1
            ).T
            tensors[f"{name}.attention.attn.{part}.bias"] = array(
                projection.bias
            ).reshape(-1)
        kernel = array(attention._output_dense.kernel)  # [heads, head_dim, out]
        tensors[f"{name}.attention.attn.o.weight"] = kernel.reshape(
            -1, kernel.shape[-1]
        ).T
        tensors[f"{name}.attention.attn.o.bias"] = array(attention._output_dense.bias)
        tensors.update(
            norm(f"{name}.attention.LayerNorm", layer.self_attention_layer_norm)
        )
        tensors.update(dense(f"{name}.intermediate.dense", layer.intermediate_dense))
        tensors.update(dense(f"{name}.output.dense", layer.output_dense))
        tensors.update(norm(f"{name}.output.LayerNorm", layer.output_layer_norm))
    return {name: np.ascontiguousarray(value) for name, value in tensors.items()}


def mpnet_config(backbone):
    """Hugging Face's `config.json` fields for an `MPNetBackbone`.

    ```python
    backbone, _ = tl.load_backbone("all-mpnet-base-v2")
    mpnet_config(backbone)["max_position_embeddings"]  # 514
    ```
    """
    attention = backbone.transformer_layers[0].self_attention
    return {
        "architectures": None,  # set by the caller
        "model_type": "mpnet",
        "vocab_size": int(backbone.vocabulary_size),
        "hidden_size": int(backbone.hidden_dim),
        "num_hidden_layers": int(backbone.num_layers),
        "num_attention_heads": int(backbone.num_heads),
        "intermediate_size": int(backbone.intermediate_dim),
        "hidden_act": "gelu",
        "hidden_dropout_prob": float(backbone.dropout),
        "attention_probs_dropout_prob": float(attention.dropout),
        "max_position_embeddings": int(
            backbone.max_sequence_length + backbone.padding_index + 1
        ),
        "relative_attention_num_buckets": int(backbone.num_buckets),
        "layer_norm_eps": float(backbone.layer_norm_epsilon),
        "initializer_range": 0.02,
        "pad_token_id": int(backbone.padding_index),
        "bos_token_id": 0,
        "eos_token_id": 2,
        "torch_dtype": "float32",
    }


def mpnet_tokenizer_settings(tokenizer):
    """`(tokenizer_config, special_tokens_map)` of Hugging Face's `MPNetTokenizer`.

    ```python
    _, preprocessor = tl.load_backbone("all-mpnet-base-v2")
    settings, special = mpnet_tokenizer_settings(preprocessor.tokenizer)
    settings["tokenizer_class"]  # "MPNetTokenizer"
    ```
    """
    special = {
        "bos_token": tokenizer.start_token,
        "eos_token": tokenizer.end_token,
        "sep_token": tokenizer.sep_token,
        "cls_token": tokenizer.cls_token,
        "unk_token": str(tokenizer.oov_token),
        "pad_token": tokenizer.pad_token,
        "mask_token": tokenizer.mask_token,
    }
    config = {
        "tokenizer_class": "MPNetTokenizer",
        "do_lower_case": bool(tokenizer.lowercase),
        "strip_accents": bool(tokenizer.strip_accents),
        "tokenize_chinese_chars": bool(tokenizer.split_on_cjk),
        **special,
    }
    return config, special
