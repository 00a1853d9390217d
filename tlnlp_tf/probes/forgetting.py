"""The forgetting report: what fine-tuning cost the source model's own ability.

Two probes measure that ability, on the backbone before and after fine-tuning
on another task; the difference is what was forgotten.

- Sentence similarity (`"sts-zero-shot"`), for a sentence-embedding source
  (all-MiniLM-L6-v2, `"minilm"`): its mean-pooled embeddings of similar
  sentences are close. The probe scores that zero-shot, with no training:
  the Spearman correlation between the cosine similarity of each pair's
  embeddings and gold similarity scores (STS-B). Higher is better:
  a negative `change` is forgotten.
- Masked-LM loss (`"masked-lm-loss"`), for a masked-LM source pretrained
  with `tlnlp pretrain` (`tlnlp_tf.pretraining.save_pretrained` keeps its
  masked-LM head): the loss of the backbone under that saved head on
  held-out text, the same masked tokens before and after. Lower is better:
  a positive `change` is forgotten.

```python
report = tl.probes.ForgettingReport(pairs, scores)
model.fit(train.batch(32), epochs=1, callbacks=[report])
report.result  # {"probe": "sts-zero-shot", "before": 0.82, "after": 0.61, ...}

report = tl.probes.MaskedLMForgettingReport("minilm-reviews", held_out_texts)
model.fit(train.batch(32), epochs=1, callbacks=[report])
report.result  # {"probe": "masked-lm-loss", "before": 2.1, "after": 3.4, ...}
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
from tlnlp_tf.probes.transferability.features import encode
from tlnlp_tf.probes.transferability.features import resolve_layers

PROBE = "sts-zero-shot"
MASKED_LM_PROBE = "masked-lm-loss"


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
    pairs = [
        ("A man plays a guitar.", "A man is playing music."),
        ("A man plays a guitar.", "A cat sleeps on the sofa."),
        ("A woman slices onions.", "Someone is cutting an onion."),
    ]
    rho = tl.probes.sentence_similarity_probe(
        backbone, preprocessor, pairs, [4.2, 0.4, 4.6]
    )
    ```
    """
    first, second, scores = check_probe_data(pairs, scores)
    _check_backbone(backbone, preprocessor)
    layers = resolve_layers(backbone, [None], type(backbone).__name__)
    length = preprocessor.sequence_length
    try:
        embeddings = encode(
            backbone, preprocessor, first + second, None, layers, batch_size
        )[0]
    finally:
        preprocessor.sequence_length = length
    a, b = embeddings[: len(first)], embeddings[len(first) :]
    norms = np.maximum(np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1), 1e-12)
    cosine = (a * b).sum(axis=1) / norms
    return spearman(scores, cosine)


