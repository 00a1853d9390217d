"""L2-SP: the penalty is in the training loss and keeps the backbone near w0."""

import json

import keras
import numpy as np
import pytest

import tlnlp_tf as tl
from tlnlp_tf.training import L2SP

LABELS = ["neg", "pos"]


def _model(preset, **kwargs):
    keras.utils.set_random_seed(0)
    model = tl.TextClassifier.from_backbone(preset, labels=LABELS, **kwargs)
    model.compile(learning_rate=1e-2)
    return model


def _by_hand(model, anchors, alpha, beta):
    backbone = {id(w) for w in model.backbone.weights}
    total = 0.0
    for weight in model.trainable_weights:
        value = weight.numpy().astype("float64")
        if id(weight) in backbone:
            total += alpha / 2 * np.sum((value - anchors[weight.path]) ** 2)
        elif weight.name == "kernel":
            total += beta / 2 * np.sum(value**2)
    return total


def test_penalty_is_in_the_loss(tiny_preset, toy_sentiment):
    texts, labels = toy_sentiment
    batch = next(iter(tl.data.from_lists(texts[:16], labels[:16]).batch(16)))
    alpha, beta = 3.0, 0.5
    model = _model(tiny_preset, freeze="bottom-1")
    anchors = {w.path: w.numpy().astype("float64") for w in model.backbone.weights}
    L2SP(alpha=alpha, beta=beta).apply(model)
    rng = np.random.default_rng(0)
    for weight in model.backbone.trainable_weights:  # move away from w0
        weight.assign(
            weight.numpy() + rng.normal(0, 0.05, weight.shape).astype("float32")
        )
    expected = _by_hand(model, anchors, alpha, beta)
    assert expected > 0.1
    assert L2SP.penalty(model) == pytest.approx(expected, rel=1e-4)
    # Frozen weights (embeddings, layer_0) would add nothing: only trainable ones count.
    assert len(model.losses) == len(model.trainable_weights) - sum(
        w.name != "kernel" for w in model.head.weights
    )
    # evaluate: data loss + penalty.
    probabilities = model.predict(texts[:16])["probabilities"]
    targets = np.array([LABELS.index(label) for label in labels[:16]])
    data_loss = -np.mean(np.log(probabilities[np.arange(16), targets]))
    loss = model.evaluate(batch[0], batch[1], verbose=0, return_dict=True)["loss"]
    assert loss == pytest.approx(data_loss + expected, rel=1e-4)
    # Training: the same dropout masks (same seed) with and without the penalty.
    plain = _model(tiny_preset, freeze="bottom-1")
    for weight, other in zip(plain.weights, model.weights):
        weight.assign(other.numpy())
    keras.utils.set_random_seed(1)
    with_penalty = model.train_on_batch(*batch, return_dict=True)["loss"]
    keras.utils.set_random_seed(1)
    without = plain.train_on_batch(*batch, return_dict=True)["loss"]
    assert with_penalty - without == pytest.approx(expected, rel=1e-3)


def _distance(model, anchors):
    return np.sqrt(
        sum(
            np.sum((w.numpy() - anchors[w.path]) ** 2)
            for w in model.backbone.trainable_weights
        )
    )


# Opt-in (`make test-extended`): the default run checks the same effect
# through the CLI (test_cli_l2sp_keeps_the_backbone_nearer_its_start).
@pytest.mark.extended
@pytest.mark.parametrize("task", ["classifier", "tagger"])
def test_large_alpha_keeps_the_backbone_near_w0(tiny_preset, toy_sentiment, task):
    texts, labels = toy_sentiment
    if task == "classifier":
        data = tl.data.from_lists(texts, labels).batch(16)
        make = lambda: _model(tiny_preset)  # noqa: E731
    else:
        tags = [
            " ".join("B-X" if w in ("good", "bad") else "O" for w in t.split())
            for t in texts
        ]
        data = tl.data.from_lists(texts, tags).batch(16)

        def make():
            keras.utils.set_random_seed(0)
            model = tl.TokenClassifier.from_backbone(tiny_preset, tags=["O", "B-X"])
            model.compile(learning_rate=1e-2, layer_decay=None)
            return model

    distances = {}
    for alpha in (0.0, 100.0):
        model = make()
        anchors = {w.path: w.numpy().copy() for w in model.backbone.weights}
        L2SP(alpha=alpha, beta=0.0).apply(model)
        model.fit(data, epochs=3, verbose=0)
        distances[alpha] = _distance(model, anchors)
    assert distances[100.0] < 0.2 * distances[0.0]


