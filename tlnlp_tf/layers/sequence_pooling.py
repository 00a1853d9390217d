"""Pooling a backbone's token outputs into one vector per sequence."""

import keras
from keras import ops

POOLINGS = ("mean", "cls", "pooled")


@keras.saving.register_keras_serializable(package="tlnlp_tf")
class SequencePooling(keras.layers.Layer):
    """Pool a sequence of token vectors into one vector.

    Args:
        mode: `"mean"` (mean over real tokens, padding excluded), `"cls"`
            (the first token's vector) or `"pooled"` (the backbone's own
            `pooled_output`, e.g. BERT's [CLS] pooler).

    Example:

    ```python
    pooled = SequencePooling("mean")(
        {"sequence_output": x, "padding_mask": mask}
    )
    ```
    """

    def __init__(self, mode="mean", **kwargs):
        super().__init__(**kwargs)
        if mode not in POOLINGS:
            raise ValueError(f"pooling must be one of {POOLINGS}, got {mode!r}.")
        self.mode = mode

    def call(self, inputs):
        if self.mode == "pooled":
            if "pooled_output" not in inputs:
                raise ValueError(
                    "pooling='pooled' needs a backbone with a "
                    "'pooled_output'; use pooling='mean' or 'cls'."
                )
            return inputs["pooled_output"]
        sequence = inputs["sequence_output"]
        if self.mode == "cls":
            return sequence[:, 0, :]
        mask = ops.cast(inputs["padding_mask"], sequence.dtype)[:, :, None]
        total = ops.sum(sequence * mask, axis=1)
        count = ops.maximum(ops.sum(mask, axis=1), 1.0)
        return total / count

    def compute_output_shape(self, input_shape):
        sequence_shape = input_shape["sequence_output"]
        return (sequence_shape[0], sequence_shape[-1])

    def get_config(self):
        config = super().get_config()
        config.update({"mode": self.mode})
        return config
