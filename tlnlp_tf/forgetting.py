"""The forgetting report: what fine-tuning cost the source model's own ability.

A sentence-embedding source (all-MiniLM-L6-v2, `"minilm"`) is good at one
thing before fine-tuning: its mean-pooled embeddings of similar sentences
are close. The probe scores that zero-shot, with no training: the Spearman
correlation between the cosine similarity of each pair's embeddings and
gold similarity scores (STS-B). Measured on the backbone before and after
fine-tuning on another task, the difference is what was forgotten.

Only this sentence-similarity probe exists. A masked-LM probe (loss on
held-out text) needs the source's masked-LM head, which sentence-embedding
checkpoints and the task models here do not carry.

```python
report = tl.forgetting.ForgettingReport(pairs, scores)
model.fit(train.batch(32), epochs=1, callbacks=[report])
report.result  # {"probe": "sts-zero-shot", "before": 0.82, "after": 0.61, ...}
```
"""

import math
import numbers
import time

import keras
import numpy as np

from tlnlp_tf.errors import BackboneError
from tlnlp_tf.errors import DataError
from tlnlp_tf.errors import PolicyError
from tlnlp_tf.metrics.regression import spearman
from tlnlp_tf.transferability.features import encode
from tlnlp_tf.transferability.features import resolve_layers

PROBE = "sts-zero-shot"


def sentence_similarity_probe(backbone, preprocessor, pairs, scores, batch_size=64):
    """Zero-shot Spearman of embedding cosine similarity against gold `scores`.

    Each sentence is encoded alone; its embedding is the backbone's last
    layer, mean-pooled over real tokens (padding excluded). The backbone
    runs in inference mode and nothing is trained. The preprocessor's
    `sequence_length` is restored afterwards.

    Args:
        backbone: a keras-hub backbone (e.g. `model.backbone`).
        preprocessor: its raw-text preprocessor (e.g. `model.preprocessor`).
        pairs: a list of `(sentence1, sentence2)` string pairs.
        scores: one gold similarity score per pair (STS-B: 0 to 5).
        batch_size: sentences per forward pass.

    Returns:
        Spearman's rho, a float.

    Example:

    ```python
    backbone, preprocessor = tl.load_backbone("minilm")
    rho = tl.forgetting.sentence_similarity_probe(
        backbone, preprocessor, [("A man plays.", "A man is playing."), ...], [4.8, ...])
    ```
    """
    first, second, scores = check_probe_data(pairs, scores)
    _check_backbone(backbone, preprocessor)
    layers = resolve_layers(backbone, [None], type(backbone).__name__)
    length = preprocessor.sequence_length
    try:
        embeddings = encode(backbone, preprocessor, first + second, None, layers,
                            batch_size)[0]
    finally:
        preprocessor.sequence_length = length
    a, b = embeddings[: len(first)], embeddings[len(first):]
    norms = np.maximum(np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1), 1e-12)
    cosine = (a * b).sum(axis=1) / norms
    return spearman(scores, cosine)


def forgetting_report(before_backbone, after_backbone, preprocessor, probe_data,
                      batch_size=64):
    """The probe on two backbones: the source before and after fine-tuning.

    Args:
        before_backbone, after_backbone: the backbone before fine-tuning
            (e.g. freshly loaded) and after (`model.backbone`).
        preprocessor: the raw-text preprocessor of both.
        probe_data: `(pairs, scores)`, as for `sentence_similarity_probe`.

    Returns:
        `{"probe": "sts-zero-shot", "before", "after", "change", "examples"}`,
        `change` being `after - before` (negative: forgotten).

    Example:

    ```python
    source, preprocessor = tl.load_backbone("minilm")
    report = tl.forgetting.forgetting_report(source, model.backbone, preprocessor,
                                             (pairs, scores))
    ```
    """
    pairs, scores = _split_probe_data(probe_data)
    before = sentence_similarity_probe(before_backbone, preprocessor, pairs, scores,
                                       batch_size)
    after = sentence_similarity_probe(after_backbone, preprocessor, pairs, scores,
                                      batch_size)
    return _report(before, after, len(pairs))


