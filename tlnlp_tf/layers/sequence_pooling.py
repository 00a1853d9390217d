"""Pooling a backbone's token outputs into one vector per sequence."""

import re

import keras
from keras import ops

POOLINGS = ("mean", "cls", "pooled", "mean-last-N")
_LAST_LAYERS = re.compile(r"^mean-last-([1-9][0-9]*)$")


def pooled_layer_count(mode):
    """How many of the last transformer layers `mode` pools: N for
    `"mean-last-N"`, else 1 (the backbone's output, or no pooling at all).

    Example:

    ```python
    pooled_layer_count("mean-last-4")  # 4
    pooled_layer_count("mean")  # 1
    ```
    """
    match = _LAST_LAYERS.match(str(mode))
    return int(match.group(1)) if match else 1


@keras.saving.register_keras_serializable(package="tlnlp_tf")
class SequencePooling(keras.layers.Layer):
    """Pool a sequence of token vectors into one vector.

    Args:
        mode: `"mean"` (mean over real tokens, padding excluded), `"cls"`
            (the first token's vector), `"pooled"` (the backbone's own
            `pooled_output`, e.g. BERT's [CLS] pooler) or `"mean-last-N"`:
            the mean of each of the last N transformer layers, concatenated
            (the task model feeds this layer those layers' outputs side by
            side, `tlnlp_tf.backbones.pooled_encoder.backbone_outputs`; the
            layer itself takes their mean).

    Example:

    ```python
    pooled = SequencePooling("mean")(
        {"sequence_output": x, "padding_mask": mask}
    )
    ```
    """

    def __init__(self, mode="mean", **kwargs):
        super().__init__(**kwargs)
        if mode not in POOLINGS[:3] and not _LAST_LAYERS.match(str(mode)):
            raise ValueError(
                "pooling must be one of 'mean', 'cls', 'pooled' or 'mean-last-N' "
                f"(N a positive number of layers), got {mode!r}."
            )
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
