"""`pooling="mean-last-N"`: the means of the last N layers side by side."""

import os

import keras
import keras_hub
import numpy as np
import pytest

import tlnlp_tf as tl
from tlnlp_tf.backbones.pooled_encoder import frozen_pooling
from tlnlp_tf.backbones.pooled_encoder import pooled_encoder
from tlnlp_tf.errors import PolicyError
from tlnlp_tf.layers import SequencePooling
from tlnlp_tf.layers import pooled_layer_count
from tlnlp_tf.tasks import feature_cache


def _layer_means(backbone, features):
    """Each transformer layer's masked mean, computed apart from the library."""
    names = [f"transformer_layer_{i}" for i in range(backbone.num_layers)]
    probe = keras.Model(backbone.input, [backbone.get_layer(n).output for n in names])
    outputs = [np.asarray(o) for o in probe(features)]
    mask = np.asarray(features["padding_mask"], np.float32)[:, :, None]
    return [(o * mask).sum(1) / mask.sum(1) for o in outputs]


def test_last_layers_are_pooled_side_by_side_and_survive_a_reload(
    tiny_preset, toy_sentiment, tmp_path
):
    keras.utils.set_random_seed(0)
    texts, labels = toy_sentiment
    model = tl.TextClassifier.from_backbone(
        tiny_preset, labels=["neg", "pos"], freeze="all", pooling="mean-last-2"
    )
    features = model.preprocessor(texts[:5])
    encoder = pooled_encoder(model.backbone, model.head.pool)
    pooled = np.asarray(encoder(features))
    first, second = _layer_means(model.backbone, features)
    np.testing.assert_allclose(pooled, np.concatenate([first, second], -1), atol=1e-5)

    history = model.fit(texts, labels, batch_size=8, verbose=0)
    hidden = model.backbone.hidden_dim
    assert model.head.logits.kernel.shape == (2 * hidden, 2)
    assert history.solution["examples"] == len(texts)
    path = os.path.join(tmp_path, "model.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert loaded.pooling == "mean-last-2"
    np.testing.assert_allclose(
        loaded.predict(texts[:6])["probabilities"],
        model.predict(texts[:6])["probabilities"],
        atol=1e-6,
    )


def test_bad_layer_counts_are_refused(tiny_preset):
    with pytest.raises(PolicyError, match="has 2 transformer layers"):
        tl.TextClassifier.from_backbone(
            tiny_preset, num_classes=2, freeze="all", pooling="mean-last-3"
        )
    for mode in ("mean-last-0", "max", "mean-last-"):
        with pytest.raises(ValueError, match="mean-last-N"):
            SequencePooling(mode)
    assert pooled_layer_count("mean-last-12") == 12
    assert pooled_layer_count("cls") == 1


def test_frozen_default_concatenates_four_layers_where_there_are_four(tiny_preset):
    deep = keras_hub.models.BertBackbone(
        vocabulary_size=50,
        num_layers=4,
        num_heads=2,
        hidden_dim=8,
        intermediate_dim=16,
        max_sequence_length=16,
    )
    assert frozen_pooling(deep) == "mean-last-4"
    assert frozen_pooling(deep, "cls") == "cls"
    shallow = tl.TextClassifier.from_backbone(tiny_preset, num_classes=2, freeze="all")
    assert shallow.pooling == "mean"  # 2 layers: the backbone's own output
    tuned = tl.TextClassifier.from_backbone(tiny_preset, num_classes=2, freeze="none")
    assert tuned.pooling == "mean"


def test_encoding_by_length_does_not_change_the_features(tiny_preset, toy_sentiment):
    texts, labels = toy_sentiment
    texts = [text + " very" * (i % 6) for i, text in enumerate(texts)]
    model = tl.TextClassifier.from_backbone(
        tiny_preset, labels=["neg", "pos"], freeze="all"
    )
    data = tl.data.from_lists(texts, labels)
    sorted_features, y, _, largest = feature_cache.encode(model, data.batch(7))
    assert largest == 7
    assert y.tolist() == [["neg", "pos"].index(label) for label in labels]
    # Reference: the whole set as one batch padded to the longest text.
    encoder = pooled_encoder(model.backbone, model.head.pool)
    reference = np.asarray(encoder(model.preprocessor(texts)))
    np.testing.assert_allclose(sorted_features, reference, atol=1e-5)
