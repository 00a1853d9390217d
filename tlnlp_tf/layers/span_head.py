"""A span head for extractive QA: start and end logits per token."""

import keras
from keras import ops

from tlnlp_tf.layers.token_classification_head import TokenClassificationHead


@keras.saving.register_keras_serializable(package="tlnlp_tf")
class SpanHead(TokenClassificationHead):
    """Start and end logits for every token (extractive question answering).

    A two-class `TokenClassificationHead` whose logits come back as float32
    `[batch, 2, tokens]` (row 0: start, row 1: end), padding positions set to
    -1e9 so they can never be chosen.

    Example:

    ```python
    logits = SpanHead()({"sequence_output": x, "padding_mask": mask})
    # [batch, 2, tokens]
    ```
    """

    def __init__(self, dropout=0.1, **kwargs):
        kwargs.pop("num_classes", None)
        super().__init__(2, dropout=dropout, **kwargs)

    def call(self, inputs, training=None):
        logits = ops.transpose(super().call(inputs, training=training), (0, 2, 1))
        logits = ops.cast(logits, "float32")
        mask = ops.expand_dims(ops.cast(inputs["padding_mask"], "bool"), 1)
        return ops.where(mask, logits, ops.full_like(logits, -1e9))

    def compute_output_shape(self, input_shape):
        batch, length = input_shape["sequence_output"][:2]
        return (batch, 2, length)
