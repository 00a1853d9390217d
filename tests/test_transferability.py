"""Transferability: LogME against the paper's equations; baselines, features, CLI."""

import json
import re

import keras
import numpy as np
import pytest

import tlnlp_tf as tl
from tlnlp_tf.cli.main import main
from tlnlp_tf.errors import DataError
from tlnlp_tf.errors import PolicyError
from tlnlp_tf.probes.transferability import extract_features
from tlnlp_tf.probes.transferability import h_score
from tlnlp_tf.probes.transferability import linear_probe
from tlnlp_tf.probes.transferability import logme
from tlnlp_tf.probes.transferability import score_sources


def reference_evidence(features, y, iterations=20_000):
    """LogME of one target column, straight from the paper's equations.

    Explicit `A = alpha I + beta F^T F` and its inverse at every step of
    MacKay's updates, iterated to convergence; returns `(L / N, converged)`.
    """
    n, d = features.shape
    gram = features.T @ features
    alpha, beta = 1.0, 1.0
    converged = False
    for _ in range(iterations):
        a_inv = np.linalg.inv(alpha * np.eye(d) + beta * gram)
        m = beta * a_inv @ features.T @ y
        gamma = d - alpha * np.trace(a_inv)  # sum_i beta s_i / (alpha + beta s_i)
        new_alpha = gamma / (m @ m)
        new_beta = (n - gamma) / np.sum((features @ m - y) ** 2)
        done = (
            abs(new_alpha - alpha) <= 1e-13 * alpha
            and abs(new_beta - beta) <= 1e-13 * beta
        )
        alpha, beta = new_alpha, new_beta
        if done:
            converged = True
            break
    a = alpha * np.eye(d) + beta * gram
    m = beta * np.linalg.inv(a) @ features.T @ y
    evidence = (
        n / 2 * np.log(beta)
        + d / 2 * np.log(alpha)
        - n / 2 * np.log(2 * np.pi)
        - beta / 2 * np.sum((features @ m - y) ** 2)
        - alpha / 2 * (m @ m)
        - 0.5 * np.linalg.slogdet(a)[1]
    )
    return evidence / n, converged


def reference_logme(features, targets):
    results = [
        reference_evidence(features, targets[:, j]) for j in range(targets.shape[1])
    ]
    assert all(converged for _, converged in results), "the reference did not converge"
    return float(np.mean([value for value, _ in results]))


def classes(count, num_classes, rng):
    return rng.integers(0, num_classes, count)


def signal_features(labels, dims, strength, rng):
    """Gaussian features whose first 3 dimensions shift with the class by `strength`."""
    features = rng.normal(size=(len(labels), dims))
    features[:, :3] += strength * np.eye(max(labels) + 1, 3)[labels]
    return features


# === LogME ===


def test_logme_matches_the_equations_with_more_examples_than_dimensions():
    rng = np.random.default_rng(0)
    labels = classes(150, 3, rng)
    features = signal_features(labels, 12, 1.5, rng)
    expected = reference_logme(features, np.eye(3)[labels])
    assert logme(features, labels) == pytest.approx(expected, abs=1e-6)
    # String labels are classes too, whatever their names.
    assert logme(features, np.array(["a", "b", "c"])[labels]) == pytest.approx(
        expected, abs=1e-6
    )


def test_logme_matches_the_equations_with_fewer_examples_than_dimensions():
    rng = np.random.default_rng(1)
    features = rng.normal(size=(30, 70))
    targets = features[:, :5] @ rng.normal(size=(5, 2)) + 2.0 * rng.normal(size=(30, 2))
    expected = reference_logme(features, targets)
    assert logme(features, targets, task="regression") == pytest.approx(
        expected, abs=1e-6
    )
    # One column as a 1-D array is the same as its [N, 1] form.
    single = reference_logme(features, targets[:, :1])
    assert logme(features, targets[:, 0], task="regression") == pytest.approx(
        single, abs=1e-6
    )


def test_logme_classification_with_fewer_examples_than_dimensions():
    rng = np.random.default_rng(2)
    labels = np.arange(40) % 2
    features = signal_features(labels, 60, 3.0, rng)
    expected = reference_logme(features, np.eye(2)[labels])
    assert logme(features, labels) == pytest.approx(expected, abs=1e-6)


def test_logme_ranks_informative_features_above_noise():
    rng = np.random.default_rng(3)
    labels = classes(400, 2, rng)
    strong = logme(signal_features(labels, 32, 3.0, rng), labels)
    weak = logme(signal_features(labels, 32, 0.7, rng), labels)
    noise = logme(rng.normal(size=(400, 32)), labels)
    assert strong > weak + 0.05 and weak > noise + 0.01


def test_logme_ignores_the_scale_of_the_features():
    rng = np.random.default_rng(4)
    labels = classes(100, 2, rng)
    features = signal_features(labels, 8, 1.0, rng)
    assert logme(100.0 * features, labels) == pytest.approx(
        logme(features, labels), abs=1e-8
    )