class ForgettingReport(keras.callbacks.Callback):
    """Measure the sentence-similarity probe when `fit` starts and when it ends.

    The model is a task model (`TextClassifier`, `TextRegressor`) with a
    `backbone` and a raw-text `preprocessor`. After `fit`, `result` holds
    `{"probe": "sts-zero-shot", "before", "after", "change", "examples"}`,
    and `seconds` the time both measurements took (counted in `fit`'s).
    With `BackupAndRestore`, list this callback first, so that "before" is
    measured before a backup is restored.

    Args:
        pairs: a list of `(sentence1, sentence2)` string pairs.
        scores: one gold similarity score per pair.
        batch_size: sentences per forward pass.

    Example:

    ```python
    report = tl.forgetting.ForgettingReport(pairs, scores)
    model.fit(train.batch(32), epochs=1, callbacks=[report])
    print(report.result["change"])
    ```
    """

    def __init__(self, pairs, scores, batch_size=64):
        super().__init__()
        check_probe_data(pairs, scores)  # fail before training starts
        self.pairs = list(pairs)
        self.scores = list(scores)
        self.batch_size = batch_size
        self.before = None
        self.result = None
        self.seconds = 0.0

    def on_train_begin(self, logs=None):
        self.result = None
        self.seconds = 0.0
        self.before = self._measure()

    def on_train_end(self, logs=None):
        self.result = _report(self.before, self._measure(), len(self.pairs))

    def _measure(self):
        start = time.perf_counter()
        task = task_model(self.model)
        score = sentence_similarity_probe(task.backbone, task.preprocessor, self.pairs,
                                          self.scores, self.batch_size)
        self.seconds += time.perf_counter() - start
        return score


def task_model(model):
    """The task model `fit` runs for: `model`, or the one whose head it trains.

    A frozen backbone's `fit` trains the head alone on cached features
    (`tlnlp_tf.tasks.feature_cache`); that head model refers to its task.
    """
    source = getattr(model, "source_task", None)
    task = source() if callable(source) else model
    backbone = getattr(task, "backbone", None)
    preprocessor = getattr(task, "preprocessor", None)
    if backbone is None or preprocessor is None or not _takes_raw_text(preprocessor):
        raise PolicyError(
            f"The forgetting report has no source probe for a "
            f"{type(task).__name__}: it needs a task model with a backbone and a "
            "raw-text preprocessor (TextClassifier or TextRegressor)."
        )
    return task


def check_probe_data(pairs, scores):
    """`(sentences1, sentences2, scores)` of probe data, or a `DataError`."""
    if isinstance(pairs, str) or not hasattr(pairs, "__len__"):
        raise DataError(f"pairs must be a list of (sentence1, sentence2) pairs, "
                        f"got {type(pairs).__name__}.")
    if isinstance(scores, str) or not hasattr(scores, "__len__"):
        raise DataError(f"scores must be a list of numbers, got {type(scores).__name__}.")
    if len(pairs) == 0:
        raise DataError("pairs is empty; the forgetting probe needs sentence pairs "
                        "with similarity scores.")
    if len(pairs) != len(scores):
        raise DataError(f"{len(pairs)} pairs but {len(scores)} scores; give one score "
                        "per pair.")
    first, second = [], []
    for index, pair in enumerate(pairs):
        if (isinstance(pair, str) or not hasattr(pair, "__len__") or len(pair) != 2
                or not all(isinstance(text, str) for text in pair)):
            raise DataError(f"pairs[{index}] is {pair!r}; expected a (sentence1, "
                            "sentence2) pair of strings.")
        first.append(pair[0])
        second.append(pair[1])
    values = []
    for index, score in enumerate(scores):
        if (isinstance(score, bool) or not isinstance(score, (numbers.Real, np.number))
                or not math.isfinite(float(score))):
            raise DataError(f"scores[{index}] is {score!r}; expected a finite number.")
        values.append(float(score))
    if len(set(values)) < 2:
        raise DataError(f"scores are all {values[0]}: Spearman's rho is undefined for "
                        "constant scores; the probe needs pairs of different similarity.")
    return first, second, values


def _split_probe_data(probe_data):
    if not isinstance(probe_data, (tuple, list)) or len(probe_data) != 2:
        raise DataError("probe_data must be a (pairs, scores) tuple.")
    return probe_data


def _report(before, after, examples):
    return {"probe": PROBE, "before": float(before), "after": float(after),
            "change": float(after) - float(before), "examples": int(examples)}


def _takes_raw_text(preprocessor):
    # keras-hub's text-classifier preprocessors (and the minilm one) pack
    # raw strings; token-classification and QA preprocessors take words or
    # question/context dicts.
    import keras_hub

    return isinstance(preprocessor, keras_hub.models.TextClassifierPreprocessor)


def _check_backbone(backbone, preprocessor):
    inputs = getattr(backbone, "input", None)
    if not isinstance(inputs, dict) or "padding_mask" not in inputs:
        raise BackboneError(
            f"The sentence-similarity probe needs a keras-hub encoder backbone with "
            f"'token_ids' and 'padding_mask' inputs; {type(backbone).__name__} has "
            f"{sorted(inputs) if isinstance(inputs, dict) else inputs!r}."
        )
    if not hasattr(preprocessor, "sequence_length") or not hasattr(preprocessor, "tokenizer"):
        raise BackboneError(
            f"The sentence-similarity probe needs a keras-hub text preprocessor "
            f"(with a tokenizer and sequence_length), got {type(preprocessor).__name__}."
        )
