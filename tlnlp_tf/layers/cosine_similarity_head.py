"""A bi-encoder's head: the cosine of two pooled texts, scaled and shifted."""

import keras
from keras import ops

from tlnlp_tf.layers.sequence_pooling import SequencePooling


@keras.saving.register_keras_serializable(package="tlnlp_tf")
class CosineSimilarityHead(keras.layers.Layer):
    """`scale * cos(pool(first), pool(second)) + shift`: one value per pair.

    A sentence-embedding model (sentence-transformers, e.g. all-MiniLM-L6-v2)
    was trained to score a pair by this cosine; with `scale` and `shift` set
    to the least-squares fit of the targets on the untrained cosines, a pair
    regressor starts exactly at the source model's zero-shot ranking
    (`TextRegressor(pair_encoding="bi")` does so before its first `fit`).

    Args:
        pooling: `"mean"`, `"cls"` or `"pooled"` (see `SequencePooling`).

    Example:

    ```python
    head = CosineSimilarityHead(pooling="mean")
    encoded = {**backbone(inputs), "padding_mask": inputs["padding_mask"]}
    score = head({"first": encoded, "second": encoded})  # [batch]; cosine 1
    ```
    """

    def __init__(self, pooling="mean", **kwargs):
        super().__init__(**kwargs)
        self.pool = SequencePooling(pooling, dtype=self.dtype_policy, name="pool")
        self.pooling = pooling

    def build(self, input_shape):
        self.scale = self.add_weight(
            shape=(), initializer="ones", name="scale", dtype=self.variable_dtype
        )
        self.shift = self.add_weight(
            shape=(), initializer="zeros", name="shift", dtype=self.variable_dtype
        )
        self.built = True

    def cosine(self, inputs):
        """The unscaled cosine of each pair, `[batch]` (float32)."""
        first = ops.cast(self.pool(inputs["first"]), "float32")
        second = ops.cast(self.pool(inputs["second"]), "float32")
        first = ops.normalize(first, axis=-1)
        second = ops.normalize(second, axis=-1)
        return ops.sum(first * second, axis=-1)

    def call(self, inputs, training=None):
        cosine = ops.cast(self.cosine(inputs), self.compute_dtype)
        return self.scale * cosine + self.shift

    def compute_output_shape(self, input_shape):
        return (input_shape["first"]["sequence_output"][0],)

    def get_config(self):
        config = super().get_config()
        config["pooling"] = self.pooling
        return config
