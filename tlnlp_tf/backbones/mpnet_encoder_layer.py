"""One MPNet transformer layer: post-LayerNorm, relative-position attention.

Hugging Face's `MPNetLayer`: self-attention (`RelativeBiasAttention`, the
bias given by the caller, shared by all layers), dropout, residual,
LayerNorm; a GELU feed-forward, dropout, residual, LayerNorm.

Example:

```python
from tlnlp_tf.backbones.relative_attention import RelativePositionBias

layer = MPNetEncoderLayer(num_heads=2, hidden_dim=8, intermediate_dim=16)
bias = RelativePositionBias(num_heads=2)(keras.ops.ones((1, 5)))
outputs = layer(keras.ops.ones((1, 5, 8)), bias)  # [1, 5, 8]
```
"""

import keras

from tlnlp_tf.backbones.relative_attention import RelativeBiasAttention


@keras.saving.register_keras_serializable(package="tlnlp_tf")
class MPNetEncoderLayer(keras.layers.Layer):
    """`call(hidden, position_bias, padding_mask=None)` → `[batch, length, hidden]`.

    Sublayers: `self_attention` (with `query`, `key`, `value`,
    `attention_output`), `self_attention_layer_norm`, `intermediate_dense`,
    `output_dense`, `output_layer_norm`.
    """

    def __init__(
        self,
        num_heads,
        hidden_dim,
        intermediate_dim,
        dropout=0.1,
        layer_norm_epsilon=1e-5,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.num_heads = int(num_heads)
        self.hidden_dim = int(hidden_dim)
        self.intermediate_dim = int(intermediate_dim)
        self.dropout = float(dropout)
        self.layer_norm_epsilon = float(layer_norm_epsilon)
        if self.hidden_dim % self.num_heads:
            raise ValueError(
                f"hidden_dim ({self.hidden_dim}) must be a multiple of "
                f"num_heads ({self.num_heads})."
            )
        initializer = keras.initializers.TruncatedNormal(stddev=0.02)
        policy = self.dtype_policy
        self.self_attention = RelativeBiasAttention(
            num_heads=self.num_heads,
            key_dim=self.hidden_dim // self.num_heads,
            dropout=self.dropout,
            kernel_initializer=initializer,
            dtype=policy,
            name="self_attention",
        )
        self.self_attention_layer_norm = keras.layers.LayerNormalization(
            epsilon=self.layer_norm_epsilon,
            dtype=policy,
            name="self_attention_layer_norm",
        )
        self.intermediate_dense = keras.layers.Dense(
            self.intermediate_dim,
            activation="gelu",  # exact (erf) GELU, as Hugging Face's "gelu"
            kernel_initializer=initializer,
            dtype=policy,
            name="intermediate_dense",
        )
        self.output_dense = keras.layers.Dense(
            self.hidden_dim,
            kernel_initializer=initializer,
            dtype=policy,
            name="output_dense",
        )
        self.output_layer_norm = keras.layers.LayerNormalization(
            epsilon=self.layer_norm_epsilon, dtype=policy, name="output_layer_norm"
        )
        self.dropout_layer = keras.layers.Dropout(self.dropout, dtype=policy)

    def build(self, hidden_shape, position_bias_shape=None, padding_mask_shape=None):
        self.self_attention.build(hidden_shape)
        self.self_attention_layer_norm.build(hidden_shape)
        self.intermediate_dense.build(hidden_shape)
        self.output_dense.build(tuple(hidden_shape[:-1]) + (self.intermediate_dim,))
        self.output_layer_norm.build(hidden_shape)
        self.built = True

    def call(self, hidden, position_bias, padding_mask=None, training=None):
        attended = self.self_attention(
            hidden, position_bias, padding_mask=padding_mask, training=training
        )
        attended = self.dropout_layer(attended, training=training)
        hidden = self.self_attention_layer_norm(hidden + attended)
        inner = self.output_dense(self.intermediate_dense(hidden))
        inner = self.dropout_layer(inner, training=training)
        return self.output_layer_norm(hidden + inner)

    def compute_output_shape(self, hidden_shape, *args, **kwargs):
        return hidden_shape

    def get_config(self):
        config = super().get_config()
        config.update(
            num_heads=self.num_heads,
            hidden_dim=self.hidden_dim,
            intermediate_dim=self.intermediate_dim,
            dropout=self.dropout,
            layer_norm_epsilon=self.layer_norm_epsilon,
        )
        return config
