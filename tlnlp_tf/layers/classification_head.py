"""A classification head: pooled backbone output to class logits."""

import keras

from tlnlp_tf.layers.output_dense import output_dense
from tlnlp_tf.layers.sequence_pooling import SequencePooling


@keras.saving.register_keras_serializable(package="tlnlp_tf")
class ClassificationHead(keras.layers.Layer):
    """Pooling, dropout and a dense layer giving one logit per class.

    Args:
        num_classes: number of classes.
        pooling: `"mean"`, `"cls"` or `"pooled"` (see `SequencePooling`).
        dropout: dropout rate applied to the pooled vector.
        hidden_dim: optional width of a tanh hidden layer before the logits.

    Example:

    ```python
    head = ClassificationHead(num_classes=3, pooling="mean", dropout=0.1)
    logits = head({**backbone(inputs), "padding_mask": inputs["padding_mask"]})
    ```
    """

    def __init__(
        self, num_classes, pooling="mean", dropout=0.1, hidden_dim=None, **kwargs
    ):
        super().__init__(**kwargs)
        if int(num_classes) < 2:
            raise ValueError(f"num_classes must be at least 2, got {num_classes}.")
        # === Layers ===
        self.pool = SequencePooling(pooling, dtype=self.dtype_policy, name="pool")
        self.dropout_layer = keras.layers.Dropout(
            dropout, dtype=self.dtype_policy, name="dropout"
        )
        self.hidden = (
            keras.layers.Dense(
                hidden_dim,
                activation="tanh",
                dtype=self.dtype_policy,
                name="hidden",
            )
            if hidden_dim
            else None
        )
        self.logits = output_dense(num_classes, self, "logits")
        # === Config ===
        self.num_classes = int(num_classes)
        self.pooling = pooling
        self.dropout = dropout
        self.hidden_dim = hidden_dim

    def build(self, input_shape):
        width = input_shape["sequence_output"][-1]
        if self.hidden is not None:
            self.hidden.build((None, width))
            width = self.hidden_dim
        self.logits.build((None, width))
        self.built = True

    def call(self, inputs, training=None):
        return self.from_pooled(self.pool(inputs), training=training)

    def from_pooled(self, x, training=None):
        """Logits from already pooled vectors (`[batch, hidden]`)."""
        x = self.dropout_layer(x, training=training)
        if self.hidden is not None:
            x = self.hidden(x)
            x = self.dropout_layer(x, training=training)
        return self.logits(x)

    def compute_output_shape(self, input_shape):
        return (input_shape["sequence_output"][0], self.num_classes)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "num_classes": self.num_classes,
                "pooling": self.pooling,
                "dropout": self.dropout,
                "hidden_dim": self.hidden_dim,
            }
        )
        return config
