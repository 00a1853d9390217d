"""`TextClassifier`: a backbone with a classification head, fit on raw text."""

import warnings

import keras
import keras_hub
import numpy as np
import tensorflow as tf

from tlnlp_tf.backbones import default_pooling
from tlnlp_tf.backbones import load_backbone
from tlnlp_tf.data.lengths import choose_sequence_length
from tlnlp_tf.errors import DataError
from tlnlp_tf.errors import PolicyError
from tlnlp_tf.freezing import apply_freeze
from tlnlp_tf.freezing import frozen_groups
from tlnlp_tf.freezing import layer_groups
from tlnlp_tf.heads import ClassificationHead
from tlnlp_tf.metrics.classification import SparseF1Score
from tlnlp_tf.training.optimizers import fine_tuning_adamw
from tlnlp_tf.training.schedules import WarmupLinearDecay

# The new head's learning rate relative to the fine-tuned backbone's.
HEAD_MULTIPLIER = 10.0
# Texts sampled from the training data to choose `max_length`.
_LENGTH_SAMPLE = 2048


@keras.saving.register_keras_serializable(package="tlnlp_tf")
class TextClassifier(keras_hub.models.Task):
    """Classify a text, or a pair of texts, into named labels.

    `fit`, `evaluate` and `predict` take raw strings (a `tf.data.Dataset` of
    `(text, label)` or `((text, pair), label)`, or Python lists); tokenization
    runs inside the `tf.data` pipeline. Labels may be strings (mapped to class
    indices by name) or integer indices.

    Args:
        backbone: a `keras_hub.models.Backbone`.
        labels: the label names (a list of strings), or the number of classes
            (names `"0"` … `"C-1"`).
        preprocessor: a `keras_hub.models.TextClassifierPreprocessor`, or
            `None` to feed token ids yourself.
        pooling: `"mean"`, `"cls"` or `"pooled"` (see `SequencePooling`).
        dropout: dropout on the pooled vector.
        freeze: a freeze policy (`"none"`, `"all"`, `"embeddings"`,
            `"bottom-N"`).
        max_length: tokens per example; `None` chooses it from the first
            training data (99th percentile, capped by the backbone).

    Examples:

    Raw strings, from a backbone spec:
    ```python
    model = TextClassifier.from_backbone("minilm", labels=["neg", "pos"])
    model.fit(from_lists(["loved it", "dull"], ["pos", "neg"]).batch(2))
    model.predict(["a gripping, funny film"])["label"]
    ```

    Preprocessed integer inputs:
    ```python
    model = TextClassifier.from_backbone("minilm", num_classes=2)
    model.preprocessor = None
    model.fit(x={"token_ids": ids, "segment_ids": seg, "padding_mask": mask},
              y=np.array([0, 1]), batch_size=2)
    ```

    A custom backbone:
    ```python
    backbone = keras_hub.models.BertBackbone(vocabulary_size=100, num_layers=2,
        num_heads=2, hidden_dim=16, intermediate_dim=32, max_sequence_length=64)
    model = TextClassifier(backbone, labels=3, preprocessor=my_preprocessor)
    ```
    """

    def __init__(
        self,
        backbone,
        labels,
        preprocessor=None,
        pooling="mean",
        dropout=0.1,
        freeze="none",
        max_length=None,
        **kwargs,
    ):
        labels = _label_names(labels)
        freeze = _apply_policy(backbone, freeze, pooling)
        # === Layers ===
        self.backbone = backbone
        self.preprocessor = preprocessor
        self.head = ClassificationHead(
            num_classes=len(labels),
            pooling=pooling,
            dropout=dropout,
            dtype=backbone.dtype_policy,
            name="classification_head",
        )

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
        logits = self.head(head_inputs)
        super().__init__(inputs=inputs, outputs=logits, compile=False, **kwargs)

        # === Config ===
        self.labels = labels
        self.pooling = pooling
        self.dropout = dropout
        self.freeze = freeze
        self.max_length = max_length
        if max_length is not None and preprocessor is not None:
            self.preprocessor.sequence_length = max_length
        self.compile()

    @classmethod
    def from_backbone(
        cls,
        spec,
        num_classes=None,
        labels=None,
        freeze="none",
        weights="pretrained",
        pooling="auto",
        **kwargs,
    ):
        """Build a classifier on a backbone spec (see `load_backbone`).

        Args:
            spec: a keras-hub preset name, a local preset or Hugging Face
                folder, or `"minilm"`.
            num_classes / labels: the number of classes, or their names.
            freeze: the freeze policy.
            weights: `"pretrained"`, or `"random"` for the untrained twin.
            pooling: `"auto"` uses the pooling the backbone was trained with
                (mean for sentence-transformers, and as the general default).
            **kwargs: `dropout`, `max_length`, `name`.

        Example:

        ```python
        model = TextClassifier.from_backbone("minilm", num_classes=2,
                                             freeze="bottom-2")
        ```
        """
        if (num_classes is None) == (labels is None):
            raise ValueError("Pass exactly one of num_classes or labels.")
        labels = _label_names(labels if labels is not None else num_classes)
        backbone, preprocessor = load_backbone(spec, weights=weights)
        if pooling == "auto":
            pooling = default_pooling(spec)
        return cls(
            backbone, labels, preprocessor, pooling=pooling, freeze=freeze,
            **kwargs,
        )

    # === Training set-up ===

    def compile(
        self,
        optimizer="auto",
        loss="auto",
        *,
        metrics="auto",
        learning_rate="auto",
        **kwargs,
    ):
        """Compile with fine-tuning defaults.

        `optimizer="auto"` is AdamW with 10% warmup and linear decay over the
        first `fit()` call, weight decay 0.01 except on biases and LayerNorm,
        gradient clipping at norm 1. `learning_rate="auto"` is 1e-3 when the
        backbone is frozen (only the head trains), 1e-4 for backbones under
        60M parameters and 3e-5 for larger ones. `loss="auto"` is sparse
        categorical cross-entropy on logits; `metrics="auto"` accuracy and F1.
        """
        self._compile_args = dict(
            optimizer=optimizer, loss=loss, metrics=metrics,
            learning_rate=learning_rate, **kwargs,
        )
        if optimizer == "auto":
            if learning_rate == "auto":
                learning_rate = self.default_learning_rate()
            optimizer = fine_tuning_adamw(
                learning_rate, multipliers=self.default_multipliers()
            )
        if loss == "auto":
            loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
        if metrics == "auto":
            metrics = [
                keras.metrics.SparseCategoricalAccuracy("accuracy"),
                SparseF1Score(len(self.labels)),
            ]
        super().compile(optimizer=optimizer, loss=loss, metrics=metrics, **kwargs)

    def compile_from_config(self, config):
        # `keras.saving.load_model` restores the resolved optimizer (with its
        # schedule and step count), loss and metrics saved with the model.
        config = keras.saving.deserialize_keras_object(config)
        self.compile(**config)
        if self.built:
            self.optimizer.build(self.trainable_variables)

    def default_multipliers(self):
        """Learning-rate multipliers of `compile(optimizer="auto")`.

        The new head trains at `HEAD_MULTIPLIER` times the backbone's rate
        while the backbone fine-tunes: it starts from random weights and has
        only the first epochs to catch up (no multiplier when the backbone is
        frozen: the head then has the whole rate to itself).
        """
        if not self.backbone.trainable_weights:
            return {}
        return {f"^{self.head.name}/": HEAD_MULTIPLIER}

    def default_learning_rate(self):
        """The peak learning rate `compile(learning_rate="auto")` uses."""
        if not self.backbone.trainable_weights:
            return 1e-3
        return 1e-4 if self.backbone.count_params() < 60_000_000 else 3e-5

    def set_freeze(self, policy):
        """Apply a freeze policy and recompile, so frozen weights cannot move.

        Keras 3 fixes the trainable variables when the train step is built:
        without the recompile, weights frozen after `compile()` still train.
        An optimizer instance that already holds state is rebuilt fresh.

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
            y = self._label_ids(y)
        if self.preprocessor is None:
            return keras.utils.pack_x_y_sample_weight(x, y, sample_weight)
        # `x=` by keyword: a positional `(texts, pairs)` tuple would be read
        # by the preprocessor as `(x, y)`.
        return self.preprocessor(x=x, y=y, sample_weight=sample_weight)

    def _label_ids(self, y):
        y = tf.convert_to_tensor(y)
        if y.dtype != tf.string:
            ids = tf.cast(y, tf.int32)
            valid = tf.logical_and(ids >= 0, ids < len(self.labels))
            message = f"Labels must be class indices in [0, {len(self.labels)})"
        else:
            names = tf.constant(self.labels)
            matches = tf.equal(tf.expand_dims(y, -1), names)
            valid = tf.reduce_any(matches, axis=-1)
            ids = tf.argmax(tf.cast(matches, tf.int32), axis=-1, output_type=tf.int32)
            message = f"Unknown label; the model's labels are {list(self.labels)}"
        check = tf.debugging.Assert(
            tf.reduce_all(valid), [message, tf.boolean_mask(y, ~valid)], summarize=5
        )
        with tf.control_dependencies([check]):
            return tf.identity(ids)

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

    def predict(self, x=None, batch_size=None, **kwargs):
        """Predict labels and probabilities for raw text.

        Args:
            x: a list of texts, a tuple `(texts, text_pairs)`, or a batched
                `tf.data.Dataset` (labels in it are ignored).

        Returns:
            A dict: `"label"` (the label name of each example), `"score"` (its
            probability) and `"probabilities"` (`[examples, classes]`).

        Example:

        ```python
        model.predict(["a gripping, funny film", "two hours lost"])["label"]
        ```
        """
        if _is_raw_text(x):
            x = _as_text_dataset(x, batch_size or 32)
            batch_size = None
        self._choose_max_length(x)
        logits = super().predict(x, batch_size=batch_size, **kwargs)
        probabilities = np.asarray(keras.ops.softmax(logits.astype("float32")))
        index = probabilities.argmax(axis=-1)
        return {
            "label": [self.labels[i] for i in index],
            "score": probabilities[np.arange(len(index)), index],
            "probabilities": probabilities,
        }

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
                "labels": list(self.labels),
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


def _label_names(labels):
    if isinstance(labels, (int, np.integer)):
        if labels < 2:
            raise ValueError(f"num_classes must be at least 2, got {labels}.")
        return [str(i) for i in range(int(labels))]
    names = [str(name) for name in labels]
    if len(names) < 2:
        raise ValueError(f"A classifier needs at least 2 labels, got {names}.")
    if len(set(names)) != len(names):
        raise ValueError(f"Label names must be distinct, got {names}.")
    return names


def _is_raw_text(x):
    if isinstance(x, str):
        return True
    if isinstance(x, (list, np.ndarray)):
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
    """Up to `_LENGTH_SAMPLE` texts (and pairs) from a dataset, list or tuple."""
    if isinstance(x, tf.data.Dataset):
        texts, pairs = [], []
        for element in x.take(_LENGTH_SAMPLE):
            features, _, _ = keras.utils.unpack_x_y_sample_weight(element)
            if isinstance(features, dict):
                return [], None
            if isinstance(features, tuple):
                texts.extend(_flat_strings(features[0]))
                pairs.extend(_flat_strings(features[1]))
            else:
                texts.extend(_flat_strings(features))
            if len(texts) >= _LENGTH_SAMPLE:
                break
        return texts[:_LENGTH_SAMPLE], (pairs[:_LENGTH_SAMPLE] or None)
    if isinstance(x, tuple):
        return list(x[0][:_LENGTH_SAMPLE]), list(x[1][:_LENGTH_SAMPLE])
    if isinstance(x, (list, np.ndarray)) and len(x) and isinstance(x[0], str):
        return list(x[:_LENGTH_SAMPLE]), None
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
