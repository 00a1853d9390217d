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
