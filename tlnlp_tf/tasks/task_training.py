"""`TaskTraining`: `compile()` with fine-tuning defaults, for every pooled-text task.

The library's AdamW (warmup, linear decay, no weight decay on biases and
LayerNorm, clipping), a peak rate chosen from the backbone's size and the
freeze policy, optional layer-wise decay, and Keras's loss strings read as
losses on logits. Mixed into `TextTask`.

```python
model = tl.TextClassifier.from_backbone("minilm", labels=["neg", "pos"])
model.compile(learning_rate=5e-5, layer_decay=0.9)
model.default_learning_rate()  # 1e-4 for a small backbone
```
"""

import re

import keras

from tlnlp_tf.backbones.freezing import layer_groups
from tlnlp_tf.backbones.freezing import lora_rank
from tlnlp_tf.errors import PolicyError
from tlnlp_tf.tasks.freeze_policy import backbone_policy
from tlnlp_tf.training.fit_steps import steps_taken
from tlnlp_tf.training.layer_decay import layer_decay_multipliers
from tlnlp_tf.training.optimizers import fine_tuning_adamw
from tlnlp_tf.training.schedules import FineTuningSchedule

# Keras's string names of the cross-entropy losses; the heads output logits.
LOGIT_LOSSES = {
    "sparse_categorical_crossentropy": keras.losses.SparseCategoricalCrossentropy,
    "categorical_crossentropy": keras.losses.CategoricalCrossentropy,
    "binary_crossentropy": keras.losses.BinaryCrossentropy,
}
# Peak rate under `"lora-R"`: chosen on SST-2 sentences held out from the
# training split (2,000 labels, 2 epochs; 1e-3 / 3e-3 / 5e-3 averaged
# 0.811 / 0.821 / 0.830 over 2 seeds, full fine-tuning 0.838). docs/freezing.md
LORA_LEARNING_RATE = 5e-3


