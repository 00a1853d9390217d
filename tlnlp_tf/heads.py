"""Task heads: Keras layers that turn backbone outputs into predictions.

Heads take the backbone's output dict plus the padding mask, so the same
head works on any keras-hub encoder:

```python
outputs = backbone(inputs)
logits = ClassificationHead(num_classes=2, pooling="mean")(
    {**outputs, "padding_mask": inputs["padding_mask"]}
)
```
"""

import keras
from keras import ops

POOLINGS = ("mean", "cls", "pooled")


def _output_dense(units, layer, name):
    """The last Dense of a head: BERT's initialiser, the head's dtype policy."""
    return keras.layers.Dense(
        units,
        kernel_initializer=keras.initializers.TruncatedNormal(stddev=0.02),
        dtype=layer.dtype_policy,
        name=name,
    )


@keras.saving.register_keras_serializable(package="tlnlp_tf")
class SequencePooling(keras.layers.Layer):
    """Pool a sequence of token vectors into one vector.

    Args:
        mode: `"mean"` (mean over real tokens, padding excluded), `"cls"`
            (the first token's vector) or `"pooled"` (the backbone's own
            `pooled_output`, e.g. BERT's [CLS] pooler).

    Example:

    ```python
    pooled = SequencePooling("mean")(
        {"sequence_output": x, "padding_mask": mask}
    )
    ```
    """

    def __init__(self, mode="mean", **kwargs):
        super().__init__(**kwargs)
        if mode not in POOLINGS:
            raise ValueError(
                f"pooling must be one of {POOLINGS}, got {mode!r}."
            )
        self.mode = mode

    def call(self, inputs):
        if self.mode == "pooled":
            if "pooled_output" not in inputs:
                raise ValueError(
                    "pooling='pooled' needs a backbone with a "
                    "'pooled_output'; use pooling='mean' or 'cls'."
                )
            return inputs["pooled_output"]
        sequence = inputs["sequence_output"]
        if self.mode == "cls":
            return sequence[:, 0, :]
        mask = ops.cast(inputs["padding_mask"], sequence.dtype)[:, :, None]
        total = ops.sum(sequence * mask, axis=1)
        count = ops.maximum(ops.sum(mask, axis=1), 1.0)
        return total / count

    def compute_output_shape(self, input_shape):
        sequence_shape = input_shape["sequence_output"]
        return (sequence_shape[0], sequence_shape[-1])

    def get_config(self):
        config = super().get_config()
        config.update({"mode": self.mode})
        return config


@keras.saving.register_keras_serializable(package="tlnlp_tf")
class ClassificationHead(keras.layers.Layer):
    """Pooling, dropout and a dense layer giving one logit per class.

    Args:
        num_classes: number of classes.
        pooling: `"mean"`, `"cls"` or `"pooled"` (see `SequencePooling`).
        dropout: dropout rate applied to the pooled vector.
        hidden_dim: optional width of a tanh hidden layer before the logits.

    Example:

    ```python
    head = ClassificationHead(num_classes=3, pooling="mean", dropout=0.1)
    logits = head({**backbone(inputs), "padding_mask": inputs["padding_mask"]})
    ```
    """

    def __init__(
        self, num_classes, pooling="mean", dropout=0.1, hidden_dim=None, **kwargs
    ):
        super().__init__(**kwargs)
        if int(num_classes) < 2:
            raise ValueError(
                f"num_classes must be at least 2, got {num_classes}."
            )
        # === Layers ===
        self.pool = SequencePooling(pooling, dtype=self.dtype_policy, name="pool")
        self.dropout_layer = keras.layers.Dropout(
            dropout, dtype=self.dtype_policy, name="dropout"
        )
        self.hidden = (
            keras.layers.Dense(
                hidden_dim, activation="tanh", dtype=self.dtype_policy,
                name="hidden",
            )
            if hidden_dim
            else None
        )
        self.logits = _output_dense(num_classes, self, "logits")
        # === Config ===
        self.num_classes = int(num_classes)
        self.pooling = pooling
        self.dropout = dropout
        self.hidden_dim = hidden_dim

    def build(self, input_shape):
        width = input_shape["sequence_output"][-1]
        if self.hidden is not None:
            self.hidden.build((None, width))
            width = self.hidden_dim
        self.logits.build((None, width))
        self.built = True

    def call(self, inputs, training=None):
        return self.from_pooled(self.pool(inputs), training=training)

    def from_pooled(self, x, training=None):
        """Logits from already pooled vectors (`[batch, hidden]`)."""
        x = self.dropout_layer(x, training=training)
        if self.hidden is not None:
            x = self.hidden(x)
            x = self.dropout_layer(x, training=training)
        return self.logits(x)

    def compute_output_shape(self, input_shape):
        return (input_shape["sequence_output"][0], self.num_classes)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "num_classes": self.num_classes,
                "pooling": self.pooling,
                "dropout": self.dropout,
                "hidden_dim": self.hidden_dim,
            }
        )
        return config


