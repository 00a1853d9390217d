"""Contrastive few-shot training (`freeze="setfit"`): pairs, stages, saving, errors."""

import json

import keras
import numpy as np
import pytest

import tlnlp_tf as tl
from tlnlp_tf.backbones.pooled_encoder import pooled_encoder
from tlnlp_tf.cli.main import main
from tlnlp_tf.errors import DataError
from tlnlp_tf.errors import PolicyError
from tlnlp_tf.training import contrastive
from tlnlp_tf.training.contrastive import default_settings
from tlnlp_tf.training.contrastive import draw_pairs


def test_pairs_are_balanced_and_never_self_pairs():
    labels = np.array([0, 0, 0, 1, 1, 2, 2, 2, 2])
    first, second, target = draw_pairs(labels, iterations=5, seed=3)
    assert len(first) == 2 * 5 * len(labels)
    assert target.sum() == len(target) / 2
    assert np.all(first != second)
    same = labels[first] == labels[second]
    np.testing.assert_array_equal(same, target == 1.0)
    # Every example starts as many pairs as every other.
    assert set(np.bincount(first, minlength=len(labels))) == {10}
    capped = draw_pairs(labels, iterations=50, seed=3, max_pairs=40)
    assert len(capped[0]) == 40 and capped[2].sum() == 20
    assert np.all(capped[0] != capped[1])


def test_pairs_need_two_examples_of_every_class():
    with pytest.raises(DataError, match="class 'b' has 1"):
        draw_pairs(np.array(["a", "a", "b"]))
    with pytest.raises(DataError, match="at least 2 classes"):
        draw_pairs(np.array([1, 1, 1]))


def _separation(model, texts, labels):
    """Mean cosine of same-class pairs minus that of different-class pairs."""
    vectors = pooled_encoder(model.backbone, model.head.pool).predict(
        model.preprocessor(x=np.array(texts)), verbose=0
    )
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    cosine = vectors @ vectors.T
    labels = np.array(labels)
    same = labels[:, None] == labels[None, :]
    off_diagonal = ~np.eye(len(labels), dtype=bool)
    return cosine[same & off_diagonal].mean() - cosine[~same].mean()


def test_setfit_pulls_classes_apart_then_solves_the_head(
    tiny_preset, toy_sentiment, tmp_path
):
    keras.utils.set_random_seed(0)
    texts, labels = toy_sentiment
    texts, labels = texts[:16], labels[:16]
    model = tl.TextClassifier.from_backbone(
        tiny_preset, labels=["neg", "pos"], freeze="setfit"
    )
    model.preprocessor.sequence_length = 16
    model.compile(learning_rate=3e-3)  # stage 1's rate: a tiny random backbone
    before = _separation(model, texts, labels)
    history = model.fit(
        texts, labels, batch_size=8, epochs=2, verbose=0, contrastive_iterations=8
    )
    assert history.pairs == 2 * 8 * 16
    losses = history.contrastive["loss"]
    assert len(losses) == 2 and losses[1] < losses[0]
    assert history.solution["converged"]
    assert _separation(model, texts, labels) > before + 0.05
    assert history.history["accuracy"] == [1.0]
    model.save(tmp_path / "setfit.keras")
    reloaded = keras.saving.load_model(tmp_path / "setfit.keras")
    assert reloaded.freeze == "setfit"
    np.testing.assert_allclose(
        reloaded.predict(texts)["probabilities"],
        model.predict(texts)["probabilities"],
        atol=1e-6,
    )


def test_stage_one_defaults_follow_the_backbone_size(
    tiny_preset, toy_sentiment, monkeypatch
):
    model = tl.TextClassifier.from_backbone(
        tiny_preset, labels=["neg", "pos"], freeze="setfit"
    )
    assert default_settings(model.backbone) == (40, 5e-5)
    lora = tl.TextClassifier.from_backbone(
        tiny_preset, labels=["neg", "pos"], freeze="setfit-lora-2"
    )
    assert default_settings(lora.backbone) == (40, 1e-3)
    # A backbone above LARGE_BACKBONE parameters gets SetFit's own settings,
    # and `fit` without `contrastive_iterations` uses them.
    monkeypatch.setattr(
        contrastive, "LARGE_BACKBONE", model.backbone.count_params() - 1
    )
    assert default_settings(model.backbone) == (20, 2e-5)
    assert default_settings(lora.backbone) == (20, 1e-3)
    texts, labels = toy_sentiment
    history = model.fit(texts[:8], labels[:8], batch_size=8, verbose=0)
    assert history.pairs == 2 * 20 * 8


