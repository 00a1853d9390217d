import numpy as np
import pytest

import tlnlp_tf as tl
from tlnlp_tf.backbones.freezing import frozen_groups


@pytest.fixture
def backbone(tiny_preset):
    return tl.load_backbone(tiny_preset)[0]


def test_layer_groups_in_order(backbone):
    groups = tl.backbones.layer_groups(backbone)
    assert list(groups) == ["embeddings", "layer_0", "layer_1", "pooler"]
    assert [l.name for l in groups["pooler"]] == ["pooled_dense"]
    assert "token_embedding" in [l.name for l in groups["embeddings"]]
    counted = sum(l.count_params() for layers in groups.values() for l in layers)
    assert counted == backbone.count_params()


@pytest.mark.parametrize(
    "policy, frozen",
    [
        ("none", []),
        ("all", ["embeddings", "layer_0", "layer_1", "pooler"]),
        ("embeddings", ["embeddings"]),
        ("bottom-1", ["embeddings", "layer_0"]),
        ("bottom-2", ["embeddings", "layer_0", "layer_1"]),
    ],
)
def test_policies(backbone, policy, frozen):
    assert frozen_groups(backbone, policy) == frozen
    tl.backbones.apply_freeze(backbone, policy)
    groups = tl.backbones.layer_groups(backbone)
    frozen_weights = sum(l.count_params() for g in frozen for l in groups[g])
    assert tl.backbones.parameter_counts(backbone)["frozen"] == frozen_weights


@pytest.mark.parametrize(
    "policy, message",
    [
        ("bottom-99", "asks for 99 layers, but the backbone has 2"),
        ("top-2", "Unknown freeze policy 'top-2'"),
        ("bottom-x", "must be a non-negative integer"),
        (3, "A freeze policy is a string"),
        (
            "lora-0",
            "'lora-0': R in 'lora-R' is the rank of the LoRA factors, a positive "
            "integer",
        ),
        (
            "lora-x",
            "'lora-x': R in 'lora-R' is the rank of the LoRA factors, a positive "
            "integer",
        ),
        ("lora", r"Unknown freeze policy 'lora': expected one of .*lora-R"),
    ],
)
def test_bad_policies(backbone, policy, message):
    with pytest.raises(tl.PolicyError, match=message):
        tl.backbones.apply_freeze(backbone, policy)


def test_lora_policy_freezes_every_group(backbone):
    assert frozen_groups(backbone, "lora-8") == [
        "embeddings",
        "layer_0",
        "layer_1",
        "pooler",
    ]
    assert tl.backbones.apply_freeze(backbone, " LoRA-08 ") == "lora-8"
    trainable = {w.name for w in backbone.trainable_weights}
    assert trainable == {"lora_kernel_a", "lora_kernel_b"}


def test_describe_freezing_reports_states(backbone):
    tl.backbones.apply_freeze(backbone, "bottom-1")
    text = tl.describe_freezing(backbone)
    lines = {line.split()[0]: line for line in text.splitlines()[1:]}
    assert lines["layer_0"].endswith("frozen")
    assert lines["layer_1"].endswith("trainable")
    counts = tl.backbones.parameter_counts(backbone)
    assert f"{counts['trainable']:,} trainable" in text


def _snapshot(model):
    return {w.path: w.numpy().copy() for w in model.weights}


@pytest.mark.parametrize("policy", ["all", "embeddings", "bottom-1", "none"])
def test_frozen_weights_bit_identical_after_fit(tiny_preset, toy_sentiment, policy):
    texts, labels = toy_sentiment
    model = tl.TextClassifier.from_backbone(
        tiny_preset, labels=["neg", "pos"], freeze=policy
    )
    before = _snapshot(model)
    trainable = {w.path for w in model.trainable_weights}
    model.fit(tl.data.from_lists(texts, labels).batch(16), epochs=1, verbose=0)
    after = _snapshot(model)
    for path in before:
        unchanged = np.array_equal(before[path], after[path])
        if path in trainable:
            assert not unchanged, (
                f"{path} is trainable under {policy!r} but did not move"
            )
        else:
            assert unchanged, f"{path} is frozen under {policy!r} but moved"
    assert any(p.startswith("classification_head") for p in trainable)


def test_set_freeze_after_training_recompiles(tiny_preset, toy_sentiment):
    """Keras 3 trap: freezing a compiled model must not let frozen weights move."""
    texts, labels = toy_sentiment
    data = tl.data.from_lists(texts, labels).batch(16)
    model = tl.TextClassifier.from_backbone(tiny_preset, labels=["neg", "pos"])
    model.fit(data, epochs=1, verbose=0)
    with pytest.warns(UserWarning, match="optimizer's state"):
        model.set_freeze("all")
    assert model.freeze == "all"
    backbone_before = [w.numpy().copy() for w in model.backbone.weights]
    head_before = [w.numpy().copy() for w in model.head.weights]
    model.fit(data, epochs=1, verbose=0)
    for before, weight in zip(backbone_before, model.backbone.weights):
        np.testing.assert_array_equal(before, weight.numpy())
    assert any(
        not np.array_equal(b, w.numpy())
        for b, w in zip(head_before, model.head.weights)
    )
    assert model.default_learning_rate() == 1e-3


def test_unused_pooler_counts_as_frozen(tiny_preset):
    mean = tl.TextClassifier.from_backbone(tiny_preset, num_classes=2, pooling="mean")
    pooled = tl.TextClassifier.from_backbone(
        tiny_preset, num_classes=2, pooling="pooled"
    )
    pooler = 16 * 16 + 16
    assert (
        tl.backbones.parameter_counts(pooled)["trainable"]
        - tl.backbones.parameter_counts(mean)["trainable"]
        == pooler
    )
