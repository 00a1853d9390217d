"""Pick a `tf.distribute` strategy; task models train under it with plain `model.fit`.

```python
strategy = tlnlp_tf.distribute.strategy("auto")
with strategy.scope():
    model = tl.TextClassifier.from_backbone("minilm", labels=["neg", "pos"])
model.fit(train.batch(64), epochs=2)   # the global batch is split across replicas
```

What makes `fit` work under a strategy with Keras 3.15 + TensorFlow 2.21:

- Under any strategy, Keras's first-batch build averages the batch across
  replicas (`strategy.reduce("MEAN", batch)`, only to learn shapes), which
  fails on bool tensors. keras-hub preprocessors emit a bool `padding_mask`;
  the task models hand the backbone an int32 mask (`trim_padding`), which
  keras-hub backbones declare anyway. Upstream:
  https://github.com/keras-team/keras/issues/21069.
- A `MirroredVariable` has no `int()`; step counts are read through NumPy.
- MultiWorkerMirroredStrategy: that first-batch average cannot reduce a dict
  of tensors across workers at all ("Attempt to convert a value ({'token_ids':
  PerReplica…}) … to a Tensor"). `install_keras_shims()` makes the build read
  the first local replica's batch instead: only shapes and dtypes are needed.
- MultiWorkerMirroredStrategy: Keras reduces each scalar metric of a step
  with `strategy.reduce("MEAN", value, axis=0)` across workers, which fails
  on 0-d values ("Invalid reduction dimension 0 for input with 0
  dimensions"; https://github.com/keras-team/keras/issues/20585,
  https://github.com/tensorflow/tensorflow/issues/72388).
  `install_keras_shims()` (run on import) also wraps Keras's
  `reduce_per_replica` so that, for multi-worker collective strategies only,
  0-d values are reduced with `axis=None`; everything else goes to Keras's
  own function. Set `TLNLP_KERAS_SHIMS=0` to run without it; a test does,
  and fails when upstream is fixed so the shim can go.
"""

import json
import os

import tensorflow as tf
from keras import tree

from tlnlp_tf.errors import PolicyError

KINDS = ("auto", "default", "one-device", "mirrored", "multi-worker", "tpu")


def strategy(kind="auto"):
    """A `tf.distribute.Strategy` by name.

    Args:
        kind: `"auto"` (a TPU when a TPU cluster resolves, else
            MultiWorkerMirroredStrategy when `TF_CONFIG` names several
            workers, else MirroredStrategy over several GPUs, else the
            default strategy), `"default"`, `"one-device"`, `"mirrored"`
            (all GPUs; without GPUs, all logical CPU devices),
            `"multi-worker"` or `"tpu"`.

    Example:

    ```python
    with strategy("mirrored").scope():
        model = TextClassifier.from_backbone("minilm", num_classes=2)
    ```
    """
    if kind not in KINDS:
        raise PolicyError(
            f"Unknown strategy '{kind}'; expected one of {', '.join(KINDS)}."
        )
    if kind == "auto":
        kind = _auto_kind()
    if kind == "default":
        return tf.distribute.get_strategy()
    if kind == "one-device":
        gpus = tf.config.list_logical_devices("GPU")
        return tf.distribute.OneDeviceStrategy(gpus[0].name if gpus else "/cpu:0")
    if kind == "mirrored":
        gpus = tf.config.list_logical_devices("GPU")
        devices = [d.name for d in (gpus or tf.config.list_logical_devices("CPU"))]
        return tf.distribute.MirroredStrategy(devices)
    if kind == "multi-worker":
        _check_tf_config()
        return tf.distribute.MultiWorkerMirroredStrategy()
    resolver = _tpu_resolver()
    if resolver is None:
        raise PolicyError(
            "strategy 'tpu': no TPU found (TPUClusterResolver did not resolve). On Colab, "
            "pick a TPU runtime; on Cloud TPU, set TPU_NAME."
        )
    tf.config.experimental_connect_to_cluster(resolver)
    tf.tpu.experimental.initialize_tpu_system(resolver)
    return tf.distribute.TPUStrategy(resolver)


def _auto_kind():
    if _tpu_resolver() is not None:
        return "tpu"
    if _workers() > 1:
        return "multi-worker"
    if len(tf.config.list_logical_devices("GPU")) > 1:
        return "mirrored"
    return "default"


def _workers():
    try:
        config = json.loads(os.environ.get("TF_CONFIG", "{}"))
    except json.JSONDecodeError:
        raise PolicyError("TF_CONFIG is not valid JSON.") from None
    cluster = config.get("cluster", {})
    return len(cluster.get("worker", [])) + len(cluster.get("chief", []))


