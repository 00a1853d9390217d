import keras
import numpy as np
import pytest

import tlnlp_tf as tl
from tlnlp_tf.metrics import PearsonCorrelation
from tlnlp_tf.metrics import pearson
from tlnlp_tf.metrics import spearman


def test_spearman_and_pearson_against_hand_computed_values():
    assert spearman([1, 2, 3, 4], [10, 20, 30, 40]) == pytest.approx(1.0)
    assert spearman([1, 2, 3, 4], [1, 4, 9, 16]) == pytest.approx(
        1.0
    )  # monotone, not linear
    assert pearson([1, 2, 3, 4], [1, 4, 9, 16]) == pytest.approx(0.984374, abs=1e-6)
    # ties share their average rank: ranks of [1, 2, 2, 3] are [1, 2.5, 2.5, 4]
    assert spearman([1, 2, 2, 3], [1, 2, 3, 4]) == pytest.approx(
        pearson([1, 2.5, 2.5, 4], [1, 2, 3, 4])
    )
    assert spearman([1, 2, 3], [3, 2, 1]) == pytest.approx(-1.0)


def test_streaming_pearson_matches_whole_set():
    rng = np.random.default_rng(0)
    y, p = rng.normal(size=100), rng.normal(size=100)
    p = p + y
    metric = PearsonCorrelation()
    for start in range(0, 100, 30):
        metric.update_state(y[start : start + 30], p[start : start + 30])
    assert float(metric.result()) == pytest.approx(pearson(y, p), abs=1e-5)
    metric.reset_state()
    metric.update_state([1.0, 2.0, 3.0], [2.0, 4.0, 6.5])
    assert float(metric.result()) == pytest.approx(
        pearson([1, 2, 3], [2, 4, 6.5]), abs=1e-6
    )


@pytest.mark.extended
def test_regressor_learns_pair_scores_and_round_trips(tiny_preset, tmp_path):
    keras.utils.set_random_seed(0)
    model = tl.TextRegressor.from_backbone(tiny_preset)
    firsts = [
        "the film was good",
        "the food was bad",
        "the cast was fun",
        "the plot was dull",
    ] * 6
    seconds = [
        "the film was good",
        "the food was great",
        "the cast was fun",
        "the book was best",
    ] * 6
    scores = ["5.0", "1.5", "5", "0.0"] * 6  # numeric strings, as read from a TSV
    # 25 passes as 5 epochs of 5 (fewer epochs, fewer per-epoch costs).
    data = tl.data.from_lists(firsts, scores, text_pairs=seconds).batch(8)
    model.compile(learning_rate=1e-2)
    history = model.fit(data.repeat(5), epochs=5, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0] / 3
    values = model.predict((firsts[:4], seconds[:4]))["value"]
    assert values.shape == (4,)
    assert spearman([5.0, 1.5, 5.0, 0.0], values) > 0.8
    logs = model.evaluate(data, return_dict=True, verbose=0)
    assert set(logs) == {"loss", "pearson", "spearman", "mse"}
    assert logs["pearson"] > 0.8
    # evaluate == score (what `tlnlp evaluate` prints) == SciPy on predictions.
    from scipy import stats

    examples = tl.data.Examples(firsts, seconds, scores)
    scored = model.score(examples)
    assert {k: logs[k] for k in scored} == scored
    assert (
        model.evaluate(examples, return_dict=True, verbose=0)["spearman"]
        == (scored["spearman"])
    )
    predicted = model.predict((firsts, seconds))["value"]
    truth = [float(s) for s in scores]
    assert scored["pearson"] == pytest.approx(
        stats.pearsonr(truth, predicted)[0], abs=1e-5
    )
    assert scored["spearman"] == pytest.approx(
        stats.spearmanr(truth, predicted)[0], abs=1e-5
    )
    assert logs["loss"] == pytest.approx(scored["mse"], rel=1e-3)
    path = str(tmp_path / "regressor.keras")
    model.save(path)
    restored = keras.saving.load_model(path)
    assert (
        isinstance(restored, tl.TextRegressor)
        and restored.max_length == model.max_length
    )
    np.testing.assert_allclose(
        restored.predict((firsts[:4], seconds[:4]))["value"], values, atol=1e-5
    )


def test_non_numeric_target_fails_in_the_pipeline(tiny_preset):
    model = tl.TextRegressor.from_backbone(tiny_preset)
    data = tl.data.from_lists(["good", "bad"], ["4.5", "high"]).batch(2)
    with pytest.raises(tl.DataError, match="convert string: high"):
        model.fit(data, epochs=1, verbose=0)
    with pytest.raises(tl.DataError, match="target 'high' is not a number"):
        model.fit(["good", "bad"], ["4.5", "high"], epochs=1, verbose=0)
