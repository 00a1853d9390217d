"""Real data, real weights: `make test-slow` (pytest -m slow). Needs ../shared/data."""

import json
import os

import pytest

from tlnlp_tf.cli.main import main

SST2 = os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data", "sst2")


@pytest.mark.slow
def test_minilm_fine_tunes_sst2_subset_via_cli(tmp_path):
    assert os.path.isfile(os.path.join(SST2, "train.tsv")), f"SST-2 not found at {SST2}"
    output = tmp_path / "run"
    code = main(
        [
            "fit",
            "--train",
            os.path.join(SST2, "train.tsv"),
            "--validation",
            os.path.join(SST2, "dev.tsv"),
            "--text-column",
            "sentence",
            "--label-column",
            "label",
            "--backbone",
            "minilm",
            "--epochs",
            "2",
            "--limit",
            "2000",
            "--output",
            str(output),
        ]
    )
    assert code == 0
    metrics = json.loads((output / "metrics.json").read_text())
    assert metrics["validation"]["accuracy"] >= 0.80, metrics


@pytest.mark.slow
def test_frozen_head_agrees_with_scikit_learn_on_sst2_4000():
    """The solved frozen head against scikit-learn's LogisticRegression."""
    import numpy as np
    from sklearn.linear_model import LogisticRegression

    import tlnlp_tf as tl
    from tlnlp_tf.tasks import feature_cache

    assert os.path.isfile(os.path.join(SST2, "train.tsv")), f"SST-2 not found at {SST2}"
    train = tl.data.load_table(os.path.join(SST2, "train.tsv"), "sentence", "label")
    dev = tl.data.load_table(os.path.join(SST2, "dev.tsv"), "sentence", "label")
    train = train.sample(4000, seed=0)
    model = tl.TextClassifier.from_backbone("minilm", labels=["0", "1"], freeze="all")
    history = model.fit(train.texts, train.labels, batch_size=64, verbose=0)
    ours = model.score(dev)["accuracy"]
    features, y, _, _ = feature_cache.encode(model, train.to_dataset().batch(64))
    dev_features, dev_y, _, _ = feature_cache.encode(model, dev.to_dataset().batch(64))
    reference = LogisticRegression(C=history.solution["C"], max_iter=5000)
    reference.fit(features.astype(np.float64), y)
    theirs = reference.score(dev_features.astype(np.float64), dev_y)
    assert abs(ours - theirs) <= 0.01, (ours, theirs)
    assert ours >= 0.75, ours
