"""LogME: the log marginal evidence of a Bayesian linear model on frozen features.

You, Liu, Wang and Long, "LogME: Practical Assessment of Pre-trained Models
for Transfer Learning", ICML 2021 (Algorithm 1). For each target column `y`
(one one-hot column per class, or each regression target) the model is
`y = F w + noise`, `w ~ N(0, I / alpha)`, `noise ~ N(0, 1 / beta)`. The
evidence `p(y | F, alpha, beta)` is maximised over `alpha` and `beta` by
MacKay's fixed-point iteration, computed through one SVD of `F`:

    L = N/2 log beta + D/2 log alpha - N/2 log 2 pi - beta/2 |F m - y|^2
        - alpha/2 m^T m - 1/2 log |A|,
    A = alpha I + beta F^T F,   m = beta A^-1 F^T y,
    gamma = sum_i beta s_i / (alpha + beta s_i)   (s_i: eigenvalues of F^T F),
    alpha <- gamma / m^T m,   beta <- (N - gamma) / |F m - y|^2.

The score is `L / N` averaged over the target columns.
"""

import numpy as np

from tlnlp_tf.errors import DataError
from tlnlp_tf.probes.transferability.inputs import as_features
from tlnlp_tf.probes.transferability.inputs import as_targets

# The iteration stops when alpha / beta changes by less than this, relatively
# (the reference code's 1e-3 leaves the evidence a few 1e-4 off its maximum).
TOLERANCE = 1e-10
MAX_ITERATIONS = 1000
# alpha / beta beyond these multiples of the largest eigenvalue of F^T F is a
# boundary optimum (the features ignored, or the targets interpolated): the
# evidence has converged there and the iteration stops.
RATIO_LIMIT = 1e12


def logme(features, labels, task="classification"):
    """LogME of frozen features for a target: higher means an easier transfer.

    The log evidence per example (usually negative; comparable only between
    feature sets scored on the same examples and labels), averaged over the
    target columns. Works with fewer or more examples than dimensions.

    Args:
        features: `[examples, dimensions]` array, e.g. from `extract_features`.
        labels: one label per example (any values; classification) or
            `[examples]` / `[examples, targets]` numbers (regression).
        task: `"classification"` or `"regression"`.

    Example:

    ```python
    features = tl.probes.extract_features("minilm", texts)
    tl.probes.logme(features, labels)  # e.g. -0.61
    ```
    """
    features = as_features(features, "LogME")
    targets, _ = as_targets(labels, task, len(features), "LogME")
    return float(np.mean(log_evidences(features, targets)))


def log_evidences(features, targets):
    """The maximised log evidence per example of each column of `targets`."""
    if not np.any(features):
        raise DataError(
            "LogME: the features are all zero; a linear model on them explains "
            "nothing (check the backbone and the layer)."
        )
    empty = np.flatnonzero(~targets.any(axis=0))
    if len(empty):
        raise DataError(
            f"LogME: target column {int(empty[0])} is all zero; a zero target has no "
            "evidence maximum (drop that column)."
        )
    count = features.shape[0]
    u, singular, _ = np.linalg.svd(features, full_matrices=False)
    sigma = singular**2  # the min(N, D) largest eigenvalues of F^T F; the rest are 0
    projected = (u.T @ targets) ** 2
    # |y|^2 outside the column space of F: residual no weight can reduce.
    outside = np.maximum((targets**2).sum(axis=0) - projected.sum(axis=0), 0.0)
    return np.array(
        [
            _evidence(sigma, projected[:, j], outside[j], count)
            for j in range(targets.shape[1])
        ]
    )


def _evidence(sigma, x2, outside, count):
    bounds = (sigma.max() / RATIO_LIMIT, sigma.max() * RATIO_LIMIT)
    alpha, beta = 1.0, 1.0
    for _ in range(MAX_ITERATIONS):
        ratio = alpha / beta
        gamma, slack, m2, res2 = _statistics(sigma, x2, outside, count, ratio)
        with np.errstate(over="ignore", invalid="ignore"):
            new_alpha, new_beta = gamma / _floor(m2), slack / _floor(res2)
            new_ratio = new_alpha / new_beta
        if not bounds[0] <= new_ratio <= bounds[1]:
            # The evidence has its limit there: take beta's optimum at the bound.
            ratio = float(np.clip(np.nan_to_num(new_ratio, nan=bounds[1]), *bounds))
            _, _, m2, res2 = _statistics(sigma, x2, outside, count, ratio)
            beta = count / _floor(res2 + ratio * m2)
            alpha = ratio * beta
            break
        alpha, beta = new_alpha, new_beta
        if abs(new_ratio - ratio) <= TOLERANCE * ratio:
            break
    ratio = alpha / beta
    _, _, m2, res2 = _statistics(sigma, x2, outside, count, ratio)
    # D/2 log alpha - 1/2 log|A| = -1/2 sum log(1 + s_i / ratio): the
    # D - min(N, D) zero eigenvalues of F^T F contribute log alpha each.
    evidence = (
        count / 2 * np.log(beta)
        - count / 2 * np.log(2 * np.pi)
        - beta / 2 * res2
        - alpha / 2 * m2
        - 0.5 * np.sum(np.log1p(sigma / ratio))
    )
    return evidence / count


def _statistics(sigma, x2, outside, count, ratio):
    """gamma, N - gamma, m^T m and |F m - y|^2 at alpha / beta = `ratio`."""
    shrink = ratio / (sigma + ratio)  # 1 - beta s_i / (alpha + beta s_i)
    gamma = np.sum(1.0 - shrink)
    slack = (count - len(sigma)) + np.sum(shrink)  # N - gamma, without cancellation
    m2 = np.sum(sigma * x2 / (sigma + ratio) ** 2)
    res2 = np.sum(x2 * shrink**2) + outside
    return gamma, slack, m2, res2


def _floor(value):
    return max(value, np.finfo(np.float64).tiny)
