"""Self-attention with a learned relative-position bias, as in MPNet and T5.

MPNet (Song et al., 2020) adds to every attention score a bias looked up
from the signed distance between the two tokens, bucketed as in T5: exact
buckets for the 8 nearest distances each way, logarithmic ones up to 128
tokens, one table `[buckets, heads]` computed once and shared by every
layer. keras-hub has no such attention; `RelativeBiasAttention` is Keras's
own `MultiHeadAttention` (same projections and weights, the same attention
dropout, so `tlnlp_tf.backbones.set_attention_dropout` and LoRA on
`query`/`value` work unchanged) with the bias added before the softmax.

Example:

```python
bias = RelativePositionBias(num_heads=2)(keras.ops.ones((1, 5)))  # [1, 2, 5, 5]
attention = RelativeBiasAttention(num_heads=2, key_dim=4)
outputs = attention(keras.ops.ones((1, 5, 8)), bias)  # [1, 5, 8]
```
"""

import math

import keras
from keras import ops


def relative_position_buckets(length, num_buckets=32, max_distance=128):
    """The `[length, length]` bucket of each (query, key) pair's distance.

    Hugging Face's `MPNetEncoder.relative_position_bucket` (T5's,
    bidirectional): half the buckets for keys before the query, half after;
    in each half, exact distances below `num_buckets // 4`, then
    logarithmically spaced up to `max_distance`.

    Example:

    ```python
    relative_position_buckets(3)  # [[0, 17, 18], [1, 0, 17], [2, 1, 0]]
    ```
    """
    positions = ops.arange(length, dtype="int32")
    relative = positions[None, :] - positions[:, None]  # key - query
    distance = -relative
    half = num_buckets // 2
    buckets = ops.cast(distance < 0, "int32") * half
    distance = ops.abs(distance)
    exact = half // 2
    scaled = ops.log(ops.cast(ops.maximum(distance, 1), "float32") / exact)
    scaled = scaled / math.log(max_distance / exact) * (half - exact)
    large = ops.minimum(exact + ops.cast(scaled, "int32"), half - 1)
    return buckets + ops.where(distance < exact, distance, large)


@keras.saving.register_keras_serializable(package="tlnlp_tf")
class RelativePositionBias(keras.layers.Layer):
    """The `[1, heads, length, length]` attention bias for a batch's length.

    Called on any `[batch, length]` tensor (the padding mask): only its
    length is read. Example in the module docstring.
    """

    def __init__(self, num_heads, num_buckets=32, max_distance=128, **kwargs):
        super().__init__(**kwargs)
        self.num_heads = int(num_heads)
        self.num_buckets = int(num_buckets)
        self.max_distance = int(max_distance)
        self.embeddings = keras.layers.Embedding(
            self.num_buckets,
            self.num_heads,
            embeddings_initializer=keras.initializers.TruncatedNormal(stddev=0.02),
            dtype=self.dtype_policy,
            name="relative_attention_bias",
        )

    def build(self, inputs_shape):
        self.embeddings.build((None,))
        self.built = True

    def call(self, inputs):
        length = ops.shape(inputs)[1]
        buckets = relative_position_buckets(length, self.num_buckets, self.max_distance)
        values = self.embeddings(buckets)  # [length, length, heads]
        return ops.expand_dims(ops.transpose(values, (2, 0, 1)), 0)

    def compute_output_shape(self, inputs_shape):
        return (1, self.num_heads, inputs_shape[1], inputs_shape[1])

    def get_config(self):
        config = super().get_config()
        config.update(
            num_heads=self.num_heads,
            num_buckets=self.num_buckets,
            max_distance=self.max_distance,
        )
        return config


@keras.saving.register_keras_serializable(package="tlnlp_tf")
class RelativeBiasAttention(keras.layers.MultiHeadAttention):
    """Self-attention over `hidden` with an additive `position_bias`.

    `call(hidden, position_bias, padding_mask=None)`: `position_bias`
    broadcasts to `[batch, heads, length, length]`; padded keys get no
    attention. The scores, bias and softmax run in float32 under mixed
    precision. Example in the module docstring.
    """

    def build(self, hidden_shape, position_bias_shape=None, padding_mask_shape=None):
        super().build(hidden_shape, hidden_shape)

    def call(self, hidden, position_bias, padding_mask=None, training=None):
        query = self._query_dense(hidden)  # [batch, length, heads, key_dim]
        key = self._key_dense(hidden)
        value = self._value_dense(hidden)
        query = ops.multiply(
            query, ops.cast(1.0 / math.sqrt(self._key_dim), query.dtype)
        )
        scores = ops.einsum("bqnh,bknh->bnqk", query, key)
        scores = ops.cast(scores, "float32") + ops.cast(position_bias, "float32")
        if padding_mask is not None:
            keep = ops.cast(padding_mask, "bool")[:, None, None, :]
            scores = ops.where(keep, scores, ops.full_like(scores, -1e9))
        probabilities = ops.cast(ops.softmax(scores, axis=-1), self.compute_dtype)
        probabilities = self._dropout_layer(probabilities, training=training)
        context = ops.einsum("bnqk,bknh->bqnh", probabilities, value)
        return self._output_dense(context)

    def compute_output_shape(self, hidden_shape, *args, **kwargs):
        return hidden_shape
