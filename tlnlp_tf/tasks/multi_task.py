"""`MultiTaskModel`: one shared backbone, one head per task, trained by one `fit`."""

import keras
import tensorflow as tf

from tlnlp_tf.backbones.loading import load_backbone
from tlnlp_tf.errors import PolicyError
from tlnlp_tf.tasks import registry
from tlnlp_tf.tasks.task import compile_from_saved
from tlnlp_tf.training.eager_build import build_optimizer
from tlnlp_tf.training.fit_steps import one_iterator
from tlnlp_tf.training.fit_steps import set_schedule_length
from tlnlp_tf.training.optimizers import fine_tuning_adamw

FEATURES = ("token_ids", "padding_mask", "segment_ids")


class _Tasks:
    """Holds the task models out of Keras's attribute tracking."""

    def __init__(self, tasks):
        self.by_name = dict(tasks)


@keras.saving.register_keras_serializable(package="tlnlp_tf")
class MultiTaskModel(keras.Model):
    """Several tasks on one shared backbone: one head each, one `fit`.

    Each task is an ordinary task model (`TextClassifier`, `TextRegressor`,
    `TokenClassifier`, `SpanExtractor`) built on the *same* backbone object;
    the multi-task model runs the backbone once per batch and every head on
    its output. Batches come from one task at a time
    (`task_dataset` + `tl.data.mix_tasks`): the other tasks' targets in a
    batch are placeholders with sample weight 0, so each head learns only
    from its own task's batches while the backbone learns from all. The
    loss is `sum(weight[t] * loss[t])`; Keras reports each task's loss and
    metrics by name (`sst2_accuracy`, `stsb_pearson`, …).

    The backbone's freeze policy is the tasks' (apply it with
    `set_freeze`). `predict(x, task=name)` and `tasks[name].evaluate(...)`
    use the task model itself, which shares the trained weights.

    Args:
        tasks: `{name: task model}`, all on one backbone object.
        loss_weights: `{name: weight}` (default 1 for each task).

    Example:

    ```python
    model = tl.MultiTaskModel.from_backbone("minilm", {
        "sst2": {"kind": "text-classification", "labels": ["0", "1"]},
        "stsb": {"kind": "regression"},
    }, loss_weights={"stsb": 0.5})
    data = tl.data.mix_tasks({
        "sst2": model.task_dataset("sst2", sst2.to_dataset().shuffle(10_000).batch(32)),
        "stsb": model.task_dataset("stsb", stsb.to_dataset().shuffle(10_000).batch(32)),
    }, sampling="temperature")
    model.fit(data, epochs=3)
    model.predict(["a gripping film"], task="sst2")["label"]
    ```
    """

    def __init__(self, tasks, loss_weights=None, **kwargs):
        tasks = _check_tasks(tasks)
        weights = _loss_weights(tasks, loss_weights)
        backbone = next(iter(tasks.values())).backbone

        # === Functional model: the backbone once, every head on its output ===
        inputs = backbone.input
        outputs = backbone(inputs)
        if not isinstance(outputs, dict):
            outputs = {"sequence_output": outputs}
        heads = {}
        for name, task in tasks.items():
            head_inputs = {
                "sequence_output": outputs["sequence_output"],
                "padding_mask": inputs["padding_mask"],
            }
            if getattr(task, "pooling", None) == "pooled":
                head_inputs["pooled_output"] = outputs["pooled_output"]
            heads[name] = task.head(head_inputs)
        super().__init__(inputs=inputs, outputs=heads, **kwargs)

        self.backbone = backbone
        self._tasks = _Tasks(tasks)
        # Tracked, so that `.keras` files keep the tokenizer's vocabulary.
        self.preprocessors = {
            name: task.preprocessor
            for name, task in tasks.items()
            if task.preprocessor is not None
        }
        self.task_loss_weights = weights
        # Each task's loss, as the progress bar reports it (`{name}_loss`).
        self._loss_trackers = {
            name: keras.metrics.Mean(name=f"{name}_loss") for name in tasks
        }
        self.compile()

    @classmethod
    def from_backbone(
        cls,
        spec,
        tasks,
        freeze="none",
        weights="pretrained",
        loss_weights=None,
        **kwargs,
    ):
        """Build every task on one backbone loaded from `spec` (see `load_backbone`).

        Args:
            spec: a keras-hub preset name, a local preset or Hugging Face
                folder, or `"minilm"`.
            tasks: `{name: {"kind": KIND, ...}}` where KIND is a registered
                task kind (`tl.tasks.registry.task_kinds()`):
                `"text-classification"` (with `labels`), `"regression"`,
                `"token-classification"` (with `tags`),
                `"question-answering"`, …; other keys go to the task's
                constructor (`max_length`, `dropout`, `pooling`, …).
            freeze: the freeze policy of the shared backbone.
            weights: `"pretrained"` or `"random"`.
            loss_weights: `{name: weight}`.

        Example:

        ```python
        model = tl.MultiTaskModel.from_backbone("minilm", {
            "sst2": {"kind": "text-classification", "labels": ["0", "1"]},
            "stsb": {"kind": "regression"},
        })
        ```
        """
        if not isinstance(tasks, dict) or not tasks:
            raise PolicyError(
                "MultiTaskModel.from_backbone takes a non-empty dict "
                "{name: {'kind': …}}."
            )
        backbone, text_preprocessor = load_backbone(
            spec, weights=weights, dtype=kwargs.get("dtype")
        )
        built = {}
        for name, options in tasks.items():
            options = dict(options)
            kind = options.pop("kind", None)
            if kind not in registry.task_kinds():
                raise PolicyError(
                    f"MultiTaskModel: task {name!r} has kind {kind!r}; "
                    f"expected one of {', '.join(registry.task_kinds())}."
                )
            try:
                built[name] = registry.get_task(kind).build_on(
                    backbone, text_preprocessor, spec, freeze, options
                )
            except PolicyError as error:
                raise PolicyError(
                    f"MultiTaskModel: task {name!r} ({kind}) {error}"
                ) from None
        return cls(built, loss_weights=loss_weights)

    @property
    def tasks(self):
        """`{name: task model}` (they share this model's weights)."""
        return dict(self._tasks.by_name)

    def _task(self, name):
        if name not in self._tasks.by_name:
            raise PolicyError(
                f"Unknown task {name!r}; this model's tasks are "
                f"{sorted(self._tasks.by_name)}."
            )
        return self._tasks.by_name[name]

    # === Training set-up ===

    def compile(
        self,
        optimizer="auto",
        loss="auto",
        *,
        weighted_metrics="auto",
        learning_rate="auto",
        **kwargs,
    ):
        """Compile with each task's loss and metrics (other tasks' rows weigh 0).

        `optimizer="auto"` is the tasks' fine-tuning AdamW (warmup and linear
        decay over the first `fit`), at the lowest of the tasks' default
        peak rates unless `learning_rate` is given.
        """
        self._compile_args = dict(
            optimizer=optimizer,
            loss=loss,
            weighted_metrics=weighted_metrics,
            learning_rate=learning_rate,
            **kwargs,
        )
        tasks = self._tasks.by_name
        if optimizer == "auto":
            if learning_rate == "auto":
                learning_rate = min(
                    task.default_learning_rate() for task in tasks.values()
                )
            optimizer = fine_tuning_adamw(learning_rate)
        if loss == "auto":
            loss = {name: task.default_loss() for name, task in tasks.items()}
        if weighted_metrics == "auto":
            weighted_metrics = {
                name: list(task.default_metrics() or [])
                + list(task.default_weighted_metrics() or [])
                for name, task in tasks.items()
            }
        kwargs.setdefault("loss_weights", dict(self.task_loss_weights))
        super().compile(
            optimizer=optimizer, loss=loss, weighted_metrics=weighted_metrics, **kwargs
        )
        # The losses are computed here (`compute_loss`), not by Keras's compiled
        # loss: its per-output trackers average each task's loss over every
        # batch, the other tasks' (where it is 0) included. The compile config
        # (saved with the model) keeps `loss` as given.
        self._task_losses = _task_losses(loss, tasks)
        weights = kwargs["loss_weights"]
        self._task_weights = (
            dict(weights) if isinstance(weights, dict) else dict(self.task_loss_weights)
        )
        self._compile_loss = None

    def compute_loss(
        self, x=None, y=None, y_pred=None, sample_weight=None, training=True
    ):
        """`sum(weight[t] * loss[t])`; each task's loss tracked on its own batches.

        A batch belongs to task `t` when some of its sample weights for `t`
        are non-zero; `{t}_loss` is the mean of `t`'s loss over those batches
        only, the number `t`'s own model would report on the same batches.
        """
        replicas = tf.distribute.get_strategy().num_replicas_in_sync
        total = []
        for name, loss_fn in self._task_losses.items():
            weight = None if sample_weight is None else sample_weight[name]
            value = tf.cast(loss_fn(y[name], y_pred[name], weight), "float32")
            rows = tf.cast(tf.shape(y_pred[name])[0], "float32")
            if weight is not None:
                rows *= tf.cast(tf.reduce_any(weight > 0), "float32")
            # Keras's losses are scaled by 1 / replicas under a strategy.
            self._loss_trackers[name].update_state(value * replicas, sample_weight=rows)
            total.append(value * self._task_weights.get(name, 1.0))
        for loss in self.losses:  # regularizers and `add_loss`
            total.append(tf.reduce_sum(tf.cast(loss, "float32")) / replicas)
        return tf.add_n(total)

    def compile_from_config(self, config):
        compile_from_saved(self, config)

    def set_freeze(self, policy):
        """Apply a freeze policy to the shared backbone and recompile.

        See `TextTask.set_freeze`.
        """
        for task in self._tasks.by_name.values():
            task.set_freeze(policy)
        args = dict(self._compile_args)
        self.compile(**args)
        return self

    @property
    def freeze(self):
        return next(iter(self._tasks.by_name.values())).freeze

    # === Data ===

    def task_dataset(self, name, dataset):
        """Batches of one task, in the form `fit` takes for every task.

        `dataset` is what the task model's own `fit` takes: a batched
        `tf.data.Dataset` of raw examples with targets (or of its
        `tokenize_once` features). Each batch becomes `(token features,
        {task: target}, {task: sample weight})`, with zeros standing for the
        other tasks' targets and weights.
        """
        task = self._task(name)
        if not isinstance(dataset, tf.data.Dataset):
            raise TypeError(
                f"task_dataset('{name}', …) takes a batched tf.data.Dataset."
            )
        task._choose_max_length(dataset)
        tasks = self._tasks.by_name

        def joint(*element):
            x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(
                element[0] if len(element) == 1 else element
            )
            if y is None:
                raise PolicyError(
                    f"task_dataset('{name}', …): the dataset has no targets."
                )
            features, y, sample_weight = keras.utils.unpack_x_y_sample_weight(
                task.preprocess_samples(x, y, sample_weight)
            )
            features = {key: tf.cast(features[key], tf.int32) for key in FEATURES}
            rows, length = (
                tf.shape(features["token_ids"])[0],
                tf.shape(features["token_ids"])[1],
            )
            targets, weights = {}, {}
            for other, model in tasks.items():
                dtype, target_shape, weight_shape = _target_spec(model, rows, length)
                if other == name:
                    targets[other] = tf.cast(y, dtype)
                    weights[other] = (
                        tf.ones(weight_shape, tf.float32)
                        if sample_weight is None
                        else tf.cast(sample_weight, tf.float32)
                    )
                else:
                    targets[other] = tf.zeros(target_shape, dtype)
                    weights[other] = tf.zeros(weight_shape, tf.float32)
            return features, targets, weights

        return dataset.map(joint, tf.data.AUTOTUNE)

    def fit(self, x=None, y=None, batch_size=None, epochs=1, **kwargs):
        """`keras.Model.fit` on a `mix_tasks` dataset; the LR decay from its steps."""
        set_schedule_length(self.optimizer, x, batch_size, epochs, kwargs)
        if isinstance(x, tf.data.Dataset):
            kwargs.setdefault("shuffle", False)  # a dataset shuffles itself
            x = one_iterator(x, epochs, kwargs)  # not a tokenizer pipeline per epoch
        build_optimizer(self, kwargs.get("callbacks"))  # traced once, not twice
        return super().fit(x, y, batch_size=batch_size, epochs=epochs, **kwargs)

    # === Prediction ===

    def predict(self, x=None, task=None, **kwargs):
        """The predictions of one task, as that task model's `predict` returns them.

        Example:

        ```python
        model.predict(["a gripping film"], task="sst2")["label"]
        ```
        """
        if task is None:
            if len(self._tasks.by_name) != 1:
                raise PolicyError(
                    "predict: name the task (task=…); this model's tasks are "
                    f"{sorted(self._tasks.by_name)}."
                )
            task = next(iter(self._tasks.by_name))
        return self._task(task).predict(x, **kwargs)

    # === Config ===

    def get_config(self):
        tasks = {}
        for name, task in self._tasks.by_name.items():
            config = task.get_config()
            config.pop("backbone", None)  # stored once, below
            tasks[name] = {
                "class_name": keras.saving.get_registered_name(type(task)),
                "config": config,
            }
        return {
            "backbone": keras.saving.serialize_keras_object(self.backbone),
            "tasks": tasks,
            "loss_weights": dict(self.task_loss_weights),
            "name": self.name,
        }

    @classmethod
    def from_config(cls, config):
        backbone = keras.saving.deserialize_keras_object(config["backbone"])
        tasks = {}
        for name, entry in config["tasks"].items():
            task_class = keras.saving.get_registered_object(entry["class_name"])
            if task_class is None:
                raise PolicyError(
                    f"MultiTaskModel: unknown task class {entry['class_name']!r}."
                )
            tasks[name] = task_class.from_config(
                dict(entry["config"], backbone=backbone)
            )
        # One tokenizer object, as when saved: its vocabulary is stored once.
        tokenizer = None
        for task in tasks.values():
            if task.preprocessor is not None:
                tokenizer = tokenizer or task.preprocessor.tokenizer
                task.preprocessor.tokenizer = tokenizer
        return cls(
            tasks, loss_weights=config.get("loss_weights"), name=config.get("name")
        )


