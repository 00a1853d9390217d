"""A linear head on fixed features, solved to its optimum (feature extraction).

With the backbone frozen, a linear classification head on cached features
is an L2-regularised logistic regression, and a linear regression head is
ridge regression: convex problems with one optimum. Instead of a few epochs
of Adam at a fine-tuning rate (which stop before the optimum), the head is
solved to convergence: full-batch L-BFGS (SciPy's `L-BFGS-B`, the solver
scikit-learn's `LogisticRegression` uses) for the logistic loss, the normal
equations for ridge. The regularisation strength is chosen by stratified
k-fold cross-validation on the training features (held-out log-loss, or
squared error for regression) over a fixed grid.

The objectives are scikit-learn's, so its results are the reference:

- two classes: `C * sum_i w_i * log(1 + exp(-s_i (x_i . v + c))) + ||v||^2 / 2`
  (one weight vector; the head's two logits are `0` and `x . v + c`);
- K > 2 classes: `C * sum_i w_i * cross_entropy(x_i W + b, y_i) + ||W||^2 / 2`
  (multinomial);
- regression: `sum_i w_i (y_i - x_i . v - c)^2 + alpha * ||v||^2`.

Biases are not penalised. SciPy is used here rather than a hand-written
L-BFGS: it is the well-kept reference implementation.

Example:

```python
import numpy as np
features = np.random.default_rng(0).normal(size=(40, 5))
labels = (features[:, 0] > 0).astype(int)
kernel, bias, info = fit_logistic(features, labels, num_classes=2, C=1.0)
kernel.shape, bias.shape, info["converged"]  # (5, 2) (2,) True
```
"""

import numpy as np
from scipy import optimize

# Inverse regularisation strengths tried by cross-validation (`C`, as in
# scikit-learn), and ridge penalties (`alpha`).
C_GRID = (0.01, 0.1, 1.0, 10.0, 100.0)
ALPHA_GRID = (0.01, 0.1, 1.0, 10.0, 100.0)
# At most this many examples choose the strength (the final fit uses all).
CV_SAMPLE = 4000
MAX_FOLDS = 5
# Gradient tolerance of the cross-validation fits (scikit-learn's default
# `tol`); the final fit is solved to `fit_logistic`'s tighter default.
CV_TOL = 1e-4


def fit_logistic(
    features, labels, num_classes, C=1.0, sample_weight=None, tol=1e-6, start=None
):
    """Solve the L2 logistic regression; `(kernel [D, K], bias [K], info)`.

    `info` has `"iterations"`, `"converged"` and `"loss"` (the objective).
    `start` is an earlier `(kernel, bias)` to start from (a warm start along
    a path of `C`s); zeros otherwise.
    """
    x = np.asarray(features, np.float64)
    y = np.asarray(labels).astype(np.int64).reshape(-1)
    w = _weights(sample_weight, len(x))
    dim = x.shape[1]
    if num_classes == 2:
        sign = np.where(y == 1, 1.0, -1.0)

        def objective(theta):
            v, c = theta[:dim], theta[dim]
            margin = sign * (x @ v + c)
            loss = np.logaddexp(0.0, -margin)
            # d/dmargin log(1 + e^-m) = -sigmoid(-m)
            g = -w * sign * _sigmoid(-margin)
            value = C * np.dot(w, loss) + 0.5 * np.dot(v, v)
            grad = np.concatenate([C * (x.T @ g) + v, [C * g.sum()]])
            return value, grad

        begin = np.zeros(dim + 1)
        if start is not None:
            begin = np.concatenate([start[0][:, 1], start[1][1:]])
        theta, info = _minimise(objective, begin, tol, C * w.sum())
        kernel = np.zeros((dim, 2))
        kernel[:, 1] = theta[:dim]
        bias = np.array([0.0, theta[dim]])
        return kernel, bias, info
    onehot = np.eye(num_classes)[y]

    def objective(theta):
        kernel = theta[: dim * num_classes].reshape(dim, num_classes)
        bias = theta[dim * num_classes :]
        logits = x @ kernel + bias
        logits -= logits.max(axis=1, keepdims=True)
        log_norm = np.log(np.exp(logits).sum(axis=1, keepdims=True))
        log_p = logits - log_norm
        value = -C * np.dot(w, (onehot * log_p).sum(axis=1))
        value += 0.5 * np.sum(kernel * kernel)
        g = C * w[:, None] * (np.exp(log_p) - onehot)
        grad = np.concatenate([(x.T @ g + kernel).reshape(-1), g.sum(axis=0)])
        return value, grad

    begin = np.zeros(dim * num_classes + num_classes)
    if start is not None:
        begin = np.concatenate([np.reshape(start[0], -1), start[1]])
    theta, info = _minimise(objective, begin, tol, C * w.sum())
    kernel = theta[: dim * num_classes].reshape(dim, num_classes)
    return kernel, theta[dim * num_classes :], info