@pytest.mark.extended
def test_setfit_with_lora_and_three_labels(tiny_preset):
    keras.utils.set_random_seed(1)
    words = ("good", "bad", "dull")
    # Non-ASCII text too (it was a UnicodeDecodeError once).
    texts = [f"the film was {w} – très ." for w in words * 4]
    labels = list(words * 4)
    model = tl.TextClassifier.from_backbone(
        tiny_preset, labels=list(words), freeze="setfit-lora-2"
    )
    kernels = [w for w in model.backbone.weights if "lora" not in w.path]
    frozen = [np.array(w.numpy()) for w in kernels]
    history = model.fit(
        texts, labels, batch_size=8, verbose=0, contrastive_iterations=3
    )
    assert history.pairs == 2 * 3 * 12
    assert all(np.array_equal(b, w.numpy()) for b, w in zip(frozen, kernels))
    assert len(model.predict(texts)["label"]) == 12


@pytest.mark.extended
def test_setfit_on_text_pairs(tiny_preset):
    keras.utils.set_random_seed(1)
    pairs = tl.TextClassifier.from_backbone(
        tiny_preset, labels=["same", "other"], freeze="setfit"
    )
    firsts = ["the film was good ."] * 4 + ["the plot was bad ."] * 4
    seconds = ["the film was good ."] * 4 + ["the food was fun ."] * 4
    history = pairs.fit(
        (firsts, seconds),
        ["same"] * 4 + ["other"] * 4,
        batch_size=4,
        verbose=0,
        contrastive_iterations=2,
    )
    assert history.pairs == 2 * 2 * 8


def test_setfit_refusals(tiny_preset):
    with pytest.raises(PolicyError, match="TextRegressor has no classes"):
        tl.TextRegressor.from_backbone(tiny_preset, freeze="setfit")
    with pytest.raises(PolicyError, match="'setfit-lora-R'"):
        tl.TextClassifier.from_backbone(
            tiny_preset, labels=["a", "b"], freeze="setfit-bottom-2"
        )
    model = tl.TextClassifier.from_backbone(
        tiny_preset, labels=["a", "b"], freeze="setfit"
    )
    with pytest.raises(DataError, match="class 'b' has 1"):
        model.fit(["one", "two", "three"], ["a", "a", "b"], verbose=0)


def test_cli_fit_setfit(tiny_preset, toy_files, tmp_path, capsys):
    from test_cli import _fit_args

    output = tmp_path / "run"
    extra = ("--limit", "16", "--contrastive-iterations", "5")
    args = _fit_args(toy_files, tiny_preset, output, "--freeze", "setfit", *extra)
    del args[args.index("--epochs") : args.index("--epochs") + 2]
    assert main(args) == 0
    metrics = json.loads((output / "metrics.json").read_text())
    assert metrics["contrastive_pairs"] == 2 * 5 * 16
    # Without --epochs: one contrastive epoch (SetFit's), not the default 3.
    assert len(metrics["contrastive_loss"]) == 1
    assert "tlnlp fit: epochs 1: 1 contrastive epoch" in capsys.readouterr().err
    assert metrics["head"]["converged"]
    assert 0.0 <= metrics["validation"]["accuracy"] <= 1.0
    run = json.loads((output / "run.json").read_text())
    assert run["freeze"] == "setfit"
    other = _fit_args(toy_files, tiny_preset, tmp_path / "x", "--freeze", "all", *extra)
    assert main(other) == 2
    assert "--contrastive-iterations is for --freeze setfit" in capsys.readouterr().err


@pytest.mark.extended
def test_auto_freeze_chooses_from_the_labels(tiny_hf_folder, tiny_preset, capsys):
    from tlnlp_tf.tasks.text_classifier import FEW_LABELS_PER_CLASS

    # Not a sentence-embedding checkpoint: "auto" is full fine-tuning at once.
    assert tl.TextClassifier.from_backbone(tiny_preset, labels=["a", "b"]).freeze == (
        "none"
    )
    model = tl.TextClassifier.from_backbone(tiny_hf_folder, labels=["neg", "pos"])
    assert model.freeze == "auto"
    texts = ["the film was good .", "the film was bad ."] * 3
    labels = ["pos", "neg"] * 3
    data = tl.data.from_lists(texts, labels).batch(4)
    assert model.resolve_freeze(data) == "setfit"
    assert "fewer than" in model.freeze_choice["reason"]
    assert "freeze='auto' chose 'setfit'" in capsys.readouterr().out
    many = tl.TextClassifier.from_backbone(tiny_hf_folder, labels=["neg", "pos"])
    data = tl.data.from_lists(
        texts * FEW_LABELS_PER_CLASS, labels * FEW_LABELS_PER_CLASS
    ).batch(64)
    assert many.resolve_freeze(data, verbose=0) == "none"
    assert many.backbone.trainable_weights
    # fit resolves it too, and says so in the model's config afterwards.
    fitted = tl.TextClassifier.from_backbone(tiny_hf_folder, labels=["neg", "pos"])
    history = fitted.fit(
        texts, labels, batch_size=4, verbose=0, contrastive_iterations=2
    )
    assert fitted.freeze == "setfit" and history.pairs == 2 * 2 * 6
    assert fitted.get_config()["freeze"] == "setfit"
