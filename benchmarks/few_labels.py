"""Few labels: contrastive few-shot (SetFit) and the solved frozen head.

    python benchmarks/few_labels.py  # SST-2, 8 and 64 per class, 5 draws
    python benchmarks/few_labels.py --dataset mrpc --per-class 8,64
    python benchmarks/few_labels.py --per-class "" --full 4000 --strategies frozen

For every size (labels per class) and draw, a stratified sample of the
training split is drawn with the draw's seed (the same sample for every
strategy), a `TextClassifier` on all-MiniLM-L6-v2 (`"minilm"`) is trained
with the library's defaults for the strategy, and it is scored on the whole
dev (or test) split. Mean ± standard deviation over the draws; the time is
the wall time of `fit` on the shared 2-core machine.

Strategies:
- `random`: the same architecture from random weights, fully trained (the floor).
- `frozen`: `freeze="all"`: the frozen backbone's mean-pooled features,
  the logistic head solved to its optimum (strength by cross-validation).
- `finetune`: everything trains (`compile()` defaults).
- `lora-8`: `freeze="lora-8"` (the best strategy at 100 labels in
  `strategies.py`).
- `setfit`: `freeze="setfit"` with its defaults: 40 contrastive pair
  iterations (80 pairs per example, at most 10,000), one epoch at 5e-5,
  then the solved head.

`random`, `finetune` and `lora-8` train for `--updates` optimizer steps at
batch 16 (at least 2 epochs), as `strategies.py` gives its smallest size
some 50 updates.

Writes `benchmarks/results/few_labels_<dataset>.json` and a section of
`benchmarks/RESULTS.md`; the saved runs of sizes not rerun are kept (run
8 and 64 labels per class as two commands).
"""

import json
import math
import os
import sys
import time

import keras
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common  # noqa: E402

import tlnlp_tf as tl  # noqa: E402

STRATEGIES = ("random", "frozen", "finetune", "lora-8", "setfit")
BATCH = 16


def read(args):
    """`(train, dev)` `Examples` of `--dataset`."""
    folder = os.path.join(args.data, args.dataset)
    if args.dataset == "sst2":
        read = lambda name: tl.data.load_table(  # noqa: E731
            os.path.join(folder, name), "sentence", "label"
        )
        return read("train.tsv"), read("dev.tsv")
    if args.dataset == "chnsenticorp":
        read = lambda name: tl.data.load_table(  # noqa: E731
            os.path.join(folder, name), "text_a", "label"
        )
        return read("train.tsv"), read("dev.tsv")
    if args.dataset == "mrpc":
        read = lambda name: tl.data.load_table(  # noqa: E731
            os.path.join(folder, name), "#1 String", "Quality", "#2 String"
        )
        return read("msr_paraphrase_train.txt"), read("msr_paraphrase_test.txt")
    raise SystemExit(f"unknown dataset {args.dataset}")


def per_class_sample(pool, count, seed):
    """`count` examples of each label, drawn with `seed` (lists of indices)."""
    rng = np.random.default_rng(seed)
    labels = np.array(pool.labels)
    chosen = []
    for label in sorted(set(pool.labels)):
        members = np.flatnonzero(labels == label)
        chosen.extend(rng.choice(members, count, replace=False).tolist())
    return sorted(chosen)


def subset(pool, indices):
    texts = [pool.texts[i] for i in indices]
    labels = [pool.labels[i] for i in indices]
    if pool.pairs is None:
        return texts, labels
    return (texts, [pool.pairs[i] for i in indices]), labels


def train_one(strategy, x, y, dev, labels, seed, args):
    keras.utils.set_random_seed(seed)
    freeze = {"random": "none", "finetune": "none"}.get(strategy, strategy)
    if strategy == "frozen":
        freeze = "all"
    model = tl.TextClassifier.from_backbone(
        args.backbone,
        labels=labels,
        freeze=freeze,
        weights="random" if strategy == "random" else "pretrained",
    )
    count = len(y)
    epochs = 1
    if strategy in ("random", "finetune", "lora-8"):
        epochs = max(2, math.ceil(args.updates / math.ceil(count / BATCH)))
    start = time.perf_counter()
    history = model.fit(x, y, batch_size=BATCH, epochs=epochs, verbose=0)
    seconds = time.perf_counter() - start
    scores = model.score(dev, batch_size=64)
    run = {
        "strategy": strategy,
        "accuracy": scores["accuracy"],
        "f1": scores["f1"],
        "train_seconds": round(seconds, 1),
        "epochs": epochs,
    }
    if hasattr(history, "solution"):
        run["head"] = {
            k: v for k, v in history.solution.items() if k in ("C", "iterations")
        }
    if hasattr(history, "pairs"):
        run["pairs"] = history.pairs
    return run