def fit_ridge(features, targets, alpha=1.0, sample_weight=None):
    """Solve weighted ridge regression exactly; `(kernel [D, 1], bias [1], info)`."""
    x = np.asarray(features, np.float64)
    y = np.asarray(targets, np.float64).reshape(-1)
    w = _weights(sample_weight, len(x))
    total = w.sum()
    x_mean = (w @ x) / total
    y_mean = np.dot(w, y) / total
    xc, yc = x - x_mean, y - y_mean
    gram = xc.T @ (w[:, None] * xc) + alpha * np.eye(x.shape[1])
    v = np.linalg.solve(gram, xc.T @ (w * yc))
    c = y_mean - x_mean @ v
    residual = y - x @ v - c
    loss = float(np.dot(w, residual**2) + alpha * np.dot(v, v))
    return v[:, None], np.array([c]), {"iterations": 1, "converged": True, "loss": loss}


def choose_C(features, labels, num_classes, sample_weight=None, seed=0):
    """The `C_GRID` value with the lowest cross-validated log-loss.

    `1.0` (scikit-learn's default) when some class has fewer than two
    examples: there is nothing to hold out. Each fold walks the grid from
    the strongest penalty up, starting from the previous solution, to
    scikit-learn's default tolerance (`CV_TOL`); the walk stops once the
    held-out loss rises, before the weakest penalties (the slowest fits).
    """
    y = np.asarray(labels).astype(np.int64).reshape(-1)
    folds = _folds(y, seed)
    if folds is None:
        return 1.0
    x = np.asarray(features, np.float64)
    w = _weights(sample_weight, len(x))
    scores = []
    previous = [None] * len(folds)
    for C in C_GRID:
        if len(scores) >= 2 and scores[-1] > scores[-2]:
            break  # the held-out loss rose: weaker penalties only overfit more
        loss = 0.0
        for i, held in enumerate(folds):
            kept = np.concatenate(folds[:i] + folds[i + 1 :])
            kernel, bias, _ = fit_logistic(
                x[kept], y[kept], num_classes, C, w[kept], CV_TOL, previous[i]
            )
            previous[i] = (kernel, bias)
            logits = x[held] @ kernel + bias
            logits -= logits.max(axis=1, keepdims=True)
            log_p = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
            loss -= np.dot(w[held], log_p[np.arange(len(held)), y[held]])
        scores.append(loss)
    return C_GRID[int(np.argmin(scores))]


def choose_alpha(features, targets, sample_weight=None, seed=0):
    """The `ALPHA_GRID` value with the lowest cross-validated squared error."""
    y = np.asarray(targets, np.float64).reshape(-1)
    if len(y) < 4:
        return 1.0
    x = np.asarray(features, np.float64)
    w = _weights(sample_weight, len(x))
    order = _sample(len(y), seed)
    folds = list(np.array_split(order, min(MAX_FOLDS, len(order) // 2)))
    scores = []
    for alpha in ALPHA_GRID:
        error = 0.0
        for i, held in enumerate(folds):
            kept = np.concatenate(folds[:i] + folds[i + 1 :])
            kernel, bias, _ = fit_ridge(x[kept], y[kept], alpha, w[kept])
            residual = y[held] - (x[held] @ kernel[:, 0] + bias[0])
            error += np.dot(w[held], residual**2)
        scores.append(error)
    return ALPHA_GRID[int(np.argmin(scores))]


def _minimise(objective, start, tol, scale):
    """L-BFGS-B on `objective / scale` (scikit-learn scales its loss by the
    number of examples too), so `tol` does not depend on `C` or the data size."""

    def scaled(theta):
        value, grad = objective(theta)
        return value / scale, grad / scale

    result = optimize.minimize(
        scaled,
        start,
        jac=True,
        method="L-BFGS-B",
        options={"maxiter": 2000, "gtol": tol, "ftol": 1e-12},
    )
    info = {
        "iterations": int(result.nit),
        "converged": bool(result.success),
        "loss": float(result.fun * scale),
    }
    return result.x, info


def _folds(y, seed):
    """Stratified folds (index arrays) over a sample of at most `CV_SAMPLE`."""
    order = _sample(len(y), seed)
    counts = np.bincount(y[order])
    smallest = counts[counts > 0].min()
    if smallest < 2 or len(np.unique(y)) > len(np.unique(y[order])):
        return None
    k = int(min(MAX_FOLDS, smallest))
    folds = [[] for _ in range(k)]
    for label in np.unique(y[order]):
        for i, index in enumerate(order[y[order] == label]):
            folds[i % k].append(index)
    return [np.array(sorted(fold)) for fold in folds]


def _sample(count, seed):
    order = np.random.default_rng(seed).permutation(count)
    return order[:CV_SAMPLE]


def _weights(sample_weight, count):
    if sample_weight is None:
        return np.ones(count)
    return np.asarray(sample_weight, np.float64).reshape(-1)


def _sigmoid(z):
    return np.exp(-np.logaddexp(0.0, -z))