def forgetting_report(
    before_backbone, after_backbone, preprocessor, probe_data, batch_size=64
):
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
    report = tl.probes.forgetting_report(source, model.backbone, preprocessor,
                                             (pairs, scores))
    ```
    """
    pairs, scores = _split_probe_data(probe_data)
    before = sentence_similarity_probe(
        before_backbone, preprocessor, pairs, scores, batch_size
    )
    after = sentence_similarity_probe(
        after_backbone, preprocessor, pairs, scores, batch_size
    )
    return _report(before, after, len(pairs))


def masked_lm_probe(backbone, source_folder, texts, batch_size=32, seed=0):
    """Masked-LM loss and accuracy of `backbone` under the source's saved head.

    `source_folder` is a folder written by `tlnlp pretrain` (or
    `tlnlp_tf.pretraining.save_pretrained`); its masked-LM head (dense,
    layer norm, output bias; the output projection is `backbone`'s token
    embedding) is put on `backbone` (`load_masked_lm`) and scored on `texts`
    with `masked_lm_scores`. The masks are drawn from `seed` (this resets
    TensorFlow's global seed; Python's is left as it was), so two backbones,
    or one before and after fine-tuning, are scored on the same masked
    tokens. Nothing is trained; the backbone runs in inference mode.

    Args:
        backbone: a keras-hub backbone (e.g. `model.backbone`) of the same
            architecture and vocabulary as the source's.
        source_folder: the pretrained preset folder, with its
            `masked_lm_head.weights.h5`.
        texts: held-out documents (not the pretraining corpus, not the task's
            training data).
        batch_size: documents per forward pass.

    Returns:
        `{"loss", "accuracy", "masked_tokens"}`: the mean cross-entropy and
        the accuracy over the masked tokens, and their number.

    Raises:
        BackboneError: the folder has no saved head (sentence-embedding
            sources such as `"minilm"` have none: use the sentence-similarity
            probe), or the head does not fit `backbone`.
        DataError: `texts` is empty or has no token to mask.

    Example:

    ```python
    model = tl.TextClassifier.from_backbone("minilm-reviews", labels=["neg", "pos"])
    before = tl.probes.masked_lm_probe(model.backbone, "minilm-reviews", texts)
    model.fit(train.batch(32), epochs=1)
    after = tl.probes.masked_lm_probe(model.backbone, "minilm-reviews", texts)
    after["loss"] - before["loss"]  # > 0: forgotten
    ```
    """
    from tlnlp_tf import pretraining

    texts = check_texts(texts)
    masked_lm = pretraining.load_masked_lm(source_folder, backbone)
    scores = pretraining.masked_lm_scores(masked_lm, texts, batch_size, seed)
    if not scores["masked_tokens"]:
        raise DataError(_no_masked_tokens(len(texts)))
    return scores


class _ProbeReport(keras.callbacks.Callback):
    """A probe measured when `fit` starts (`before`) and when it ends (`result`)."""

    def on_train_begin(self, logs=None):
        self.result = None
        self.seconds = 0.0
        self.before = self._timed()

    def on_train_end(self, logs=None):
        self.result = self._result(self.before, self._timed())

    def _timed(self):
        start = time.perf_counter()
        try:
            return self._measure()
        finally:
            self.seconds += time.perf_counter() - start


class ForgettingReport(_ProbeReport):
    """Measure the sentence-similarity probe when `fit` starts and when it ends.

    The model is a task model (`TextClassifier`, `TextRegressor`) with a
    `backbone` and a raw-text `preprocessor`. After `fit`, `result` holds
    `{"probe": "sts-zero-shot", "before", "after", "change", "examples"}`,
    and `seconds` the time both measurements took (counted in `fit`'s).
    With `BackupAndRestore`, list this callback first, so that "before" is
    measured before a backup is restored. For a masked-LM source, see
    `MaskedLMForgettingReport`.

    Args:
        pairs: a list of `(sentence1, sentence2)` string pairs.
        scores: one gold similarity score per pair.
        batch_size: sentences per forward pass.

    Example:

    ```python
    report = tl.probes.ForgettingReport(pairs, scores)
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

    def _measure(self):
        task = task_model(self.model)
        return sentence_similarity_probe(
            task.backbone, task.preprocessor, self.pairs, self.scores, self.batch_size
        )

    def _result(self, before, after):
        return _report(before, after, len(self.pairs))


class MaskedLMForgettingReport(_ProbeReport):
    """Measure the masked-LM probe when `fit` starts and when it ends.

    For a source pretrained with `tlnlp pretrain`: its folder keeps the
    masked-LM head, which is put on the task model's backbone to score
    masked-LM loss on held-out `texts` (`masked_lm_probe`). The masks are
    drawn once, here, from `seed` (this resets TensorFlow's global seed):
    "before" and "after" score the same masked tokens, the ones
    `masked_lm_probe(..., batch_size, seed)` scores. The model is any
    single-task model built from `source_folder` (`TextClassifier`,
    `TextRegressor`, `TokenClassifier`, `SpanExtractor`).

    After `fit`, `result` holds `{"probe": "masked-lm-loss", "before",
    "after", "change", "examples", "masked_tokens", "accuracy_before",
    "accuracy_after", "accuracy_change"}`: `before`/`after` are losses, so
    a positive `change` (`after - before`) is what was forgotten (the
    opposite sign of the sentence-similarity probe's); `examples` is the
    number of documents. `seconds` is the time both measurements took.
    List it first with `BackupAndRestore`, as `ForgettingReport`.

    Args:
        source_folder: the folder written by `tlnlp pretrain` (or
            `tlnlp_tf.pretraining.save_pretrained`) that the model was built
            from.
        texts: held-out documents.
        batch_size: documents per forward pass.
        seed: the seed of the masks.

    Raises:
        BackboneError: (here, before training) the folder has no saved head,
            e.g. `"minilm"` or another sentence-embedding source: use
            `ForgettingReport` (the sentence-similarity probe) for those.
        DataError: `texts` is empty or has no token to mask.

    Example:

    ```python
    report = tl.probes.MaskedLMForgettingReport("minilm-reviews", held_out_texts)
    model = tl.TextClassifier.from_backbone("minilm-reviews", labels=["neg", "pos"])
    model.fit(train.batch(32), epochs=1, callbacks=[report])
    report.result["change"]  # > 0: the masked-LM loss went up (forgotten)
    ```
    """

    def __init__(self, source_folder, texts, batch_size=32, seed=0):
        super().__init__()
        from tlnlp_tf import pretraining

        self.texts = check_texts(texts)
        # Before training: the folder's head is there, and its preprocessor
        # draws the masks once, so "before" and "after" score the same tokens.
        self.source_folder, self._batches = pretraining.head_masked_batches(
            source_folder, self.texts, batch_size, seed
        )
        self.batch_size = batch_size
        self.seed = seed
        self.masked_tokens = int(
            sum(float(np.sum(weight)) for _, _, weight in self._batches)
        )
        if not self.masked_tokens:
            raise DataError(_no_masked_tokens(len(self.texts)))
        self.before = None
        self.result = None
        self.seconds = 0.0

    def _measure(self):
        from tlnlp_tf import pretraining

        masked_lm = pretraining.load_masked_lm(
            self.source_folder, task_backbone(self.model)
        )
        return pretraining.score_masked_batches(masked_lm, self._batches)

    def _result(self, before, after):
        return masked_lm_report(before, after, len(self.texts))


