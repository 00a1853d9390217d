"""Checks shared by the transferability scores: features, labels, task."""

import numpy as np

from tlnlp_tf.errors import DataError
from tlnlp_tf.errors import PolicyError

TASKS = ("classification", "regression")


def as_features(features, score):
    """`features` as a finite float64 `[examples, dimensions]` array."""
    array = np.asarray(features, dtype=np.float64)
    if array.ndim != 2 or array.shape[0] == 0 or array.shape[1] == 0:
        raise DataError(
            f"{score}: features must be a 2-D array [examples, dimensions] with at "
            f"least one of each, got shape {array.shape}."
        )
    bad = ~np.isfinite(array)
    if bad.any():
        row = int(np.argwhere(bad)[0][0])
        raise DataError(
            f"{score}: the features hold {int(bad.sum())} NaN or infinite values "
            f"(the first in row {row}); every feature must be a finite number "
            "(check the backbone's outputs, e.g. an overflow in float16)."
        )
    return array


def check_task(task):
    if task not in TASKS:
        raise PolicyError(f"task must be one of {TASKS}, got {task!r}.")
    return task


def as_targets(labels, task, count, score):
    """`(targets, classes)`: one-hot `[N, C]` floats and the class names
    (classification) or `[N, T]` numbers and `None` (regression)."""
    check_task(task)
    values = np.asarray(labels)
    if values.ndim == 0 or len(values) != count:
        given = "a scalar" if values.ndim == 0 else f"{len(values)} labels"
        raise DataError(
            f"{score}: {count} feature rows but {given}; there must be one label "
            "per example, in the same order."
        )
    if task == "regression":
        return _numeric(values, score), None
    if values.ndim != 1:
        raise DataError(
            f"{score}: classification labels must be 1-D (one label per example), "
            f"got shape {values.shape}."
        )
    classes, index = np.unique(values.astype(str), return_inverse=True)
    if len(classes) < 2:
        raise DataError(
            f"{score} needs at least two classes; the labels hold only '{classes[0]}'."
        )
    return np.eye(len(classes))[index], classes


def _numeric(values, score):
    try:
        targets = values.astype(np.float64)
    except (TypeError, ValueError):
        for index, value in enumerate(values.reshape(len(values), -1)):
            for item in value:
                try:
                    float(item)
                except (TypeError, ValueError):
                    raise DataError(
                        f"{score}: regression needs numeric targets; label "
                        f"'{item}' (example {index}) is not a number."
                    ) from None
        raise
    if targets.ndim > 2:
        raise DataError(
            f"{score}: regression targets must be [examples] or [examples, targets], "
            f"got shape {targets.shape}."
        )
    if not np.isfinite(targets).all():
        row = int(np.argwhere(~np.isfinite(targets))[0][0])
        raise DataError(
            f"{score}: the regression targets hold NaN or infinite values (the first "
            f"in example {row}); every target must be a finite number."
        )
    return targets.reshape(len(targets), -1)
