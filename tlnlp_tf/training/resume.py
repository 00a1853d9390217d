"""Resume after a kill: `resumable_fit`, a `fit` that picks up where it stopped.

Run the same code again after the process died (a lost Colab runtime, a
preempted VM): training resumes at the end of the last finished epoch,
with the weights, the optimizer state (and its schedule's step), the
dropout random state and the order of the batches an uninterrupted run
would have had. The final model is the one the uninterrupted run gives.

```python
train = tl.data.load_table("train.tsv", text="sentence", label="label")
data = train.to_dataset().shuffle(len(train), seed=0).batch(32)
model = tl.TextClassifier.from_backbone("minilm", labels=train.label_names())
history = tl.training.resumable_fit(model, data, "run/backup", epochs=3)
history.resumed_from_epoch  # 0 for a fresh run
```
"""

import keras
import tensorflow as tf

from tlnlp_tf.errors import PolicyError
from tlnlp_tf.training.callbacks import RandomStateBackup
from tlnlp_tf.training.callbacks import backed_up_epoch
from tlnlp_tf.training.contrastive import is_setfit


def resumable_fit(
    model,
    data,
    backup_dir,
    epochs=1,
    validation_data=None,
    callbacks=None,
    **kwargs,
):
    """`model.fit(data, epochs=…)`, backed up every epoch, resumed after a kill.

    The state is saved in `backup_dir` after every epoch (Keras's
    `BackupAndRestore`, two checkpoints so that a kill while writing one
    leaves the other, and `RandomStateBackup` for the dropout random
    state) and removed when training completes. Called again with the same
    arguments after a kill, it restores the last saved epoch and trains the
    remaining ones.

    For a resumed run to see exactly the batches an uninterrupted one
    would, `data` is read as one iterator over all epochs (`repeat()`, then
    the finished epochs skipped): shuffle it with a fixed seed
    (`shuffle(n, seed=0)`, reshuffled each epoch from it), give it a known
    number of batches, and pass it in as built (iterating it before, e.g.
    to look at a batch, advances its reshuffling). A model whose backbone
    is fully frozen trains its head on cached features (one pass of
    `data`); it resumes from the weights and optimizer state, with the
    batch order of its own cache. `freeze="setfit"` reads `data` once too
    (its pairs are drawn from it) and starts again after a kill.

    Args:
        model: a compiled Keras model (any task model of this library).
        data: a batched `tf.data.Dataset` of one epoch, with a finite
            number of batches.
        backup_dir: the folder for the backup (made when needed).
        epochs: the total number of epochs, finished ones included.
        validation_data: as `fit`'s.
        callbacks: more callbacks, run before the backup's: on a resumed
            run their `on_train_begin` sees the model before the backup is
            restored (a "before" measurement stays the fresh model's).
        **kwargs: other `fit` arguments (`verbose`, …).

    Returns:
        The `History` of this call (the epochs it ran), with
        `resumed_from_epoch` (0 for a fresh run).

    Example:

    ```python
    train = tl.data.from_lists(["a good film", "a dull film"] * 8, ["pos", "neg"] * 8)
    model = tl.TextClassifier.from_backbone("minilm", labels=["neg", "pos"])
    data = train.shuffle(16, seed=0).batch(4)
    history = tl.training.resumable_fit(model, data, "run/backup", epochs=2)
    ```
    """
    if "steps_per_epoch" in kwargs or "initial_epoch" in kwargs:
        raise PolicyError(
            "resumable_fit chooses steps_per_epoch and the first epoch itself; "
            "leave them out."
        )
    resumed_from = backed_up_epoch(backup_dir) or 0
    # The random state first: it is written before Keras's checkpoint of each epoch.
    callbacks = list(callbacks or []) + [
        RandomStateBackup(backup_dir),
        keras.callbacks.BackupAndRestore(backup_dir, double_checkpoint=True),
    ]
    backbone = getattr(model, "backbone", None)
    one_pass = is_setfit(getattr(model, "freeze", None))  # reads its data once
    if (backbone is None or backbone.trainable_weights) and not one_pass:
        steps = _batches(data)
        # A task model reads the start of its first `fit`'s data to choose its
        # `max_length`: from one epoch here, not from the repeated data below,
        # whose reading would advance the shuffle's seeds by a number of epochs
        # that differs between a fresh and a resumed run.
        choose_max_length = getattr(model, "_choose_max_length", None)
        if choose_max_length is not None:
            choose_max_length(data)
        # One iterator over all epochs, each reshuffled from the seed: a resumed
        # run skips the finished epochs and sees the batches an uninterrupted
        # run would have seen.
        data = data.repeat().skip(resumed_from * steps)
        kwargs["steps_per_epoch"] = steps
    history = model.fit(
        data,
        validation_data=validation_data,
        epochs=epochs,
        callbacks=callbacks,
        **kwargs,
    )
    history.resumed_from_epoch = resumed_from
    return history


def _batches(data):
    if not isinstance(data, tf.data.Dataset):
        raise PolicyError(
            "resumable_fit takes a batched tf.data.Dataset (e.g. "
            "examples.to_dataset().shuffle(n, seed=0).batch(32))."
        )
    steps = int(data.cardinality())
    if steps < 0:
        raise PolicyError(
            "resumable_fit needs a dataset with a known, finite number of "
            "batches (no repeat(), no filter()); got an unknown or infinite one."
        )
    if steps == 0:
        raise PolicyError("resumable_fit: the dataset has no batches.")
    return steps
