"""A token classification head with a CRF on top: tag scores, then a linear chain."""

import keras

from tlnlp_tf.layers.crf import CRF
from tlnlp_tf.layers.token_classification_head import TokenClassificationHead


@keras.saving.register_keras_serializable(package="tlnlp_tf")
class CRFTokenHead(keras.layers.Layer):
    """`TokenClassificationHead` (dropout, one logit per tag) followed by a `CRF`.

    Returns the per-token emissions `[batch, tokens, tags]` (the CRF passes
    them through); the CRF's transition weights train with the model through
    `CRFLoss(head.crf)`, and `head.crf.decode(emissions, mask)` gives the
    best tag path under the tag scheme's constraints. The CRF is built at
    construction, so tags its scheme cannot read are a `PolicyError` at
    once, not at the first training step; it computes in float32 whatever
    the head's dtype policy.

    Args:
        tags: the tag names (`["O", "B-PER", "I-PER", ...]`).
        dropout: the dropout rate before the dense layer.
        scheme: the CRF's tag scheme (`"auto"`, `"iob2"`, `"bioes"`,
            `"bmes"`, `"none"`; see `CRF`).

    Example:

    ```python
    head = CRFTokenHead(["O", "B-PER", "I-PER"], dropout=0.1)
    emissions = head({"sequence_output": x, "padding_mask": mask})  # [2, 6, 3]
    tags = head.crf.decode(emissions, mask)  # [2, 6] tag ids, never O -> I-PER
    ```
    """

    def __init__(self, tags, dropout=0.1, scheme="auto", **kwargs):
        super().__init__(**kwargs)
        tags = [str(tag) for tag in tags]
        # === Layers ===
        self.crf = CRF(tags, scheme=scheme, dtype="float32", name="crf")
        self.token_head = TokenClassificationHead(
            len(tags),
            dropout=dropout,
            dtype=self.dtype_policy,
            name="token_classification_head",
        )
        # === Config ===
        self.tags = tags
        self.dropout = dropout
        self.scheme = scheme
        self.num_classes = len(tags)

    def build(self, input_shape):
        self.token_head.build(input_shape)
        self.built = True

    def call(self, inputs, training=None):
        return self.crf(self.token_head(inputs, training=training))

    def compute_output_shape(self, input_shape):
        return self.token_head.compute_output_shape(input_shape)

    def get_config(self):
        config = super().get_config()
        config.update(
            {"tags": list(self.tags), "dropout": self.dropout, "scheme": self.scheme}
        )
        return config
