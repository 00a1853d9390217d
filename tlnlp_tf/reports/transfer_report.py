"""What pretraining buys on your own data: accuracy against the number of labels.

`transfer_report` trains a `TextClassifier` for each label budget and
strategy over a few seeds (a stratified sample of the training examples
per seed, the same sample for every strategy), scores it on the validation
examples, and says at each budget how much the best pretrained strategy
gains over the same architecture trained from random weights.

Strategies (the library's defaults for each):
- `"random"`: random weights, fully trained: the no-transfer floor;
- `"frozen"`: feature extraction, the head solved to its optimum;
- `"finetune"`: everything trains;
- `"setfit"`: contrastive few-shot fine-tuning, then the solved head;
- `"lora-8"`: rank-8 LoRA factors and the head;
- `"l2sp"`: everything trains, pulled toward the pretrained weights by
  `tl.L2SP(alpha=0.01, beta=0.01)` (Li et al., 2018).

`"random"`, `"finetune"`, `"lora-8"` and `"l2sp"` take `updates` optimizer steps
(at least 2 epochs); the others need no epoch count.

Example:

```python
train = tl.data.load_table("train.tsv", "sentence", "label")
valid = tl.data.load_table("dev.tsv", "sentence", "label")
report = tl.transfer_report(train, valid, budgets=(16, 64), seeds=2,
                                   output="report")  # report.json, learning_curve.png
report["gain"]  # {"16": …, "64": …}: best pretrained minus random, in accuracy
```
"""

import json
import math
import os
import time

import keras
import numpy as np

from tlnlp_tf.data.examples import Examples
from tlnlp_tf.errors import DataError
from tlnlp_tf.errors import PolicyError
from tlnlp_tf.tasks.text_classifier import TextClassifier
from tlnlp_tf.training.regularizers import L2SP

STRATEGIES = ("random", "frozen", "finetune", "setfit", "lora-8", "l2sp")
EPOCH_STRATEGIES = ("random", "finetune", "lora-8", "l2sp")
DEFAULT_STRATEGIES = ("random", "frozen", "finetune", "setfit")
BATCH_SIZE = 16
UPDATES = 50


def transfer_report(
    train,
    validation,
    budgets=(16, 64, 256),
    strategies=DEFAULT_STRATEGIES,
    seeds=3,
    backbone="minilm",
    updates=UPDATES,
    output=None,
    verbose=True,
    extra_examples=None,
    max_length=None,
):
    """Train every strategy at every label budget; returns the report (a dict).

    Args:
        train, validation: labelled `tl.data.Examples` (texts or text pairs).
        budgets: numbers of labelled examples (split evenly over the labels),
            or `"all"`.
        strategies: some of `STRATEGIES`.
        seeds: the number of draws (and training seeds) per budget, or a
            list of the seeds themselves (`seeds=[3]`: the fourth draw).
        backbone: a backbone spec (`tl.load_backbone`).
        updates: optimizer steps of the strategies that train for epochs.
        output: a folder for `report.json` and `learning_curve.png`, or `None`.
        verbose: print one line per run.
        extra_examples: `Examples` that every strategy also trains on, at
            every budget, not counted in it: the sentences that name the
            labels (`tl.data.templated_examples`), say.
        max_length: the tokens per text (or pair) every model reads; `None`
            (default): each model chooses it from its training draw, up to
            the backbone's limit. Longer validation texts are cut, with a
            warning; each run records its `max_length`.

    Returns:
        `{"runs": [...], "table": {budget: {strategy: {"mean", "std",
        "seconds"}}}, "gain": {budget: accuracy}, ...}`.

    Example:

    ```python
    train = tl.data.load_table("train.tsv", "sentence", "label")
    valid = tl.data.load_table("dev.tsv", "sentence", "label")
    report = transfer_report(train, valid, budgets=(8,), seeds=1,
                             strategies=("random", "frozen"))
    report["table"]["8"]["frozen"]["mean"]  # validation accuracy, 8 labels
    ```
    """
    names = train.label_names()
    validation.check_labels(names)
    budgets = check_budgets(budgets, train, names, strategies)
    unknown = [s for s in strategies if s not in STRATEGIES]
    if unknown:
        raise PolicyError(
            f"Unknown strategies {unknown}; choose from {', '.join(STRATEGIES)}."
        )
    if output is not None:
        _check_plotting()
    seeds = _seed_list(seeds)
    _check_max_length(max_length)
    extra = _check_extra(extra_examples, train, names)
    runs = []
    for budget in budgets:
        for seed in seeds:
            x, y = labelled_subset(train, draw_budget(train, budget, names, seed))
            drawn = len(y)  # the budget's examples, without `extra`
            if extra is not None:
                x, y = _joined(x, y, extra)
            for strategy in strategies:
                run = _train_one(
                    strategy,
                    x,
                    y,
                    validation,
                    names,
                    seed,
                    backbone,
                    updates,
                    max_length,
                )
                run.update(budget=str(budget), seed=seed, examples=drawn)
                if verbose:
                    print(json.dumps(run), flush=True)
                runs.append(run)
                keras.backend.clear_session()
    report = {
        "backbone": backbone,
        "train_examples": len(train),
        "validation_examples": len(validation),
        "labels": names,
        "budgets": [str(b) for b in budgets],
        "strategies": list(strategies),
        "seeds": seeds,
        "extra_examples": 0 if extra is None else len(extra),
        "max_length": max_length,
        "runs": runs,
        "table": _table(runs),
    }
    report["gain"] = _gain(report["table"])
    if output is not None:
        os.makedirs(output, exist_ok=True)
        with open(os.path.join(output, "report.json"), "w") as file:
            json.dump(report, file, indent=2)
        plot_learning_curve(report, os.path.join(output, "learning_curve.png"))
    return report