@keras.saving.register_keras_serializable(package="tlnlp_tf")
class RegressionHead(keras.layers.Layer):
    """Pooling, dropout and a dense layer giving one real value per example.

    Args:
        pooling: `"mean"`, `"cls"` or `"pooled"` (see `SequencePooling`).
        dropout: dropout rate applied to the pooled vector.

    Example:

    ```python
    score = RegressionHead(pooling="mean")(
        {**backbone(inputs), "padding_mask": inputs["padding_mask"]}
    )  # shape [batch]
    ```
    """

    def __init__(self, pooling="mean", dropout=0.1, **kwargs):
        super().__init__(**kwargs)
        # === Layers ===
        self.pool = SequencePooling(pooling, dtype=self.dtype_policy, name="pool")
        self.dropout_layer = keras.layers.Dropout(
            dropout, dtype=self.dtype_policy, name="dropout"
        )
        self.value = _output_dense(1, self, "value")
        # === Config ===
        self.pooling = pooling
        self.dropout = dropout

    def build(self, input_shape):
        self.value.build((None, input_shape["sequence_output"][-1]))
        self.built = True

    def call(self, inputs, training=None):
        return self.from_pooled(self.pool(inputs), training=training)

    def from_pooled(self, x, training=None):
        """One value per already pooled vector (`[batch, hidden]` → `[batch]`)."""
        x = self.dropout_layer(x, training=training)
        return ops.squeeze(self.value(x), axis=-1)

    def compute_output_shape(self, input_shape):
        return (input_shape["sequence_output"][0],)

    def get_config(self):
        config = super().get_config()
        config.update({"pooling": self.pooling, "dropout": self.dropout})
        return config


@keras.saving.register_keras_serializable(package="tlnlp_tf")
class TokenClassificationHead(keras.layers.Layer):
    """Dropout and a dense layer giving one logit per tag for every token.

    Example:

    ```python
    logits = TokenClassificationHead(num_classes=9)(
        {"sequence_output": x, "padding_mask": mask}
    )  # [batch, tokens, 9]
    ```
    """

    def __init__(self, num_classes, dropout=0.1, **kwargs):
        super().__init__(**kwargs)
        # === Layers ===
        self.dropout_layer = keras.layers.Dropout(
            dropout, dtype=self.dtype_policy, name="dropout"
        )
        self.logits = _output_dense(num_classes, self, "logits")
        # === Config ===
        self.num_classes = int(num_classes)
        self.dropout = dropout

    def build(self, input_shape):
        self.logits.build(input_shape["sequence_output"])
        self.built = True

    def call(self, inputs, training=None):
        x = self.dropout_layer(inputs["sequence_output"], training=training)
        return self.logits(x)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape["sequence_output"][:-1]) + (self.num_classes,)

    def get_config(self):
        config = super().get_config()
        config.update({"num_classes": self.num_classes, "dropout": self.dropout})
        return config


@keras.saving.register_keras_serializable(package="tlnlp_tf")
class SpanHead(TokenClassificationHead):
    """Start and end logits for every token (extractive question answering).

    A two-class `TokenClassificationHead` whose logits come back as float32
    `[batch, 2, tokens]` (row 0: start, row 1: end), padding positions set to
    -1e9 so they can never be chosen.

    Example:

    ```python
    logits = SpanHead()({"sequence_output": x, "padding_mask": mask})
    # [batch, 2, tokens]
    ```
    """

    def __init__(self, dropout=0.1, **kwargs):
        kwargs.pop("num_classes", None)
        super().__init__(2, dropout=dropout, **kwargs)

    def call(self, inputs, training=None):
        logits = ops.transpose(super().call(inputs, training=training), (0, 2, 1))
        logits = ops.cast(logits, "float32")
        mask = ops.expand_dims(ops.cast(inputs["padding_mask"], "bool"), 1)
        return ops.where(mask, logits, ops.full_like(logits, -1e9))

    def compute_output_shape(self, input_shape):
        batch, length = input_shape["sequence_output"][:2]
        return (batch, 2, length)
