"""Frozen backbone: features computed once, the head trained on them."""

import keras
import numpy as np
import pytest

import tlnlp_tf as tl
from tlnlp_tf.errors import DataError
from tlnlp_tf.errors import PolicyError
from tlnlp_tf.tasks import feature_cache


@pytest.fixture
def counted_encode(monkeypatch):
    calls = []
    original = feature_cache.encode

    def encode(task, dataset, *args, **kwargs):
        calls.append(dataset)
        return original(task, dataset, *args, **kwargs)

    monkeypatch.setattr(feature_cache, "encode", encode)
    return calls


def test_frozen_backbone_is_encoded_once(tiny_preset, toy_sentiment, counted_encode):
    keras.utils.set_random_seed(0)
    model = tl.TextClassifier.from_backbone(
        tiny_preset, labels=["neg", "pos"], freeze="all"
    )
    texts, labels = toy_sentiment
    data = tl.data.from_lists(texts, labels).batch(16)
    model.compile(optimizer="adam")  # gradient descent for `epochs`, not solved
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


def _sklearn_objective(features, labels, kernel, bias, C):
    """scikit-learn's binary objective at the head's weights (logit difference)."""
    v = kernel[:, 1] - kernel[:, 0]
    c = bias[1] - bias[0]
    sign = np.where(labels == 1, 1.0, -1.0)
    margin = sign * (features.astype(np.float64) @ v + c)
    return C * np.logaddexp(0.0, -margin).sum() + 0.5 * np.dot(v, v)


def test_frozen_head_is_solved_to_the_optimum(tiny_preset, toy_sentiment):
    sklearn = pytest.importorskip("sklearn.linear_model")
    keras.utils.set_random_seed(0)
    model = tl.TextClassifier.from_backbone(
        tiny_preset, labels=["neg", "pos"], freeze="all"
    )
    texts, labels = toy_sentiment
    data = tl.data.from_lists(texts, labels).batch(16)
    history = model.fit(data, validation_data=data, epochs=3, verbose=0)
    solution = history.solution
    assert solution["converged"] and solution["solver"] == "lbfgs"
    assert set(history.history) >= {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert all(len(values) == 1 for values in history.history.values())
    # The same convex problem solved by scikit-learn, on the same features.
    features, y, _, _ = feature_cache.encode(model, data)
    reference = sklearn.LogisticRegression(
        C=solution["C"], tol=1e-10, max_iter=10_000
    ).fit(features.astype(np.float64), y)
    kernel, bias = (
        np.asarray(w.numpy(), np.float64) for w in model.head.logits.weights
    )
    ours = _sklearn_objective(features, y, kernel, bias, solution["C"])
    theirs = _sklearn_objective(
        features,
        y,
        np.stack([np.zeros_like(reference.coef_[0]), reference.coef_[0]], axis=1),
        np.array([0.0, reference.intercept_[0]]),
        solution["C"],
    )
    assert ours == pytest.approx(theirs, rel=1e-5)
    predicted = model.predict(texts)["label"]
    sklearn_labels = [model.labels[i] for i in reference.predict(features)]
    assert np.mean(np.array(predicted) == np.array(sklearn_labels)) >= 0.98
    # Gradient descent for the same number of epochs ends further from it.
    adam = tl.TextClassifier.from_backbone(
        tiny_preset, labels=["neg", "pos"], freeze="all"
    )
    adam.compile(optimizer="adam")
    adam.fit(data, epochs=3, verbose=0)
    kernel, bias = (np.asarray(w, np.float64) for w in adam.head.logits.weights)
    assert _sklearn_objective(features, y, kernel, bias, solution["C"]) > ours


def test_frozen_multiclass_and_regression_heads_are_solved(tiny_preset):
    sklearn = pytest.importorskip("sklearn.linear_model")
    texts = [f"the film was {w} ." for w in ("good", "bad", "dull") * 8]
    labels = ["good", "bad", "dull"] * 8
    model = tl.TextClassifier.from_backbone(
        tiny_preset, labels=["good", "bad", "dull"], freeze="all"
    )
    history = model.fit(texts, labels, batch_size=8, verbose=0)
    assert history.solution["converged"]
    data = tl.data.from_lists(texts, labels).batch(8)
    features, y, _, _ = feature_cache.encode(model, data)
    reference = sklearn.LogisticRegression(
        C=history.solution["C"], tol=1e-10, max_iter=10_000
    ).fit(features.astype(np.float64), y)
    probabilities = model.predict(texts)["probabilities"]
    np.testing.assert_allclose(
        probabilities, reference.predict_proba(features), atol=2e-3
    )
    values = [float(len(t) % 5) for t in texts]
    regressor = tl.TextRegressor.from_backbone(tiny_preset, freeze="all")
    history = regressor.fit(texts, [str(v) for v in values], batch_size=8, verbose=0)
    alpha = history.solution["alpha"]
    features, y, _, _ = feature_cache.encode(
        regressor, tl.data.from_lists(texts, [str(v) for v in values]).batch(8)
    )
    ridge = sklearn.Ridge(alpha=alpha).fit(features.astype(np.float64), y)
    np.testing.assert_allclose(
        regressor.predict(texts)["value"], ridge.predict(features), atol=1e-4
    )


def test_strength_is_the_cross_validated_choice_of_scikit_learn():
    sklearn = pytest.importorskip("sklearn.linear_model")
    selection = pytest.importorskip("sklearn.model_selection")
    from tlnlp_tf.training import convex_head

    for seed, dim in ((0, 10), (1, 60)):
        rng = np.random.default_rng(seed)
        features = rng.normal(size=(160, dim))
        labels = (features[:, 0] + rng.normal(scale=1.5, size=160) > 0).astype(int)
        folds = convex_head._folds(labels, seed=0)
        splits = [(np.setdiff1d(np.arange(160), held), held) for held in folds]
        sizes = np.array([len(held) for held in folds])
        losses = [  # the held-out log-loss summed over every held-out example
            -selection.cross_val_score(
                sklearn.LogisticRegression(C=C, tol=1e-8, max_iter=5000),
                features,
                labels,
                cv=splits,
                scoring="neg_log_loss",
            )
            @ sizes
            for C in convex_head.C_GRID
        ]
        best = convex_head.C_GRID[int(np.argmin(losses))]
        assert convex_head.choose_C(features, labels, 2) == best


def test_solved_head_refuses_one_label_and_warns_of_absent_ones(tiny_preset):
    names = ["good", "bad", "dull"]
    model = tl.TextClassifier.from_backbone(tiny_preset, labels=names, freeze="all")
    with pytest.raises(DataError, match=r"every example has label \['good'\]"):
        model.fit(["a fine film", "a great film"], ["good", "good"], verbose=0)
    model = tl.TextClassifier.from_backbone(tiny_preset, labels=names, freeze="all")
    texts, labels = ["a fine film", "a poor film"] * 3, ["good", "bad"] * 3
    with pytest.warns(UserWarning, match=r"no example of label\(s\) \['dull'\]"):
        history = model.fit(texts, labels, verbose=0)
    assert history.solution["converged"]
    assert set(model.predict(texts)["label"]) <= {"good", "bad"}
