"""Rank candidate sources (backbones, layers) for one target data set."""

import gc
import time

import numpy as np

from tlnlp_tf.backbones.loading import load_backbone
from tlnlp_tf.errors import PolicyError
from tlnlp_tf.probes.transferability.baselines import h_score
from tlnlp_tf.probes.transferability.baselines import linear_probe
from tlnlp_tf.probes.transferability.features import encode
from tlnlp_tf.probes.transferability.features import layer_count
from tlnlp_tf.probes.transferability.features import resolve_layers
from tlnlp_tf.probes.transferability.features import split_source
from tlnlp_tf.probes.transferability.inputs import as_targets
from tlnlp_tf.probes.transferability.inputs import check_task
from tlnlp_tf.probes.transferability.logme import logme


def score_sources(
    specs,
    texts,
    labels,
    text_pairs=None,
    task="classification",
    layers=None,
    batch_size=64,
):
    """Score each source on the same labelled texts; best LogME first.

    Each backbone is loaded once and encodes the texts once for all its
    layers (see `extract_features`); the mean-pooled features are scored by
    LogME and the baselines.

    Args:
        specs: backbone specs; `"spec@random"` is the same architecture with
            random weights (the no-transfer baseline).
        texts, labels, text_pairs: the target data (labels as strings or
            numbers; numbers for `task="regression"`).
        task: `"classification"` or `"regression"`.
        layers: `None` (each backbone's last layer), `"all"` (every
            transformer layer), or a list of layer indices (`-1` the last)
            applied to every backbone.
        batch_size: texts per forward pass.

    Returns:
        a list of dicts, highest `logme` first: `source`, `layer` (0-based
        index), `logme`, then `h_score` and `probe_accuracy`
        (classification) or `probe_r2` (regression), and `seconds` (this
        candidate's share of loading and encoding, plus its scoring).

    Example:

    ```python
    ranking = tl.probes.score_sources(
        ["minilm", "minilm@random"], texts, labels, layers=[2, -1])
    ranking[0]  # {"source": "minilm", "layer": 5, "logme": -0.58, ...}
    ```
    """
    check_task(task)
    if isinstance(specs, str) or not specs:
        raise PolicyError(
            f"specs must be a non-empty list of backbone specs, got {specs!r}."
        )
    as_targets(labels, task, len(texts), "LogME")  # bad labels fail before any encoding
    _wanted(layers, None)
    records = []
    for source in specs:
        start = time.perf_counter()
        spec, weights = split_source(source)
        backbone, preprocessor = load_backbone(spec, weights=weights)
        indices = resolve_layers(backbone, _wanted(layers, backbone), source)
        features = encode(
            backbone, preprocessor, texts, text_pairs, indices, batch_size
        )
        shared = (time.perf_counter() - start) / len(indices)
        del backbone, preprocessor
        gc.collect()
        for index, feature in zip(indices, features):
            start = time.perf_counter()
            record = {
                "source": source,
                "layer": index,
                "logme": logme(feature, labels, task=task),
            }
            if task == "classification":
                record["h_score"] = h_score(feature, labels)
                record["probe_accuracy"] = linear_probe(feature, labels)
            else:
                record["probe_r2"] = linear_probe(feature, labels, task="regression")
            record["seconds"] = shared + time.perf_counter() - start
            records.append(record)
    return sorted(records, key=lambda record: -record["logme"])


def _wanted(layers, backbone):
    """The requested layers of one backbone (`None`: only check), unchecked."""
    if layers is None:
        return [None]
    if layers == "all":
        if backbone is None:
            return []
        return list(range(layer_count(backbone))) or [None]
    if isinstance(layers, (int, np.integer)) and not isinstance(layers, bool):
        return [layers]
    if isinstance(layers, (list, tuple)) and layers:
        return list(layers)
    raise PolicyError(
        f"layers must be None, 'all', an integer or a non-empty list of integers, "
        f"got {layers!r}."
    )
