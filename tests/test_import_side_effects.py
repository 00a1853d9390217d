"""`import tlnlp_tf` changes nothing in Keras or the environment (issue 14, item 4).

Each check runs in a fresh interpreter: this test process has long since
imported `tlnlp_tf` (and conftest sets environment variables of its own).
"""

import json
import os
import subprocess
import sys

import pytest

# In one fresh interpreter: trains a plain keras.Sequential model, seeded;
# imports tlnlp_tf and checks that Keras's trainer and the environment are
# untouched; trains the same model again; asks for a strategy (which installs
# the shims) and trains it a third time.
SCRIPT = r"""
import json, os
import numpy as np
import keras
from keras.src.backend.tensorflow import trainer


def train():
    keras.utils.set_random_seed(0)
    x = np.random.default_rng(0).normal(size=(64, 4)).astype("float32")
    y = (x.sum(axis=1) > 0).astype("int32")
    model = keras.Sequential(
        [keras.Input((4,)), keras.layers.Dense(8, activation="relu"),
         keras.layers.Dense(2)]
    )
    model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    history = model.fit(x, y, batch_size=16, epochs=2, verbose=0)
    return {
        "loss": history.history["loss"],
        "weights": [w.numpy().ravel().tolist() for w in model.weights],
    }


reduce_per_replica = trainer.reduce_per_replica
methods = {n: v for n, v in vars(trainer.TensorFlowTrainer).items() if callable(v)}
environ = dict(os.environ)
report = {"plain": train()}

import tlnlp_tf as tl

report["same_after_import"] = trainer.reduce_per_replica is reduce_per_replica and all(
    getattr(trainer.TensorFlowTrainer, n) is v for n, v in methods.items()
)
report["environ_unchanged"] = dict(os.environ) == environ
report["imported"] = train()
tl.distribute.strategy("auto")
report["installed"] = tl.distribute.keras_shims.installed()
report["with_strategy"] = train()
print("REPORT " + json.dumps(report))
"""


def test_import_leaves_keras_and_a_plain_models_fit_unchanged():
    env = {k: v for k, v in os.environ.items() if k != "TF_CONFIG"}
    env["KERAS_BACKEND"] = "tensorflow"
    env.pop("TLNLP_KERAS_SHIMS", None)
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    line = next(x for x in result.stdout.splitlines() if x.startswith("REPORT "))
    report = json.loads(line[len("REPORT ") :])
    assert report["same_after_import"] is True
    assert report["environ_unchanged"] is True
    assert report["installed"] is True  # strategy() installs the shims ...
    for run in ("imported", "with_strategy"):  # ... and a plain model trains the same
        assert report[run] == report["plain"], run


def test_shims_are_scoped_to_library_models(tiny_preset):
    import keras

    import tlnlp_tf as tl
    from tlnlp_tf.distribute.keras_shims import is_library_model

    model = tl.TextClassifier.from_backbone(tiny_preset, labels=["neg", "pos"])

    class Mine(tl.TextClassifier):  # a user's subclass is still ours
        pass

    assert is_library_model(model)
    assert Mine.__module__ == __name__ and is_library_model(Mine.__new__(Mine))
    assert not is_library_model(keras.Sequential([keras.layers.Dense(1)]))
    assert not is_library_model(model.backbone)  # keras-hub's own


def test_another_keras_backend_is_a_clear_error_not_a_silent_switch(monkeypatch):
    import keras

    import tlnlp_tf as tl

    monkeypatch.setattr(keras.config, "backend", lambda: "jax")
    with pytest.raises(tl.BackboneError, match="set KERAS_BACKEND=tensorflow"):
        tl.load_backbone("minilm")
