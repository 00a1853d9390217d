import keras
import numpy as np
import pytest
from conftest import tiny_backbone

import tlnlp_tf as tl
from tlnlp_tf.backbones.attention import attention_dropout
from tlnlp_tf.backbones.attention import attention_layers
from tlnlp_tf.backbones.attention import set_attention_dropout


def _attention_twice(layer, seed=0):
    x = keras.random.normal((2, 8, layer._query_dense.kernel.shape[0]), seed=seed)
    return [np.asarray(layer(x, x, training=True)) for _ in range(2)]


def test_rate_reaches_every_attention_layer_and_its_behaviour():
    backbone = tiny_backbone()
    layers = attention_layers(backbone)
    assert len(layers) == 2  # one per transformer layer
    assert attention_dropout(backbone) == pytest.approx(0.1)  # BertBackbone's default

    # With dropout on the probabilities, two training-mode calls differ...
    set_attention_dropout(backbone, 0.5)
    first, second = _attention_twice(layers[0])
    assert not np.allclose(first, second)
    # ...without it they are identical: the attention layer has no other randomness.
    # (Fails if a Keras upgrade stops reading `_dropout`: see tlnlp_tf/attention.py.)
    set_attention_dropout(backbone, 0.0)
    assert attention_dropout(backbone) == 0.0
    first, second = _attention_twice(layers[1])
    np.testing.assert_array_equal(first, second)


def test_task_defaults_keep_option_and_round_trip(tiny_preset, tmp_path):
    model = tl.TextClassifier.from_backbone(tiny_preset, labels=["neg", "pos"])
    assert model.attention_dropout == 0.0  # "auto": off for classification
    assert attention_dropout(model.backbone) == 0.0
    tagger = tl.TokenClassifier.from_backbone(tiny_preset, tags=["O", "B-X", "I-X"])
    assert tagger.attention_dropout is None  # "auto": the backbone's own elsewhere
    assert attention_dropout(tagger.backbone) == pytest.approx(0.1)

    kept = tl.TextClassifier.from_backbone(
        tiny_preset, labels=["neg", "pos"], attention_dropout=None
    )
    assert kept.attention_dropout is None
    assert attention_dropout(kept.backbone) == pytest.approx(0.1)

    chosen = tl.TokenClassifier.from_backbone(
        tiny_preset, tags=["O", "B-X", "I-X"], attention_dropout=0.2
    )
    path = str(tmp_path / "tagger.keras")
    chosen.save(path)
    restored = keras.saving.load_model(path)
    assert restored.attention_dropout == pytest.approx(0.2)
    assert attention_dropout(restored.backbone) == pytest.approx(0.2)


def test_bad_rate_is_a_clear_error(tiny_preset):
    with pytest.raises(ValueError, match="attention_dropout must be in"):
        tl.TextClassifier.from_backbone(
            tiny_preset, labels=["neg", "pos"], attention_dropout=1.5
        )
