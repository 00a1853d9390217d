"""`BertDecoder`: a Transformer decoder shaped like a BERT-family encoder.

The encoder's embeddings (token, position, segment, layer norm), then
`keras_hub.layers.TransformerDecoder` blocks (post-LayerNorm, as BERT) with
causal self-attention and a cross-attention on the encoder output, and an
output projection tied to the token embedding (or not: `tie_weights=False`).
`tlnlp_tf.backbones.warm_start` fills it from the encoder checkpoint
(Rothe, Narayan & Severyn, TACL 2020).

```python
from tlnlp_tf.backbones.warm_start import warm_start
encoder, _ = tl.load_backbone("minilm")
decoder = BertDecoder.from_encoder(encoder)
warm_start(decoder, encoder)  # the checkpoint's weights, cross-attention new
```
"""

import keras
import keras_hub

from tlnlp_tf.backbones.warm_start import CROSS_ATTENTION_PARTS
from tlnlp_tf.backbones.warm_start import encoder_parts


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
