"""`TextTask`: what every task on a pooled text encoding shares.

A backbone, a head on the pooled sequence, a keras-hub preprocessor run
inside `tf.data`, a freeze policy, fine-tuning `compile()` defaults, a
`max_length` fixed at construction or chosen from the training data in
`fit` (never by `predict` or `evaluate`), and dynamic padding. Subclasses
build the head and say how targets are encoded, which loss and metrics
apply, how predictions are decoded and how `evaluate` scores them.
"""

import keras
import keras_hub
import tensorflow as tf

from tlnlp_tf.backbones.attention import set_attention_dropout
from tlnlp_tf.backbones.pooled_encoder import backbone_outputs
from tlnlp_tf.distribute.strategies import check_global_batch
from tlnlp_tf.errors import PolicyError
from tlnlp_tf.tasks.batch_preprocessing import BatchPreprocessing
from tlnlp_tf.tasks.feature_cache import PooledHead
from tlnlp_tf.tasks.feature_cache import can_cache
from tlnlp_tf.tasks.feature_cache import fit_head
from tlnlp_tf.tasks.freeze_policy import FreezePolicy
from tlnlp_tf.tasks.freeze_policy import apply_policy
from tlnlp_tf.tasks.input_lengths import InputLengths
from tlnlp_tf.tasks.inputs import LENGTH_SAMPLE
from tlnlp_tf.tasks.inputs import check_batched
from tlnlp_tf.tasks.inputs import holds_strings
from tlnlp_tf.tasks.inputs import is_tokenized
from tlnlp_tf.tasks.inputs import lists_dataset
from tlnlp_tf.tasks.inputs import pairs_to_lists
from tlnlp_tf.tasks.lora_adapters import LoraAdapters
from tlnlp_tf.tasks.setfit_fit import fit_setfit
from tlnlp_tf.tasks.target_checks import TargetChecks
from tlnlp_tf.tasks.target_checks import target_errors
from tlnlp_tf.tasks.task_training import TaskTraining
from tlnlp_tf.tasks.task_training import compile_from_saved
from tlnlp_tf.training.contrastive import is_setfit
from tlnlp_tf.training.eager_build import build_optimizer
from tlnlp_tf.training.fit_steps import one_iterator
from tlnlp_tf.training.fit_steps import set_schedule_length
from tlnlp_tf.training.fit_steps import static_batch_size
from tlnlp_tf.training.fit_steps import steps_per_epoch
from tlnlp_tf.training.update_budget import warn_few_updates

__all__ = [
    "LENGTH_SAMPLE",
    "TextTask",
    "compile_from_saved",
    "is_tokenized",
]