def masked_lm_report(before, after, examples):
    """The report of two `masked_lm_probe` results: before and after fine-tuning.

    `change` is `after - before` of the loss: positive is forgotten.
    """
    return {
        "probe": MASKED_LM_PROBE,
        "before": float(before["loss"]),
        "after": float(after["loss"]),
        "change": float(after["loss"]) - float(before["loss"]),
        "examples": int(examples),
        "masked_tokens": int(after["masked_tokens"]),
        "accuracy_before": float(before["accuracy"]),
        "accuracy_after": float(after["accuracy"]),
        "accuracy_change": float(after["accuracy"]) - float(before["accuracy"]),
    }


def task_backbone(model):
    """The backbone of the task model `fit` runs for (see `task_model`)."""
    source = getattr(model, "source_task", None)
    task = source() if callable(source) else model
    backbone = getattr(task, "backbone", None)
    if backbone is None or not isinstance(getattr(backbone, "input", None), dict):
        raise PolicyError(
            f"The forgetting report has no source probe for a "
            f"{type(task).__name__}: the masked-LM probe needs a task model with a "
            "keras-hub backbone (TextClassifier, TextRegressor, TokenClassifier, "
            "SpanExtractor)."
        )
    return backbone


def check_texts(texts):
    """The held-out documents of the masked-LM probe (strings), or a `DataError`."""
    if isinstance(texts, str) or not hasattr(texts, "__iter__"):
        raise DataError(
            f"texts must be a list of documents, got {type(texts).__name__}."
        )
    texts = list(texts)
    for index, text in enumerate(texts):
        if not isinstance(text, str):
            raise DataError(f"texts[{index}] is {text!r}; expected a string.")
    texts = [text for text in texts if text.strip()]
    if not texts:
        raise DataError("texts is empty; the masked-LM probe needs held-out documents.")
    return texts


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
        raise DataError(
            f"pairs must be a list of (sentence1, sentence2) pairs, "
            f"got {type(pairs).__name__}."
        )
    if isinstance(scores, str) or not hasattr(scores, "__len__"):
        raise DataError(
            f"scores must be a list of numbers, got {type(scores).__name__}."
        )
    if len(pairs) == 0:
        raise DataError(
            "pairs is empty; the forgetting probe needs sentence pairs "
            "with similarity scores."
        )
    if len(pairs) != len(scores):
        raise DataError(
            f"{len(pairs)} pairs but {len(scores)} scores; give one score per pair."
        )
    first, second = [], []
    for index, pair in enumerate(pairs):
        if (
            isinstance(pair, str)
            or not hasattr(pair, "__len__")
            or len(pair) != 2
            or not all(isinstance(text, str) for text in pair)
        ):
            raise DataError(
                f"pairs[{index}] is {pair!r}; expected a (sentence1, "
                "sentence2) pair of strings."
            )
        first.append(pair[0])
        second.append(pair[1])
    values = []
    for index, score in enumerate(scores):
        if (
            isinstance(score, bool)
            or not isinstance(score, (numbers.Real, np.number))
            or not math.isfinite(float(score))
        ):
            raise DataError(f"scores[{index}] is {score!r}; expected a finite number.")
        values.append(float(score))
    if len(set(values)) < 2:
        raise DataError(
            f"scores are all {values[0]}: Spearman's rho is undefined for "
            "constant scores; the probe needs pairs of different similarity."
        )
    return first, second, values


def _split_probe_data(probe_data):
    if not isinstance(probe_data, (tuple, list)) or len(probe_data) != 2:
        raise DataError("probe_data must be a (pairs, scores) tuple.")
    return probe_data


def _report(before, after, examples):
    return {
        "probe": PROBE,
        "before": float(before),
        "after": float(after),
        "change": float(after) - float(before),
        "examples": int(examples),
    }


def _no_masked_tokens(count):
    return (
        f"The {count} held-out document(s) have no token to mask; the masked-LM "
        "probe needs text (a few hundred documents for a stable loss)."
    )


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
    if not hasattr(preprocessor, "sequence_length") or not hasattr(
        preprocessor, "tokenizer"
    ):
        raise BackboneError(
            f"The sentence-similarity probe needs a keras-hub text preprocessor "
            "(with a tokenizer and sequence_length), got "
            f"{type(preprocessor).__name__}."
        )
