"""Correlation between predicted and true scores (STS-B style)."""

import keras
import numpy as np
from keras import ops


@keras.saving.register_keras_serializable(package="tlnlp_tf")
class PearsonCorrelation(keras.metrics.Metric):
    """Pearson's r, accumulated over batches.

    Works in `evaluate` and under tf.distribute.

    Example:

    ```python
    model.compile(loss="mse", metrics=[PearsonCorrelation()])
    ```
    """

    def __init__(self, name="pearson", **kwargs):
        super().__init__(name=name, **kwargs)
        self._sums = [
            self.add_variable(shape=(), initializer="zeros", name=n, dtype="float64")
            for n in ("n", "x", "y", "xx", "yy", "xy")
        ]

    def update_state(self, y_true, y_pred, sample_weight=None):
        x = ops.reshape(ops.cast(y_pred, "float64"), (-1,))
        y = ops.reshape(ops.cast(y_true, "float64"), (-1,))
        # Weighted sums (weight 0 leaves a pair out, e.g. another task's rows).
        w = ops.ones_like(x)
        if sample_weight is not None:
            w = ops.reshape(ops.cast(sample_weight, "float64"), (-1,))
        terms = (w, w * x, w * y, w * x * x, w * y * y, w * x * y)
        for variable, term in zip(self._sums, terms):
            variable.assign_add(ops.sum(term))

    def result(self):
        n, x, y, xx, yy, xy = self._sums
        covariance = xy - x * y / n
        spread = ops.sqrt(ops.maximum((xx - x * x / n) * (yy - y * y / n), 1e-24))
        return ops.cast(covariance / spread, "float32")

    def reset_state(self):
        for variable in self._sums:
            variable.assign(0.0)


def pearson(y_true, y_pred):
    """Pearson's r of two 1-D arrays.

    Example:

    ```python
    assert round(pearson([1.0, 2.0, 3.0], [2.0, 4.0, 6.5]), 3) == 0.998
    ```
    """
    return float(
        np.corrcoef(np.asarray(y_true, float), np.asarray(y_pred, float))[0, 1]
    )


def spearman(y_true, y_pred):
    """Spearman's rho: Pearson's r of the ranks (ties get their average rank).

    Example:

    ```python
    assert spearman([1.0, 2.0, 3.0], [1.0, 10.0, 100.0]) == 1.0
    ```
    """
    return pearson(_ranks(y_true), _ranks(y_pred))


def _ranks(values):
    values = np.asarray(values, float)
    order = np.argsort(values, kind="mergesort")
    ranks = np.empty(len(values))
    ranks[order] = np.arange(1, len(values) + 1)
    for value in np.unique(values):  # average the ranks of ties
        tied = values == value
        if tied.sum() > 1:
            ranks[tied] = ranks[tied].mean()
    return ranks
