"""A Transformer decoder warm-started from a BERT-family encoder checkpoint.

Rothe, Narayan & Severyn (TACL 2020) initialise both halves of a
sequence-to-sequence Transformer from an encoder checkpoint such as BERT.
`BertDecoder` is that decoder: the encoder's embeddings (token, position,
segment, layer norm), then `keras_hub.layers.TransformerDecoder` blocks
(post-LayerNorm, as BERT) with causal self-attention and a cross-attention
on the encoder output, and an output projection tied to the token embedding
(or not: `tie_weights=False`).

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
encoder, _ = tl.load_backbone("minilm")
decoder = BertDecoder.from_encoder(encoder)
report = warm_start(decoder, encoder)
len(report["copied"]), len(report["new"])  # copied variables, new ones
```
"""

import keras
import keras_hub
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


def _bert_initializer():
    return keras.initializers.TruncatedNormal(stddev=0.02)


@keras.saving.register_keras_serializable(package="tlnlp_tf")
class BertDecoder(keras.Model):
    """A BERT-shaped Transformer decoder with cross-attention, cache-ready.

    Token, position and segment-0 embeddings and their layer norm, as BERT
    embeds its input; `num_layers` `keras_hub.layers.TransformerDecoder`
    blocks named `decoder_layer_{i}` (so the freeze policies and LoRA of
    `tlnlp_tf.backbones.freezing` apply); `logits(hidden)` projects onto
    the vocabulary through the token embedding (`tie_weights=True`) or its
    own matrix.

    Called on `{"token_ids", "padding_mask", "encoder_sequence_output",
    "encoder_padding_mask"}` it returns the hidden states of every
    position (causal self-attention). `call_with_cache` runs one step of
    generation with key/value caches (`initial_cache` makes them).

    Args:
        vocabulary_size: the target vocabulary size.
        num_layers, num_heads, hidden_dim, intermediate_dim: as the encoder.
        max_sequence_length: the most decoder positions.
        num_segments: rows of the segment embedding (0: none); the decoder
            adds segment 0's vector, as BERT does for a single text.
        dropout: dropout after the embeddings and inside every block.
        activation: the feed-forward activation (BERT's: approximate GELU).
        layer_norm_epsilon: the epsilon of every layer norm.
        tie_weights: the output projection is the token embedding's transpose.

    Example:

    ```python
    decoder = BertDecoder(vocabulary_size=100, num_layers=2, num_heads=2,
                          hidden_dim=16, intermediate_dim=32)
    hidden = decoder({
        "token_ids": np.array([[2, 7, 9]]),
        "padding_mask": np.array([[1, 1, 1]]),
        "encoder_sequence_output": np.zeros((1, 5, 16), "float32"),
        "encoder_padding_mask": np.array([[1, 1, 1, 1, 0]]),
    })
    decoder.logits(hidden).shape  # (1, 3, 100)
    ```
    """

    def __init__(
        self,
        vocabulary_size,
        num_layers,
        num_heads,
        hidden_dim,
        intermediate_dim,
        max_sequence_length=512,
        num_segments=2,
        dropout=0.1,
        activation="gelu",
        layer_norm_epsilon=1e-12,
        tie_weights=True,
        dtype=None,
        **kwargs,
    ):
        # A subclassed `keras.Model`, not a `keras_hub.models.Backbone`: once a
        # functional backbone is built, Keras turns `Backbone` into a
        # functional class. It offers what freezing and LoRA use of one:
        # numbered layers, `enable_lora`, `default_lora_layer_names`.
        # One name for every decoder: weight paths (`decoder/decoder_layer_0/…`,
        # what LoRA adapter files are keyed by) are the same in every model.
        kwargs.setdefault("name", "decoder")
        super().__init__(dtype=dtype, **kwargs)
        policy = self.dtype_policy
        activation = keras.activations.get(activation)
        # === Layers ===
        self.token_embedding = keras_hub.layers.ReversibleEmbedding(
            vocabulary_size,
            hidden_dim,
            tie_weights=tie_weights,
            embeddings_initializer=_bert_initializer(),
            dtype=policy,
            name="token_embedding",
        )
        self.position_embedding = keras_hub.layers.PositionEmbedding(
            sequence_length=max_sequence_length,
            initializer=_bert_initializer(),
            dtype=policy,
            name="position_embedding",
        )
        self.segment_embedding = None
        if num_segments:
            self.segment_embedding = keras.layers.Embedding(
                num_segments,
                hidden_dim,
                embeddings_initializer=_bert_initializer(),
                dtype=policy,
                name="segment_embedding",
            )
        self.embeddings_layer_norm = keras.layers.LayerNormalization(
            epsilon=layer_norm_epsilon, dtype=policy, name="embeddings_layer_norm"
        )
        self.embeddings_dropout = keras.layers.Dropout(
            dropout, dtype=policy, name="embeddings_dropout"
        )
        self.transformer_layers = []
        for i in range(num_layers):
            self.transformer_layers.append(
                keras_hub.layers.TransformerDecoder(
                    intermediate_dim=intermediate_dim,
                    num_heads=num_heads,
                    dropout=dropout,
                    activation=activation,
                    layer_norm_epsilon=layer_norm_epsilon,
                    kernel_initializer=_bert_initializer(),
                    normalize_first=False,
                    dtype=policy,
                    name=f"decoder_layer_{i}",
                )
            )
        # Every weight exists from construction on: warm starts copy into
        # them, and a `.keras` file loads into them.
        with keras.name_scope(self.name):
            self.token_embedding.build((None, None))
            self.position_embedding.build((None, None, hidden_dim))
            if self.segment_embedding is not None:
                self.segment_embedding.build((None, None))
            self.embeddings_layer_norm.build((None, None, hidden_dim))
            for layer in self.transformer_layers:
                layer.build((None, None, hidden_dim), (None, None, hidden_dim))
        self.built = True

        # === Config ===
        self.vocabulary_size = int(vocabulary_size)
        self.num_layers = int(num_layers)
        self.num_heads = int(num_heads)
        self.hidden_dim = int(hidden_dim)
        self.intermediate_dim = int(intermediate_dim)
        self.max_sequence_length = int(max_sequence_length)
        self.num_segments = int(num_segments)
        self.dropout = float(dropout)
        self.activation = activation
        self.layer_norm_epsilon = float(layer_norm_epsilon)
        self.tie_weights = bool(tie_weights)

    @classmethod
    def from_encoder(cls, encoder, vocabulary_size=None, tie_weights=True):
        """A decoder shaped like `encoder` (random weights; see `warm_start`).

        `vocabulary_size=None` keeps the encoder's vocabulary.

        Example:

        ```python
        encoder, _ = tl.load_backbone("minilm")
        decoder = BertDecoder.from_encoder(encoder, vocabulary_size=8000)
        ```
        """
        parts = encoder_parts(encoder)
        first = parts["transformer_layers"][0]
        segments = parts["segment_embedding"]
        return cls(
            vocabulary_size=vocabulary_size or int(encoder.vocabulary_size),
            num_layers=len(parts["transformer_layers"]),
            num_heads=int(first.num_heads),
            hidden_dim=int(encoder.hidden_dim),
            intermediate_dim=int(first.intermediate_dim),
            max_sequence_length=int(encoder.max_sequence_length),
            num_segments=0 if segments is None else int(segments.input_dim),
            dropout=float(getattr(encoder, "dropout", 0.1)),
            activation=first.activation,
            layer_norm_epsilon=float(first.layer_norm_epsilon),
            tie_weights=tie_weights,
            dtype=encoder.dtype_policy,
        )

    # === Forward passes ===

    def embed(self, token_ids, start_index=0, training=None):
        """Token + position (from `start_index`) + segment-0 embeddings, normed."""
        tokens = self.token_embedding(token_ids)
        x = tokens + self.position_embedding(tokens, start_index=start_index)
        if self.segment_embedding is not None:
            x = x + self.segment_embedding(keras.ops.zeros_like(token_ids))
        x = self.embeddings_layer_norm(x)
        return self.embeddings_dropout(x, training=training)

    def call(self, inputs, training=None):
        x = self.embed(inputs["token_ids"], training=training)
        for layer in self.transformer_layers:
            x = layer(
                x,
                inputs["encoder_sequence_output"],
                decoder_padding_mask=inputs.get("padding_mask"),
                encoder_padding_mask=inputs["encoder_padding_mask"],
                training=training,
            )
        return x

    def logits(self, hidden):
        """Scores over the vocabulary, float32: `hidden @ output_embedding`."""
        return keras.ops.cast(self.token_embedding(hidden, reverse=True), "float32")

    def initial_cache(self, batch_size, target_length, source_length):
        """Zero self- and cross-attention caches for `call_with_cache`.

        Shapes `[batch, layers, 2, target_length | source_length, heads,
        head_dim]` (keys and values of every block).
        """
        head_dim = self.hidden_dim // self.num_heads
        shape = [batch_size, self.num_layers, 2, target_length, self.num_heads]
        self_cache = keras.ops.zeros(shape + [head_dim], dtype=self.compute_dtype)
        shape[3] = source_length
        cross_cache = keras.ops.zeros(shape + [head_dim], dtype=self.compute_dtype)
        return self_cache, cross_cache

    def call_with_cache(
        self,
        token_ids,
        encoder_sequence_output,
        encoder_padding_mask,
        self_attention_cache,
        cross_attention_cache,
        index,
        fill_cross_attention_cache=False,
    ):
        """Decode `token_ids` at positions `index…` against the caches.

        Returns `(hidden, self_attention_cache, cross_attention_cache)`,
        the self-attention cache holding the new keys and values at
        `index`; `fill_cross_attention_cache=True` computes the encoder's
        keys and values (once per input), else they are read from the cache.
        """
        x = self.embed(token_ids, start_index=index, training=False)
        self_caches, cross_caches = [], []
        for i, layer in enumerate(self.transformer_layers):
            x, next_self, next_cross = layer(
                x,
                encoder_sequence_output,
                encoder_padding_mask=encoder_padding_mask,
                self_attention_cache=self_attention_cache[:, i, ...],
                self_attention_cache_update_index=index,
                cross_attention_cache=cross_attention_cache[:, i, ...],
                cross_attention_cache_update_index=(
                    0 if fill_cross_attention_cache else None
                ),
                training=False,
            )
            self_caches.append(next_self)
            cross_caches.append(next_cross)
        self_attention_cache = keras.ops.stack(self_caches, axis=1)
        if fill_cross_attention_cache:
            cross_attention_cache = keras.ops.stack(cross_caches, axis=1)
        return x, self_attention_cache, cross_attention_cache

    # === Freezing and LoRA ===

    def new_layers(self):
        """The cross-attention layers (and their layer norms): no checkpoint has them.

        Example:

        ```python
        decoder = BertDecoder(vocabulary_size=100, num_layers=2, num_heads=2,
                              hidden_dim=16, intermediate_dim=32)
        len(decoder.new_layers())  # 4: attention and layer norm of 2 blocks
        ```
        """
        return [
            getattr(block, part)
            for block in self.transformer_layers
            for part in CROSS_ATTENTION_PARTS
        ]

    def default_lora_layer_names(self):
        """The layers `"lora-R"` puts factors on: the attention query and value."""
        return ["query", "value"]

    def enable_lora(self, rank, target_layer_names=None):
        """LoRA on the named projections of the self-attention (and feed-forward).

        As `keras_hub.models.Backbone.enable_lora` does for a backbone;
        the cross-attention (new, random) gets no factors: task models
        train it whole.

        Example:

        ```python
        decoder = BertDecoder(vocabulary_size=100, num_layers=2, num_heads=2,
                              hidden_dim=16, intermediate_dim=32)
        decoder.enable_lora(4)  # query and value of each self-attention
        ```
        """
        if target_layer_names is None:
            target_layer_names = self.default_lora_layer_names()
        new = {
            id(sub) for layer in self.new_layers() for sub in layer._flatten_layers()
        }
        self.trainable = True
        self._lora_enabled_layers = []
        self._lora_rank = rank
        layers = [lyr for lyr in self._flatten_layers(include_self=False)]
        for layer in layers:
            layer.trainable = False
        for i, layer in enumerate(lyr for lyr in layers if lyr.weights):
            if (
                layer.name in target_layer_names
                and id(layer) not in new
                and hasattr(layer, "enable_lora")
            ):
                layer.trainable = True
                layer.enable_lora(rank)
                self._lora_enabled_layers.append(i)

    # === Config ===

    def get_config(self):
        config = {
            "name": self.name,
            "trainable": self.trainable,
            "dtype": keras.dtype_policies.serialize(self.dtype_policy),
        }
        config.update(
            {
                "vocabulary_size": self.vocabulary_size,
                "num_layers": self.num_layers,
                "num_heads": self.num_heads,
                "hidden_dim": self.hidden_dim,
                "intermediate_dim": self.intermediate_dim,
                "max_sequence_length": self.max_sequence_length,
                "num_segments": self.num_segments,
                "dropout": self.dropout,
                "activation": keras.activations.serialize(self.activation),
                "layer_norm_epsilon": self.layer_norm_epsilon,
                "tie_weights": self.tie_weights,
            }
        )
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        if isinstance(config.get("dtype"), dict):
            config["dtype"] = keras.dtype_policies.deserialize(config["dtype"])
        return cls(**config)


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