def _check_tf_config():
    """Raise `PolicyError` on a `TF_CONFIG` that would fail or hang deep in TensorFlow."""
    text = os.environ.get("TF_CONFIG")
    if not text:
        return  # one worker: MultiWorkerMirroredStrategy runs locally
    try:
        config = json.loads(text)
    except json.JSONDecodeError:
        raise PolicyError("TF_CONFIG is not valid JSON.") from None
    cluster = config.get("cluster") if isinstance(config, dict) else None
    if (
        not isinstance(cluster, dict)
        or not cluster.get("worker")
        and not cluster.get("chief")
    ):
        raise PolicyError(
            'TF_CONFIG: expected {"cluster": {"worker": ["host:port", ...]}, '
            '"task": {"type": "worker", "index": i}}; "cluster" names no workers.'
        )
    for role, addresses in cluster.items():
        if not isinstance(addresses, list) or not all(
            isinstance(a, str) and a.rpartition(":")[2].isdigit() for a in addresses
        ):
            raise PolicyError(
                f'TF_CONFIG: cluster["{role}"] must be a list of "host:port" '
                f"strings, got {addresses!r}."
            )
    task = config.get("task")
    if not isinstance(task, dict) or task.get("type") not in cluster:
        raise PolicyError(
            f"TF_CONFIG: task must name a role of the cluster "
            f"({', '.join(cluster)}) and an index, got {task!r}."
        )
    index = task.get("index")
    if not isinstance(index, int) or not 0 <= index < len(cluster[task["type"]]):
        raise PolicyError(
            f"TF_CONFIG: task index {index!r} is not in [0, "
            f'{len(cluster[task["type"]])}) for role "{task["type"]}".'
        )


def check_global_batch(batch_size, distribution=None):
    """Raise `PolicyError` unless `batch_size` splits evenly across the replicas."""
    distribution = distribution or tf.distribute.get_strategy()
    replicas = distribution.num_replicas_in_sync
    if batch_size is not None and replicas > 1 and batch_size % replicas:
        raise PolicyError(
            f"The global batch size {batch_size} does not split evenly across "
            f"{replicas} replicas; use a multiple of {replicas} (e.g. "
            f"{-(-batch_size // replicas) * replicas})."
        )


def _tpu_resolver():
    # Only where a TPU can be: asking a GCE metadata server elsewhere waits
    # on the network.
    hints = ("TPU_NAME", "COLAB_TPU_ADDR", "TPU_ACCELERATOR_TYPE")
    if not any(os.environ.get(name) for name in hints) and not os.path.exists(
        "/dev/accel0"
    ):
        return None
    try:
        resolver = tf.distribute.cluster_resolver.TPUClusterResolver()
        resolver.master()
        return resolver
    except (ValueError, RuntimeError, KeyError, tf.errors.OpError):
        return None


def install_keras_shims():
    """Patch Keras's per-replica reduction for multi-worker strategies (see above).

    Idempotent; a no-op when `TLNLP_KERAS_SHIMS=0` or when this Keras has no
    `reduce_per_replica` to patch.
    """
    if os.environ.get("TLNLP_KERAS_SHIMS", "1") == "0":
        return False
    try:
        from keras.src.backend.tensorflow import trainer as keras_tf_trainer
    except ImportError:
        return False
    original = getattr(keras_tf_trainer, "reduce_per_replica", None)
    multi_worker = getattr(
        keras_tf_trainer, "_collective_all_reduce_multi_worker", None
    )
    if (
        original is None
        or multi_worker is None
        or getattr(original, "tlnlp_shim", False)
    ):
        return False

    def reduce_per_replica(values, strategy, reduction):
        if reduction not in ("auto", "mean") or not multi_worker(strategy):
            return original(values, strategy, reduction)

        def reduce(value):
            if _rank(value) == 0:
                return strategy.reduce("MEAN", value, axis=None)
            return original(value, strategy, reduction)

        return tree.map_structure(reduce, values)

    reduce_per_replica.tlnlp_shim = True
    keras_tf_trainer.reduce_per_replica = reduce_per_replica

    trainer_class = keras_tf_trainer.TensorFlowTrainer
    original_build = trainer_class._maybe_symbolic_build

    def _maybe_symbolic_build(self, iterator=None, data_batch=None):
        # Keras averages the first batch across replicas to learn its shapes;
        # MultiWorkerMirroredStrategy cannot reduce a dict of tensors (and
        # workers' batches may differ in length). The first local replica's
        # batch has the shapes and dtypes the build needs.
        if self._distribute_strategy is None or iterator is None:
            return original_build(self, iterator=iterator, data_batch=data_batch)
        for _, _, batches in iterator:
            data_batch = tree.map_structure(_first_local, next(batches))
            break
        return original_build(self, iterator=None, data_batch=data_batch)

    trainer_class._maybe_symbolic_build = _maybe_symbolic_build
    return True


def _first_local(value):
    if isinstance(value, tf.distribute.DistributedValues):
        return value.values[0]
    return value


def _rank(value):
    values = getattr(value, "values", None)
    if isinstance(values, tuple) and values:
        value = values[0]
    shape = getattr(value, "shape", None)
    return None if shape is None else shape.rank


install_keras_shims()