def test_logme_of_useless_features_is_the_noise_only_model():
    # Features orthogonal to a centred target: the best weights are zero, alpha
    # runs off to infinity, and the evidence is that of y ~ N(0, 1/beta).
    y = np.tile([2.0, -2.0], 10)
    features = np.tile([[1.0], [1.0]], (10, 1))
    beta = len(y) / np.sum(y**2)
    expected = 0.5 * np.log(beta) - 0.5 * np.log(2 * np.pi) - 0.5
    assert logme(features, y, task="regression") == pytest.approx(expected, abs=1e-6)


# === Baselines ===


def test_h_score_is_the_between_class_share_in_whitened_units():
    labels = np.array([0, 1] * 20)
    perfect = (2.0 * labels - 1.0)[:, None]  # the feature is the class
    assert h_score(perfect, labels) == pytest.approx(1.0)
    rng = np.random.default_rng(5)
    labels = classes(500, 3, rng)
    informative = h_score(signal_features(labels, 16, 2.0, rng), labels)
    noise = h_score(rng.normal(size=(500, 16)), labels)
    assert 1.0 < informative <= 2.0 + 1e-9  # at most classes - 1
    assert noise < 0.1


def test_linear_probe_accuracy_and_r2():
    rng = np.random.default_rng(6)
    labels = classes(300, 2, rng)
    assert linear_probe(signal_features(labels, 20, 4.0, rng), labels) > 0.95
    assert 0.35 < linear_probe(rng.normal(size=(300, 20)), labels) < 0.65
    features = rng.normal(size=(300, 10))
    target = features @ rng.normal(size=10) + 0.1 * rng.normal(size=300)
    assert linear_probe(features, target, task="regression") > 0.95
    assert linear_probe(rng.normal(size=(300, 10)), target, task="regression") < 0.1


# === Errors ===


def test_errors_name_what_is_wrong():
    features = np.random.default_rng(7).normal(size=(6, 4))
    single = "LogME needs at least two classes; the labels hold only 'pos'"
    with pytest.raises(DataError, match=single):
        logme(features, ["pos"] * 6)
    with pytest.raises(DataError, match="6 feature rows but 5 labels"):
        logme(features, ["a", "b"] * 2 + ["a"])
    broken = features.copy()
    broken[3, 1] = np.nan
    with pytest.raises(DataError, match="NaN or infinite values .*row 3"):
        logme(broken, ["a", "b"] * 3)
    with pytest.raises(PolicyError, match="task must be one of .*'ranking'"):
        logme(features, ["a", "b"] * 3, task="ranking")
    with pytest.raises(DataError, match="label 'high' .* is not a number"):
        logme(features, ["1", "2", "high", "3", "4", "5"], task="regression")
    with pytest.raises(DataError, match="The H-score needs at least two classes"):
        h_score(features, [1] * 6)
    with pytest.raises(PolicyError, match="folds must be an integer from 2 to half"):
        linear_probe(features, ["a", "b"] * 3, folds=5)


# === Features from a backbone ===


def _pooled_directly(model, preprocessor, texts, pairs=None):
    """Masked mean of `model`'s token vectors, the whole batch padded to full length."""
    x = preprocessor(x=texts if pairs is None else (texts, pairs))
    tokens = np.asarray(model(x), dtype=np.float64)
    mask = np.asarray(x["padding_mask"], dtype=np.float64)[:, :, None]
    return (tokens * mask).sum(axis=1) / mask.sum(axis=1)


def test_extract_features_matches_a_direct_masked_mean(tiny_preset, toy_sentiment):
    texts, _ = toy_sentiment
    texts = texts[:10] + [
        "the film was very good and the cast was great but the plot dull ."
    ]
    backbone, preprocessor = tl.load_backbone(tiny_preset)
    last = keras.Model(backbone.input, backbone.output["sequence_output"])
    first = keras.Model(
        backbone.input, backbone.get_layer("transformer_layer_0").output
    )

    features = extract_features(tiny_preset, texts, batch_size=4)
    assert features.shape == (11, 16) and features.dtype == np.float64
    np.testing.assert_allclose(
        features, _pooled_directly(last, preprocessor, texts), atol=1e-5
    )
    layer0 = extract_features(tiny_preset, texts, layer=0, batch_size=4)
    np.testing.assert_allclose(
        layer0, _pooled_directly(first, preprocessor, texts), atol=1e-5
    )
    assert not np.allclose(layer0, features, atol=1e-3)
    np.testing.assert_allclose(
        extract_features(tiny_preset, texts, layer=-1), features, atol=1e-5
    )

    pairs = ["it was fun ."] * len(texts)
    paired = extract_features(tiny_preset, texts, text_pairs=pairs, batch_size=4)
    np.testing.assert_allclose(
        paired, _pooled_directly(last, preprocessor, texts, pairs), atol=1e-5
    )


