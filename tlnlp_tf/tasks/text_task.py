"""`TextTask`: what every task on a pooled text encoding shares.

A backbone, a head on the pooled sequence, a keras-hub preprocessor run
inside `tf.data`, a freeze policy, fine-tuning `compile()` defaults, a
`max_length` chosen from the data, and dynamic padding. Subclasses build the
head and say how targets are encoded, which loss and metrics apply, and how
predictions are decoded.
"""

import warnings

import keras
import keras_hub
import numpy as np
import tensorflow as tf

from tlnlp_tf.data.lengths import choose_sequence_length
from tlnlp_tf.data.padding import trim_padding
from tlnlp_tf.errors import DataError
from tlnlp_tf.errors import PolicyError
from tlnlp_tf.freezing import apply_freeze
from tlnlp_tf.freezing import frozen_groups
from tlnlp_tf.freezing import layer_groups
from tlnlp_tf.training.layer_decay import layer_decay_multipliers
from tlnlp_tf.training.optimizers import fine_tuning_adamw
from tlnlp_tf.training.schedules import WarmupLinearDecay

# Texts sampled from the training data to choose `max_length`.
LENGTH_SAMPLE = 2048


class TextTask(keras_hub.models.Task):
    """Base of the pooled-text tasks (`TextClassifier`, `TextRegressor`).

    Subclasses call `_build(backbone, head, ...)` from `__init__` and define
    `default_loss()`, `default_metrics()` and `encode_targets(y)`.
    """

    def _build(self, backbone, head, preprocessor, pooling, dropout, freeze,
               max_length, **kwargs):
        freeze = _apply_policy(backbone, freeze, pooling)
        # === Layers ===
        self.backbone = backbone
        self.preprocessor = preprocessor
        self.head = head

        # === Functional Model ===
        inputs = backbone.input
        outputs = backbone(inputs)
        if not isinstance(outputs, dict):
            outputs = {"sequence_output": outputs}
        head_inputs = {
            "sequence_output": outputs["sequence_output"],
            "padding_mask": inputs["padding_mask"],
        }
        if pooling == "pooled":
            head_inputs["pooled_output"] = outputs["pooled_output"]
        super().__init__(
            inputs=inputs, outputs=self.head(head_inputs), compile=False, **kwargs
        )

        # === Config ===
        self.pooling = pooling
        self.dropout = dropout
        self.freeze = freeze
        self.max_length = max_length
        if max_length is not None and preprocessor is not None:
            self.preprocessor.sequence_length = max_length

    # === Training set-up ===

    def compile(
        self,
        optimizer="auto",
        loss="auto",
        *,
        metrics="auto",
        learning_rate="auto",
        layer_decay=None,
        **kwargs,
    ):
        """Compile with fine-tuning defaults.

        `optimizer="auto"` is AdamW with 10% warmup and linear decay over the
        first `fit()` call, weight decay 0.01 except on biases and LayerNorm,
        gradient clipping at norm 1. `learning_rate="auto"` is 1e-3 when the backbone is frozen (only the
        head trains), 1e-4 for backbones under 60M parameters and 3e-5 for
        larger ones. `layer_decay=d` gives backbone layer `i` of `L` the
        rate `learning_rate * d ** (L - i)` (embeddings `d ** (L + 1)`, the
        head the full rate; see `layer_decay_multipliers`). `loss` and
        `metrics` `"auto"` are the task's.
        """
        self._compile_args = dict(
            optimizer=optimizer, loss=loss, metrics=metrics,
            learning_rate=learning_rate, layer_decay=layer_decay, **kwargs,
        )
        if optimizer == "auto":
            if learning_rate == "auto":
                learning_rate = self.default_learning_rate()
            multipliers = None
            if layer_decay is not None:
                multipliers = layer_decay_multipliers(self.backbone, layer_decay)
            optimizer = fine_tuning_adamw(learning_rate, multipliers=multipliers)
        if loss == "auto":
            loss = self.default_loss()
        if metrics == "auto":
            metrics = self.default_metrics()
        if kwargs.get("weighted_metrics", "auto") == "auto":
            kwargs["weighted_metrics"] = self.default_weighted_metrics()
        super().compile(optimizer=optimizer, loss=loss, metrics=metrics, **kwargs)

    def default_weighted_metrics(self):
        """Metrics that honour sample weights (Keras's `metrics` ignore them)."""
        return None

    def compile_from_config(self, config):
        # `keras.saving.load_model` restores the resolved optimizer (with its
        # schedule and step count), loss and metrics saved with the model.
        config = keras.saving.deserialize_keras_object(config)
        self.compile(**config)
        if self.built:
            self.optimizer.build(self.trainable_variables)

    def default_learning_rate(self):
        """The peak learning rate `compile(learning_rate="auto")` uses."""
        if not self.backbone.trainable_weights:
            return 1e-3
        return 1e-4 if self.backbone.count_params() < 60_000_000 else 3e-5

    def set_freeze(self, policy):
        """Apply a freeze policy and recompile, so frozen weights cannot move.

        Keras 3 fixes the trainable variables when the train step is built:
        without the recompile, weights frozen after `compile()` still train.
        The optimizer starts fresh (its state belonged to the old set).

        Example:

        ```python
        model.set_freeze("bottom-4")
        ```
        """
        self.freeze = _apply_policy(self.backbone, policy, self.pooling)
        args = dict(self._compile_args)
        if self.optimizer is not None and int(self.optimizer.iterations):
            warnings.warn(
                "set_freeze: the optimizer's state (moments, step count) is "
                "reset because the set of trainable weights changed.",
                stacklevel=2,
            )
        optimizer = args["optimizer"]
        if isinstance(optimizer, keras.optimizers.Optimizer) and optimizer.built:
            args["optimizer"] = optimizer.__class__.from_config(
                optimizer.get_config()
            )
        self.compile(**args)
        return self

    def frozen_groups(self):
        """The backbone layer groups the current policy keeps frozen."""
        return frozen_groups(self.backbone, self.freeze)

    # === Data ===

    def preprocess_samples(self, x, y=None, sample_weight=None):
        if y is not None:
            y = self.encode_targets(y)
        if self.preprocessor is None:
            return keras.utils.pack_x_y_sample_weight(x, y, sample_weight)
        # `x=` by keyword: a positional `(texts, pairs)` tuple would be read
        # by the preprocessor as `(x, y)`.
        x = self.preprocessor(x=x)
        # Dynamic padding: `max_length` caps truncation; each batch only
        # pays for its own longest text.
        x = trim_padding(x)
        return keras.utils.pack_x_y_sample_weight(x, y, sample_weight)

    def fit(self, x=None, y=None, batch_size=None, epochs=1, **kwargs):
        """`keras.Model.fit` on raw text; sets `max_length` and the LR decay.

        On the first call, `max_length=None` is chosen from the training texts
        and the auto schedule decays to zero over this call's steps.
        """
        self._choose_max_length(x)
        self._set_schedule_length(x, batch_size, epochs, kwargs)
        if isinstance(x, tf.data.Dataset):
            kwargs.setdefault("shuffle", False)  # a dataset shuffles itself
        return super().fit(x, y, batch_size=batch_size, epochs=epochs, **kwargs)

    def evaluate(self, x=None, y=None, batch_size=None, **kwargs):
        self._choose_max_length(x)
        return super().evaluate(x, y, batch_size=batch_size, **kwargs)

    def predict_outputs(self, x=None, batch_size=None, **kwargs):
        """The head's raw outputs for raw text (lists, pairs or a dataset)."""
        if _is_raw_text(x):
            x = _as_text_dataset(x, batch_size or 32)
            batch_size = None
        self._choose_max_length(x)
        return super().predict(x, batch_size=batch_size, **kwargs)

    def _choose_max_length(self, x):
        if self.max_length is not None or self.preprocessor is None:
            return
        texts, pairs = _sample_texts(x)
        if not texts:
            return
        limit = getattr(self.backbone, "max_sequence_length", 512)
        self.max_length = choose_sequence_length(
            self.preprocessor.tokenizer, texts, pairs, limit=limit
        )
        self.preprocessor.sequence_length = self.max_length

    def _set_schedule_length(self, x, batch_size, epochs, kwargs):
        schedule = getattr(self.optimizer, "_learning_rate", None)
        if not isinstance(schedule, WarmupLinearDecay):
            return
        if schedule.total_steps is not None or int(self.optimizer.iterations):
            return
        steps = kwargs.get("steps_per_epoch") or _steps_per_epoch(x, batch_size)
        if steps:
            schedule.total_steps = int(steps) * int(epochs)
        else:
            warnings.warn(
                "The number of steps per epoch is unknown (pass "
                "steps_per_epoch): the learning rate warms up and then stays "
                "constant instead of decaying.",
                stacklevel=3,
            )

    # === Config ===

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "pooling": self.pooling,
                "dropout": self.dropout,
                "freeze": self.freeze,
                "max_length": self.max_length,
            }
        )
        return config


