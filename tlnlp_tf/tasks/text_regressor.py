"""`TextRegressor`: a real-valued score for a text or a text pair (STS-B)."""

import keras
import numpy as np
import tensorflow as tf

from tlnlp_tf.backbones.loading import default_pooling
from tlnlp_tf.backbones.loading import is_sentence_encoder
from tlnlp_tf.backbones.loading import load_backbone
from tlnlp_tf.backbones.pooled_encoder import backbone_outputs
from tlnlp_tf.data.examples import Examples
from tlnlp_tf.errors import DataError
from tlnlp_tf.errors import PolicyError
from tlnlp_tf.layers import CosineSimilarityHead
from tlnlp_tf.layers import RegressionHead
from tlnlp_tf.metrics.regression import PearsonCorrelation
from tlnlp_tf.metrics.regression import pearson
from tlnlp_tf.metrics.regression import spearman
from tlnlp_tf.tasks.inputs import examples_of
from tlnlp_tf.tasks.inputs import has_raw_text
from tlnlp_tf.tasks.inputs import is_raw_text
from tlnlp_tf.tasks.inputs import is_tokenized
from tlnlp_tf.tasks.inputs import text
from tlnlp_tf.tasks.inputs import texts_of
from tlnlp_tf.tasks.task import TextTask

PAIR_ENCODINGS = ("cross", "bi")
# Calibration of a bi-encoder's scale and shift reads at most this many pairs.
CALIBRATION_PAIRS = 2000
# Peak rate of bi-encoder fine-tuning: sentence-transformers' default.
BI_ENCODER_LEARNING_RATE = 2e-5