class TaskTraining:
    """`compile` and its defaults, mixed into `TextTask`.

    A task that sets `rates_from_data = True` (`TokenClassifier`) chooses
    its auto peak rate and layer decay from the training data at the first
    `fit` (`resolve_rates`; its `training_profile(x)` and
    `choose_rates(profile, updates)`).

    Reads the model's `backbone`, `freeze`, and the task's
    `small_backbone_learning_rate`, `fine_tuning_layer_decay`,
    `targets_are_weighted`, `default_loss()` and `default_metrics()`.

    ```python
    model = tl.TextClassifier.from_backbone("minilm", labels=["neg", "pos"])
    model.resolve_loss("sparse_categorical_crossentropy").from_logits  # True
    ```
    """

    def compile(
        self,
        optimizer="auto",
        loss="auto",
        *,
        metrics="auto",
        learning_rate="auto",
        layer_decay="auto",
        **kwargs,
    ):
        """Compile with fine-tuning defaults.

        `optimizer="auto"` is AdamW with 10% warmup and linear decay over the
        first `fit()` call, weight decay 0.01 except on biases and LayerNorm,
        gradient clipping at norm 1. `learning_rate="auto"` is 1e-3 when the
        backbone is frozen (only the head trains), 5e-3 under `"lora-R"`; for
        backbones under 60M parameters, the task's `small_backbone_learning_rate` (1e-4;
        `TokenClassifier` 2e-4); 3e-5 for larger ones. `layer_decay=d` gives
        backbone layer `i` of `L` the rate `learning_rate * d ** (L - i)`
        (embeddings `d ** (L + 1)`, the head the full rate; see
        `layer_decay_multipliers`); `"auto"` is the task's
        `fine_tuning_layer_decay` (off; `TokenClassifier` 0.9) while backbone
        layers train. `loss` and `metrics` `"auto"` are the task's.

        Keras's strings work as usual: the heads output logits, so
        `loss="sparse_categorical_crossentropy"` (or `"categorical_…"`,
        `"binary_…"`) means the cross-entropy `from_logits=True` (the task's
        own loss when it is that one); a cross-entropy object with
        `from_logits=False` is a `PolicyError`. Under `TokenClassifier`,
        `metrics` count first sub-words only (as `weighted_metrics`).

        Example:

        ```python
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy",
                      metrics=["accuracy"])
        ```
        """
        self._compile_args = dict(
            optimizer=optimizer,
            loss=loss,
            metrics=metrics,
            learning_rate=learning_rate,
            layer_decay=layer_decay,
            **kwargs,
        )
        if optimizer == "auto":
            if learning_rate == "auto":
                learning_rate = self.default_learning_rate()
            if layer_decay == "auto":
                layer_decay = self.default_layer_decay()
            multipliers = None
            if layer_decay is not None:
                multipliers = layer_decay_multipliers(self.backbone, layer_decay)
            optimizer = fine_tuning_adamw(learning_rate, multipliers=multipliers)
        loss = self.resolve_loss(loss)
        if metrics == "auto":
            metrics = self.default_metrics()
        elif self.targets_are_weighted and kwargs.get("weighted_metrics") in (
            None,
            "auto",
        ):
            kwargs["weighted_metrics"], metrics = metrics, None
        if kwargs.get("weighted_metrics", "auto") == "auto":
            kwargs["weighted_metrics"] = self.default_weighted_metrics()
        super().compile(optimizer=optimizer, loss=loss, metrics=metrics, **kwargs)

    def resolve_loss(self, loss):
        """The loss `compile` uses: `"auto"` is the task's; Keras strings on logits.

        ```python
        model.resolve_loss("sparse_categorical_crossentropy").from_logits  # True
        ```
        """
        if isinstance(loss, str) and loss == "auto":
            return self.default_loss()
        if isinstance(loss, str):
            name = re.sub(r"(?<!^)(?=[A-Z])", "_", loss).lower()
            kind = LOGIT_LOSSES.get(name)
            if kind is None:
                return loss
            default = self.default_loss()
            return default if type(default) is kind else kind(from_logits=True)
        if isinstance(loss, tuple(LOGIT_LOSSES.values())):
            if not getattr(loss, "from_logits", True):
                raise PolicyError(
                    f"loss={type(loss).__name__}(from_logits=False): the head "
                    "outputs logits; pass from_logits=True, the loss's name as a "
                    "string, or loss='auto'."
                )
        return loss

    # === Rates chosen from the training data ===

    rates_from_data = False

    def training_profile(self, x):
        """What the rate choice reads from training data `x` (None: nothing)."""
        return None

    def choose_rates(self, profile, updates):
        """`{"learning_rate", "layer_decay", "reason"}` for a profile (and
        optionally `"min_updates"`, `"updates_evidence"`)."""
        raise NotImplementedError

    def resolve_rates(self, x, updates, verbose="auto"):
        """Choose `compile`'s auto peak rate and layer decay from training data.

        `fit` calls it on its first training data (`tlnlp fit` before it
        tokenizes), with `updates` the optimizer steps it will take, when
        the task sets `rates_from_data`, the model was compiled with
        `optimizer="auto"` and `learning_rate` or `layer_decay` `"auto"`, the
        backbone trains (not frozen, not LoRA, under 60M parameters) and the
        optimizer has not stepped. The model is recompiled with the choice;
        `model.rates_choice` keeps it with the reason and the profile, and
        its `min_updates` (if any) becomes the model's, below which `fit`
        warns.
        Returns the choice, or None when nothing was chosen.

        ```python
        data = tl.data.from_lists(["ann was in rome"], ["B-PER O O B-LOC"])
        model.resolve_rates(data.batch(1), updates=320)  # a TokenClassifier chooses
        ```
        """
        args = getattr(self, "_compile_args", None)
        if not self.rates_from_data or not args or args["optimizer"] != "auto":
            return None
        if "auto" not in (args["learning_rate"], args["layer_decay"]):
            return None
        if getattr(self, "rates_choice", None) is not None:  # chosen once
            return None
        schedule = getattr(self.optimizer, "_learning_rate", None)
        fresh = isinstance(schedule, FineTuningSchedule) and (
            schedule.total_steps is None and not steps_taken(self.optimizer)
        )
        if not fresh or not self._trains_small_backbone():
            return None
        profile = self.training_profile(x)
        if profile is None:
            return None
        choice = dict(self.choose_rates(profile, updates), profile=profile)
        kept = [key for key in ("learning_rate", "layer_decay") if args[key] != "auto"]
        for key in kept:  # what `compile` was given is what trains
            choice[key] = args[key]
        if kept:
            choice["reason"] = f"{' and '.join(kept)} from compile; {choice['reason']}"
        self.rates_choice = choice
        if choice.get("min_updates"):  # what `fit` warns below (update_budget)
            self.min_updates = choice["min_updates"]
            if choice.get("updates_evidence"):
                self.few_updates_evidence = choice["updates_evidence"]
        self.compile(**self._compile_args)
        if verbose != 0:
            print(f"{type(self).__name__}.fit: {rates_line(choice)}")
        return choice

    def _trains_small_backbone(self):
        return (
            lora_rank(backbone_policy(self.freeze)) is None
            and bool(self.backbone.trainable_weights)
            and self.backbone.count_params() < 60_000_000
        )

    def default_weighted_metrics(self):
        """Metrics that honour sample weights (Keras's `metrics` ignore them)."""
        return None

    def compile_from_config(self, config):
        compile_from_saved(self, config)

    def default_learning_rate(self):
        """The peak learning rate `compile(learning_rate="auto")` uses."""
        if lora_rank(backbone_policy(self.freeze)) is not None:
            return LORA_LEARNING_RATE
        if not self.backbone.trainable_weights:
            return 1e-3
        if self.backbone.count_params() < 60_000_000:
            choice = getattr(self, "rates_choice", None)  # `resolve_rates`
            if choice is not None:
                return choice["learning_rate"]
            return self.small_backbone_learning_rate
        return 3e-5

    def default_layer_decay(self):
        """The layer-wise learning-rate decay `compile(layer_decay="auto")` uses.

        The task's `fine_tuning_layer_decay` when some backbone layer trains
        and the backbone has numbered transformer layers; `None` otherwise.
        """
        if self.fine_tuning_layer_decay is None or not self.backbone.trainable_weights:
            return None
        try:
            layer_groups(self.backbone)
        except PolicyError:
            return None
        choice = getattr(self, "rates_choice", None)  # `resolve_rates`
        if choice is not None and self._trains_small_backbone():
            return choice["layer_decay"]
        return self.fine_tuning_layer_decay


def rates_line(choice):
    """One line for a `rates_choice`: what `fit` and `tlnlp fit` print.

    ```python
    rates_line({"learning_rate": 2e-4, "layer_decay": 0.9, "reason": "320 updates"})
    # "peak learning rate 0.0002, layer decay 0.9: 320 updates"
    ```
    """
    return (
        f"peak learning rate {choice['learning_rate']:g}, layer decay "
        f"{choice['layer_decay']}: {choice['reason']}"
    )


def compile_from_saved(model, config):
    """`compile_from_config` of every task model: `keras.saving.load_model`
    restores the resolved optimizer (with its schedule and step count), loss
    and metrics saved with the model, then builds the optimizer's slots so
    its saved state loads.

    ```python
    model = tl.TextClassifier.from_backbone("minilm", labels=["neg", "pos"])
    compile_from_saved(model, model.get_compile_config())
    ```
    """
    model.compile(**keras.saving.deserialize_keras_object(config))
    if model.built:
        model.optimizer.build(model.trainable_variables)
