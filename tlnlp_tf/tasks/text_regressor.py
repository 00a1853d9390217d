"""`TextRegressor`: a real-valued score for a text or a text pair (STS-B)."""

import keras
import numpy as np
import tensorflow as tf

from tlnlp_tf.backbones.loading import default_pooling
from tlnlp_tf.backbones.loading import load_backbone
from tlnlp_tf.data.examples import Examples
from tlnlp_tf.layers import RegressionHead
from tlnlp_tf.metrics.regression import PearsonCorrelation
from tlnlp_tf.metrics.regression import pearson
from tlnlp_tf.metrics.regression import spearman
from tlnlp_tf.tasks.inputs import examples_of
from tlnlp_tf.tasks.inputs import has_raw_text
from tlnlp_tf.tasks.inputs import is_raw_text
from tlnlp_tf.tasks.inputs import text
from tlnlp_tf.tasks.inputs import texts_of
from tlnlp_tf.tasks.task import TextTask


@keras.saving.register_keras_serializable(package="tlnlp_tf")
class TextRegressor(TextTask):
    """Predict a real value for a text or a text pair, e.g. STS-B similarity.

    Targets may be numbers or numeric strings (as read from a file). Loss is
    mean squared error; `evaluate` reports the loss and Pearson's r, Spearman's
    rho and the MSE over the whole set (as `score` and `tlnlp evaluate`).

    Args:
        backbone, preprocessor, pooling, dropout, freeze, max_length: as for
            `TextClassifier`.

    Examples:

    ```python
    model = TextRegressor.from_backbone("minilm")
    train = tl.data.read_csv("train.tsv", text="sentence1", text_pair="sentence2",
                             label="score", labels="numeric")
    model.fit(train.batch(32), epochs=3)
    model.predict((["A man plays a guitar."], ["A man plays music."]))["value"]
    ```
    """

    def __init__(
        self,
        backbone,
        preprocessor=None,
        pooling="mean",
        dropout=0.1,
        freeze="none",
        max_length=None,
        **kwargs,
    ):
        head = RegressionHead(
            pooling=pooling,
            dropout=dropout,
            dtype=backbone.dtype_policy,
            name="regression_head",
        )
        self._build(
            backbone, head, preprocessor, pooling, dropout, freeze, max_length, **kwargs
        )
        self.compile()

    @classmethod
    def from_backbone(
        cls, spec, freeze="none", weights="pretrained", pooling="auto", **kwargs
    ):
        """Build a regressor on a backbone spec (see `TextClassifier.from_backbone`)."""
        backbone, preprocessor = load_backbone(
            spec, weights=weights, dtype=kwargs.get("dtype")
        )
        if pooling == "auto":
            pooling = default_pooling(spec)
        return cls(backbone, preprocessor, pooling=pooling, freeze=freeze, **kwargs)

    def default_loss(self):
        return keras.losses.MeanSquaredError()

    def default_metrics(self):
        return [PearsonCorrelation()]

    def encode_targets(self, y):
        """Numbers, or numeric strings from a file, as float32."""
        y = tf.convert_to_tensor(y)
        if y.dtype == tf.string:
            return tf.strings.to_number(y, tf.float32)
        return tf.cast(y, tf.float32)

    def score(self, data, batch_size=64):
        """Pearson, Spearman and MSE on `Examples` with numeric targets.

        ```python
        model.score(tl.data.load_table("dev.tsv", "sentence1", "score", "sentence2"))
        ```
        """
        data.check_numeric()
        values = self.predict(data.features(), batch_size=batch_size, verbose=0)[
            "value"
        ]
        truth = np.asarray([float(value) for value in data.labels], dtype="float64")
        return {
            "pearson": round(pearson(truth, values), 6),
            "spearman": round(spearman(truth, values), 6),
            "mse": round(float(((values - truth) ** 2).mean()), 6),
        }

    def task_scores(self, data, batch_size):
        return self.score(data, batch_size)

    def labelled(self, x, y=None, steps=None):
        """`Examples` from `Examples`, lists `(texts, targets)` or a raw dataset."""
        if isinstance(x, Examples):
            return x.check_numeric()
        if y is not None and is_raw_text(x):
            texts, pairs = texts_of(x)
            values = [text(v) for v in y]  # as read from a file: strings
            return Examples(texts, pairs, values, source="<evaluate>").check_numeric()
        if not isinstance(x, tf.data.Dataset) or not has_raw_text(x):
            return None
        texts, pairs, targets = [], [], []
        for features, target in examples_of(x, steps):
            if target is None:
                return None
            if isinstance(features, tuple):
                texts.append(text(features[0]))
                pairs.append(text(features[1]))
            else:
                texts.append(text(features))
            targets.append(text(target))
        return Examples(
            texts, pairs or None, targets, source="the evaluation dataset"
        ).check_numeric()

    def check_targets(self, targets, where):
        """Finite numbers (or numeric strings)."""
        values = [
            text(v) if isinstance(v, bytes) else v for v in np.reshape(targets, -1)
        ]
        Examples([""] * len(values), labels=values, source=where).check_numeric()

    def predict(self, x=None, batch_size=None, **kwargs):
        """Predict a value per example.

        Returns `{"value": array [examples], "truncated": count}`: `truncated`
        counts the inputs longer than `max_length` tokens (a warning says so).

        ```python
        model.predict((["A man plays a guitar."], ["A man plays music."]))["value"]
        ```
        """
        values, truncated = self.predict_with_truncation(x, batch_size, **kwargs)
        return {
            "value": np.asarray(values, dtype="float32").reshape(-1),
            "truncated": truncated,
        }