@keras.saving.register_keras_serializable(package="tlnlp_tf")
class TextRegressor(TextTask):
    """Predict a real value for a text or a text pair, e.g. STS-B similarity.

    Targets may be numbers or numeric strings (as read from a file). Loss is
    mean squared error; `evaluate` reports the loss and Pearson's r, Spearman's
    rho and the MSE over the whole set (as `score` and `tlnlp evaluate`).

    Args:
        backbone, preprocessor, pooling, dropout, freeze, max_length: as for
            `TextClassifier`.
        pair_encoding: `"cross"` (the two texts read together, `[CLS] a
            [SEP] b [SEP]`, a dense head on the pooled vector) or `"bi"` (each
            text encoded alone by the same backbone, scored by the scaled
            cosine of their pooled vectors: `CosineSimilarityHead`). A
            bi-encoder starts at the backbone's zero-shot cosine: before the
            first `fit`, its scale and shift are the least-squares fit of the
            training targets on the untrained cosines. `from_backbone`'s
            `"auto"` is `"bi"` for sentence-embedding checkpoints
            (sentence-transformers folders such as `"minilm"`), else `"cross"`.
            `max_length` is then per text.

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
        pair_encoding="cross",
        **kwargs,
    ):
        if pair_encoding not in PAIR_ENCODINGS:
            raise PolicyError(
                f"pair_encoding={pair_encoding!r}: expected 'cross' or 'bi'."
            )
        self.pair_encoding = pair_encoding
        if pair_encoding == "bi":
            head = CosineSimilarityHead(
                pooling=pooling, dtype=backbone.dtype_policy, name="cosine_head"
            )
        else:
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
        cls,
        spec,
        freeze="none",
        weights="pretrained",
        pooling="auto",
        pair_encoding="auto",
        **kwargs,
    ):
        """Build a regressor on a backbone spec (see `TextClassifier.from_backbone`).

        `pair_encoding="auto"`: a bi-encoder for sentence-embedding checkpoints
        (pretrained weights), a cross-encoder otherwise.

        ```python
        model = TextRegressor.from_backbone("minilm")  # a bi-encoder
        model.pair_encoding  # "bi"
        ```
        """
        backbone, preprocessor = load_backbone(
            spec, weights=weights, dtype=kwargs.get("dtype")
        )
        if pooling == "auto":
            pooling = default_pooling(spec)
        if pair_encoding == "auto":
            sentence = weights == "pretrained" and is_sentence_encoder(spec)
            pair_encoding = "bi" if sentence else "cross"
        return cls(
            backbone,
            preprocessor,
            pooling=pooling,
            freeze=freeze,
            pair_encoding=pair_encoding,
            **kwargs,
        )

    # === The bi-encoder (pair_encoding="bi") ===

    def build_graph(self, backbone, head, pooling):
        if self.pair_encoding != "bi":
            return super().build_graph(backbone, head, pooling)
        first = backbone.input
        second = {
            name: keras.Input(
                shape=tensor.shape[1:], dtype=tensor.dtype, name=f"pair_{name}"
            )
            for name, tensor in first.items()
        }
        inputs = {**first, **{f"pair_{name}": t for name, t in second.items()}}
        outputs = head(
            {
                "first": backbone_outputs(backbone, first, pooling),
                "second": backbone_outputs(backbone, second, pooling),
            }
        )
        return inputs, outputs

    def preprocess_batch(self, x, y=None, sample_weight=None):
        if self.pair_encoding != "bi" or self.preprocessor is None or is_tokenized(x):
            return super().preprocess_batch(x, y, sample_weight)
        if not isinstance(x, (tuple, list)) or len(x) != 2:
            raise DataError(
                "pair_encoding='bi' scores a pair of texts: give (texts, pairs), "
                "e.g. a text-pair column."
            )
        if y is not None:
            y = self.encode_targets(y)
        first = self.batch_features(self.preprocessor(x=x[0]))
        second = self.batch_features(self.preprocessor(x=x[1]))
        features = {**first, **{f"pair_{k}": v for k, v in second.items()}}
        return keras.utils.pack_x_y_sample_weight(features, y, sample_weight)

    def default_learning_rate(self):
        """2e-5 for a bi-encoder whose backbone trains (sentence-transformers')."""
        if self.pair_encoding == "bi" and self.freeze == "none":
            return BI_ENCODER_LEARNING_RATE
        return super().default_learning_rate()

    def before_fit(self, x):
        """A fresh bi-encoder: scale and shift fitted to the training targets."""
        if self.pair_encoding != "bi" or not isinstance(x, tf.data.Dataset):
            return
        if self.optimizer is not None and int(self.optimizer.iterations.numpy()):
            return
        if not getattr(self, "_calibrated", False):
            self.calibrate(x)

    def calibrate(self, data):
        """Set a bi-encoder's scale and shift to the least-squares fit of the
        targets on the current cosines; returns `(scale, shift)`.

        Reads at most `CALIBRATION_PAIRS` pairs of `data`, a batched dataset
        of `((texts, pairs), targets)` or of their token features.

        ```python
        model = TextRegressor.from_backbone("minilm", pair_encoding="bi")
        model.calibrate(stsb.to_dataset().batch(32))  # (scale, shift)
        ```
        """
        if self.pair_encoding != "bi":
            raise PolicyError(
                "calibrate sets a bi-encoder's scale and shift; this model is a "
                "cross-encoder (pair_encoding='cross')."
            )
        self._choose_max_length(data)  # as fit would, from these training data
        head = self.head
        run = tf.function(
            lambda features: head.cosine(self._head_inputs(features)),
            reduce_retracing=True,
        )
        cosines, targets = [], []
        for batch in data:
            features, y, _ = keras.utils.unpack_x_y_sample_weight(
                self.preprocess_samples(*_as_tuple(batch))
            )
            if y is None:
                raise DataError("calibrate: the data have no targets.")
            cosines.append(np.asarray(run(features), dtype="float64").reshape(-1))
            targets.append(np.asarray(y, dtype="float64").reshape(-1))
            if sum(len(t) for t in targets) >= CALIBRATION_PAIRS:
                break
        cosines, targets = np.concatenate(cosines), np.concatenate(targets)
        if len(targets) >= 2 and np.std(cosines) > 0:
            scale, shift = np.polyfit(cosines, targets, 1)
        else:
            scale, shift = 1.0, float(np.mean(targets) - np.mean(cosines))
        head.scale.assign(float(scale))
        head.shift.assign(float(shift))
        self._calibrated = True
        return float(scale), float(shift)

    def _head_inputs(self, features):
        """The bi-encoder head's inputs for a batch of token features."""
        first = {k: v for k, v in features.items() if not k.startswith("pair_")}
        second = {
            k[len("pair_") :]: v for k, v in features.items() if k.startswith("pair_")
        }
        encode = lambda part: backbone_outputs(self.backbone, part, self.pooling)  # noqa: E731
        return {"first": encode(first), "second": encode(second)}

    def length_inputs(self, texts, pairs):
        """A bi-encoder reads each text of a pair alone: both count as inputs."""
        if self.pair_encoding != "bi" or pairs is None:
            return texts, pairs
        return list(texts) + list(pairs), None

    def default_loss(self):
        return keras.losses.MeanSquaredError()

    def get_config(self):
        config = super().get_config()
        config["pair_encoding"] = self.pair_encoding
        return config

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


def _as_tuple(batch):
    return batch if isinstance(batch, tuple) else (batch,)