def _check_tasks(tasks):
    if not isinstance(tasks, dict) or not tasks:
        raise PolicyError("MultiTaskModel takes a non-empty dict {name: task model}.")
    backbone = None
    for name, task in tasks.items():
        if not isinstance(name, str) or not name.isidentifier():
            raise PolicyError(
                f"MultiTaskModel: task names must be identifiers "
                f"(they name the metrics); got {name!r}."
            )
        classes = registry.task_classes()
        if not isinstance(task, classes):
            raise PolicyError(
                f"MultiTaskModel: task {name!r} is a {type(task).__name__}; expected "
                f"one of {', '.join(c.__name__ for c in classes)}."
            )
        if backbone is None:
            backbone = task.backbone
        elif task.backbone is not backbone:
            raise PolicyError(
                f"MultiTaskModel: task {name!r} has its own backbone; build every "
                "task on the same backbone object (e.g. from one `tl.load_backbone`)."
            )
    return dict(tasks)


def _loss_weights(tasks, loss_weights):
    weights = {name: 1.0 for name in tasks}
    for name, weight in (loss_weights or {}).items():
        if name not in tasks:
            raise PolicyError(
                f"MultiTaskModel: loss weight for unknown task {name!r}; "
                f"the tasks are {sorted(tasks)}."
            )
        if not float(weight) >= 0.0:
            raise PolicyError(
                f"MultiTaskModel: the loss weight of {name!r} must be >= 0, "
                f"got {weight!r}."
            )
        weights[name] = float(weight)
    return weights


def _task_losses(loss, tasks):
    """`{name: loss function}` from `compile`'s `loss` (a dict, or one for all)."""
    if not isinstance(loss, dict):
        loss = {name: loss for name in tasks}
    unknown = sorted(set(loss) - set(tasks))
    if unknown:
        raise PolicyError(
            f"MultiTaskModel.compile: loss for unknown tasks {unknown}; "
            f"the tasks are {sorted(tasks)}."
        )
    return {
        name: keras.losses.get(value) if isinstance(value, (str, dict)) else value
        for name, value in loss.items()
        if value is not None
    }


def _target_spec(task, rows, length):
    """`(dtype, target shape, sample-weight shape)` of one batch of `task`'s targets."""
    return registry.kind_of(task).target_spec(rows, length)
