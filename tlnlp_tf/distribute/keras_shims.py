"""Two workarounds in Keras's TensorFlow trainer, for this library's models only.

With Keras 3.15 + TensorFlow 2.21, `model.fit` under
`MultiWorkerMirroredStrategy` fails twice (keras-team/keras#20585):

- Keras's first-batch build averages the batch across replicas
  (`strategy.reduce("MEAN", batch)`) only to learn its shapes; across
  workers it cannot reduce a dict of tensors at all ("Attempt to convert a
  value ({'token_ids': PerReplica…}) … to a Tensor"). The shim builds from
  the first local replica's batch instead: only shapes and dtypes are needed.
- Keras reduces each scalar metric of a step with
  `strategy.reduce("MEAN", value, axis=0)`, which fails on 0-d values
  ("Invalid reduction dimension 0 for input with 0 dimensions";
  tensorflow/tensorflow#72388). The shim reduces 0-d values with
  `axis=None`, for multi-worker collective strategies only.

`install_keras_shims()` installs them; `tlnlp_tf.distribute.strategy()`
calls it. Importing `tlnlp_tf` does not. Each patched function first asks
whether the model is this library's (`is_library_model`: a class defined in
`tlnlp_tf`, or a subclass of one) and otherwise runs Keras's own code
unchanged, so a user's own `keras.Model` trains as it would without
`tlnlp_tf`. Set `TLNLP_KERAS_SHIMS=0` to install nothing; a test does, and
fails once upstream is fixed, so that the shims can go.

Example:

```python
install_keras_shims()   # True the first time, False after (idempotent)
is_library_model(keras.Sequential())   # False: a user's own model is left alone
```
"""

import os
import threading

from keras import tree

PACKAGE = "tlnlp_tf."
# Set while one of this library's models runs (and traces) a step function.
_active = threading.local()


def is_library_model(model):
    """Whether `model`'s class, or one of its bases, is defined in `tlnlp_tf`.

    Example:

    ```python
    import keras

    assert not is_library_model(keras.Sequential([keras.layers.Dense(1)]))
    ```
    """
    return any(
        getattr(cls, "__module__", "").startswith(PACKAGE)
        for cls in type(model).__mro__
    )


def installed():
    """Whether the shims are installed in this process."""
    trainer = _keras_trainer()
    return trainer is not None and getattr(
        trainer.reduce_per_replica, "tlnlp_shim", False
    )


def install_keras_shims():
    """Install the workarounds (see above); return whether this call installed them.

    Idempotent; a no-op when `TLNLP_KERAS_SHIMS=0` or when this Keras has
    no `reduce_per_replica` to patch.

    Example:

    ```python
    install_keras_shims()  # what tl.distribute.strategy(...) does first
    assert installed()
    ```
    """
    if os.environ.get("TLNLP_KERAS_SHIMS", "1") == "0":
        return False
    trainer = _keras_trainer()
    if trainer is None or installed():
        return False
    original = getattr(trainer, "reduce_per_replica", None)
    multi_worker = getattr(trainer, "_collective_all_reduce_multi_worker", None)
    trainer_class = getattr(trainer, "TensorFlowTrainer", None)
    if original is None or multi_worker is None or trainer_class is None:
        return False

    def reduce_per_replica(values, strategy, reduction):
        if (
            not getattr(_active, "model", False)
            or reduction not in ("auto", "mean")
            or not multi_worker(strategy)
        ):
            return original(values, strategy, reduction)

        def reduce(value):
            if _rank(value) == 0:
                return strategy.reduce("MEAN", value, axis=None)
            return original(value, strategy, reduction)

        return tree.map_structure(reduce, values)

    reduce_per_replica.tlnlp_shim = True

    original_make_function = trainer_class._make_function

    def _make_function(self, step_function):
        function = original_make_function(self, step_function)
        if not is_library_model(self):
            return function

        def library_function(iterator):
            # Tracing happens inside the call: the metric reduction above
            # sees the flag for this model's steps only (per thread).
            previous = getattr(_active, "model", False)
            _active.model = True
            try:
                return function(iterator)
            finally:
                _active.model = previous

        return library_function

    original_build = trainer_class._maybe_symbolic_build

    def _maybe_symbolic_build(self, iterator=None, data_batch=None):
        if (
            not is_library_model(self)
            or self._distribute_strategy is None
            or iterator is None
        ):
            return original_build(self, iterator=iterator, data_batch=data_batch)
        for _, _, batches in iterator:
            data_batch = tree.map_structure(_first_local, next(batches))
            break
        return original_build(self, iterator=None, data_batch=data_batch)

    trainer.reduce_per_replica = reduce_per_replica
    trainer_class._make_function = _make_function
    trainer_class._maybe_symbolic_build = _maybe_symbolic_build
    return True


def _keras_trainer():
    try:
        from keras.src.backend.tensorflow import trainer
    except ImportError:
        return None
    return trainer


def _first_local(value):
    import tensorflow as tf

    if isinstance(value, tf.distribute.DistributedValues):
        return value.values[0]
    return value


def _rank(value):
    values = getattr(value, "values", None)
    if isinstance(values, tuple) and values:
        value = values[0]
    shape = getattr(value, "shape", None)
    return None if shape is None else shape.rank
