"""A Transformer decoder's weights from a BERT-family encoder checkpoint.

Rothe, Narayan & Severyn (TACL 2020) initialise both halves of a
sequence-to-sequence Transformer from an encoder checkpoint such as BERT;
the decoder is `tlnlp_tf.backbones.bert_decoder.BertDecoder`.
`warm_start(decoder, encoder)` copies the checkpoint into it, layer by
layer, matched by attribute (never by position in a flat list), shapes
checked:

| decoder (`decoder_layer_i`)          | from the encoder (`transformer_layer_i`) |
|--------------------------------------|------------------------------------------|
| `token_embedding`                    | `token_embedding` (unless a new vocabulary) |
| `position_embedding`, `segment_embedding`, `embeddings_layer_norm` | the same |
| `_self_attention_layer.{_query,_key,_value,_output}_dense` | the same |
| `_self_attention_layer_norm`         | `_self_attention_layer_norm`             |
| `_feedforward_{intermediate,output}_dense`, `_feedforward_layer_norm` | the same |
| `_cross_attention_layer`, `_cross_attention_layer_norm` | nothing: new, random |

`share_layers(decoder, encoder)` makes the decoder use the encoder's very
layers for the same parts instead (one set of variables, the paper's
`BERT2BERT` with shared weights).

```python
from tlnlp_tf.backbones.bert_decoder import BertDecoder
encoder, _ = tl.load_backbone("minilm")
decoder = BertDecoder.from_encoder(encoder)
report = warm_start(decoder, encoder)
len(report["copied"]), len(report["new"])  # copied variables, new ones
```
"""

import keras
import numpy as np

from tlnlp_tf.backbones.freezing import LORA_FACTORS
from tlnlp_tf.errors import BackboneError

# The parts of a `TransformerDecoder` block taken from a `TransformerEncoder`
# block, by attribute: both keras-hub layers use these names.
ATTENTION_PARTS = ("_query_dense", "_key_dense", "_value_dense", "_output_dense")
BLOCK_PARTS = (
    "_self_attention_layer_norm",
    "_feedforward_intermediate_dense",
    "_feedforward_output_dense",
    "_feedforward_layer_norm",
)
# The parts of a decoder block no encoder checkpoint has: they start random.
CROSS_ATTENTION_PARTS = ("_cross_attention_layer", "_cross_attention_layer_norm")
EMBEDDING_PARTS = (
    "token_embedding",
    "position_embedding",
    "segment_embedding",
    "embeddings_layer_norm",
)


def encoder_parts(encoder):
    """`{part: layer}` of a BERT-family encoder: embeddings and transformer layers.

    Works for keras-hub's BERT, ELECTRA (without an embedding projection),
    DistilBERT and RoBERTa backbones: `token_embedding`, `position_embedding`,
    `segment_embedding` (or `None`), `embeddings_layer_norm` and
    `transformer_layers` (post-LayerNorm `TransformerEncoder` blocks).

    Example:

    ```python
    encoder, _ = tl.load_backbone("minilm")
    encoder_parts(encoder)["transformer_layers"][0].name  # "transformer_layer_0"
    ```
    """
    name = type(encoder).__name__
    layers = list(getattr(encoder, "transformer_layers", None) or [])
    embeddings = getattr(encoder, "embeddings", None)
    position = getattr(encoder, "position_embedding", None) or getattr(
        embeddings, "position_embedding", None
    )
    parts = {
        "token_embedding": getattr(encoder, "token_embedding", None),
        "position_embedding": position,
        "segment_embedding": getattr(encoder, "segment_embedding", None),
        "embeddings_layer_norm": getattr(encoder, "embeddings_layer_norm", None),
        "transformer_layers": layers,
    }
    missing = [
        part
        for part, layer in parts.items()
        if not layer and part != "segment_embedding"
    ]
    if missing or getattr(encoder, "embeddings_projection", None) is not None:
        raise BackboneError(
            f"Backbone {name} is not a BERT-family encoder this decoder can be "
            f"warm-started from (missing: {', '.join(missing) or 'none'}; an "
            "embedding projection is not supported): expected keras-hub's BERT, "
            "DistilBERT, RoBERTa or ELECTRA layout (token_embedding, "
            "position_embedding, embeddings_layer_norm, transformer_layers)."
        )
    for layer in layers:
        if getattr(layer, "normalize_first", False) or not hasattr(
            layer, "_self_attention_layer"
        ):
            raise BackboneError(
                f"Backbone {name}: layer {layer.name} is not a post-LayerNorm "
                "keras_hub.layers.TransformerEncoder; expected BERT's layout."
            )
    return parts


def layer_pairs(decoder, encoder, vocabulary=True):
    """`[(decoder layer, encoder layer)]`: what a warm start takes from where.

    `vocabulary=False` (a new target vocabulary) leaves out the token
    embedding. Raises `BackboneError` when the two differ in depth or shape.

    Example:

    ```python
    from tlnlp_tf.backbones.bert_decoder import BertDecoder
    encoder, _ = tl.load_backbone("minilm")
    decoder = BertDecoder.from_encoder(encoder)
    [(d.name, e.name) for d, e in layer_pairs(decoder, encoder)][:2]
    # [("token_embedding", "token_embedding"), ("position_embedding", …)]
    ```
    """
    parts = encoder_parts(encoder)
    if len(parts["transformer_layers"]) != len(decoder.transformer_layers):
        raise BackboneError(
            f"The decoder has {len(decoder.transformer_layers)} layers and the "
            f"encoder {len(parts['transformer_layers'])}: a warm start maps layer "
            "i to layer i; build the decoder with BertDecoder.from_encoder(encoder)."
        )
    pairs = []
    for part in EMBEDDING_PARTS:
        if part == "token_embedding" and not vocabulary:
            continue
        target, source = getattr(decoder, part), parts[part]
        if target is not None and source is not None:
            pairs.append((target, source))
    for target, source in zip(decoder.transformer_layers, parts["transformer_layers"]):
        for part in ATTENTION_PARTS:
            pairs.append(
                (
                    getattr(target._self_attention_layer, part),
                    getattr(source._self_attention_layer, part),
                )
            )
        for part in BLOCK_PARTS:
            pairs.append((getattr(target, part), getattr(source, part)))
    return pairs