def _apply_policy(backbone, policy, pooling):
    """Apply a freeze policy; a pooler the head does not use stays frozen.

    With mean or [CLS]-vector pooling, the backbone's own pooler (BERT's
    `pooled_dense`) gets no gradient: it is counted as frozen, not trainable.
    """
    policy = apply_freeze(backbone, policy)
    if pooling != "pooled" and policy != "all":
        try:
            unused = layer_groups(backbone)["pooler"]
        except PolicyError:
            unused = []
        for layer in unused:
            layer.trainable = False
    return policy


def _is_raw_text(x):
    if isinstance(x, (str, list, np.ndarray)):
        return True
    return isinstance(x, tuple) and all(isinstance(p, (list, np.ndarray)) for p in x)


def _as_text_dataset(x, batch_size):
    if isinstance(x, str):
        x = [x]
    if isinstance(x, tuple):
        if len(x) != 2 or len(x[0]) != len(x[1]):
            raise DataError(
                "Text pairs are a tuple of two lists of the same length: "
                "(texts, text_pairs)."
            )
        for part in x:
            _check_texts(part)
        # A 1-tuple element: `(texts, pairs)` alone would read as `(x, y)`.
        data = (tuple(tf.constant(list(part), tf.string) for part in x),)
    else:
        _check_texts(x)
        data = tf.constant(list(x), tf.string)
    return tf.data.Dataset.from_tensor_slices(data).batch(batch_size)


