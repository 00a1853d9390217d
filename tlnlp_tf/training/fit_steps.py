"""The steps of one `fit` call: the schedule's length and one iterator for all epochs.

The `fit` of `TextTask` (classifiers, regressor, token and span tasks),
`LanguageModel`, `EncoderDecoderLM` and `MultiTaskModel` sets the auto
schedule's length from the steps it is about to take; theirs and that of
`WordTagger` and `WordClassifier` keep one `tf.data` iterator for all the
epochs of a finite dataset.

Example:

```python
import tensorflow as tf

from tlnlp_tf.training.fit_steps import one_iterator
from tlnlp_tf.training.fit_steps import steps_per_epoch

data = tf.data.Dataset.range(10).batch(4)
steps_per_epoch(data, None)  # 3
kwargs = {}
repeated = one_iterator(data, 2, kwargs)  # kwargs == {"steps_per_epoch": 3}
```
"""

import warnings

import keras
import numpy as np
import tensorflow as tf

from tlnlp_tf.training.schedules import FineTuningSchedule


def steps_taken(optimizer):
    """The optimizer's step count (also for a distributed `MirroredVariable`)."""
    value = optimizer.iterations.value
    if hasattr(value, "read_value"):  # a tf.Variable; in a strategy's scope too
        value = value.read_value()
    return int(np.asarray(keras.ops.convert_to_numpy(value)))


def set_schedule_length(optimizer, x, batch_size, epochs, fit_kwargs):
    """Decay the auto schedule to zero over this `fit` call's steps.

    Only on a fresh `FineTuningSchedule` (no length yet, no step taken):
    a second `fit`, or one resumed from a backup, keeps the schedule it has.
    """
    schedule = getattr(optimizer, "_learning_rate", None)
    if not isinstance(schedule, FineTuningSchedule):
        return
    if schedule.total_steps is not None or steps_taken(optimizer):
        return
    steps = fit_kwargs.get("steps_per_epoch") or steps_per_epoch(x, batch_size)
    if steps:
        schedule.total_steps = int(steps) * int(epochs)
    else:
        warnings.warn(
            "The number of steps per epoch is unknown (pass "
            "steps_per_epoch): the learning rate warms up and then stays "
            "constant instead of decaying.",
            stacklevel=4,
        )


def steps_per_epoch(x, batch_size):
    """Batches per epoch of a finite dataset or of arrays; None if unknown."""
    if isinstance(x, tf.data.Dataset):
        cardinality = int(x.cardinality())
        return cardinality if cardinality > 0 else None
    if x is not None and batch_size:
        features = x[0] if isinstance(x, tuple) else x
        return -(-len(features) // batch_size)
    return None


def static_batch_size(x):
    """The batch size of a dataset batched with `drop_remainder=True`, else None.

    ```python
    static_batch_size(tf.data.Dataset.range(10).batch(4, drop_remainder=True))  # 4
    ```
    """
    if not isinstance(x, tf.data.Dataset):
        return None
    for spec in tf.nest.flatten(x.element_spec):
        if spec.shape.rank:
            return spec.shape[0]
    return None


def one_iterator(dataset, epochs, kwargs):
    """A finite dataset repeated, with `steps_per_epoch` its length, for `epochs > 1`.

    Keras makes a new iterator for every epoch of a finite dataset, and
    `tf.data` instantiates the whole preprocessing function (tokenizer,
    windows, packing: thousands of graph nodes) for each one: about a second
    per epoch on a CPU. Over a repeated dataset with `steps_per_epoch`,
    Keras keeps one iterator for all epochs; each pass still reshuffles
    (`shuffle(..., reshuffle_each_iteration=True)`), so the batches are those
    of per-epoch iterators. Left alone: one epoch, a `steps_per_epoch` the
    caller chose, and datasets of unknown or infinite length.
    """
    if epochs <= 1 or kwargs.get("steps_per_epoch") is not None:
        return dataset
    steps = int(dataset.cardinality())
    if steps <= 0:
        return dataset
    kwargs["steps_per_epoch"] = steps
    return dataset.repeat()
