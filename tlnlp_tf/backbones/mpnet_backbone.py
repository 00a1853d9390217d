"""MPNet as a keras-hub `Backbone`: the encoder of all-mpnet-base-v2.

MPNet (Song et al., "MPNet: Masked and Permuted Pre-training for Language
Understanding", 2020) is the base of the sentence-transformers models the
SetFit paper used (paraphrase-mpnet-base-v2, all-mpnet-base-v2); keras-hub
has no MPNet, so this module adds it, written as keras-hub's own backbones
are (`RobertaBackbone` is the closest): a functional model from
`token_ids` and `padding_mask` to `sequence_output` (and a tanh
`pooled_output` of the first token), layers named `token_embedding`,
`transformer_layer_{i}`, … so freezing, LoRA, pooling and `.keras` saving
treat it like any keras-hub backbone.

What differs from RoBERTa: one relative-position bias table shared by all
layers (`RelativePositionBias`), no token types, and positions counted
from the padding index like RoBERTa's (`padding_index + 1` for the first
token). `tlnlp_tf.backbones.mpnet_checkpoint` loads a Hugging Face folder.

Example:

```python
backbone = MPNetBackbone(vocabulary_size=50, num_layers=2, num_heads=2,
                         hidden_dim=8, intermediate_dim=16)
outputs = backbone({"token_ids": np.array([[0, 7, 2, 1]]),
                    "padding_mask": np.array([[1, 1, 1, 0]])})
outputs["sequence_output"].shape  # (1, 4, 8)
```
"""

import keras
import keras_hub
from keras import ops

from tlnlp_tf.backbones.mpnet_encoder_layer import MPNetEncoderLayer
from tlnlp_tf.backbones.relative_attention import RelativePositionBias


@keras.saving.register_keras_serializable(package="tlnlp_tf")
class PaddedPositionEmbedding(keras.layers.Layer):
    """Position embeddings counted over real tokens, from `padding_index + 1`.

    Called on the `[batch, length]` padding mask; padded slots get the
    padding index's row (Hugging Face's `create_position_ids_from_input_ids`).
    """

    def __init__(self, num_positions, hidden_dim, padding_index=1, **kwargs):
        super().__init__(**kwargs)
        self.num_positions = int(num_positions)
        self.hidden_dim = int(hidden_dim)
        self.padding_index = int(padding_index)
        self.embeddings = keras.layers.Embedding(
            self.num_positions,
            self.hidden_dim,
            embeddings_initializer=keras.initializers.TruncatedNormal(stddev=0.02),
            dtype=self.dtype_policy,
            name="position_embeddings",
        )

    def build(self, padding_mask_shape):
        self.embeddings.build((None,))
        self.built = True

    def call(self, padding_mask):
        mask = ops.cast(padding_mask, "int32")
        positions = ops.cumsum(mask, axis=1) * mask + self.padding_index
        return self.embeddings(positions)

    def compute_output_shape(self, padding_mask_shape):
        return tuple(padding_mask_shape) + (self.hidden_dim,)

    def get_config(self):
        config = super().get_config()
        config.update(
            num_positions=self.num_positions,
            hidden_dim=self.hidden_dim,
            padding_index=self.padding_index,
        )
        return config