def _check_extra(extra, train, names):
    """`extra_examples` checked: labelled `Examples` of `names`, pairs iff
    `train` has pairs."""
    if extra is None:
        return None
    if not isinstance(extra, Examples) or extra.labels is None:
        raise DataError(
            "extra_examples: expected labelled tl.data.Examples (such as "
            f"tl.data.templated_examples(...)), got {type(extra).__name__}."
        )
    if (extra.pairs is None) != (train.pairs is None):
        raise DataError(
            f"extra_examples ({extra.source}): "
            + (
                "no second texts, but the training examples are pairs."
                if extra.pairs is None
                else "text pairs, but the training examples are single texts."
            )
        )
    extra.check_labels(names)
    return extra


def _joined(x, y, extra):
    """The drawn `(x, y)` of `labelled_subset` followed by `extra`'s examples."""
    if isinstance(x, tuple):
        return (x[0] + extra.texts, x[1] + extra.pairs), y + extra.labels
    return x + extra.texts, y + extra.labels


def _seed_list(seeds):
    """`seeds` as a list: `range(seeds)` for a count, else the seeds given."""
    if isinstance(seeds, (int, np.integer)):
        if seeds < 1:
            raise PolicyError(f"seeds={seeds}: expected at least 1 draw.")
        return list(range(int(seeds)))
    seeds = [int(seed) for seed in seeds]
    if not seeds:
        raise PolicyError("seeds=[]: expected at least 1 seed.")
    return seeds


def check_budgets(budgets, train, names, strategies=()):
    """Budgets as ints (or `"all"`), each checked against the data: a `DataError`
    names the budget that is larger than the data or smaller than the labels."""
    checked = []
    for budget in budgets:
        if budget == "all":
            checked.append("all")
            continue
        try:
            budget = int(budget)
        except (TypeError, ValueError):
            raise DataError(
                f"Label budget {budget!r}: expected a number of examples or 'all'."
            ) from None
        if budget < len(names):
            raise DataError(
                f"Label budget {budget} is below the number of labels "
                f"({len(names)}): every label needs an example."
            )
        if budget > len(train):
            raise DataError(
                f"Label budget {budget} is larger than the training data "
                f"({len(train)} examples)."
            )
        per_label = budget // len(names)
        counts = {n: 0 for n in names}
        for label in train.labels:
            counts[str(label)] += 1
        short = [n for n, c in counts.items() if c < per_label]
        if short:
            raise DataError(
                f"Label budget {budget} takes {per_label} examples of each label; "
                f"label '{short[0]}' has {counts[short[0]]} in the training data."
            )
        if "setfit" in strategies and per_label < 2:
            raise DataError(
                f"Label budget {budget}: contrastive training ('setfit') needs at "
                f"least 2 examples of each label, the budget gives {per_label}."
            )
        checked.append(budget)
    return checked


