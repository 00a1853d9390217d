"""Feature extraction without paying the frozen backbone every epoch.

With the whole backbone frozen (`freeze="all"`), a pooled-text task's
backbone output never changes: `fit` encodes the training (and validation)
data once, then trains only the head on the cached vectors. The head layers
are shared, so the task model predicts with what was trained.

The backbone runs in inference mode while encoding (no dropout inside it),
as in feature extraction with sentence-transformers or Hugging Face
pipelines.

With `compile(optimizer="auto")` and a linear head (a `TextClassifier` or
`TextRegressor` without a hidden layer) the head is not trained for a number
of epochs: it is solved to its optimum, an L2-regularised logistic (or
ridge) regression on the cached vectors whose strength is chosen by
cross-validation (`tlnlp_tf.training.convex_head`). `fit` then returns a
`History` of one entry, and `history.solution` says what was solved. With
an optimizer of your own (`compile(optimizer="adam")`), the head trains by
gradient descent for `epochs`, and its dropout applies.
"""

import time
import weakref

import keras
import numpy as np
import tensorflow as tf

from tlnlp_tf.backbones.pooled_encoder import pooled_encoder
from tlnlp_tf.data.padding import LENGTH_MULTIPLE
from tlnlp_tf.progress import progress
from tlnlp_tf.training import convex_head
from tlnlp_tf.training.optimizers import fine_tuning_adamw


class PooledHead(keras.layers.Layer):
    """Run a task head from pooled vectors (the cached features)."""

    def __init__(self, head, **kwargs):
        super().__init__(dtype=head.dtype_policy, **kwargs)
        self.head = head

    def call(self, pooled, training=None):
        return self.head.from_pooled(pooled, training=training)


def can_cache(task, x, kwargs):
    """Whether `fit` may train `task`'s head on cached features of `x`."""
    return (
        isinstance(x, tf.data.Dataset)
        and task.preprocessor is not None
        and not task.backbone.trainable_weights
        and hasattr(task.head, "from_pooled")
        and "steps_per_epoch" not in kwargs
        and not any(_changes_freezing(c) for c in kwargs.get("callbacks") or ())
    )


def _changes_freezing(callback):
    """A callback that unfreezes the backbone during fit (e.g. GradualUnfreezing)
    needs the whole model, not the head on cached features."""
    return hasattr(callback, "unfreezes_backbone")


# Examples per forward pass when encoding, in batches of similar lengths.
ENCODE_BATCH = 64


def encode(task, dataset, verbose="auto", name="training"):
    """`(features, y, sample_weight, largest batch)` of a batched raw-text dataset.

    The texts are tokenized batch by batch, then encoded shortest first in
    batches of `ENCODE_BATCH` of similar lengths (each trimmed to its longest
    row, rounded up to a multiple of 8): no batch pays for another's longest
    text, and the order of examples does not change what is computed. The
    features come back in the dataset's order. Each pass shows a progress
    bar on stderr unless `verbose=0`.
    """
    encoder = pooled_encoder(task.backbone, task.head.pool)
    run = None
    rows, targets, weights, largest = [], [], [], 0
    batches = dataset.map(task.preprocess_samples, tf.data.AUTOTUNE)
    known = int(dataset.cardinality())
    for batch in progress(
        batches,
        f"Tokenizing the {name} data for the feature cache",
        total=known if known > 0 else None,
        verbose=verbose,
        unit="batch",
    ):
        x, y, w = keras.utils.unpack_x_y_sample_weight(batch)
        x = {name: np.asarray(value) for name, value in x.items()}
        lengths = _lengths(x["padding_mask"])
        largest = max(largest, len(lengths))
        for row, length in enumerate(lengths):
            rows.append({name: value[row, :length] for name, value in x.items()})
        if y is not None:
            targets.append(np.asarray(y))
        if w is not None:
            weights.append(np.asarray(w))
    if not rows:
        raise ValueError("The training dataset is empty.")
    features = None
    order = np.argsort([len(row["padding_mask"]) for row in rows], kind="stable")
    starts = range(0, len(order), ENCODE_BATCH)
    label = f"Encoding {len(rows)} {name} examples with the frozen backbone (once)"
    for start in progress(starts, label, verbose=verbose, unit="batch"):
        chosen = order[start : start + ENCODE_BATCH]
        batch = _pad([rows[i] for i in chosen])
        if run is None:  # one trace for every padded length, no retracing
            run = _traced(encoder, batch)
        vectors = np.asarray(tf.cast(run(batch), tf.float32))
        if features is None:
            features = np.zeros((len(rows), vectors.shape[-1]), np.float32)
        features[chosen] = vectors
    join = lambda parts: np.concatenate(parts) if parts else None
    return features, join(targets), join(weights), largest


def _traced(encoder, batch):
    """`encoder` in inference mode as one `tf.function` for any batch and length."""
    spec = {
        name: tf.TensorSpec([None] * np.ndim(value), tf.as_dtype(value.dtype))
        for name, value in batch.items()
    }
    return tf.function(lambda x: encoder(x, training=False), input_signature=[spec])


def _lengths(mask):
    """Each row's length up to its last real token (padding is on the right)."""
    mask = mask.astype(bool)
    last = mask.shape[1] - np.argmax(mask[:, ::-1], axis=1)
    return np.where(mask.any(axis=1), last, 1)