def _check_texts(texts):
    for index, text in enumerate(texts):
        if not isinstance(text, str):
            raise DataError(f"Input {index} is {type(text).__name__}, expected a string.")


def _sample_texts(x):
    """Up to `LENGTH_SAMPLE` texts (and pairs) from a dataset, list or tuple."""
    if isinstance(x, tf.data.Dataset):
        texts, pairs = [], []
        for element in x.take(LENGTH_SAMPLE):
            features, _, _ = keras.utils.unpack_x_y_sample_weight(element)
            if isinstance(features, dict):
                return [], None
            if isinstance(features, tuple):
                texts.extend(_flat_strings(features[0]))
                pairs.extend(_flat_strings(features[1]))
            else:
                texts.extend(_flat_strings(features))
            if len(texts) >= LENGTH_SAMPLE:
                break
        return texts[:LENGTH_SAMPLE], (pairs[:LENGTH_SAMPLE] or None)
    if isinstance(x, tuple):
        return list(x[0][:LENGTH_SAMPLE]), list(x[1][:LENGTH_SAMPLE])
    if isinstance(x, (list, np.ndarray)) and len(x) and isinstance(x[0], str):
        return list(x[:LENGTH_SAMPLE]), None
    return [], None


def _flat_strings(tensor):
    if not isinstance(tensor, tf.Tensor) or tensor.dtype != tf.string:
        return []
    return [t.decode("utf-8") for t in np.reshape(tensor.numpy(), -1)]


def _steps_per_epoch(x, batch_size):
    if isinstance(x, tf.data.Dataset):
        cardinality = int(x.cardinality())
        return cardinality if cardinality > 0 else None
    if x is not None and batch_size:
        features = x[0] if isinstance(x, tuple) else x
        return -(-len(features) // batch_size)
    return None