@keras.saving.register_keras_serializable(package="tlnlp_tf")
class MPNetBackbone(keras_hub.models.Backbone):
    """MPNet encoder; outputs `{"sequence_output", "pooled_output"}`.

    Args:
        vocabulary_size, num_layers, num_heads, hidden_dim, intermediate_dim:
            the architecture (all-mpnet-base-v2: 30527, 12, 12, 768, 3072).
        dropout: dropout on the embeddings, residual branches and attention
            probabilities (Hugging Face's checkpoints: 0.1).
        max_sequence_length: the longest input (512); the position table
            has `max_sequence_length + padding_index + 1` rows.
        num_buckets, max_distance: the relative-position buckets (32, 128).
        padding_index: the `<pad>` token id, which positions count from (1).
        layer_norm_epsilon: 1e-5.

    Example (random weights; `tl.load_backbone(folder)` loads a checkpoint):

    ```python
    backbone = MPNetBackbone(vocabulary_size=50, num_layers=2, num_heads=2,
                             hidden_dim=8, intermediate_dim=16)
    backbone.count_params()
    ```
    """

    def __init__(
        self,
        vocabulary_size,
        num_layers,
        num_heads,
        hidden_dim,
        intermediate_dim,
        dropout=0.1,
        max_sequence_length=512,
        num_buckets=32,
        max_distance=128,
        padding_index=1,
        layer_norm_epsilon=1e-5,
        dtype=None,
        **kwargs,
    ):
        initializer = keras.initializers.TruncatedNormal(stddev=0.02)
        self.token_embedding = keras.layers.Embedding(
            vocabulary_size,
            hidden_dim,
            embeddings_initializer=initializer,
            dtype=dtype,
            name="token_embedding",
        )
        self.position_embedding = PaddedPositionEmbedding(
            max_sequence_length + padding_index + 1,
            hidden_dim,
            padding_index=padding_index,
            dtype=dtype,
            name="position_embedding",
        )
        self.embeddings_add = keras.layers.Add(dtype=dtype, name="embeddings_add")
        self.embeddings_layer_norm = keras.layers.LayerNormalization(
            epsilon=layer_norm_epsilon, dtype=dtype, name="embeddings_layer_norm"
        )
        self.embeddings_dropout = keras.layers.Dropout(
            dropout, dtype=dtype, name="embeddings_dropout"
        )
        self.relative_position_bias = RelativePositionBias(
            num_heads,
            num_buckets=num_buckets,
            max_distance=max_distance,
            dtype=dtype,
            name="relative_position_bias",
        )
        self.transformer_layers = [
            MPNetEncoderLayer(
                num_heads=num_heads,
                hidden_dim=hidden_dim,
                intermediate_dim=intermediate_dim,
                dropout=dropout,
                layer_norm_epsilon=layer_norm_epsilon,
                dtype=dtype,
                name=f"transformer_layer_{i}",
            )
            for i in range(num_layers)
        ]
        self.pooled_dense = keras.layers.Dense(
            hidden_dim,
            activation="tanh",
            kernel_initializer=initializer,
            dtype=dtype,
            name="pooled_dense",
        )

        token_ids = keras.Input(shape=(None,), dtype="int32", name="token_ids")
        padding_mask = keras.Input(shape=(None,), dtype="int32", name="padding_mask")
        x = self.embeddings_add(
            [self.token_embedding(token_ids), self.position_embedding(padding_mask)]
        )
        x = self.embeddings_dropout(self.embeddings_layer_norm(x))
        bias = self.relative_position_bias(padding_mask)
        for layer in self.transformer_layers:
            x = layer(x, bias, padding_mask=padding_mask)
        pooled = self.pooled_dense(x[:, 0, :])
        super().__init__(
            inputs={"token_ids": token_ids, "padding_mask": padding_mask},
            outputs={"sequence_output": x, "pooled_output": pooled},
            dtype=dtype,
            **kwargs,
        )

        self.vocabulary_size = vocabulary_size
        self.num_layers = num_layers
        self.num_heads = num_heads
        self.hidden_dim = hidden_dim
        self.intermediate_dim = intermediate_dim
        self.dropout = dropout
        self.max_sequence_length = max_sequence_length
        self.num_buckets = num_buckets
        self.max_distance = max_distance
        self.padding_index = padding_index
        self.layer_norm_epsilon = layer_norm_epsilon
        self.start_token_index = 0

    def get_config(self):
        config = super().get_config()
        config.update(
            vocabulary_size=self.vocabulary_size,
            num_layers=self.num_layers,
            num_heads=self.num_heads,
            hidden_dim=self.hidden_dim,
            intermediate_dim=self.intermediate_dim,
            dropout=self.dropout,
            max_sequence_length=self.max_sequence_length,
            num_buckets=self.num_buckets,
            max_distance=self.max_distance,
            padding_index=self.padding_index,
            layer_norm_epsilon=self.layer_norm_epsilon,
        )
        return config
