"""F1 for integer labels and logits."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="tlnlp_tf")
class SparseF1Score(keras.metrics.F1Score):
    """F1 score from integer labels and per-class logits or probabilities.

    Two classes: F1 of class 1 (the "positive" class, as scikit-learn's
    default `average="binary"`). More classes: macro F1.

    Example:

    ```python
    model.compile(metrics=[SparseF1Score(num_classes=2)])
    ```
    """

    def __init__(self, num_classes, name="f1", **kwargs):
        kwargs.pop("average", None)
        kwargs.pop("threshold", None)
        super().__init__(
            average=None if num_classes == 2 else "macro",
            threshold=None,
            name=name,
            **kwargs,
        )
        self.num_classes = int(num_classes)
        # Build the counters now (Keras builds them on the first update): a
        # model reloaded and compiled again must not meet an unbuilt metric.
        self._build((None, self.num_classes), (None, self.num_classes))

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_true = ops.one_hot(
            ops.reshape(ops.cast(y_true, "int32"), (-1,)), self.num_classes
        )
        y_pred = ops.one_hot(ops.argmax(y_pred, axis=-1), self.num_classes)
        super().update_state(y_true, y_pred, sample_weight)

    def result(self):
        value = super().result()
        return value[1] if self.num_classes == 2 else value

    def get_config(self):
        config = super().get_config()
        config.pop("average", None)
        config.pop("threshold", None)
        config["num_classes"] = self.num_classes
        return config
