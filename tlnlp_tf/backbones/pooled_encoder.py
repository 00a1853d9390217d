"""What a pooled head sees of a backbone; a backbone and its pooling as one model.

`backbone_outputs` gives a head the backbone's sequence output and padding
mask (plus `pooled_output` for `pooling="pooled"`). With
`pooling="mean-last-N"` the sequence output is the last N transformer
layers' outputs side by side (`[batch, length, N * hidden]`), so mean
pooling gives the concatenation of each layer's mean: for a frozen
backbone, lower layers hold features the top layer has partly discarded
(SST-2, MiniLM, solved logistic head: `benchmarks/few_labels.py` compares
it with the last layer alone, strategy `frozen-last`).

Feature extraction (`tlnlp_tf.tasks.feature_cache`) and contrastive
training (`tlnlp_tf.training.contrastive`) both need the task's text
encoder without its output layer: `pooled_encoder`.

Example:

```python
encoder = pooled_encoder(model.backbone, model.head.pool)
vectors = encoder(model.preprocessor(["a fine film"]))  # [1, hidden]
```
"""

import keras

from tlnlp_tf.backbones.freezing import layer_groups
from tlnlp_tf.errors import PolicyError
from tlnlp_tf.layers.sequence_pooling import pooled_layer_count


def backbone_outputs(backbone, inputs, pooling):
    """What a head takes: the backbone's sequence output on `inputs`, their
    padding mask, and the pooled output when `pooling="pooled"`; with
    `"mean-last-N"` the last N layers' outputs concatenated on the last axis."""
    count = pooled_layer_count(pooling)
    if count > 1:
        sequence = last_layers(backbone, count)(inputs)
        return {"sequence_output": sequence, "padding_mask": inputs["padding_mask"]}
    outputs = backbone(inputs)
    if not isinstance(outputs, dict):
        outputs = {"sequence_output": outputs}
    head_inputs = {
        "sequence_output": outputs["sequence_output"],
        "padding_mask": inputs["padding_mask"],
    }
    if pooling == "pooled":
        head_inputs["pooled_output"] = outputs["pooled_output"]
    return head_inputs


def last_layers(backbone, count):
    """A `keras.Model` (sharing `backbone`'s layers) from its inputs to its
    last `count` transformer layers' outputs, concatenated on the last axis."""
    blocks = [
        group[0]
        for name, group in layer_groups(backbone).items()
        if name.startswith("layer_") and group
    ]
    if count > len(blocks):
        raise PolicyError(
            f"pooling='mean-last-{count}': backbone '{backbone.name}' has "
            f"{len(blocks)} transformer layers; choose N from 1 to {len(blocks)}."
        )
    chosen = blocks[-count:]
    shared = [block.name for block in chosen if len(block._inbound_nodes) != 1]
    if shared:
        raise PolicyError(
            f"pooling='mean-last-{count}': layer(s) {', '.join(shared)} of "
            f"backbone '{backbone.name}' run more than once (shared weights), so "
            "their outputs are not single tensors; use pooling='mean'."
        )
    outputs = keras.layers.Concatenate(axis=-1, dtype=backbone.dtype_policy)(
        [block.output for block in chosen]
    )
    return keras.Model(backbone.input, outputs, name=f"{backbone.name}_last_{count}")


def pooled_encoder(backbone, pool):
    """A `keras.Model` from `backbone`'s inputs to `pool`'s vector (shared layers)."""
    inputs = backbone.input
    pooled = pool(backbone_outputs(backbone, inputs, pool.mode))
    return keras.Model(inputs, pooled, name="pooled_encoder")


# The layers `"auto"` pooling concatenates for a frozen backbone's features.
FROZEN_POOLED_LAYERS = 4


def frozen_pooling(backbone, pooling="mean"):
    """The pooling for features of a frozen `backbone`: `"mean-last-4"` where
    `pooling` is `"mean"` and the backbone has at least 4 transformer layers,
    each run once; else `pooling` unchanged.

    Example:

    ```python
    backbone, _ = tl.load_backbone("minilm")
    frozen_pooling(backbone)  # "mean-last-4"
    ```
    """
    if pooling != "mean":
        return pooling
    try:
        last_layers(backbone, FROZEN_POOLED_LAYERS)
    except PolicyError:
        return pooling
    return f"mean-last-{FROZEN_POOLED_LAYERS}"
