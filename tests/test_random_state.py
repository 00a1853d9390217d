"""RandomStateBackup: the dropout random state travels with the checkpoint."""

import json

import numpy as np

import tlnlp_tf as tl
from tlnlp_tf.training.callbacks import RandomStateBackup


def test_dropout_state_is_saved_and_restored_with_its_epoch(tiny_preset, toy_sentiment, tmp_path):
    texts, labels = toy_sentiment
    data = tl.data.from_lists(texts, labels).batch(16)
    model = tl.TextClassifier.from_backbone(tiny_preset, labels=["neg", "pos"])
    backup = RandomStateBackup(str(tmp_path))
    backup.set_model(model)
    assert backup._states()  # the backbone's and the head's dropout generators
    model.fit(data, epochs=1, verbose=0)
    backup.on_epoch_end(0)
    saved = [s.numpy().copy() for s in backup._states()]
    model.fit(data, epochs=1, verbose=0)  # dropout draws advance the states
    assert any(not np.array_equal(a, s.numpy()) for a, s in zip(saved, backup._states()))
    (tmp_path / "training_metadata.json").write_text(json.dumps({"epoch": 2}))
    backup.on_train_begin()  # a checkpoint of another epoch: left alone
    assert any(not np.array_equal(a, s.numpy()) for a, s in zip(saved, backup._states()))
    (tmp_path / "training_metadata.json").write_text(json.dumps({"epoch": 1}))
    backup.on_train_begin()
    assert all(np.array_equal(a, s.numpy()) for a, s in zip(saved, backup._states()))
