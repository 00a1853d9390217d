import keras
import numpy as np
import pytest

from tlnlp_tf.layers import ClassificationHead
from tlnlp_tf.layers import SequencePooling

SEQUENCE = np.array([[[1.0, 2.0], [3.0, 4.0], [100.0, 100.0]]], dtype="float32")
MASK = np.array([[True, True, False]])


def test_mean_pooling_ignores_padding():
    pooled = SequencePooling("mean")(
        {"sequence_output": SEQUENCE, "padding_mask": MASK}
    )
    np.testing.assert_allclose(pooled, [[2.0, 3.0]])


def test_cls_and_pooled_modes():
    inputs = {
        "sequence_output": SEQUENCE,
        "padding_mask": MASK,
        "pooled_output": np.array([[7.0, 8.0]], "float32"),
    }
    np.testing.assert_allclose(SequencePooling("cls")(inputs), [[1.0, 2.0]])
    np.testing.assert_allclose(SequencePooling("pooled")(inputs), [[7.0, 8.0]])


def test_bad_pooling_and_class_count():
    with pytest.raises(ValueError, match="pooling must be one of"):
        SequencePooling("max")
    with pytest.raises(ValueError, match="at least 2"):
        ClassificationHead(num_classes=1)


def test_head_shapes_and_config_round_trip():
    head = ClassificationHead(num_classes=3, pooling="cls", dropout=0.2, hidden_dim=4)
    logits = head({"sequence_output": SEQUENCE, "padding_mask": MASK})
    assert logits.shape == (1, 3)
    clone = keras.saving.deserialize_keras_object(
        keras.saving.serialize_keras_object(head)
    )
    assert isinstance(clone, ClassificationHead)
    assert clone.get_config() == head.get_config()
