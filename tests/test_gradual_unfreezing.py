"""GradualUnfreezing: one group per epoch from the top, optimizer state kept."""

import keras
import numpy as np
import pytest

import tlnlp_tf as tl


def _model_and_data(tiny_preset, toy_sentiment):
    """A tiny classifier, 4 batches of toy sentiment, and its backbone's layer
    groups."""
    keras.utils.set_random_seed(0)
    model = tl.TextClassifier.from_backbone(tiny_preset, labels=["neg", "pos"])
    texts, labels = toy_sentiment
    data = tl.data.from_lists(texts, labels).batch(16)  # 4 steps per epoch
    return model, data, tl.backbones.layer_groups(model.backbone)


def test_unfreezes_from_the_top_and_keeps_optimizer_state(tiny_preset, toy_sentiment):
    model, data, groups = _model_and_data(tiny_preset, toy_sentiment)
    snapshots = []

    class Snapshot(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            snapshots.append(
                {
                    name: [
                        np.array(w.numpy()) for layer in layers for w in layer.weights
                    ]
                    for name, layers in groups.items()
                }
                | {
                    "head": [np.array(w.numpy()) for w in model.head.weights],
                    "iterations": int(model.optimizer.iterations.numpy()),
                    "head_moment": np.array(
                        model.optimizer._momentums[
                            model.optimizer._get_variable_index(
                                model.head.logits.kernel
                            )
                        ].numpy()
                    ),
                }
            )

    unfreezing = tl.GradualUnfreezing(verbose=False)
    start = {
        name: [np.array(w.numpy()) for layer in layers for w in layer.weights]
        for name, layers in groups.items()
    }
    model.fit(data, epochs=4, callbacks=[unfreezing, Snapshot()], verbose=0)

    def moved(name, epoch):
        before = start[name] if epoch == 0 else snapshots[epoch - 1][name]
        return any(
            not np.array_equal(a, b) for a, b in zip(before, snapshots[epoch][name])
        )

    assert [names for _, names, _ in unfreezing.log] == [
        [],
        ["layer_1"],
        ["layer_1", "layer_0"],
        ["layer_1", "layer_0", "embeddings"],
    ]
    assert [moved("layer_1", e) for e in range(4)] == [False, True, True, True]
    assert [moved("layer_0", e) for e in range(4)] == [False, False, True, True]
    assert [moved("embeddings", e) for e in range(4)] == [False, False, False, True]
    assert not any(moved("pooler", e) for e in range(4))  # mean pooling: never used
    counts = [count for _, _, count in unfreezing.log]
    assert counts == sorted(counts) and counts[0] < counts[-1]
    # One optimizer throughout: the step count runs on, the head's moments carry over.
    assert [s["iterations"] for s in snapshots] == [4, 8, 12, 16]
    assert np.abs(snapshots[0]["head_moment"]).sum() > 0
    assert model.freeze == "none"


def test_unfreezes_every_n_steps(tiny_preset, toy_sentiment):
    model, data, groups = _model_and_data(tiny_preset, toy_sentiment)
    weights = lambda name: [
        np.array(w.numpy()) for layer in groups[name] for w in layer.weights
    ]
    start = {name: weights(name) for name in groups}
    unfreezing = tl.GradualUnfreezing(every_steps=3, verbose=False)
    model.fit(
        data, epochs=1, callbacks=[unfreezing], verbose=0
    )  # steps 0-2 frozen, 3 opens one
    assert [(step, names) for step, names, _ in unfreezing.log] == [
        (0, []),
        (3, ["layer_1"]),
    ]
    moved = {
        name: any(not np.array_equal(a, b) for a, b in zip(start[name], weights(name)))
        for name in groups
    }
    assert moved["layer_1"] and not moved["layer_0"] and not moved["embeddings"]
    assert model.freeze == "bottom-1"
    assert tl.GradualUnfreezing(every_steps=5).get_config()["every_steps"] == 5
    with pytest.raises(ValueError, match="every_steps must be a positive number"):
        tl.GradualUnfreezing(every_steps=0)


def test_starts_from_a_fully_frozen_model(tiny_preset, toy_sentiment):
    """ULMFiT's start, as a user writes it: freeze="all", then GradualUnfreezing.

    The feature cache (head only) must not be used: the callback needs the
    backbone, and the unfrozen top group must train."""
    keras.utils.set_random_seed(0)
    model = tl.TextClassifier.from_backbone(
        tiny_preset, labels=["neg", "pos"], freeze="all"
    )
    texts, labels = toy_sentiment
    data = tl.data.from_lists(texts, labels).batch(16)
    groups = tl.backbones.layer_groups(model.backbone)
    top = [name for name in groups if name.startswith("layer_")][-1]
    before = [np.array(w.numpy()) for layer in groups[top] for w in layer.weights]
    callback = tl.GradualUnfreezing(verbose=False)
    model.fit(data, epochs=2, callbacks=[callback], verbose=0)
    after = [np.array(w.numpy()) for layer in groups[top] for w in layer.weights]
    assert callback.log, "GradualUnfreezing unfroze nothing"
    assert any(not np.allclose(a, b) for a, b in zip(before, after))