def warm_start(decoder, encoder, vocabulary=True):
    """Copy the encoder checkpoint into `decoder`; report what was copied.

    Every pair of `layer_pairs` is copied variable by variable, matched by
    name within the layer (`kernel`, `bias`, `gamma`, `beta`,
    `embeddings`), shapes checked. An untied output projection
    (`tie_weights=False`) starts as the transpose of the token embedding.

    Returns:
        `{"copied": {decoder variable path: encoder variable path}, "new":
        [decoder variable paths left random]}` (the cross-attention, and
        the token embedding when `vocabulary=False`).

    Example:

    ```python
    from tlnlp_tf.backbones.bert_decoder import BertDecoder
    encoder, _ = tl.load_backbone("minilm")
    decoder = BertDecoder.from_encoder(encoder)
    report = warm_start(decoder, encoder)
    all("cross_attention" in path for path in report["new"])  # True
    ```
    """
    copied = {}
    for target, source in layer_pairs(decoder, encoder, vocabulary):
        copied.update(_copy_layer(target, source))
    new = [w.path for w in decoder.weights if w.path not in copied]
    return {"copied": copied, "new": new}


def share_layers(decoder, encoder, vocabulary=True):
    """Make `decoder` use the encoder's own layers for every warm-started part.

    The decoder then holds the same variables as the encoder (one copy,
    trained by both); its cross-attention stays its own. With
    `vocabulary=False` the token embedding stays the decoder's own too.
    Returns the report of `warm_start`, under `"shared"` instead of
    `"copied"`.

    Example:

    ```python
    from tlnlp_tf.backbones.bert_decoder import BertDecoder
    encoder, _ = tl.load_backbone("minilm")
    decoder = BertDecoder.from_encoder(encoder)
    report = share_layers(decoder, encoder)
    decoder.position_embedding is encoder.position_embedding  # True
    ```
    """
    if vocabulary and not decoder.tie_weights:
        raise BackboneError(
            "share_layers: a decoder sharing the encoder's token embedding ties "
            "its output projection to it, as the encoder's is; build it with "
            "tie_weights=True (or use a new target vocabulary)."
        )
    shared = {}
    for target, source in layer_pairs(decoder, encoder, vocabulary):
        _check_shapes(target, source)
        shared.update(_variable_names(target, source))
    for part in EMBEDDING_PARTS:
        if part == "token_embedding" and not vocabulary:
            continue
        source = encoder_parts(encoder)[part]
        if source is not None and getattr(decoder, part) is not None:
            _replace_layer(decoder, part, source)
    layers = encoder_parts(encoder)["transformer_layers"]
    for target, source in zip(decoder.transformer_layers, layers):
        for part in ATTENTION_PARTS:
            _replace_layer(
                target._self_attention_layer,
                part,
                getattr(source._self_attention_layer, part),
            )
        for part in BLOCK_PARTS:
            _replace_layer(target, part, getattr(source, part))
    own = {id(w) for w in encoder.weights}
    new = [w.path for w in decoder.weights if id(w) not in own]
    return {"shared": shared, "new": new}


def _replace_layer(owner, attribute, layer):
    """Set `owner.attribute = layer` on a built layer, keeping Keras's tracking.

    Keras locks a built layer's sub-layer list (new state is refused); the
    replaced sub-layer takes the old one's place in it, so `weights`,
    `layers` and `.keras` saving see the new one, in the same order.
    """
    old = getattr(owner, attribute)
    if old is layer:
        return
    owner._tracker.replace_tracked_value("layers", old, layer)
    object.__setattr__(owner, attribute, layer)


def _own_variables(layer):
    return {w.name: w for w in layer.weights if w.name not in LORA_FACTORS}


def _check_shapes(target, source):
    sources = _own_variables(source)
    for name, weight in _own_variables(target).items():
        if name == "reverse_embeddings" and name not in sources:
            continue
        found = sources.get(name)
        if found is None or tuple(found.shape) != tuple(weight.shape):
            raise BackboneError(
                f"Warm start: decoder weight {weight.path} {tuple(weight.shape)} "
                f"has no match in encoder layer {source.name} (found "
                f"{None if found is None else tuple(found.shape)}); expected the "
                "same architecture (BertDecoder.from_encoder)."
            )


def _variable_names(target, source):
    sources = _own_variables(source)
    names = {}
    for name, weight in _own_variables(target).items():
        if name == "reverse_embeddings" and name not in sources:
            names[weight.path] = sources["embeddings"].path + " (transposed)"
        else:
            names[weight.path] = sources[name].path
    return names


def _copy_layer(target, source):
    _check_shapes(target, source)
    sources = _own_variables(source)
    for name, weight in _own_variables(target).items():
        if name == "reverse_embeddings" and name not in sources:
            value = np.transpose(keras.ops.convert_to_numpy(sources["embeddings"]))
        else:
            value = keras.ops.convert_to_numpy(sources[name])
        weight.assign(value)
    return _variable_names(target, source)
