"""`tl.training.resumable_fit`: killed mid-training, resumed, the same final model."""

import keras
import numpy as np
import pytest
from conftest import toy_examples

import tlnlp_tf as tl

EPOCHS = 2


class Killed(Exception):
    pass


class KillAt(keras.callbacks.Callback):
    """Raise in the middle of an epoch, as a lost runtime would stop training."""

    def __init__(self, epoch, batch):
        super().__init__()
        self.epoch, self.batch, self._current = epoch, batch, None

    def on_epoch_begin(self, epoch, logs=None):
        self._current = epoch

    def on_train_batch_end(self, batch, logs=None):
        if self._current == self.epoch and batch == self.batch:
            raise Killed()


def _train(preset, backup, callbacks=None):
    """A fresh model and data, as a notebook run again from the top builds them."""
    keras.utils.set_random_seed(0)
    texts, labels = toy_examples(48)
    data = tl.data.from_lists(texts, labels).shuffle(48, seed=0).batch(12)
    model = tl.TextClassifier.from_backbone(preset, labels=["neg", "pos"])
    history = tl.training.resumable_fit(
        model, data, str(backup), epochs=EPOCHS, callbacks=callbacks, verbose=0
    )
    return model, history


def test_killed_and_resumed_equals_uninterrupted(tiny_preset, tmp_path):
    whole, whole_history = _train(tiny_preset, tmp_path / "whole")
    assert whole_history.resumed_from_epoch == 0
    assert not (tmp_path / "whole").exists()  # removed once training completed

    backup = tmp_path / "killed"
    with pytest.raises(Killed):
        _train(tiny_preset, backup, callbacks=[KillAt(epoch=1, batch=1)])
    assert tl.training.backed_up_epoch(str(backup)) == 1
    resumed, history = _train(tiny_preset, backup)
    assert history.resumed_from_epoch == 1
    assert len(history.history["loss"]) == EPOCHS - 1
    assert history.history["loss"][-1] == pytest.approx(
        whole_history.history["loss"][-1], abs=1e-6
    )
    for a, b in zip(whole.weights, resumed.weights):
        np.testing.assert_allclose(a.numpy(), b.numpy(), atol=1e-6, err_msg=a.path)


def test_needs_a_finite_dataset(tiny_preset, tmp_path):
    model = tl.TextClassifier.from_backbone(tiny_preset, labels=["neg", "pos"])
    texts, labels = toy_examples(8)
    endless = tl.data.from_lists(texts, labels).batch(4).repeat()
    with pytest.raises(tl.PolicyError, match="known, finite number of batches"):
        tl.training.resumable_fit(model, endless, str(tmp_path / "b"))
