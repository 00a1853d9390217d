"""Layer-wise learning-rate decay changes Adam's step size per layer."""

import keras
import numpy as np
import pytest

import tlnlp_tf as tl
from tlnlp_tf.training import layer_decay_multipliers


def test_multipliers_follow_depth(tiny_preset):
    backbone, _ = tl.load_backbone(tiny_preset)
    multipliers = layer_decay_multipliers(backbone, 0.5)
    by_path = lambda path: next(m for p, m in multipliers.items() if p.startswith(path))
    assert by_path("transformer_layer_1/") == 0.5  # top layer of 2
    assert by_path("transformer_layer_0/") == 0.25
    assert by_path("token_embedding/") == 0.125  # below the bottom layer
    assert by_path("pooled_dense/") == 0.5
    with pytest.raises(ValueError, match=r"layer decay must be in \(0, 1\]"):
        layer_decay_multipliers(backbone, 1.5)


def test_bottom_layer_steps_are_smaller(tiny_preset, toy_sentiment):
    keras.utils.set_random_seed(0)
    model = tl.TextClassifier.from_backbone(tiny_preset, labels=["neg", "pos"])
    model.compile(learning_rate=1e-2, layer_decay=0.5)
    texts, labels = toy_sentiment
    data = tl.data.from_lists(texts[:16], labels[:16]).batch(16)
    prefixes = {
        "bottom": "transformer_layer_0/",
        "top": "transformer_layer_1/",
        "head": "classification_head/",
    }
    # Biases and LayerNorm weights take no weight decay: Adam's first step
    # moves each by lr * multiplier where the gradient is well above epsilon,
    # so the largest move in a layer is its multiplier times the rate.
    watched = {
        name: [
            v
            for v in model.trainable_variables
            if v.path.startswith(prefix) and v.path.endswith(("bias", "gamma", "beta"))
        ]
        for name, prefix in prefixes.items()
    }
    assert all(watched.values())
    before = {name: [np.array(v.numpy()) for v in vs] for name, vs in watched.items()}
    model.fit(data, epochs=1, verbose=0)
    step = {
        name: max(np.abs(v.numpy() - b).max() for v, b in zip(vs, before[name]))
        for name, vs in watched.items()
    }
    assert step["head"] == pytest.approx(1e-2, rel=0.02)
    assert step["top"] == pytest.approx(0.5e-2, rel=0.02)
    assert step["bottom"] == pytest.approx(0.25e-2, rel=0.02)


def test_multipliers_are_paths_not_patterns(tiny_preset):
    from tlnlp_tf.training import ScaledAdamW

    backbone, _ = tl.load_backbone(tiny_preset)
    multipliers = layer_decay_multipliers(backbone, 0.5)
    # Every key is the exact path of one backbone variable, and every
    # variable of the layer groups has one.
    paths = {v.path for v in backbone.weights}
    assert set(multipliers) <= paths and len(multipliers) == len(paths)
    optimizer = ScaledAdamW(
        {
            "transformer_layer_1": 2.0,  # a layer path: all of its variables
            "transformer_layer_1/self_attention/query/kernel": 3.0,  # exact
        }
    )
    assert optimizer.multiplier("transformer_layer_1/self_attention/key/bias") == 2.0
    assert (
        optimizer.multiplier("transformer_layer_1/self_attention/query/kernel") == 3.0
    )
    assert optimizer.multiplier("transformer_layer_10/x/kernel") == 1.0  # no prefix
    assert optimizer.multiplier("head/transformer_layer_1/kernel") == 1.0  # no search
    with pytest.raises(tl.PolicyError, match="looks like a pattern"):
        ScaledAdamW({"transformer_layer_.*": 2.0})
    # A config saved when keys were escaped patterns reads as the same paths.
    old = ScaledAdamW({r"transformer_layer_0/self_attention/query/kernel$": 0.5})
    assert old.multipliers == {"transformer_layer_0/self_attention/query/kernel": 0.5}
