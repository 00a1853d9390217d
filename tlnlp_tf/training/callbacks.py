"""Callbacks: gradual unfreezing (ULMFiT), the random state for exact resumes,
and the time to the first training step."""

import json
import os
import time

import keras
import numpy as np

from tlnlp_tf.backbones.freezing import layer_groups
from tlnlp_tf.backbones.freezing import lora_layers
from tlnlp_tf.errors import PolicyError


@keras.saving.register_keras_serializable(package="tlnlp_tf")
class GradualUnfreezing(keras.callbacks.Callback):
    """Unfreeze the backbone one layer group at a time, from the top (ULMFiT).

    Training starts with the backbone frozen (only the head learns); every
    `every` epochs (or every `every_steps` training steps) the next group
    below joins: the top transformer layer, then the one under it, …, then
    the embeddings. The optimizer is built once over every weight that will
    ever train, so the moments of weights already training are kept when a
    group joins (a new group's moments start at zero); the train step is
    re-traced so that the new group really trains. `log` holds `(epoch or
    step, trainable groups, trainable parameters)` for each change, also
    printed when `verbose`.

    Args:
        every: epochs between two unfreezings.
        every_steps: steps between two unfreezings instead (counted from the
            start of `fit`), for runs with fewer epochs than layer groups.
        verbose: print what trains when it changes.

    Example:

    ```python
    model = tl.TextClassifier.from_backbone("minilm", labels=["0", "1"])
    model.fit(train.batch(32), epochs=8, callbacks=[GradualUnfreezing()])
    model.fit(train.batch(32), epochs=2, callbacks=[GradualUnfreezing(every_steps=20)])
    ```
    """

    # `fit` trains the whole model (not the head on cached features) under a
    # callback that says it unfreezes the backbone.
    unfreezes_backbone = True

    def __init__(self, every=1, every_steps=None, verbose=True):
        super().__init__()
        if int(every) < 1:
            raise ValueError(f"every must be a positive number of epochs, got {every}.")
        if every_steps is not None and (
            isinstance(every_steps, bool)
            or not isinstance(every_steps, int)
            or every_steps < 1
        ):
            raise ValueError(
                f"every_steps must be a positive number of steps or None, "
                f"got {every_steps!r}."
            )
        self.every = int(every)
        self.every_steps = every_steps
        self.verbose = verbose
        self.log = []

    # `fit` leaves the optimizer unbuilt for this callback (training/eager_build.py).
    builds_optimizer = True

    def on_train_begin(self, logs=None):
        model = self.model
        if lora_layers(model.backbone):
            raise PolicyError(
                "GradualUnfreezing cannot run on a LoRA model "
                f"(freeze={model.freeze!r}): unfreezing would train the frozen "
                "kernels under the adapters. Use "
                "freeze='all' (or 'none') with GradualUnfreezing, or LoRA alone."
            )
        groups = layer_groups(model.backbone)
        pooled = getattr(model, "pooling", None) == "pooled"
        # Top first: the pooler only when the head reads it, layers, then embeddings.
        order = [name for name in groups if name.startswith("layer_")][::-1] + [
            "embeddings"
        ]
        if pooled:
            order.insert(0, "pooler")
        self._order = [(name, groups[name]) for name in order]
        for _, layers in self._order:
            for layer in layers:
                layer.trainable = True
        everything = list(model.trainable_variables)  # all that will ever train
        for _, layers in self._order:
            for layer in layers:
                layer.trainable = False
        optimizer = model.optimizer
        if not optimizer.built:
            optimizer.build(everything)
        else:  # built by Keras's first-batch build (under a strategy)
            known = getattr(optimizer, "_trainable_variables_indices", {})
            if any(optimizer._var_key(v) not in known for v in everything):
                raise ValueError(
                    "GradualUnfreezing needs an optimizer built over every backbone "
                    "weight: compile the model again (with its backbone trainable) "
                    "before fit."
                )
        model.freeze = "all"
        self._step, self._count = 0, None

    def on_epoch_begin(self, epoch, logs=None):
        if self.every_steps is None:
            self._unfreeze(epoch // self.every, epoch, "epoch")

    def on_train_batch_begin(self, batch, logs=None):
        if self.every_steps is not None:
            count = self._step // self.every_steps
            if count != self._count:
                self._unfreeze(count, self._step, "step")
            self._step += 1

    def _unfreeze(self, count, when, unit):
        """Make the top `count` groups trainable and re-trace the train step."""
        model = self.model
        count = min(count, len(self._order))
        self._count = count
        names = []
        for index, (name, layers) in enumerate(self._order):
            for layer in layers:
                layer.trainable = index < count
            if index < count:
                names.append(name)
        model.freeze = _policy(self._order, count)
        model.make_train_function(force=True)
        trainable = sum(int(v.numpy().size) for v in model.trainable_variables)
        self.log.append((when, names, trainable))
        if self.verbose:
            print(
                f"GradualUnfreezing: {unit} {when + 1}: backbone groups training: "
                f"{', '.join(names) or 'none'} ({trainable:,} trainable parameters)"
            )

    def get_config(self):
        return {
            "every": self.every,
            "every_steps": self.every_steps,
            "verbose": self.verbose,
        }


def _policy(order, count):
    """The freeze policy that names the state after unfreezing `count` groups."""
    layers = [name for name, _ in order if name.startswith("layer_")]
    unfrozen_layers = sum(1 for name, _ in order[:count] if name.startswith("layer_"))
    if count == 0:
        return "all"
    if unfrozen_layers < len(layers):
        return f"bottom-{len(layers) - unfrozen_layers}"
    return "none" if count == len(order) else "embeddings"


def backed_up_epoch(folder):
    """The epoch `BackupAndRestore`'s checkpoint in `folder` ends; `None` if none.

    Example:

    ```python
    assert backed_up_epoch("run/backup") is None  # nothing backed up yet
    ```
    """
    path = os.path.join(folder, "training_metadata.json")
    try:
        with open(path, encoding="utf-8") as file:
            return int(json.load(file).get("epoch", 0))
    except (OSError, ValueError):
        return None


class RandomStateBackup(keras.callbacks.Callback):
    """Back up the dropout random state next to `BackupAndRestore`'s checkpoint.

    Keras checkpoints hold the weights and the optimizer, not the state of
    the layers' `SeedGenerator`s, so a resumed run draws the dropout masks
    of its first epoch again and drifts from an uninterrupted one. This
    callback saves the states after every epoch into `folder` and restores,
    when the first epoch begins (after `BackupAndRestore` has restored its
    checkpoint), the state of the epoch that checkpoint ends.

    List it before `BackupAndRestore`: each epoch's state is then written
    (to a temporary file, then renamed) before Keras's checkpoint of that
    epoch, and the previous epoch's is kept, so a kill at any moment leaves
    the state of whichever checkpoint survives.

    Example:

    ```python
    callbacks = [RandomStateBackup("run/backup"),
                 keras.callbacks.BackupAndRestore("run/backup")]
    ```
    """

    FILE = "random_state.npz"
    PREVIOUS = "random_state.previous.npz"

    def __init__(self, folder):
        super().__init__()
        self.folder = folder
        self._restore_pending = False

    def _states(self):
        return [
            generator.state
            for layer in self.model._flatten_layers()
            for generator in getattr(layer, "_seed_generators", [])
        ]

    def on_train_begin(self, logs=None):
        self._restore_pending = True

    def on_epoch_begin(self, epoch, logs=None):
        if self._restore_pending:
            self._restore_pending = False
            self.restore()

    def restore(self):
        """Restore the saved state of the epoch the checkpoint ends, if there is one.

        Returns whether a state was restored.
        """
        epoch = backed_up_epoch(self.folder)
        if epoch is None:
            return False
        states = self._states()
        for name in (self.FILE, self.PREVIOUS):
            path = os.path.join(self.folder, name)
            if not os.path.isfile(path):
                continue
            with np.load(path) as saved:
                if int(saved["epoch"]) != epoch or len(states) != len(saved.files) - 1:
                    continue  # not the state of the restored checkpoint
                for index, state in enumerate(states):
                    state.assign(saved[f"state_{index}"])
            return True
        return False

    def on_epoch_end(self, epoch, logs=None):
        os.makedirs(self.folder, exist_ok=True)
        arrays = {
            f"state_{i}": np.asarray(s.numpy()) for i, s in enumerate(self._states())
        }
        temporary = os.path.join(self.folder, f".{self.FILE}.tmp.npz")
        np.savez(temporary, epoch=np.int64(epoch + 1), **arrays)
        current = os.path.join(self.folder, self.FILE)
        if os.path.isfile(current):
            os.replace(current, os.path.join(self.folder, self.PREVIOUS))
        os.replace(temporary, current)


class FirstStepTimer(keras.callbacks.Callback):
    """Seconds from `start` (a `time.perf_counter()` value) to the first step's end.

    How long a run reads, tokenizes and builds before training begins
    (`tlnlp fit` reports it as `first_step_seconds`); `None` until a step ran.

    Example:

    ```python
    timer = FirstStepTimer(time.perf_counter())
    model.fit(train.batch(8), callbacks=[timer])
    timer.seconds  # reading, tokenizing, building and the first step
    ```
    """

    def __init__(self, start):
        super().__init__()
        self.start = start
        self.seconds = None

    def on_train_batch_end(self, batch, logs=None):
        if self.seconds is None:
            self.seconds = time.perf_counter() - self.start
