"""`TextRegressor(pair_encoding="bi")`: starts at the source's cosine, trains, saves."""

import keras
import numpy as np
import pytest

import tlnlp_tf as tl
from tlnlp_tf.backbones.pooled_encoder import pooled_encoder
from tlnlp_tf.errors import DataError
from tlnlp_tf.errors import PolicyError

FIRST = [
    "the film was good .",
    "the plot was bad .",
    "the cast was fun .",
    "this book was dull .",
]
SECOND = [
    "the movie was great .",
    "the food was awful .",
    "this book was boring .",
    "the plot was lovely .",
]
SCORES = [4.5, 1.0, 2.0, 0.5]


def _cosines(model, first, second):
    encoder = pooled_encoder(model.backbone, model.head.pool)
    vectors = [
        encoder.predict(model.preprocessor(x=np.array(texts)), verbose=0)
        for texts in (first, second)
    ]
    a, b = (v / np.linalg.norm(v, axis=1, keepdims=True) for v in vectors)
    return (a * b).sum(axis=1)


def test_auto_pair_encoding_follows_the_checkpoint(tiny_hf_folder, tiny_preset):
    assert tl.TextRegressor.from_backbone(tiny_hf_folder).pair_encoding == "bi"
    random = tl.TextRegressor.from_backbone(tiny_hf_folder, weights="random")
    assert random.pair_encoding == "cross"
    assert tl.TextRegressor.from_backbone(tiny_preset).pair_encoding == "cross"
    with pytest.raises(PolicyError, match="expected 'cross' or 'bi'"):
        tl.TextRegressor.from_backbone(tiny_preset, pair_encoding="siamese")


@pytest.mark.extended
def test_starts_at_the_least_squares_fit_of_the_cosine(tiny_hf_folder, tmp_path):
    keras.utils.set_random_seed(0)
    model = tl.TextRegressor.from_backbone(tiny_hf_folder)
    first, second, scores = FIRST * 3, SECOND * 3, SCORES * 3
    data = tl.data.from_lists(first, scores, text_pairs=second).batch(4)
    scale, shift = model.calibrate(data)
    cosines = _cosines(model, first, second)
    expected = np.polyfit(cosines, scores, 1)
    np.testing.assert_allclose([scale, shift], expected, rtol=1e-3, atol=1e-3)
    predicted = model.predict((first, second))["value"]
    np.testing.assert_allclose(predicted, scale * cosines + shift, atol=1e-4)
    # fit: calibrated before training (not again on a second fit), then trained.
    fresh = tl.TextRegressor.from_backbone(tiny_hf_folder)
    fresh.compile(learning_rate=1e-3)
    history = fresh.fit((first, second), scores, batch_size=4, epochs=2, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]
    before = float(fresh.head.scale.numpy())
    fresh.fit((first, second), scores, batch_size=4, epochs=1, verbose=0)
    assert float(fresh.head.scale.numpy()) == pytest.approx(before, rel=0.2)
    fresh.save(tmp_path / "bi.keras")
    reloaded = keras.saving.load_model(tmp_path / "bi.keras")
    assert reloaded.pair_encoding == "bi"
    np.testing.assert_allclose(
        reloaded.predict((first, second))["value"],
        fresh.predict((first, second))["value"],
        atol=1e-5,
    )


def test_bi_encoder_scores_pairs_only(tiny_hf_folder):
    model = tl.TextRegressor.from_backbone(tiny_hf_folder)
    with pytest.raises(DataError, match="scores a pair of texts"):
        model.fit(FIRST, SCORES, batch_size=2, verbose=0)
