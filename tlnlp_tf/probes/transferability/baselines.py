"""Cheap baselines beside LogME: the H-score and a k-fold linear probe."""

import numpy as np

from tlnlp_tf.errors import PolicyError
from tlnlp_tf.probes.transferability.inputs import as_features
from tlnlp_tf.probes.transferability.inputs import as_targets

# Eigenvalues of the feature covariance below this fraction of the largest are
# treated as zero by the H-score's pseudo-inverse.
H_SCORE_RCOND = 1e-10
# Ridge penalties the probe tries, times the training-fold size (the features
# are standardised, so a penalty of N weighs like one unit-variance example
# per dimension).
PROBE_PENALTIES = np.logspace(-4, 3, 8)


def h_score(features, labels):
    """H-score (Bao et al., ICIP 2019): `tr(cov(f)^-1 cov(E[f | y]))`.

    How much of the feature variance lies between the class means, in
    whitened units: from 0 (class means equal) to `classes - 1`. Classification
    only; needs more examples than feature dimensions to mean anything (with
    fewer, every feature set separates its own examples and scores
    `classes - 1`).

    Example:

    ```python
    tl.probes.h_score(features, labels)  # e.g. 0.71 for 2 classes
    ```
    """
    features = as_features(features, "The H-score")
    onehot, _ = as_targets(labels, "classification", len(features), "The H-score")
    centered = features - features.mean(axis=0)
    class_means = (onehot.T @ centered) / onehot.sum(axis=0)[:, None]
    between = class_means[onehot.argmax(axis=1)]
    count = len(features)
    cov_f = centered.T @ centered / count
    cov_g = between.T @ between / count
    inverse = np.linalg.pinv(cov_f, rcond=H_SCORE_RCOND, hermitian=True)
    return float(np.sum(inverse * cov_g))  # tr(inverse @ cov_g), both symmetric


def linear_probe(features, labels, task="classification", folds=5, seed=0):
    """Held-out score of a ridge probe on frozen features, over k folds.

    Closed-form ridge regression on standardised features (one-hot targets
    for classification, the class with the highest output wins); each fold
    picks its penalty by exact leave-one-out error on its training part.

    Returns:
        the mean held-out accuracy (classification) or R² (regression).

    Example:

    ```python
    tl.probes.linear_probe(features, labels, folds=5)  # e.g. 0.81
    ```
    """
    features = as_features(features, "The linear probe")
    targets, _ = as_targets(labels, task, len(features), "The linear probe")
    count = len(features)
    if not isinstance(folds, int) or not 2 <= folds <= count // 2:
        raise PolicyError(
            f"folds must be an integer from 2 to half the number of examples "
            f"({count // 2}), got {folds!r}."
        )
    order = np.random.default_rng(seed).permutation(count)
    scores = []
    for held_out in np.array_split(order, folds):
        train = np.setdiff1d(order, held_out)
        predicted = _ridge(features[train], targets[train], features[held_out])
        truth = targets[held_out]
        if task == "classification":
            scores.append(np.mean(predicted.argmax(axis=1) == truth.argmax(axis=1)))
        else:
            scores.append(_r2(truth, predicted))
    return float(np.mean(scores))


def _ridge(x, y, x_new):
    """Ridge predictions for `x_new`, the penalty chosen by leave-one-out on `x`."""
    mean, scale = x.mean(axis=0), x.std(axis=0)
    scale[scale == 0] = 1.0
    x = (x - mean) / scale
    y_mean = y.mean(axis=0)
    y = y - y_mean
    u, singular, vt = np.linalg.svd(x, full_matrices=False)
    uy = u.T @ y
    best, best_error = None, np.inf
    for penalty in PROBE_PENALTIES * len(x):
        shrink = singular**2 / (singular**2 + penalty)
        fitted = u @ (shrink[:, None] * uy)
        leverage = (u**2) @ shrink + 1.0 / len(x)  # the intercept's share too
        error = np.mean(
            ((y - fitted) / np.maximum(1.0 - leverage, 1e-12)[:, None]) ** 2
        )
        if error < best_error:
            best, best_error = penalty, error
    weights = vt.T @ ((singular / (singular**2 + best))[:, None] * uy)
    return ((x_new - mean) / scale) @ weights + y_mean


def _r2(truth, predicted):
    total = np.sum((truth - truth.mean(axis=0)) ** 2, axis=0)
    total[total == 0] = 1.0
    return float(np.mean(1.0 - np.sum((truth - predicted) ** 2, axis=0) / total))
