"""A regression head: pooled backbone output to one score."""

import keras
from keras import ops

from tlnlp_tf.layers.output_dense import output_dense
from tlnlp_tf.layers.sequence_pooling import SequencePooling


@keras.saving.register_keras_serializable(package="tlnlp_tf")
class RegressionHead(keras.layers.Layer):
    """Pooling, dropout and a dense layer giving one real value per example.

    Args:
        pooling: `"mean"`, `"cls"` or `"pooled"` (see `SequencePooling`).
        dropout: dropout rate applied to the pooled vector.

    Example:

    ```python
    score = RegressionHead(pooling="mean")(
        {**backbone(inputs), "padding_mask": inputs["padding_mask"]}
    )  # shape [batch]
    ```
    """

    def __init__(self, pooling="mean", dropout=0.1, **kwargs):
        super().__init__(**kwargs)
        # === Layers ===
        self.pool = SequencePooling(pooling, dtype=self.dtype_policy, name="pool")
        self.dropout_layer = keras.layers.Dropout(
            dropout, dtype=self.dtype_policy, name="dropout"
        )
        self.value = output_dense(1, self, "value")
        # === Config ===
        self.pooling = pooling
        self.dropout = dropout

    def build(self, input_shape):
        self.value.build((None, input_shape["sequence_output"][-1]))
        self.built = True

    def call(self, inputs, training=None):
        return self.from_pooled(self.pool(inputs), training=training)

    def from_pooled(self, x, training=None):
        """One value per already pooled vector (`[batch, hidden]` → `[batch]`)."""
        x = self.dropout_layer(x, training=training)
        return ops.squeeze(self.value(x), axis=-1)

    def compute_output_shape(self, input_shape):
        return (input_shape["sequence_output"][0],)

    def get_config(self):
        config = super().get_config()
        config.update({"pooling": self.pooling, "dropout": self.dropout})
        return config
