"""LoRA as a freeze policy ("lora-R"): what trains, adapters files, merging, saving."""

import json

import keras
import keras_hub
import numpy as np
import pytest

import tlnlp_tf as tl
from tlnlp_tf.backbones.freezing import LORA_FACTORS
from tlnlp_tf.cli.main import main

LABELS = ["neg", "pos"]
HIDDEN, HEADS, LAYERS = 16, 2, 2  # conftest's tiny backbone


def _lora_model(preset, rank=4, **kwargs):
    return tl.TextClassifier.from_backbone(
        preset, labels=LABELS, freeze=f"lora-{rank}", **kwargs
    )


def _fit(model, toy_sentiment, epochs=1):
    texts, labels = toy_sentiment
    model.compile(learning_rate=1e-2)
    model.fit(tl.data.from_lists(texts, labels).batch(16), epochs=epochs, verbose=0)
    return model


def _probabilities(model, texts):
    return model.predict(texts[:8])["probabilities"]


def test_only_lora_factors_and_head_train(tiny_preset, toy_sentiment):
    keras.utils.set_random_seed(0)
    model = _lora_model(tiny_preset)
    assert model.default_learning_rate() == 5e-3  # LoRA's own default peak rate
    assert float(model.optimizer._learning_rate.peak) == 5e-3
    trainable = {w.path for w in model.trainable_weights}
    lora = {w.path for w in model.backbone.weights if w.name in LORA_FACTORS}
    head = {w.path for w in model.head.weights}
    assert trainable == lora | head
    # keras-hub's defaults: the query and value projections of each layer.
    assert sorted({p.rsplit("/", 2)[1] for p in lora}) == ["query", "value"]
    assert len(lora) == LAYERS * 2 * 2
    before = {w.path: w.numpy().copy() for w in model.weights}
    _fit(model, toy_sentiment)
    for weight in model.weights:
        moved = not np.array_equal(before[weight.path], weight.numpy())
        assert moved == (weight.path in trainable), weight.path
    assert model.freeze == "lora-4"


