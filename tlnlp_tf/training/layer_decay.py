"""Layer-wise learning-rate decay (discriminative fine-tuning) for keras-hub encoders.

The multipliers come from walking the backbone's layer groups
(`tlnlp_tf.backbones.freezing.layer_groups`: embeddings, each transformer
layer, the pooler): every variable of a group's layers gets the group's
multiplier, keyed by its exact `variable.path`, which `ScaledAdamW` matches
exactly. No pattern over names is involved.
"""

from tlnlp_tf.backbones.freezing import layer_groups
from tlnlp_tf.errors import PolicyError


def layer_decay_multipliers(backbone, decay):
    """`{variable path: multiplier}` for `ScaledAdamW`: lower layers learn slower.

    With `L` transformer layers, layer `i` (0 at the bottom) takes
    `decay ** (L - i)`, the embeddings `decay ** (L + 1)`, and everything
    outside the backbone (the task head) the full rate; a pooler above the
    last layer takes `decay`. Since the multiplier scales the learning rate
    inside each variable's Adam update, it changes the step size itself (a
    gradient scale would not: Adam is invariant to it).

    Example:

    ```python
    multipliers = layer_decay_multipliers(model.backbone, 0.9)
    optimizer = tl.training.fine_tuning_adamw(1e-4, multipliers=multipliers)
    model.compile(optimizer=optimizer)
    ```
    """
    decay = float(decay)
    if not 0.0 < decay <= 1.0:
        raise PolicyError(f"layer decay must be in (0, 1], got {decay}.")
    groups = layer_groups(backbone)
    count = sum(name.startswith("layer_") for name in groups)
    multipliers = {}
    for name, layers in groups.items():
        if name == "embeddings":
            depth = count + 1
        elif name == "pooler":
            depth = 1
        else:
            depth = count - int(name.split("_")[1])
        for layer in layers:
            for variable in layer.weights:
                multipliers[variable.path] = decay**depth
    return multipliers