class TextTask(
    TaskTraining,
    BatchPreprocessing,
    FreezePolicy,
    LoraAdapters,
    InputLengths,
    TargetChecks,
    keras_hub.models.Task,
):
    """Base of the pooled-text tasks (`TextClassifier`, `TextRegressor`).

    Subclasses call `_build(backbone, head, ...)` from `__init__` and define
    `default_loss()`, `default_metrics()` and `encode_targets(y)`.
    """

    # Fine-tuning defaults, chosen per task by sweeps (docs/freezing.md):
    # the peak rate for backbones under 60M parameters, and the layer decay.
    small_backbone_learning_rate = 1e-4
    fine_tuning_layer_decay = None
    # Dropout on the attention probabilities, `attention_dropout="auto"`:
    # `None` keeps the backbone's own; `TextClassifier` turns it off (faster
    # on long texts, accuracy measured: tlnlp_tf/attention.py).
    fine_tuning_attention_dropout = None
    # Whether the targets come with a mask as sample weights (`TokenClassifier`):
    # `compile(metrics=...)` then go to `weighted_metrics`.
    targets_are_weighted = False
    # Whether `freeze="setfit"` (contrastive pairs of classes) applies.
    supports_setfit = False
    # `fit` warns below this many optimizer updates (None: never), citing
    # the measurement (`tlnlp_tf.training.update_budget`).
    min_updates = None
    few_updates_evidence = None

    def _build(
        self,
        backbone,
        head,
        preprocessor,
        pooling,
        dropout,
        freeze,
        max_length,
        **kwargs,
    ):
        static_shapes = bool(kwargs.pop("static_shapes", False))
        lora_targets = kwargs.pop("lora_targets", None)
        attention_dropout = kwargs.pop("attention_dropout", "auto")
        if attention_dropout == "auto":
            attention_dropout = self.fine_tuning_attention_dropout
        set_attention_dropout(backbone, attention_dropout)
        if is_setfit(freeze) and not self.supports_setfit:
            raise PolicyError(
                f"freeze={freeze!r}: contrastive few-shot training draws pairs of "
                f"examples of the same and of different classes; "
                f"{type(self).__name__} has no classes. Use it with a "
                "TextClassifier, or choose another policy (e.g. 'all', 'none')."
            )
        freeze = apply_policy(backbone, freeze, pooling, lora_targets)
        # === Layers ===
        self.backbone = backbone
        self.preprocessor = preprocessor
        self.head = head

        # === Functional Model ===
        inputs, outputs = self.build_graph(backbone, head, pooling)
        super().__init__(inputs=inputs, outputs=outputs, compile=False, **kwargs)

        # === Config ===
        self.pooling = pooling
        self.dropout = dropout
        self.freeze = freeze
        self.max_length = max_length
        self.static_shapes = static_shapes
        self.attention_dropout = attention_dropout
        self.lora_targets = None if lora_targets is None else tuple(lora_targets)
        if max_length is not None and preprocessor is not None:
            self.preprocessor.sequence_length = max_length

    def build_graph(self, backbone, head, pooling):
        """`(inputs, outputs)` of the functional model: the head on the backbone."""
        inputs = backbone.input
        return inputs, head(backbone_outputs(backbone, inputs, pooling))

    # === keras-hub presets: refused, a task model is one `.keras` file ===

    def save_to_preset(self, preset_dir, max_shard_size=10):
        """Refused with `PolicyError`: save with `model.save("model.keras")`.

        A keras-hub preset rebuilds a task by its backbone class, and only
        keras-hub's own task classes are found that way. This model, with its
        labels, `max_length` and policy, reloads with
        `keras.saving.load_model("model.keras")`; its backbone alone still
        saves as a preset: `model.backbone.save_to_preset(folder)`.

        Example:

        ```python
        model.save("model.keras")
        model = keras.saving.load_model("model.keras")
        ```
        """
        raise PolicyError(_preset_refusal(type(self).__name__, "save_to_preset"))

    @classmethod
    def from_preset(cls, preset, load_weights=True, **kwargs):
        """Refused with `PolicyError`: see `save_to_preset`; use `from_backbone`.

        Example:

        ```python
        model = tl.TextClassifier.from_backbone("minilm", labels=["neg", "pos"])
        model.save("model.keras")
        model = keras.saving.load_model("model.keras")  # not from_preset
        ```
        """
        raise PolicyError(_preset_refusal(cls.__name__, "from_preset"))

    # === Serving ===

    def export(
        self,
        filepath,
        format="tf_saved_model",
        verbose=None,
        input_signature=None,
        **kwargs,
    ):
        """Write a SavedModel that serves raw strings (`export_saved_model`).

        `format="tf_saved_model"` (the default) writes the task's
        `serving_default` signature: text in, labels, entities or answers
        out (`text_pairs=True` for a classifier of pairs). With an
        `input_signature`, or another Keras format (`"onnx"`, `"openvino"`,
        `"litert"`), Keras exports the network alone: token features in,
        logits out, without the tokenizer or the decoding.

        Example:

        ```python
        model.export("serving/reviews/1")
        ```
        """
        if format == "tf_saved_model" and input_signature is None:
            from tlnlp_tf.export.saved_model import export_saved_model

            return export_saved_model(self, filepath, verbose=bool(verbose), **kwargs)
        return super().export(
            filepath,
            format=format,
            verbose=verbose,
            input_signature=input_signature,
            **kwargs,
        )

    def fit(
        self, x=None, y=None, batch_size=None, epochs=1, cache_features="auto", **kwargs
    ):
        """`keras.Model.fit` on raw text; sets `max_length` and the LR decay.

        Takes a batched `tf.data.Dataset` of `(text, target)` (or
        `((text, pair), target)`), Python lists `fit(texts, targets)`
        (shuffled every epoch unless `shuffle=False`, batches of
        `batch_size`, 32 by default) or `fit([(text, target), ...])`.
        Targets the model cannot take (a label it does not know, a float
        class label) are a `DataError` before training for lists and for
        `validation_data`, and a `DataError` at the first such batch of a
        training dataset.

        On the first call, `max_length=None` is chosen from the training texts
        and the auto schedule decays to zero over this call's steps. With
        the whole backbone frozen (`freeze="all"`) and a pooled head,
        `cache_features="auto"` encodes the dataset once and trains the head
        on the cached vectors (see `tlnlp_tf.tasks.feature_cache`), instead
        of running the backbone every epoch; `False` turns that off.

        Example:

        ```python
        model.fit(["loved it", "dull"], [1, 0], epochs=2)
        ```
        """
        x, y = pairs_to_lists(x, y)
        if holds_strings(x) and y is not None and not kwargs.get("validation_split"):
            self.check_targets(y, "the training targets")
            x = lists_dataset(
                x,
                y,
                kwargs.pop("sample_weight", None),
                batch_size,
                kwargs.pop("shuffle", True),
            )
            y, batch_size = None, None
        if isinstance(x, tf.data.Dataset):
            check_batched(x, "fit")
            self.check_target_spec(x, "the training dataset")
        validation = kwargs.get("validation_data")
        if isinstance(validation, tf.data.Dataset):
            check_batched(validation, "fit(validation_data=...)")
            self.check_target_spec(validation, "validation_data")
            self.check_dataset_targets(validation, "validation_data")
        elif isinstance(validation, (tuple, list)) and len(validation) >= 2:
            self.check_targets(validation[1], "validation_data")
        self._choose_max_length(x)
        with target_errors():
            if self.freeze == "auto":
                # In the model's strategy scope: the recompile makes the
                # optimizer, whose variables must be the strategy's too.
                with self.distribute_strategy.scope():
                    self.resolve_freeze(x, kwargs.get("verbose", "auto"))
            self.before_fit(x)
            if is_setfit(self.freeze):
                return fit_setfit(self, x, epochs, kwargs)
            if cache_features and can_cache(self, x, kwargs):
                return fit_head(self, x, epochs=epochs, **kwargs)
            if cache_features is True:
                raise PolicyError(
                    "cache_features=True needs a fully frozen backbone "
                    "(freeze='all'), a pooled head (TextClassifier, TextRegressor) "
                    "and a tf.data.Dataset."
                )
            steps = kwargs.get("steps_per_epoch") or steps_per_epoch(x, batch_size)
            if self.rates_from_data:
                with self.distribute_strategy.scope():  # a recompile, as above
                    self.resolve_rates(
                        x, steps and steps * epochs, kwargs.get("verbose", "auto")
                    )
            self._set_schedule_length(x, batch_size, epochs, kwargs)
            warn_few_updates(self, steps, epochs, stacklevel=4)
            check_global_batch(
                batch_size or static_batch_size(x), self.distribute_strategy
            )
            if isinstance(x, tf.data.Dataset):
                kwargs.setdefault("shuffle", False)  # a dataset shuffles itself
                x = one_iterator(x, epochs, kwargs)
            build_optimizer(self, kwargs.get("callbacks"))  # traced once, not twice
            return super().fit(x, y, batch_size=batch_size, epochs=epochs, **kwargs)

    def before_fit(self, x):
        """Called by `fit` on its (batched) training data before training."""

    def choose_freeze(self, x):
        """`(policy, reason)` for `freeze="auto"`, from the training data `x`."""
        return "none", "full fine-tuning (the default)"

    def resolve_freeze(self, x, verbose="auto"):
        """Replace `freeze="auto"` by the policy `choose_freeze(x)` gives.

        `fit` does this on its training data; `model.freeze_choice` keeps
        the policy and the reason. Returns the policy.

        ```python
        data = tl.data.from_lists(["a good film", "a dull film"] * 4, ["1", "0"] * 4)
        model.resolve_freeze(data.batch(4))  # "setfit" on MiniLM: 4 per label
        ```
        """
        policy, reason = self.choose_freeze(x)
        self.freeze_choice = {"freeze": policy, "reason": reason}
        if verbose != 0:
            print(f"freeze='auto' chose {policy!r}: {reason}")
        self.set_freeze(policy)
        return policy

    def _head_model(self, width):
        """The head alone, from pooled vectors of size `width` (shares its weights)."""
        inputs = keras.Input((width,), dtype="float32", name="pooled")
        return keras.Model(inputs, PooledHead(self.head, name="pooled_head")(inputs))

    # === Evaluation ===

    def evaluate(self, x=None, y=None, batch_size=None, return_dict=False, **kwargs):
        """`keras.Model.evaluate` on raw text, with the task's own metric.

        Takes what `score` takes (`Examples`, `TaggedSentences`,
        `QuestionAnswers`), a batched `tf.data.Dataset` of raw examples, or
        Python lists. Returns the loss and the compiled metrics, and the
        task's metric as `score` computes it: entity precision, recall and F1
        (and per type) for `TokenClassifier`, exact match and F1 for
        `SpanExtractor`, Pearson, Spearman and MSE for `TextRegressor`.
        With `return_dict=False`, the numbers at the top level of that dict,
        in its order. Token features from `tokenize_once` give the loss and
        compiled metrics only (the words and spans are gone).

        Example:

        ```python
        model.evaluate(["a fine film", "dull"], [1, 0], return_dict=True)
        ```
        """
        if kwargs.get("_use_cached_eval_dataset"):  # fit's validation pass
            return super().evaluate(
                x, y, batch_size=batch_size, return_dict=return_dict, **kwargs
            )
        if isinstance(x, tf.data.Dataset):
            check_batched(x, "evaluate")
            self.check_target_spec(x, "the evaluation dataset")
        data = self.labelled(x, y, kwargs.get("steps"))
        if data is None:
            with target_errors():
                return super().evaluate(
                    x, y, batch_size=batch_size, return_dict=return_dict, **kwargs
                )
        batch_size = batch_size or 32
        if not isinstance(x, tf.data.Dataset):
            x = data.to_dataset().batch(batch_size)
            kwargs.pop("steps", None)
        with target_errors():
            logs = super().evaluate(x, batch_size=None, return_dict=True, **kwargs)
        logs.update(self.task_scores(data, batch_size))
        if return_dict:
            return logs
        values = [value for value in logs.values() if not isinstance(value, dict)]
        return values[0] if len(values) == 1 else values

    def labelled(self, x, y=None, steps=None):
        """`x` (and `y`) as the reader container `score` takes, checked; or `None`.

        `None` leaves `evaluate` to Keras alone (e.g. token features).
        """
        return None

    def task_scores(self, data, batch_size):
        """The task's own metrics on labelled `data` (beyond Keras's): `score`."""
        return {}

    # === Prediction ===

    def predict_outputs(self, x=None, batch_size=None, **kwargs):
        """The head's raw outputs for raw text (lists, pairs or a dataset).

        Texts given as lists are batched in order of length (and the outputs
        put back in input order), so each batch pads to similar lengths.
        """
        return self.predict_with_truncation(x, batch_size, **kwargs)[0]

    def _set_schedule_length(self, x, batch_size, epochs, kwargs):
        set_schedule_length(self.optimizer, x, batch_size, epochs, kwargs)

    # === Config ===

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "pooling": self.pooling,
                "dropout": self.dropout,
                "freeze": self.freeze,
                "max_length": self.max_length,
                "static_shapes": self.static_shapes,
                "attention_dropout": self.attention_dropout,
                "lora_targets": None
                if self.lora_targets is None
                else list(self.lora_targets),
            }
        )
        return config


def _preset_refusal(name, method):
    return (
        f"{name}.{method}: keras-hub presets rebuild only keras-hub's own task "
        f"classes. Save this model with model.save('model.keras') and reload it "
        f"with keras.saving.load_model('model.keras'); build a new one with "
        f"{name}.from_backbone(spec, ...) (a backbone alone saves as a preset: "
        f"model.backbone.save_to_preset(folder))."
    )
