"""RandomStateBackup: the dropout random state travels with the checkpoint."""

import json

import numpy as np

import tlnlp_tf as tl
from tlnlp_tf.training.callbacks import RandomStateBackup


def test_dropout_state_is_saved_and_restored_with_its_epoch(
    tiny_preset, toy_sentiment, tmp_path
):
    texts, labels = toy_sentiment
    data = tl.data.from_lists(texts, labels).batch(16)
    model = tl.TextClassifier.from_backbone(tiny_preset, labels=["neg", "pos"])
    backup = RandomStateBackup(str(tmp_path))
    backup.set_model(model)
    assert backup._states()  # the backbone's and the head's dropout generators

    def snapshot():
        return [s.numpy().copy() for s in backup._states()]

    def equal(a, b):
        return all(np.array_equal(x, y) for x, y in zip(a, b))

    model.fit(data, epochs=1, verbose=0)
    backup.on_epoch_end(0)
    after_1 = snapshot()
    model.fit(data, epochs=1, verbose=0)  # dropout draws advance the states
    backup.on_epoch_end(1)
    after_2 = snapshot()
    assert not equal(after_1, after_2)
    model.fit(data, epochs=1, verbose=0)
    assert not equal(after_2, snapshot())

    metadata = tmp_path / "training_metadata.json"
    metadata.write_text(json.dumps({"epoch": 3}))
    assert (
        not backup.restore()
    )  # a checkpoint of an epoch with no saved state: left alone
    assert not equal(after_2, snapshot())
    metadata.write_text(json.dumps({"epoch": 2}))
    assert backup.restore()
    assert equal(after_2, snapshot())
    # Killed after this callback wrote epoch 2's state but before Keras's checkpoint
    # of epoch 2: the checkpoint says 1, and epoch 1's state is still there.
    metadata.write_text(json.dumps({"epoch": 1}))
    assert backup.restore()
    assert equal(after_1, snapshot())


def test_restores_when_the_first_epoch_begins(tiny_preset, toy_sentiment, tmp_path):
    texts, labels = toy_sentiment
    model = tl.TextClassifier.from_backbone(tiny_preset, labels=["neg", "pos"])
    backup = RandomStateBackup(str(tmp_path))
    backup.set_model(model)
    backup.on_epoch_end(0)
    saved = [s.numpy().copy() for s in backup._states()]
    (tmp_path / "training_metadata.json").write_text(json.dumps({"epoch": 1}))
    model.fit(tl.data.from_lists(texts, labels).batch(16), epochs=1, verbose=0)
    backup.on_train_begin()  # after BackupAndRestore's restore: nothing yet
    assert not all(
        np.array_equal(a, s.numpy()) for a, s in zip(saved, backup._states())
    )
    backup.on_epoch_begin(1)
    assert all(np.array_equal(a, s.numpy()) for a, s in zip(saved, backup._states()))