def test_remove_reapply_and_save(tiny_preset, tmp_path):
    model = _model(tiny_preset)
    l2sp = L2SP(alpha=1.0, beta=2.0)
    l2sp.apply(model)
    kernel = model.head.weights[0]
    assert L2SP.penalty(model) == pytest.approx(np.sum(kernel.numpy() ** 2), rel=1e-5)
    l2sp.apply(model)  # re-anchors; does not stack
    assert L2SP.penalty(model) == pytest.approx(np.sum(kernel.numpy() ** 2), rel=1e-5)
    path = str(tmp_path / "model.keras")
    model.save(path)  # the penalty is not saved, the model loads
    reloaded = keras.saving.load_model(path)
    assert L2SP.penalty(reloaded) == 0.0 and not reloaded.losses
    l2sp.remove(model)
    assert L2SP.penalty(model) == 0.0 and not model.losses
    assert L2SP.from_config(l2sp.get_config()).get_config() == {
        "alpha": 1.0,
        "beta": 2.0,
    }


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"alpha": -0.1}, r"alpha must be a number >= 0 .* got -0.1"),
        ({"beta": -1}, r"beta must be a number >= 0 .* got -1"),
        ({"alpha": "strong"}, r"alpha must be a number >= 0 .* got 'strong'"),
    ],
)
def test_bad_strengths(kwargs, message):
    with pytest.raises(tl.PolicyError, match=message):
        L2SP(**kwargs)


def test_needs_a_backbone():
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    with pytest.raises(tl.PolicyError, match="needs a task model with a `backbone`"):
        L2SP().apply(model)


def test_cli_l2sp_keeps_the_backbone_nearer_its_start(
    tiny_preset, toy_files, tmp_path, capsys
):
    from tlnlp_tf.cli.main import main

    start = [w.numpy() for w in tl.load_backbone(tiny_preset)[0].weights]

    def distance(alpha):
        output = tmp_path / f"run{alpha}"
        extra = [] if alpha is None else ["--l2sp", str(alpha)]
        assert (
            main(
                [
                    "fit",
                    "--train",
                    toy_files["train"],
                    "--text-column",
                    "sentence",
                    "--label-column",
                    "label",
                    "--backbone",
                    tiny_preset,
                    "--epochs",
                    "2",
                    "--batch-size",
                    "8",
                    "--learning-rate",
                    "0.01",
                    "--output",
                    str(output),
                ]
                + extra
            )
            == 0
        )
        assert json.loads((output / "run.json").read_text())["l2sp"] == alpha
        model = keras.saving.load_model(output / "model.keras")
        return sum(
            float(np.sum((w.numpy() - s) ** 2))
            for w, s in zip(model.backbone.weights, start)
        )

    assert distance(100.0) < 0.5 * distance(None)
    capsys.readouterr()
    assert (
        main(
            [
                "fit",
                "--train",
                toy_files["train"],
                "--text-column",
                "sentence",
                "--label-column",
                "label",
                "--backbone",
                tiny_preset,
                "--l2sp",
                "-1",
                "--output",
                str(tmp_path / "bad"),
            ]
        )
        == 2
    )
    assert "alpha must be a number >= 0" in capsys.readouterr().err
    assert not (tmp_path / "bad").exists()