def main(argv=None):
    parser = _common.parser(__doc__, "", epochs=0)
    here = os.path.dirname(os.path.abspath(__file__))
    parser.set_defaults(data=os.path.join(here, "..", "..", "shared", "data"))
    parser.add_argument(
        "--dataset", default="sst2", choices=("sst2", "chnsenticorp", "mrpc")
    )
    parser.add_argument("--backbone", default="minilm")
    parser.add_argument("--per-class", default="8,64")
    parser.add_argument("--draws", type=int, default=5)
    parser.add_argument("--strategies", default=",".join(STRATEGIES))
    parser.add_argument("--updates", type=int, default=50)
    parser.add_argument(
        "--full",
        type=int,
        default=0,
        help="also train on a seeded sample of N training examples (not per class)",
    )
    args = parser.parse_args(argv)
    strategies = args.strategies.split(",")
    train, dev = read(args)
    names = train.label_names()
    dev.check_labels(names)
    runs = []
    sizes = [int(s) for s in args.per_class.split(",") if s]
    for size in sizes:
        for draw in range(args.draws):
            x, y = subset(train, per_class_sample(train, size, draw))
            for strategy in strategies:
                run = train_one(strategy, x, y, dev, names, draw, args)
                run.update(size=f"{size}/class", draw=draw)
                print(run, flush=True)
                runs.append(run)
                keras.backend.clear_session()
    if args.full:
        sample = train.sample(args.full, seed=0)
        x, y = subset(sample, range(len(sample)))
        for strategy in strategies:
            run = train_one(strategy, x, y, dev, names, 0, args)
            run.update(size=str(args.full), draw=0)
            print(run, flush=True)
            runs.append(run)
            keras.backend.clear_session()
    saved = os.path.join(here, "results", f"few_labels_{args.dataset}.json")
    if os.path.exists(saved):
        with open(saved) as file:
            rerun = {run["size"] for run in runs}
            kept = [r for r in json.load(file)["runs"] if r["size"] not in rerun]
        runs = kept + runs
    results = {
        "dataset": args.dataset,
        "backbone": args.backbone,
        "dev_examples": len(dev),
        "runs": runs,
    }
    _common.write_results(
        f"few_labels_{args.dataset}",
        results,
        f"Few labels: {args.dataset}, {args.backbone}, accuracy on "
        f"{len(dev)} held-out examples",
        table(runs, strategies),
        _common.command("few_labels.py", argv)
        + " (kept runs of other sizes: their own commands)",
    )


def table(runs, strategies):
    sizes = list(dict.fromkeys(run["size"] for run in runs))
    rows = [
        "| labels | " + " | ".join(strategies) + " |",
        "|---|" + "---|" * len(strategies),
    ]
    for size in sizes:
        cells = []
        for strategy in strategies:
            chosen = [
                r for r in runs if r["size"] == size and r["strategy"] == strategy
            ]
            if not chosen:
                cells.append("–")
                continue
            accuracy = np.array([r["accuracy"] for r in chosen])
            seconds = np.mean([r["train_seconds"] for r in chosen])
            spread = f" ± {accuracy.std():.3f}" if len(chosen) > 1 else ""
            cells.append(f"{accuracy.mean():.3f}{spread} ({seconds:.0f} s)")
        rows.append(f"| {size} | " + " | ".join(cells) + " |")
    rows += [
        "",
        "Mean ± standard deviation over the draws of the labelled set (each "
        "strategy sees the same draws); in brackets the mean `fit` time in "
        "seconds on the shared 2 cores (caching and the head's solve included).",
    ]
    return rows


if __name__ == "__main__":
    main()
