"""Optimizers with fine-tuning defaults and per-variable learning rates."""

import re

import keras
from keras import ops

from tlnlp_tf.errors import PolicyError
from tlnlp_tf.training.schedules import WarmupLinearDecay

# Variable names that take no weight decay: biases and LayerNorm scale/offset.
NO_DECAY_NAMES = ("bias", "gamma", "beta")


@keras.saving.register_keras_serializable(package="tlnlp_tf")
class ScaledAdamW(keras.optimizers.AdamW):
    """AdamW whose step for each variable is scaled by a learning-rate multiplier.

    Adam's step is invariant to the scale of the gradient, so scaling
    gradients cannot give a layer its own learning rate: this optimizer
    scales the learning rate inside each variable's update instead (the
    per-variable update runs inside `tf.distribute`'s update, so it works
    under any strategy), and scales its decoupled weight decay likewise.

    The multipliers are keyed by path, not by pattern. A key is either a
    variable's path (`variable.path`, e.g.
    `"transformer_layer_0/self_attention/query/kernel"`), which it matches
    exactly, or a layer's path (`layer.path`, e.g. `"classification_head"`),
    which matches every variable of that layer and of the layers inside it.
    When several keys match, the longest (the most specific) wins; a
    variable no key matches keeps the base rate. `layer_decay_multipliers`
    builds such a dict by walking a backbone's layer groups.

    Args:
        multipliers: `{variable or layer path: multiplier}`.
        **kwargs: `keras.optimizers.AdamW` arguments.

    Example:

    ```python
    optimizer = ScaledAdamW({"classification_head": 10.0}, learning_rate=1e-4)
    optimizer.multiplier("classification_head/dense/kernel")  # 10.0
    ```
    """

    def __init__(self, multipliers=None, **kwargs):
        super().__init__(**kwargs)
        self.multipliers = {
            _as_path(key): float(value)
            for key, value in dict(multipliers or {}).items()
        }

    def multiplier(self, path):
        """The learning-rate multiplier of the variable at `path`."""
        best, value = -1, 1.0
        for key, multiplier in self.multipliers.items():
            if (path == key or path.startswith(key + "/")) and len(key) > best:
                best, value = len(key), multiplier
        return value

    def build(self, variables):
        super().build(variables)
        # The TF backend hands `update_step` raw tf.Variables (no `.path`):
        # resolve each variable's multiplier here, by the optimizer's own key.
        self._scales = {self._var_key(v): self.multiplier(v.path) for v in variables}

    def update_step(self, gradient, variable, learning_rate):
        scale = self._scales.get(self._var_key(variable), 1.0)
        if scale != 1.0:
            learning_rate = ops.multiply(learning_rate, scale)
        return super().update_step(gradient, variable, learning_rate)

    def _apply_weight_decay(self, variables):
        # Decoupled weight decay follows each variable's rate too (decay
        # `lr * multiplier * weight_decay` per step), as with per-group rates.
        scales = getattr(self, "_scales", None)
        if self.weight_decay is None or not scales:
            return super()._apply_weight_decay(variables)
        groups = {}
        for variable in variables:
            groups.setdefault(scales.get(self._var_key(variable), 1.0), []).append(
                variable
            )
        decay = self.weight_decay
        try:
            for scale, group in groups.items():
                self.weight_decay = decay * scale
                super()._apply_weight_decay(group)
        finally:
            self.weight_decay = decay

    def get_config(self):
        config = super().get_config()
        config["multipliers"] = self.multipliers
        return config


def _as_path(key):
    """A multiplier key as a path (keys saved as `^path$` patterns read as paths)."""
    if not isinstance(key, str) or not key.strip("^$/"):
        raise PolicyError(f"A multiplier key is a variable or layer path, got {key!r}.")
    # Configs written before keys were paths held `re.escape(path) + "$"`,
    # `"^path$"` or `"layer_name/"`: read them as the path they named.
    path = re.sub(r"\\(.)", r"\1", key.removeprefix("^").removesuffix("$"))
    path = path.rstrip("/")
    if any(char in path for char in "*+?[](){}|\\"):
        raise PolicyError(
            f"Multiplier key {key!r} looks like a pattern; keys are variable or "
            "layer paths (variable.path, layer.path), matched exactly."
        )
    return path


def auto_optimizer(optimizer, learning_rate, layer_decay, default_rate, multipliers):
    """What `compile(optimizer=...)` of a generative task trains with.

    `optimizer="auto"` is `fine_tuning_adamw` at `learning_rate` (`"auto"`:
    `default_rate()`), with `multipliers(layer_decay)` as per-variable rates
    (the callable returns `None` for one rate for all; `layer_decay` may be
    `None`); any other optimizer is returned as it is, and a decay with it is
    a `PolicyError` (the decay sets the library's optimizer up).

    Example:

    ```python
    optimizer = auto_optimizer("auto", "auto", None, lambda: 1e-4, None)
    ```
    """
    if isinstance(optimizer, str) and optimizer == "auto":
        if isinstance(learning_rate, str) and learning_rate == "auto":
            learning_rate = default_rate()
        rates = None if multipliers is None else multipliers(layer_decay)
        return fine_tuning_adamw(learning_rate, multipliers=rates)
    if layer_decay is not None:
        raise PolicyError(
            "compile(layer_decay=...) sets the library's optimizer up: it needs "
            "optimizer='auto' (or give your optimizer per-variable multipliers, "
            "tl.training.layer_decay_multipliers(backbone, d))."
        )
    return optimizer


def fine_tuning_adamw(
    learning_rate,
    total_steps=None,
    warmup=0.1,
    weight_decay=0.01,
    clipnorm=1.0,
    multipliers=None,
):
    """AdamW with warmup + linear decay, no decay on biases and LayerNorm.

    `learning_rate` is the peak rate, or a learning-rate schedule (e.g.
    `WarmupCosineDecay`, `SlantedTriangular`) to use instead of warmup and
    linear decay. The optimizer takes a copy of it; `total_steps`, when
    given, fills a copy whose `total_steps` is `None`.

    Example:

    ```python
    model.compile(optimizer=fine_tuning_adamw(1e-4, total_steps=500))
    ```
    """
    if isinstance(learning_rate, keras.optimizers.schedules.LearningRateSchedule):
        schedule = learning_rate.__class__.from_config(learning_rate.get_config())
        if total_steps is not None and getattr(schedule, "total_steps", 0) is None:
            schedule.total_steps = int(total_steps)
    else:
        schedule = WarmupLinearDecay(learning_rate, total_steps, warmup)
    optimizer = ScaledAdamW(
        multipliers=multipliers,
        learning_rate=schedule,
        weight_decay=weight_decay,
        clipnorm=clipnorm,
    )
    optimizer.exclude_from_weight_decay(var_names=list(NO_DECAY_NAMES))
    return optimizer
