"""L2-SP: keep fine-tuned weights near their pretrained start (Li, Xiong, Huan 2018)."""

import keras
import numpy as np
from keras import ops

from tlnlp_tf.errors import PolicyError


class AnchoredL2(keras.regularizers.Regularizer):
    """`strength / 2 * ||w - anchor||^2`, plus what the weight's regularizer was before.

    `anchor=None` pulls toward zero. Set on a variable by `L2SP.apply`; not
    saved with the model (a layer's config holds its own regularizers, not
    this one).
    """

    def __init__(self, strength, anchor=None, previous=None):
        self.strength = float(strength)
        self.anchor = anchor
        self.previous = previous

    def __call__(self, weight):
        penalty = self.own(weight)
        if self.previous is not None:
            penalty = ops.add(penalty, self.previous(weight))
        return penalty

    def own(self, weight):
        """This penalty alone, without the previous regularizer."""
        difference = (
            weight if self.anchor is None else ops.subtract(weight, self.anchor)
        )
        return 0.5 * self.strength * ops.sum(ops.square(difference))


@keras.saving.register_keras_serializable(package="tlnlp_tf")
class L2SP:
    """The L2-SP penalty: the backbone pulled toward its pretrained weights, the head 0.

    `apply(model)` adds `alpha / 2 * ||w - w0||^2` for each trainable
    backbone weight `w` (`w0`: its value when `apply` runs, the pretrained
    one before training) and `beta / 2 * ||w||^2` for each kernel of the
    head (the model's weights outside the backbone) to the model's
    regularization losses (`model.losses`), which Keras adds to the training
    loss (and to `evaluate`'s). Weights frozen now but unfrozen later (e.g. by
    `GradualUnfreezing`) are anchored too. Works with any keras-hub task: it
    needs `model.backbone`. A saved model does not keep the penalty.

    Args:
        alpha: strength of the pull toward the starting weights (>= 0).
        beta: strength of plain L2 on the head's kernels (>= 0).

    Example:

    ```python
    model = tl.TextClassifier.from_backbone("minilm", labels=["0", "1"])
    L2SP(alpha=0.1, beta=0.01).apply(model)
    model.fit(train.batch(32), epochs=3)
    ```
    """

    def __init__(self, alpha=0.01, beta=0.01):
        self.alpha = _strength("alpha", alpha)
        self.beta = _strength("beta", beta)

    def apply(self, model):
        """Anchor `model`'s backbone at its weights, add the penalty; return `model`."""
        backbone = getattr(model, "backbone", None)
        if not isinstance(backbone, keras.layers.Layer):
            raise PolicyError(
                "L2SP.apply needs a task model with a `backbone` (TextClassifier, "
                "TextRegressor, TokenClassifier, SpanExtractor…); got "
                f"{type(model).__name__}."
            )
        self.remove(model)
        inside = {id(w) for w in backbone.weights}
        for weight in backbone.weights:
            if not _is_float(weight):
                continue
            # A numpy copy: built from the variable itself, the anchor would follow it.
            anchor = keras.Variable(
                np.array(ops.convert_to_numpy(weight.value)),
                trainable=False,
                dtype=weight.dtype,
                name=f"l2sp_anchor_{weight.name}",
            )
            weight.regularizer = AnchoredL2(self.alpha, anchor, weight.regularizer)
        for weight in model.weights:
            if id(weight) not in inside and weight.name == "kernel":
                weight.regularizer = AnchoredL2(self.beta, None, weight.regularizer)
        _retrace(model)
        return model

    def remove(self, model):
        """Take an applied L2-SP penalty off `model` (any earlier regularizers stay)."""
        for weight in model.weights:
            if isinstance(weight.regularizer, AnchoredL2):
                weight.regularizer = weight.regularizer.previous
        _retrace(model)
        return model

    @staticmethod
    def penalty(model):
        """The L2-SP penalty's value over `model`'s trainable weights (a float)."""
        total = 0.0
        for weight in model.trainable_weights:
            if isinstance(weight.regularizer, AnchoredL2):
                total += float(weight.regularizer.own(weight))
        return total

    def get_config(self):
        return {"alpha": self.alpha, "beta": self.beta}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


def _strength(name, value):
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = None
    if isinstance(value, bool) or number is None or not number >= 0.0:
        raise PolicyError(
            f"L2SP: {name} must be a number >= 0 (the penalty's strength), "
            f"got {value!r}."
        )
    return number


def _is_float(weight):
    return "float" in str(weight.dtype)


def _retrace(model):
    # Keras reads `model.losses` when it traces the train and test steps.
    if getattr(model, "train_function", None) is not None:
        model.make_train_function(force=True)
    if getattr(model, "test_function", None) is not None:
        model.make_test_function(force=True)
