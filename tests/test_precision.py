"""Mixed precision: bfloat16 compute, float32 weights, float32 loss and outputs."""

import keras
import numpy as np
import pytest

import tlnlp_tf as tl


def test_mixed_bfloat16_trains_and_round_trips(tiny_preset, toy_sentiment, tmp_path):
    keras.utils.set_random_seed(0)
    model = tl.TextClassifier.from_backbone(
        tiny_preset, labels=["neg", "pos"], dtype="mixed_bfloat16"
    )
    assert model.backbone.dtype_policy.name == "mixed_bfloat16"
    assert model.backbone.compute_dtype == "bfloat16"
    assert all(v.dtype == "float32" for v in model.trainable_variables)
    texts, labels = toy_sentiment
    history = model.fit(
        tl.data.from_lists(texts, labels).batch(16), epochs=2, verbose=0
    )
    assert np.all(np.isfinite(history.history["loss"]))
    result = model.predict(texts[:4])
    assert result["probabilities"].dtype == np.float32
    np.testing.assert_allclose(result["probabilities"].sum(-1), 1.0, rtol=1e-2)
    path = str(tmp_path / "bf16.keras")
    model.save(path)
    restored = keras.saving.load_model(path)
    assert restored.backbone.dtype_policy.name == "mixed_bfloat16"
    assert restored.predict(texts[:4])["label"] == result["label"]


def test_span_logits_stay_float32(tiny_preset):
    model = tl.SpanExtractor.from_backbone(
        tiny_preset, dtype="mixed_bfloat16", max_length=16
    )
    [answer] = model.predict({"question": "the film", "context": "the film was good ."})
    assert model.head.compute_dtype == "bfloat16"
    assert "the film was good ."[answer["start"] : answer["end"]] == answer["answer"]


def test_precision_is_checked_against_the_hardware(tiny_preset, monkeypatch):
    from tlnlp_tf.backbones import precision

    monkeypatch.setattr(precision, "_gpus", lambda: [])
    with pytest.warns(
        UserWarning, match="mixed_float16 needs a GPU and none is visible"
    ):
        model = tl.TextClassifier.from_backbone(
            tiny_preset, labels=["a", "b"], dtype="mixed_float16"
        )
    assert model.backbone.dtype_policy.name == "float32"
    monkeypatch.setattr(precision, "cpu_has_bf16", lambda: False)
    with pytest.warns(UserWarning, match="no bfloat16 instructions"):
        assert precision.resolve_precision("mixed_bfloat16") == "mixed_bfloat16"
    with pytest.raises(tl.PolicyError, match="Unknown precision 'float8'"):
        precision.resolve_precision("float8")
