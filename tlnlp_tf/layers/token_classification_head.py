"""A token classification head: one tag's logits per token."""

import keras

from tlnlp_tf.layers.output_dense import output_dense


@keras.saving.register_keras_serializable(package="tlnlp_tf")
class TokenClassificationHead(keras.layers.Layer):
    """Dropout and a dense layer giving one logit per tag for every token.

    Example:

    ```python
    logits = TokenClassificationHead(num_classes=9)(
        {"sequence_output": x, "padding_mask": mask}
    )  # [batch, tokens, 9]
    ```
    """

    def __init__(self, num_classes, dropout=0.1, **kwargs):
        super().__init__(**kwargs)
        # === Layers ===
        self.dropout_layer = keras.layers.Dropout(
            dropout, dtype=self.dtype_policy, name="dropout"
        )
        self.logits = output_dense(num_classes, self, "logits")
        # === Config ===
        self.num_classes = int(num_classes)
        self.dropout = dropout

    def build(self, input_shape):
        self.logits.build(input_shape["sequence_output"])
        self.built = True

    def call(self, inputs, training=None):
        x = self.dropout_layer(inputs["sequence_output"], training=training)
        return self.logits(x)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape["sequence_output"][:-1]) + (self.num_classes,)

    def get_config(self):
        config = super().get_config()
        config.update({"num_classes": self.num_classes, "dropout": self.dropout})
        return config
