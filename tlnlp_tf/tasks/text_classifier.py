"""`TextClassifier`: a backbone with a classification head, fit on raw text."""

import warnings

import keras
import numpy as np
import tensorflow as tf

from tlnlp_tf.backbones.loading import default_pooling
from tlnlp_tf.backbones.loading import is_sentence_encoder
from tlnlp_tf.backbones.loading import load_backbone
from tlnlp_tf.backbones.pooled_encoder import frozen_pooling
from tlnlp_tf.data.examples import Examples
from tlnlp_tf.errors import DataError
from tlnlp_tf.layers import ClassificationHead
from tlnlp_tf.metrics.classification import SparseF1Score
from tlnlp_tf.tasks.inputs import examples_of
from tlnlp_tf.tasks.inputs import is_raw_text
from tlnlp_tf.tasks.task import TextTask

# `freeze="auto"` on a sentence-embedding backbone: contrastive few-shot
# training (`"setfit"`) while the rarest label has fewer than this many
# examples, full fine-tuning from there. Measured on SST-2 (5 draws,
# benchmarks/RESULTS.md "Few labels"): at 8 per label SetFit leads full
# fine-tuning on MiniLM (0.656 / 0.624) and on all-mpnet-base-v2 (0.870 /
# 0.737); at 64 it still leads on MiniLM (0.778 / 0.753, at 19 times the
# time) but not on MPNet (0.882 / 0.887, at 18 times). The crossing point is
# not measured: 32 is a guess between the two sizes.
FEW_LABELS_PER_CLASS = 32