def _pad(rows, multiple=LENGTH_MULTIPLE):
    """Stack token rows of different lengths, zero-padded on the right."""
    longest = max(len(row["padding_mask"]) for row in rows)
    width = -(-longest // multiple) * multiple
    batch = {}
    for name in rows[0]:
        values = np.zeros((len(rows), width), rows[0][name].dtype)
        for i, row in enumerate(rows):
            values[i, : len(row[name])] = row[name]
        batch[name] = values
    return batch


def fit_head(
    task,
    x,
    epochs=1,
    validation_data=None,
    verbose="auto",
    callbacks=None,
    initial_epoch=0,
    shuffle=True,
    **kwargs,
):
    """Encode once, then fit the head alone; returns the `History`."""
    start = time.perf_counter()
    features, y, weights, batch_size = encode(task, x, verbose)
    encoded = time.perf_counter()
    data = _dataset(features, y, weights, batch_size, shuffle)
    if validation_data is not None:
        val_features, val_y, val_weights, _ = encode(
            task, validation_data, verbose, name="validation"
        )
        validation_data = _dataset(val_features, val_y, val_weights, batch_size, False)
    solve = task._compile_args["optimizer"] == "auto" and solvable(task)
    # In the task's strategy scope: under tf.distribute the head's variables
    # are mirrored, and so must the head model's optimizer state be.
    with task.distribute_strategy.scope():
        model = task._head_model(features.shape[-1])
        _compile_head(task, model, steps=len(data) * epochs)
        # The task's own optimizer does not step here; built now, it saves
        # with the model in the shape a reload builds (no "skipping
        # variables" warning).
        if task.optimizer is not None and not task.optimizer.built:
            task.optimizer.build(task.trainable_variables)
    # Callbacks see this head model; `source_task` leads them to the task
    # (a weak reference, so Keras does not track the backbone as a layer).
    model.source_task = weakref.ref(task)
    if solve:
        solution = solve_head(task, features, y, weights)
        solution["seconds"] = {
            "encode": round(encoded - start, 2),
            "solve": round(time.perf_counter() - encoded, 2),
        }
        return _solved_history(model, data, validation_data, solution, callbacks)
    return model.fit(
        data,
        epochs=epochs,
        validation_data=validation_data,
        verbose=verbose,
        callbacks=callbacks,
        initial_epoch=initial_epoch,
        shuffle=False,
        **kwargs,
    )


def _compile_head(task, model, steps):
    """Compile the head model with the task's compile arguments."""
    args = dict(task._compile_args)
    optimizer = args.pop("optimizer")
    learning_rate = args.pop("learning_rate")
    args.pop("layer_decay", None)
    if optimizer == "auto":
        if learning_rate == "auto":
            learning_rate = task.default_learning_rate()
        optimizer = fine_tuning_adamw(learning_rate, total_steps=steps)
    else:  # a fresh optimizer: a Keras name ("adam") or a copy of the user's
        if isinstance(optimizer, (str, dict)):
            optimizer = keras.optimizers.get(optimizer)
        else:
            optimizer = optimizer.__class__.from_config(optimizer.get_config())
    loss = task.resolve_loss(args.pop("loss"))
    metrics = args.pop("metrics")
    args["weighted_metrics"] = args.get("weighted_metrics", "auto")
    if args["weighted_metrics"] == "auto":
        args["weighted_metrics"] = task.default_weighted_metrics()
    model.compile(
        optimizer=optimizer,
        loss=loss,
        metrics=task.default_metrics() if metrics == "auto" else metrics,
        **args,
    )


def solvable(task):
    """Whether `task`'s head is linear on the pooled vector (a convex problem)."""
    head = task.head
    if hasattr(head, "logits"):
        return getattr(head, "hidden", None) is None
    return hasattr(head, "value")


def solve_head(task, features, y, weights=None):
    """Set the linear head to the optimum on `features`; returns what was solved.

    A classifier's head is the logistic regression, a regressor's the ridge
    regression, each at the strength cross-validation chose (see
    `tlnlp_tf.training.convex_head`).
    """
    head = task.head
    if hasattr(head, "logits"):
        classes = head.num_classes
        if hasattr(task, "check_label_coverage"):
            task.check_label_coverage(y)
        strength = convex_head.choose_C(features, y, classes, weights)
        kernel, bias, info = convex_head.fit_logistic(
            features, y, classes, strength, weights
        )
        dense, name = head.logits, "C"
    else:
        strength = convex_head.choose_alpha(features, y, weights)
        kernel, bias, info = convex_head.fit_ridge(features, y, strength, weights)
        dense, name = head.value, "alpha"
    dense.kernel.assign(kernel.astype(dense.kernel.dtype))
    dense.bias.assign(bias.astype(dense.bias.dtype))
    return {
        "solver": "lbfgs" if name == "C" else "normal-equations",
        name: strength,
        "examples": int(len(features)),
        **info,
    }


def _solved_history(model, data, validation_data, solution, callbacks):
    """A one-entry `History` (with the callbacks run once) for a solved head."""
    logs = model.evaluate(data, return_dict=True, verbose=0)
    if validation_data is not None:
        scores = model.evaluate(validation_data, return_dict=True, verbose=0)
        logs.update({f"val_{name}": value for name, value in scores.items()})
    logs = {name: float(value) for name, value in logs.items()}
    callbacks = keras.callbacks.CallbackList(
        callbacks, add_history=True, model=model, epochs=1, steps=len(data), verbose=0
    )
    callbacks.on_train_begin()
    callbacks.on_epoch_begin(0)
    callbacks.on_epoch_end(0, logs)
    callbacks.on_train_end(logs)
    history = model.history
    history.solution = solution
    return history


def _dataset(features, y, weights, batch_size, shuffle):
    parts = tuple(p for p in (features, y, weights) if p is not None)
    data = tf.data.Dataset.from_tensor_slices(parts)
    if shuffle:
        data = data.shuffle(len(features), reshuffle_each_iteration=True)
    return data.batch(batch_size).prefetch(tf.data.AUTOTUNE)