def test_parameter_counts_and_description(tiny_preset):
    model = _lora_model(tiny_preset, rank=4)
    # query/value kernels are (hidden, heads, head_dim): A (16, 2, 4), B (4, 8).
    lora = LAYERS * 2 * (HIDDEN * HEADS * 4 + 4 * HIDDEN // HEADS)
    head = HIDDEN * 2 + 2
    counts = tl.backbones.parameter_counts(model)
    assert counts["trainable"] == lora + head == 674
    full = tl.backbones.parameter_counts(
        tl.TextClassifier.from_backbone(tiny_preset, labels=LABELS)
    )
    assert counts["total"] == full["total"] + lora
    # The tiny backbone is 16 wide: LoRA-4 trains 9.6% of what full fine-tuning
    # trains (the unused pooler stays frozen in both); see docs/freezing.md for MiniLM.
    assert full["trainable"] == full["total"] - (HIDDEN * HIDDEN + HIDDEN) == 6994
    assert counts["trainable"] / full["trainable"] == pytest.approx(0.0964, abs=1e-4)
    text = tl.describe_freezing(model.backbone)
    rows = {line.split()[0]: line for line in text.splitlines()[1:]}
    assert rows["layer_0"].endswith("frozen, 320 LoRA trainable")
    assert rows["embeddings"].endswith("frozen") and rows["pooler"].endswith("frozen")
    assert f"{lora:,} trainable" in rows["total"]
    assert model.frozen_groups() == ["embeddings", "layer_0", "layer_1", "pooler"]


def test_lora_targets_and_other_tasks(tiny_preset):
    model = _lora_model(tiny_preset, rank=2, lora_targets=["query", "key", "value"])
    lora = [w.path for w in model.trainable_weights if w.name in LORA_FACTORS]
    assert sorted({p.rsplit("/", 2)[1] for p in lora}) == ["key", "query", "value"]
    assert model.get_config()["lora_targets"] == ["query", "key", "value"]
    tagger = tl.TokenClassifier.from_backbone(
        tiny_preset, tags=["O", "B-X"], freeze="lora-2"
    )
    regressor = tl.TextRegressor.from_backbone(tiny_preset, freeze="LoRA-2")
    for task in (tagger, regressor):
        assert task.freeze == "lora-2"
        names = {w.name for w in task.backbone.trainable_weights}
        assert names == set(LORA_FACTORS)


@pytest.mark.parametrize(
    "policy, message",
    [
        ("lora-0", r"'lora-0': R in 'lora-R' is the rank .* a positive integer"),
        ("lora-x", r"'lora-x': R in 'lora-R' is the rank .* a positive integer"),
        ("lora--2", r"'lora--2': R in 'lora-R'"),
    ],
)
def test_bad_ranks(tiny_preset, policy, message):
    backbone, _ = tl.load_backbone(tiny_preset)
    with pytest.raises(tl.PolicyError, match=message):
        tl.backbones.apply_freeze(backbone, policy)
    assert not [w for w in backbone.weights if w.name in LORA_FACTORS]


def test_targets_not_found(tiny_preset):
    backbone, _ = tl.load_backbone(tiny_preset)
    with pytest.raises(
        tl.PolicyError, match=r"no dense layer named 'attn_q' or 'attn_v'"
    ):
        tl.backbones.apply_freeze(backbone, "lora-4", lora_targets=["attn_q", "attn_v"])
    assert all(w.trainable for w in backbone.weights)  # left as it was
    inputs = keras.Input((None,), dtype="int32", name="token_ids")
    outputs = keras.layers.Dense(4, name="projection")(
        keras.layers.Embedding(10, 4, name="embedding")(inputs)
    )
    no_attention = keras_hub.models.Backbone(inputs=inputs, outputs=outputs, name="bag")
    with pytest.raises(
        tl.PolicyError, match="backbone 'bag' has no dense layer named 'query_dense'"
    ):
        tl.backbones.apply_freeze(no_attention, "lora-8")


def test_policy_cannot_leave_lora(tiny_preset):
    model = _lora_model(tiny_preset)
    with pytest.raises(tl.PolicyError, match=r"'none': LoRA \(rank 4\) is enabled"):
        model.set_freeze("none")
    with pytest.raises(tl.PolicyError, match="LoRA of rank 4 is already enabled"):
        model.set_freeze("lora-8")
    model.set_freeze("lora-4")  # the same policy again is fine
    assert tl.backbones.parameter_counts(model)["trainable"] == 674
    plain = tl.TextClassifier.from_backbone(tiny_preset, labels=LABELS)
    with pytest.raises(tl.PolicyError, match="save_adapters needs a model with LoRA"):
        plain.save_adapters("unused.npz")


def test_adapters_file_round_trip(tiny_preset, toy_sentiment, tmp_path):
    texts, _ = toy_sentiment
    model = _fit(_lora_model(tiny_preset), toy_sentiment)
    path = str(tmp_path / "toy.adapters.npz")
    model.save_adapters(path)
    with np.load(path) as data:
        stored = [data[name] for name in data.files if name != "meta"]
    trained = [w for w in model.trainable_weights]
    assert (
        sum(a.size for a in stored) == tl.backbones.parameter_counts(model)["trainable"]
    )
    assert len(stored) == len(trained)
    fresh = _lora_model(tiny_preset)
    assert not np.allclose(_probabilities(fresh, texts), _probabilities(model, texts))
    fresh.load_adapters(path)
    np.testing.assert_array_equal(
        _probabilities(fresh, texts), _probabilities(model, texts)
    )


def test_adapters_load_by_path_not_position(tiny_preset, toy_sentiment, tmp_path):
    """keras-hub's save_lora_weights matches by position (keras-hub#2701); we by path.

    The file's weights are stored in reverse order (a positional loader
    would put each layer's factors on another layer: they all have one
    shape), and the fresh model has LoRA on one more layer per block ("key")
    and is built after other models took the default layer names.
    """
    texts, _ = toy_sentiment
    model = _fit(_lora_model(tiny_preset), toy_sentiment)
    path = str(tmp_path / "toy.adapters.npz")
    model.save_adapters(path)
    with np.load(path) as data:
        meta = json.loads(str(data["meta"]))
        values = [data[f"weight_{i}"] for i in range(len(meta["paths"]))]
    order = list(reversed(range(len(values))))
    meta["paths"] = [meta["paths"][i] for i in order]
    meta["shapes"] = [meta["shapes"][i] for i in order]
    reordered = str(tmp_path / "reordered.adapters.npz")
    with open(reordered, "wb") as file:
        np.savez(
            file,
            meta=np.array(json.dumps(meta)),
            **{f"weight_{n}": values[i] for n, i in enumerate(order)},
        )
    keras.layers.Dense(2, name="classification_head")  # names taken first
    _lora_model(tiny_preset)
    fresh = _lora_model(tiny_preset, lora_targets=["value", "key", "query"])
    with pytest.warns(UserWarning, match=r"2 LoRA layer\(s\) of this model have no"):
        fresh.load_adapters(reordered)
    np.testing.assert_allclose(
        _probabilities(fresh, texts), _probabilities(model, texts), atol=1e-6
    )


@pytest.mark.parametrize(
    "other, message",
    [
        (dict(freeze="lora-2"), r"freeze policy is 'lora-4', this model's is 'lora-2'"),
        (
            dict(labels=["bad", "good"]),
            r"labels is \['neg', 'pos'\], this model's is \['bad', 'good'\]",
        ),
        (dict(weights="random"), "trained on other backbone weights"),
        (
            dict(lora_targets=["query"]),  # the file's "value" factors: nowhere to go
            r"LoRA layers and head \(in the file only: \['transformer_layer_0/self",
        ),
        (dict(freeze="none"), "load_adapters needs a model with LoRA"),
    ],
)
def test_adapters_must_match_the_model(tiny_preset, tmp_path, other, message):
    path = str(tmp_path / "a.npz")
    _lora_model(tiny_preset).save_adapters(path)
    options = {"labels": LABELS, "freeze": "lora-4", **other}
    model = tl.TextClassifier.from_backbone(tiny_preset, **options)
    with pytest.raises(tl.PolicyError, match=message):
        model.load_adapters(path)


def test_merge_adapters_gives_a_plain_model(tiny_preset, toy_sentiment, tmp_path):
    texts, _ = toy_sentiment
    model = _fit(_lora_model(tiny_preset), toy_sentiment)
    merged = model.merge_adapters()
    assert merged is not model and merged.freeze == "all"
    assert not [w for w in merged.weights if w.name in LORA_FACTORS]
    np.testing.assert_allclose(
        _probabilities(merged, texts), _probabilities(model, texts), atol=1e-6
    )
    head = tl.backbones.parameter_counts(merged.head)["total"]
    assert tl.backbones.parameter_counts(merged)["trainable"] == head
    path = str(tmp_path / "merged.keras")
    merged.save(path)
    reloaded = keras.saving.load_model(path)
    np.testing.assert_array_equal(
        _probabilities(reloaded, texts), _probabilities(merged, texts)
    )
    with pytest.raises(tl.PolicyError, match="the merged model has no LoRA factors"):
        model.merge_adapters(freeze="lora-4")


def test_keras_file_of_a_lora_model(tiny_preset, toy_sentiment, tmp_path):
    """Keras merges the factors into the kernels on save; training goes on after."""
    texts, labels = toy_sentiment
    data = tl.data.from_lists(texts, labels).batch(16)
    model = _lora_model(tiny_preset, lora_targets=["query", "value"])
    model.compile(
        optimizer=keras.optimizers.Adam(1e-2)
    )  # a rate that does not decay to 0
    model.fit(data, epochs=1, verbose=0)
    path = str(tmp_path / "lora.keras")
    model.save(path)
    reloaded = keras.saving.load_model(path)
    assert reloaded.freeze == "lora-4" and reloaded.lora_targets == ("query", "value")
    np.testing.assert_array_equal(
        _probabilities(reloaded, texts), _probabilities(model, texts)
    )
    factors = [w for w in reloaded.backbone.weights if w.name in LORA_FACTORS]
    assert not any(np.any(w.numpy()) for w in factors)  # loaded as zeros
    kernels = {
        w.path: w.numpy().copy()
        for w in reloaded.backbone.weights
        if w.name not in LORA_FACTORS
    }
    reloaded.fit(
        data, epochs=1, verbose=0
    )  # restarts A (B = 0 keeps predictions), trains
    assert all(np.any(w.numpy()) for w in factors)
    for weight in reloaded.backbone.weights:
        if weight.name not in LORA_FACTORS:
            np.testing.assert_array_equal(kernels[weight.path], weight.numpy())


def test_cli_fit_with_lora(tiny_preset, toy_files, tmp_path):
    output = tmp_path / "run"
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
                "1",
                "--batch-size",
                "16",
                "--freeze",
                "lora-4",
                "--output",
                str(output),
            ]
        )
        == 0
    )
    metrics = json.loads((output / "metrics.json").read_text())
    assert metrics["trainable_params"] == 674
    assert json.loads((output / "run.json").read_text())["freeze"] == "lora-4"
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
                "--freeze",
                "lora-0",
                "--output",
                str(tmp_path / "bad"),
            ]
        )
        == 2
    )