@keras.saving.register_keras_serializable(package="tlnlp_tf")
class TextClassifier(TextTask):
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
            `"bottom-N"`, `"lora-R"`; see `tlnlp_tf.backbones.freezing`).
        max_length: the most tokens per example (longer texts are
            truncated); `None` chooses it from the first training data (the
            longest sampled text, capped by the backbone). Batches are padded
            only to their own longest text.
        attention_dropout: dropout on the attention probabilities while
            training, set on `backbone` itself: `"auto"` (0.0 here) turns it
            off, which makes long texts faster; `None` keeps the backbone's
            own rate (see `tlnlp_tf.backbones.attention`).

    Examples:

    Raw strings, from a backbone spec:
    ```python
    model = TextClassifier.from_backbone("minilm", labels=["neg", "pos"])
    model.fit(tl.data.from_lists(["loved it", "dull"], ["pos", "neg"]).batch(2))
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

    # Off: 18% of a 512-token training step on CPU, and it blocks the fused
    # attention kernel; accuracy measured on SST-2 and IMDB (tlnlp_tf/attention.py).
    fine_tuning_attention_dropout = 0.0
    supports_setfit = True

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
        head = ClassificationHead(
            num_classes=len(labels),
            pooling=pooling,
            dropout=dropout,
            dtype=backbone.dtype_policy,
            name="classification_head",
        )
        self._build(
            backbone, head, preprocessor, pooling, dropout, freeze, max_length, **kwargs
        )
        self.labels = labels
        self.compile()

    @classmethod
    def from_backbone(
        cls,
        spec,
        num_classes=None,
        labels=None,
        freeze="auto",
        weights="pretrained",
        pooling="auto",
        **kwargs,
    ):
        """Build a classifier on a backbone spec (see `load_backbone`).

        Args:
            spec: a keras-hub preset name, a local preset or Hugging Face
                folder, or `"minilm"`.
            num_classes / labels: the number of classes, or their names.
            freeze: the freeze policy. `"auto"` (the default) lets the first
                `fit` choose from the training labels on a sentence-embedding
                checkpoint (pretrained weights): `"setfit"` while the rarest
                label has fewer than `FEW_LABELS_PER_CLASS` examples, else
                `"none"` (full fine-tuning); `model.freeze_choice` says which
                and why. On other backbones `"auto"` is `"none"`.
            weights: `"pretrained"`, or `"random"` for the untrained twin.
            pooling: `"auto"` uses the pooling the backbone was trained with
                (mean for sentence-transformers, and as the general default);
                with `freeze="all"`, mean pooling becomes `"mean-last-4"`, the
                means of the last 4 layers side by side (`frozen_pooling`):
                SST-2 dev, MiniLM, solved head, 4,000 labels 0.7959 → 0.8119,
                128 labels 0.7351 → 0.7649 (one draw, `benchmarks/RESULTS.md`).
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
        backbone, preprocessor = load_backbone(
            spec, weights=weights, dtype=kwargs.get("dtype")
        )
        if pooling == "auto":
            pooling = default_pooling(spec)
            if freeze == "all":
                pooling = frozen_pooling(backbone, pooling)
        if freeze == "auto" and not (
            weights == "pretrained" and is_sentence_encoder(spec)
        ):
            freeze = "none"
        return cls(
            backbone,
            labels,
            preprocessor,
            pooling=pooling,
            freeze=freeze,
            **kwargs,
        )

    def choose_freeze(self, x):
        """`"setfit"` below `FEW_LABELS_PER_CLASS` examples of the rarest label."""
        counts = dict.fromkeys(self.labels, 0)
        if isinstance(x, tf.data.Dataset):
            for _, y in examples_of(x):
                if y is None:
                    break
                name = y.decode("utf-8") if isinstance(y, bytes) else y
                name = self.labels[int(name)] if not isinstance(name, str) else name
                counts[name] = counts.get(name, 0) + 1
                if min(counts.values()) >= FEW_LABELS_PER_CLASS:
                    break
        rarest = min(counts, key=counts.get)
        if counts[rarest] < FEW_LABELS_PER_CLASS:
            if counts[rarest] < 2:
                return "none", (
                    f"label '{rarest}' has {counts[rarest]} training example(s): "
                    "too few for contrastive pairs (2 per label); full fine-tuning "
                    "on so few labels is unreliable, add examples"
                )
            return "setfit", (
                f"the rarest label ('{rarest}') has {counts[rarest]} training "
                f"examples, fewer than {FEW_LABELS_PER_CLASS}: contrastive "
                "few-shot training (SetFit) beat full fine-tuning there "
                "(benchmarks/RESULTS.md); pass freeze='none' to fine-tune instead"
            )
        return "none", (
            f"every label has at least {FEW_LABELS_PER_CLASS} training examples: "
            "full fine-tuning; pass freeze='setfit' or 'all' to choose otherwise"
        )

    def default_loss(self):
        return keras.losses.SparseCategoricalCrossentropy(from_logits=True)

    def default_metrics(self):
        return [
            keras.metrics.SparseCategoricalAccuracy("accuracy"),
            SparseF1Score(self.head.num_classes),
        ]

    def encode_targets(self, y):
        """Label names (or class indices) to class indices, in the graph."""
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

    def predict(self, x=None, batch_size=None, **kwargs):
        """Predict labels and probabilities for raw text.

        Args:
            x: a list of texts, a tuple `(texts, text_pairs)`, or a batched
                `tf.data.Dataset` (labels in it are ignored). An empty text
                is a `DataError`.

        Returns:
            A dict: `"label"` (the label name of each example), `"score"` (its
            probability), `"probabilities"` (`[examples, classes]`) and
            `"truncated"`: how many inputs were longer than `max_length`
            tokens and cut (a warning says so too; `None` for token features).

        Example:

        ```python
        model.predict(["a gripping, funny film", "two hours lost"])["label"]
        ```
        """
        logits, truncated = self.predict_with_truncation(x, batch_size, **kwargs)
        return dict(label_predictions(logits, self.labels), truncated=truncated)

    def score(self, data, batch_size=64):
        """Accuracy, macro F1 and loss on labelled `Examples` (as `tlnlp evaluate`).

        ```python
        model.score(tl.data.load_table("dev.tsv", "sentence", "label"))
        ```
        """
        scores = self.evaluate(data, batch_size=batch_size, return_dict=True, verbose=0)
        return {
            name: round(float(scores[name]), 6) for name in ("accuracy", "f1", "loss")
        }

    def labelled(self, x, y=None, steps=None):
        """`Examples` (checked against the labels); other inputs go to Keras."""
        if isinstance(x, Examples):
            return x.check_labels(self.labels)
        if y is not None and is_raw_text(x):
            self.check_targets(y, "the evaluation targets")
        return None

    def check_targets(self, targets, where):
        """Label names the model has, or class indices in `[0, classes)`."""
        values = np.asarray(targets)
        count = len(self.labels)
        if values.dtype.kind == "f":
            raise DataError(
                f"{where}: the labels are floats ({values.reshape(-1)[:3].tolist()}"
                "…); a TextClassifier takes label names (strings) or class indices "
                "(integers)."
            )
        if values.dtype.kind in "iub":
            bad = values[(values < 0) | (values >= count)]
            if bad.size:
                raise DataError(
                    f"{where}: class index {bad.reshape(-1)[0]} is outside "
                    f"[0, {count}); the model has {count} labels {self.labels}."
                )
            return
        names = set(self.labels)
        for value in values.reshape(-1):
            label = value.decode("utf-8") if isinstance(value, bytes) else str(value)
            if label not in names:
                raise DataError(
                    f"{where}: label '{label}' is not one of the model's labels "
                    f"{self.labels}; pass every label to the model (labels=...)."
                )

    def check_label_coverage(self, class_ids, where="the training data"):
        """Refuse training labels of one class; warn of the model's labels absent.

        The solved head (`freeze="all"`, and `"setfit"`'s second stage;
        its first stage already refuses one class) calls this on the class
        indices it trains on: a head fitted to one label predicts it for
        everything, and a label without an example is never predicted.

        ```python
        model.check_label_coverage([0, 0, 1])  # every label present: quiet
        ```
        """
        present = sorted({int(i) for i in np.asarray(class_ids).reshape(-1)})
        if len(present) < 2:
            only = [self.labels[i] for i in present]
            raise DataError(
                f"{where}: every example has label {only}; a classifier needs "
                f"examples of at least 2 of its labels {self.labels}."
            )
        missing = [name for i, name in enumerate(self.labels) if i not in present]
        if missing:
            warnings.warn(
                f"{where}: no example of label(s) {missing} (of {self.labels}); "
                "the model will never predict them.",
                stacklevel=3,
            )

    def check_target_spec(self, dataset, where):
        """Float labels in a dataset are a `DataError` (not a graph error later)."""
        spec = dataset.element_spec
        if not isinstance(spec, tuple) or len(spec) < 2:
            return
        if getattr(spec[1], "dtype", tf.string).is_floating:
            raise DataError(
                f"{where}: the labels are {spec[1].dtype.name}; a TextClassifier "
                "takes label names (strings) or class indices (integers)."
            )

    def get_config(self):
        config = super().get_config()
        config["labels"] = list(self.labels)
        return config


def label_predictions(logits, labels):
    """`{"label", "score", "probabilities"}` from class logits `[examples, classes]`."""
    probabilities = np.asarray(keras.ops.softmax(np.asarray(logits, "float32")))
    index = probabilities.argmax(axis=-1)
    return {
        "label": [labels[i] for i in index],
        "score": probabilities[np.arange(len(index)), index],
        "probabilities": probabilities,
    }


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
