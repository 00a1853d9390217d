"""`FreezePolicy`: what a task trains, changed after construction.

A mixin of `TextTask`: `set_freeze` (apply a policy and recompile: Keras 3
fixes the trainable variables when the train step is built) and
`frozen_groups`; the LoRA adapter verbs are `LoraAdapters`
(`tasks/lora_adapters.py`). `apply_policy` and `backbone_policy`
turn a task policy (`"setfit"`, `"auto"`, `"lora-8"`, ...) into the
backbone's.

Example:

```python
import tlnlp_tf as tl

model = tl.TextClassifier.from_backbone("minilm", labels=["neg", "pos"])
model.set_freeze("bottom-4")
model.frozen_groups()
```
"""

import warnings

import keras

from tlnlp_tf.backbones.freezing import apply_freeze
from tlnlp_tf.backbones.freezing import frozen_groups
from tlnlp_tf.backbones.freezing import layer_groups
from tlnlp_tf.errors import PolicyError
from tlnlp_tf.training.contrastive import is_setfit
from tlnlp_tf.training.fit_steps import steps_taken


class FreezePolicy:
    """Freeze policies (a mixin of `TextTask`; see the module)."""

    def set_freeze(self, policy):
        """Apply a freeze policy and recompile, so frozen weights cannot move.

        Keras 3 fixes the trainable variables when the train step is built:
        without the recompile, weights frozen after `compile()` still train.
        The optimizer starts fresh (its state belonged to the old set).

        Example:

        ```python
        model.set_freeze("bottom-4")
        ```
        """
        self.freeze = apply_policy(
            self.backbone, policy, self.pooling, self.lora_targets
        )
        return recompile_fresh(self)

    def frozen_groups(self):
        """The backbone layer groups the current policy keeps frozen."""
        return frozen_groups(self.backbone, backbone_policy(self.freeze))


def recompile_fresh(model):
    """Recompile `model` with its own compile arguments and a fresh optimizer
    (after a change of trainable weights); warns if the old one had stepped.
    Returns `model`."""
    args = dict(model._compile_args)
    if model.optimizer is not None and steps_taken(model.optimizer):
        warnings.warn(
            "set_freeze: the optimizer's state (moments, step count) is "
            "reset because the set of trainable weights changed.",
            stacklevel=3,
        )
    optimizer = args["optimizer"]
    if isinstance(optimizer, keras.optimizers.Optimizer) and optimizer.built:
        args["optimizer"] = optimizer.__class__.from_config(optimizer.get_config())
    model.compile(**args)
    return model


def backbone_policy(policy):
    """What a task policy leaves trainable in the backbone: `"setfit"` trains it
    all (`"none"`), `"setfit-lora-R"` its LoRA factors (`"lora-R"`)."""
    if policy == "auto":  # chosen by the first fit; trains everything until then
        return "none"
    if not is_setfit(policy):
        return policy
    if policy == "setfit":
        return "none"
    inner = policy[len("setfit-") :]
    if not inner.startswith("lora-"):
        raise PolicyError(
            f"Freeze policy {policy!r}: contrastive training is 'setfit' (the "
            "whole backbone) or 'setfit-lora-R' (rank-R LoRA factors), e.g. "
            "'setfit-lora-8'."
        )
    return inner


def apply_policy(backbone, policy, pooling, lora_targets=None):
    """Apply a freeze policy; a pooler the head does not use stays frozen.

    With mean or [CLS]-vector pooling, the backbone's own pooler (BERT's
    `pooled_dense`) gets no gradient: it is counted as frozen, not trainable.
    `"setfit"` policies apply their backbone part and are kept as given.
    """
    if is_setfit(policy) or policy == "auto":
        apply_policy(backbone, backbone_policy(policy), pooling, lora_targets)
        return policy
    policy = apply_freeze(backbone, policy, lora_targets)
    if pooling != "pooled" and policy != "all":
        try:
            unused = layer_groups(backbone)["pooler"]
        except PolicyError:
            unused = []
        for layer in unused:
            layer.trainable = False
    return policy