def test_extract_features_random_weights_and_errors(tiny_preset):
    texts = ["the film was good .", "the plot was dull ."]
    pretrained = extract_features(tiny_preset, texts)
    keras.utils.set_random_seed(0)
    random = extract_features(tiny_preset + "@random", texts)
    assert random.shape == pretrained.shape and not np.allclose(
        random, pretrained, atol=1e-3
    )
    with pytest.raises(
        PolicyError, match="layer 2 is out of range: .* has 2 transformer layers"
    ):
        extract_features(tiny_preset, texts, layer=2)
    with pytest.raises(DataError, match="2 texts but 1 text_pairs"):
        extract_features(tiny_preset, texts, text_pairs=["x"])


def test_score_sources_ranks_every_layer_of_every_source(tiny_preset, toy_sentiment):
    texts, labels = toy_sentiment
    keras.utils.set_random_seed(0)
    ranking = score_sources(
        [tiny_preset, tiny_preset + "@random"], texts, labels, layers="all"
    )
    assert [list(record) for record in ranking] == [
        ["source", "layer", "logme", "h_score", "probe_accuracy", "seconds"]
    ] * 4
    assert sorted((r["source"], r["layer"]) for r in ranking) == [
        (tiny_preset, 0),
        (tiny_preset, 1),
        (tiny_preset + "@random", 0),
        (tiny_preset + "@random", 1),
    ]
    scores = [record["logme"] for record in ranking]
    assert scores == sorted(scores, reverse=True)
    first = next(r for r in ranking if r["source"] == tiny_preset and r["layer"] == 0)
    features = extract_features(tiny_preset, texts, layer=0)
    assert first["logme"] == pytest.approx(logme(features, labels), abs=1e-6)
    assert first["h_score"] == pytest.approx(h_score(features, labels), abs=1e-6)
    assert first["probe_accuracy"] == pytest.approx(
        linear_probe(features, labels), abs=1e-9
    )
    with pytest.raises(PolicyError, match="layers must be None, 'all'"):
        score_sources([tiny_preset], texts, labels, layers="first")


def test_score_sources_regression_reports_r2(tiny_preset, toy_sentiment):
    texts, labels = toy_sentiment
    targets = ["4.5" if label == "pos" else "1.0" for label in labels]
    ranking = score_sources([tiny_preset], texts, targets, task="regression")
    assert [list(record) for record in ranking] == [
        ["source", "layer", "logme", "probe_r2", "seconds"]
    ]
    features = extract_features(tiny_preset, texts)
    numbers = np.array(targets, dtype=float)
    assert ranking[0]["logme"] == pytest.approx(
        logme(features, numbers, task="regression"), abs=1e-6
    )
    assert ranking[0]["probe_r2"] == pytest.approx(
        linear_probe(features, numbers, task="regression"), abs=1e-9
    )


# === Command line ===


def test_cli_score_sources_prints_and_writes_the_ranking(
    tiny_preset, toy_files, tmp_path, capsys
):
    output = tmp_path / "scores.json"
    assert (
        main(
            [
                "score-sources",
                "--train",
                toy_files["train"],
                "--text-column",
                "sentence",
                "--label-column",
                "label",
                "--backbones",
                tiny_preset,
                tiny_preset + "@random",
                "--layers=-1",
                "--limit",
                "40",
                "--output",
                str(output),
            ]
        )
        == 0
    )
    result = json.loads(output.read_text())
    assert result["examples"] == 40 and result["task"] == "classification"
    ranking = result["ranking"]
    assert sorted(r["source"] for r in ranking) == sorted(
        [tiny_preset, tiny_preset + "@random"]
    )
    assert all(r["layer"] == 1 for r in ranking)  # the last of 2 layers
    assert ranking[0]["logme"] >= ranking[1]["logme"]
    table = capsys.readouterr().out.splitlines()
    assert table[0].split() == [
        "rank",
        "source",
        "layer",
        "logme",
        "h_score",
        "probe_accuracy",
        "seconds",
    ]
    assert table[1].split()[:2] == ["1", ranking[0]["source"]]
    assert table[2].split()[:2] == ["2", ranking[1]["source"]]


def test_cli_score_sources_errors_exit_2(tiny_preset, tmp_path, capsys):
    one_class = tmp_path / "pos.tsv"
    one_class.write_text("sentence\tlabel\n" + "the film was good .\tpos\n" * 4)
    args = [
        "score-sources",
        "--train",
        str(one_class),
        "--text-column",
        "sentence",
        "--label-column",
        "label",
        "--backbones",
        tiny_preset,
    ]
    assert main(args) == 2
    # One line, before any backbone runs: the reader's check (naming the file)
    # or LogME's own ("LogME needs at least two classes; the labels hold only").
    error = capsys.readouterr().err
    assert error.startswith("tlnlp score-sources: error: ") and error.count("\n") == 1
    assert "'pos'" in error and re.search(r"at least two (classes|labels)", error)
    assert main(args + ["--layers", "top"]) == 2
    assert "--layers must be 'last', 'all' or a comma list" in capsys.readouterr().err
