"""Frozen backbone: features computed once, the head trained on them."""

import keras
import numpy as np
import pytest

import tlnlp_tf as tl
from tlnlp_tf.errors import PolicyError
from tlnlp_tf.tasks import feature_cache


@pytest.fixture
def counted_encode(monkeypatch):
    calls = []
    original = feature_cache.encode

    def encode(task, dataset):
        calls.append(dataset)
        return original(task, dataset)

    monkeypatch.setattr(feature_cache, "encode", encode)
    return calls


def test_frozen_backbone_is_encoded_once(tiny_preset, toy_sentiment, counted_encode):
    keras.utils.set_random_seed(0)
    model = tl.TextClassifier.from_backbone(
        tiny_preset, labels=["neg", "pos"], freeze="all"
    )
    texts, labels = toy_sentiment
    data = tl.data.from_lists(texts, labels).batch(16)
    before = [np.array(w.numpy()) for w in model.backbone.weights]
    head_before = [np.array(w.numpy()) for w in model.head.weights]
    history = model.fit(data, validation_data=data, epochs=4, verbose=0)
    assert (
        len(counted_encode) == 2
    )  # training and validation data, once each for 4 epochs
    assert len(history.history["loss"]) == 4 and "val_accuracy" in history.history
    assert history.history["loss"][-1] < history.history["loss"][0]
    assert all(
        np.array_equal(b, w.numpy()) for b, w in zip(before, model.backbone.weights)
    )
    assert any(
        not np.array_equal(b, w.numpy())
        for b, w in zip(head_before, model.head.weights)
    )
    # The task model predicts with the head trained on the cache.
    features, _, _, _ = feature_cache.encode(model, data)
    cached = model._head_model(features.shape[-1]).predict(features, verbose=0)
    full = model.predict(texts)["probabilities"]
    np.testing.assert_allclose(keras.ops.softmax(cached), full, atol=1e-5)


def test_cache_can_be_turned_off_and_needs_a_frozen_backbone(
    tiny_preset, toy_sentiment, counted_encode
):
    texts, labels = toy_sentiment
    data = tl.data.from_lists(texts, labels).batch(16)
    frozen = tl.TextRegressor.from_backbone(tiny_preset, freeze="all")
    values = tl.data.from_lists(texts, [str(len(t) % 5) for t in texts]).batch(16)
    frozen.fit(values, epochs=1, verbose=0, cache_features=False)
    assert not counted_encode
    tuned = tl.TextClassifier.from_backbone(tiny_preset, labels=["neg", "pos"])
    with pytest.raises(
        PolicyError, match="cache_features=True needs a fully frozen backbone"
    ):
        tuned.fit(data, epochs=1, cache_features=True)
    tuned.fit(data, epochs=1, verbose=0)  # "auto": not frozen, the usual path
    assert not counted_encode