def test_weights_backup_restarts_lora(tiny_preset, toy_sentiment, tmp_path):
    """`BackupAndRestore` reloads with `load_weights`: factors are 0, A restarts."""
    texts, _ = toy_sentiment
    model = _fit(_lora_model(tiny_preset), toy_sentiment)
    path = str(tmp_path / "backup.weights.h5")
    model.save_weights(path)
    fresh = _lora_model(tiny_preset)
    fresh.load_weights(path)
    np.testing.assert_allclose(
        _probabilities(fresh, texts), _probabilities(model, texts), atol=1e-6
    )
    for layer in tl.backbones.lora_layers(fresh.backbone):
        assert np.any(layer.lora_kernel_a.numpy()) and not np.any(
            layer.lora_kernel_b.numpy()
        )


def test_gradual_unfreezing_refuses_a_lora_model(tiny_preset, toy_sentiment):
    texts, labels = toy_sentiment
    model = tl.TextClassifier.from_backbone(
        tiny_preset, labels=["neg", "pos"], freeze="lora-2"
    )
    with pytest.raises(
        tl.PolicyError, match="GradualUnfreezing cannot run on a LoRA model"
    ):
        model.fit(
            tl.data.from_lists(texts, labels).batch(16),
            epochs=1,
            verbose=0,
            callbacks=[tl.GradualUnfreezing()],
        )