def plot_learning_curve(report, path):
    """Accuracy against the number of labels, one line per strategy (a PNG)."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    figure, axes = pyplot.subplots(figsize=(6, 4))
    budgets = report["budgets"]
    positions = [report["train_examples"] if b == "all" else int(b) for b in budgets]
    for strategy in report["strategies"]:
        cells = [report["table"][b].get(strategy) for b in budgets]
        means = [c["mean"] if c else np.nan for c in cells]
        spread = [c["std"] if c else np.nan for c in cells]
        axes.errorbar(
            positions, means, yerr=spread, marker="o", capsize=3, label=strategy
        )
    axes.set_xscale("log")
    axes.set_xticks(positions, [str(b) for b in budgets])
    axes.set_xticks([], minor=True)  # the log scale's minor labels overlap them
    axes.set_xlabel("labelled examples")
    axes.set_ylabel("validation accuracy")
    axes.set_title(f"Transfer from {report['backbone']}")
    axes.grid(alpha=0.3)
    axes.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    pyplot.close(figure)


def _check_plotting():
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise PolicyError(
            "The learning curve needs matplotlib: pip install 'tlnlp_tf[plots]' "
            "(or call transfer_report without output=...)."
        ) from None


def draw_budget(train, budget, names, seed):
    """Indices of `budget // len(names)` examples of each label in `names`,
    drawn with `seed` (every index for `"all"`): a report's labelled sample."""
    if budget == "all":
        return list(range(len(train)))
    rng = np.random.default_rng(seed)
    labels = np.array([str(label) for label in train.labels])
    chosen = []
    for name in names:
        members = np.flatnonzero(labels == name)
        chosen.extend(rng.choice(members, budget // len(names), replace=False))
    return sorted(int(i) for i in chosen)


def labelled_subset(train, indices):
    """`(texts or (texts, pairs), labels)` of `train` at `indices`, for `fit`."""
    texts = [train.texts[i] for i in indices]
    labels = [train.labels[i] for i in indices]
    if train.pairs is None:
        return texts, labels
    return (texts, [train.pairs[i] for i in indices]), labels


def _check_max_length(max_length):
    if max_length is None:
        return
    if isinstance(max_length, bool) or not isinstance(max_length, int):
        raise PolicyError(
            f"max_length must be a whole number of tokens or None, got {max_length!r}."
        )
    if max_length < 4:
        raise PolicyError(
            f"max_length={max_length} leaves no room for a text: expected at least 4 "
            "tokens (the special tokens count)."
        )


def _train_one(strategy, x, y, validation, names, seed, backbone, updates, max_length):
    keras.utils.set_random_seed(seed)
    freeze = {"frozen": "all", "random": "none", "finetune": "none", "l2sp": "none"}
    freeze = freeze.get(strategy, strategy)
    model = TextClassifier.from_backbone(
        backbone,
        labels=names,
        freeze=freeze,
        weights="random" if strategy == "random" else "pretrained",
        max_length=max_length,
    )
    if strategy == "l2sp":
        L2SP().apply(model)  # its defaults, 0.01 and 0.01: strategies.py's best at 500
    epochs = 1
    if strategy in EPOCH_STRATEGIES:
        epochs = max(2, math.ceil(updates / math.ceil(len(y) / BATCH_SIZE)))
    start = time.perf_counter()
    history = model.fit(x, y, batch_size=BATCH_SIZE, epochs=epochs, verbose=0)
    seconds = time.perf_counter() - start
    scores = model.score(validation)
    run = {
        "strategy": strategy,
        "examples": len(y),
        "accuracy": scores["accuracy"],
        "f1": scores["f1"],
        "epochs": epochs,
        "max_length": model.sequence_length(),
        "train_seconds": round(seconds, 2),
    }
    if hasattr(history, "solution"):  # the solved head: its strength and times
        run["head"] = {
            k: v for k, v in history.solution.items() if k in ("C", "seconds")
        }
    return run


def _table(runs):
    table = {}
    for run in runs:
        cell = table.setdefault(run["budget"], {}).setdefault(run["strategy"], [])
        cell.append(run)
    return {
        budget: {
            strategy: {
                "mean": round(float(np.mean([r["accuracy"] for r in chosen])), 4),
                "std": round(float(np.std([r["accuracy"] for r in chosen])), 4),
                "seconds": round(
                    float(np.mean([r["train_seconds"] for r in chosen])), 1
                ),
            }
            for strategy, chosen in strategies.items()
        }
        for budget, strategies in table.items()
    }


def _gain(table):
    """Per budget: the best pretrained strategy's mean accuracy minus random's."""
    gain = {}
    for budget, cells in table.items():
        pretrained = [c["mean"] for s, c in cells.items() if s != "random"]
        if "random" in cells and pretrained:
            gain[budget] = round(max(pretrained) - cells["random"]["mean"], 4)
    return gain
