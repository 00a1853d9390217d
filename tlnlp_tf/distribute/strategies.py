"""Pick a `tf.distribute` strategy; task models train under it with plain `model.fit`.

```python
import tlnlp_tf as tl

strategy = tl.distribute.strategy("auto")
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
- MultiWorkerMirroredStrategy needs two workarounds in Keras's trainer
  (keras-team/keras#20585): `strategy()` installs them, once, and they
  apply to this library's models only (`tlnlp_tf.distribute.keras_shims`).
  Importing `tlnlp_tf` installs nothing.
"""

import tensorflow as tf

from tlnlp_tf.distribute.cluster import check_tf_config
from tlnlp_tf.distribute.cluster import tpu_resolver
from tlnlp_tf.distribute.cluster import workers
from tlnlp_tf.distribute.keras_shims import install_keras_shims
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
        model = tl.TextClassifier.from_backbone("minilm", labels=["neg", "pos"])
    ```
    """
    if kind not in KINDS:
        raise PolicyError(
            f"Unknown strategy '{kind}'; expected one of {', '.join(KINDS)}."
        )
    install_keras_shims()  # scoped to this library's models; idempotent
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
        check_tf_config()
        return tf.distribute.MultiWorkerMirroredStrategy()
    resolver = tpu_resolver()
    if resolver is None:
        raise PolicyError(
            "strategy 'tpu': no TPU found (TPUClusterResolver did not resolve). "
            "On Colab, pick a TPU runtime; on Cloud TPU, set TPU_NAME."
        )
    tf.config.experimental_connect_to_cluster(resolver)
    tf.tpu.experimental.initialize_tpu_system(resolver)
    return tf.distribute.TPUStrategy(resolver)


def _auto_kind():
    if tpu_resolver() is not None:
        return "tpu"
    if workers() > 1:
        return "multi-worker"
    if len(tf.config.list_logical_devices("GPU")) > 1:
        return "mirrored"
    return "default"


def check_global_batch(batch_size, distribution=None):
    """Raise `PolicyError` unless `batch_size` splits evenly across the replicas.

    Example:

    ```python
    check_global_batch(64, tl.distribute.strategy("auto"))  # fine on 1, 2, 4, 8 devices
    ```
    """
    distribution = distribution or tf.distribute.get_strategy()
    replicas = distribution.num_replicas_in_sync
    if batch_size is not None and replicas > 1 and batch_size % replicas:
        raise PolicyError(
            f"The global batch size {batch_size} does not split evenly across "
            f"{replicas} replicas; use a multiple of {replicas} (e.g. "
            f"{-(-batch_size // replicas) * replicas})."
        )
