"""One stream of batches from several tasks' datasets (multi-task learning)."""

import tensorflow as tf

from tlnlp_tf.errors import DataError
from tlnlp_tf.errors import PolicyError

SAMPLINGS = ("proportional", "uniform", "temperature")


def mix_tasks(
    datasets, sampling="proportional", temperature=2.0, steps=None, seed=None
):
    """Interleave several tasks' batched datasets: each batch comes from one task.

    Task `i` with `n_i` batches per pass is drawn with probability
    proportional to `n_i` (`"proportional"`: every example about once per
    epoch), `1` (`"uniform"`: small tasks oversampled), or
    `n_i ** (1 / temperature)` (`"temperature"`, between the two; T5 and
    MT-DNN use it). A task's dataset repeats when it runs out, reshuffled if
    it shuffles itself. An epoch is `steps` batches (default: the sum of the
    `n_i`). The sequence of tasks is drawn once from `seed` and is the same
    every time the dataset is iterated, so that runs (one device or
    several, resumed or not) see the same batches.

    Args:
        datasets: `{task name: batched tf.data.Dataset}` of finite, known
            length (e.g. from `MultiTaskModel.task_dataset`).
        sampling: `"proportional"`, `"uniform"` or `"temperature"`.
        temperature: `T >= 1` for `"temperature"` (1 is proportional).
        steps: batches per epoch.
        seed: seed of the task draws.

    Example:

    ```python
    data = tl.data.mix_tasks({"sst2": sst2_batches, "stsb": stsb_batches},
                             sampling="temperature", temperature=2.0)
    model.fit(data, epochs=3)
    ```
    """
    if not isinstance(datasets, dict) or not datasets:
        raise PolicyError(
            "mix_tasks takes a non-empty dict {task name: batched dataset}."
        )
    if sampling not in SAMPLINGS:
        raise PolicyError(
            f"sampling must be one of {', '.join(SAMPLINGS)}; got {sampling!r}."
        )
    if sampling == "temperature" and not float(temperature) >= 1.0:
        raise PolicyError(f"temperature must be >= 1, got {temperature!r}.")
    sizes = {}
    for name, dataset in datasets.items():
        count = int(dataset.cardinality())
        if count <= 0:
            raise DataError(
                f"mix_tasks: the dataset of task {name!r} has no known, finite "
                f"number of batches (cardinality {count}); batch a finite dataset "
                "(or apply tf.data.experimental.assert_cardinality)."
            )
        sizes[name] = count
    if sampling == "proportional":
        weights = [float(n) for n in sizes.values()]
    elif sampling == "uniform":
        weights = [1.0] * len(sizes)
    else:
        weights = [float(n) ** (1.0 / float(temperature)) for n in sizes.values()]
    total = sum(weights)
    steps = int(steps or sum(sizes.values()))
    mixed = tf.data.Dataset.sample_from_datasets(
        [dataset.repeat() for dataset in datasets.values()],
        weights=[w / total for w in weights],
        seed=seed,
        rerandomize_each_iteration=False,
    )
    mixed = mixed.take(steps).apply(tf.data.experimental.assert_cardinality(steps))
    return mixed.prefetch(tf.data.AUTOTUNE)
