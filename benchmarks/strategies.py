"""Transfer strategies on SST-2 with 100, 500 and 2,000 labels: the transfer-gain curve.

    python benchmarks/strategies.py  # all strategies, sizes, 3 seeds
    python benchmarks/strategies.py --sizes 100 --seeds 0 --strategies finetune,lora-8
    # rerun one row, keep the rest:
    python benchmarks/strategies.py --strategies lora-8 --update

Every run fine-tunes all-MiniLM-L6-v2 (`"minilm"`) as a `TextClassifier`
with the library's defaults (mean pooling, AdamW with 10% warmup and
linear decay, the peak rate `compile(learning_rate="auto")` picks for the
strategy), on the same seeded sample of SST-2 train (`--sample-seed`), fed
the way `tlnlp fit` feeds it (tokenized once, batched as
`tl.data.choose_batching` picks: similar lengths from 100 batches per epoch),
and is scored on the full 872-sentence dev set. Only the training seed
(shuffle, dropout, head initialisation) changes between the seeds of a row.

Strategies:
- `random`: the same architecture from random weights, fully trained (the floor).
- `frozen`: feature extraction (`freeze="all"`): the head on features the
  frozen backbone computes once.
- `bottom-3`: embeddings and the first 3 of 6 transformer layers frozen.
- `finetune`: everything trains.
- `gradual`: `GradualUnfreezing` (ULMFiT), one more layer group per epoch
  from the top; with fewer epochs than groups, the bottom never trains.
- `gradual-steps`: `GradualUnfreezing(every_steps=N)`, N chosen so that all 7
  groups (6 layers, embeddings) are open by the middle of training.
- `layer-decay`: layer-wise learning-rate decay 0.8 (`compile(layer_decay=0.8)`).
- `lora-8`: `freeze="lora-8"`, rank-8 LoRA on the query and value projections,
  and the head.
- `l2sp`: fine-tune with `L2SP(alpha=0.01, beta=0.01)` toward the pretrained weights.

Epochs grow as the data shrinks (`--epochs-per-size`, default 100:8,
500:4, 2000:2) so that even 100 labels get some 50 updates at batch 16.

The forgetting column (issue 6): after training on the largest size, the
backbone's zero-shot STS-B Spearman (`tl.probes.sentence_similarity_probe`,
mean-pooled embeddings, `--forgetting-pairs` dev pairs) against the
pretrained backbone's.

Writes `benchmarks/results/strategies.json`, a table in
`benchmarks/RESULTS.md` and `benchmarks/results/strategies.png` (dev
accuracy against the number of labels).
"""

import json
import os
import sys
import time

import keras
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common  # noqa: E402

import tlnlp_tf as tl  # noqa: E402
from tlnlp_tf.backbones.freezing import parameter_counts  # noqa: E402

STRATEGIES = (
    "random",
    "frozen",
    "bottom-3",
    "finetune",
    "gradual",
    "gradual-steps",
    "layer-decay",
    "lora-8",
    "l2sp",
)
LAYER_DECAY = 0.8
L2SP_ALPHA, L2SP_BETA = 0.01, 0.01


def main(argv=None):
    parser = _common.parser(__doc__, "", epochs=0)
    here = os.path.dirname(os.path.abspath(__file__))
    parser.set_defaults(
        data=os.path.join(here, "..", "..", "shared", "data"), batch_size=16
    )
    parser.add_argument("--strategies", default=",".join(STRATEGIES))
    parser.add_argument("--sizes", default="100,500,2000")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument(
        "--sample-seed",
        type=int,
        default=0,
        help="seed of the training sample (the same for every run)",
    )
    parser.add_argument("--epochs-per-size", default="100:8,500:4,2000:2")
    parser.add_argument(
        "--forgetting-pairs",
        type=int,
        default=500,
        help="STS-B dev pairs of the forgetting probe (0: no probe)",
    )
    parser.add_argument(
        "--update",
        action="store_true",
        help="rerun only --strategies and keep the other strategies' runs "
        "from benchmarks/results/strategies.json (same sizes, seeds, "
        "epochs and batch size)",
    )
    args = parser.parse_args(argv)
    strategies = args.strategies.split(",")
    unknown = [s for s in strategies if s not in STRATEGIES]
    if unknown:
        parser.error(
            f"unknown strategies {unknown}; expected some of {', '.join(STRATEGIES)}"
        )
    sizes = [int(s) for s in args.sizes.split(",")]
    seeds = [int(s) for s in args.seeds.split(",")]
    epochs = {
        int(k): int(v)
        for k, v in (item.split(":") for item in args.epochs_per_size.split(","))
    }

    sst2 = os.path.join(args.data, "sst2")
    pool = tl.data.load_table(os.path.join(sst2, "train.tsv"), "sentence", "label")
    dev = tl.data.load_table(os.path.join(sst2, "dev.tsv"), "sentence", "label")
    probe = forgetting_probe(args)

    runs = []
    for size in sizes:
        train = pool.sample(size, seed=args.sample_seed)
        for strategy in strategies:
            for seed in seeds:
                run = train_one(
                    strategy,
                    train,
                    dev,
                    epochs.get(size, 2),
                    seed,
                    args,
                    probe if size == max(sizes) else None,
                )
                run.update(size=size, seed=seed)
                print(run, flush=True)
                runs.append(run)
                keras.backend.clear_session()
    before = probe and probe["before"]
    if args.update:
        kept, before = kept_runs(here, strategies, sizes, seeds, epochs, args)
        runs = kept + runs
        strategies = [s for s in STRATEGIES if any(r["strategy"] == s for r in runs)]
    results = {
        "sizes": sizes,
        "seeds": seeds,
        "epochs": epochs,
        "batch_size": args.batch_size,
        "forgetting_before": before,
        "runs": runs,
        "table": summarize(runs, strategies, sizes),
    }
    plot(results, os.path.join(here, "results", "strategies.png"))
    _common.write_results(
        "strategies",
        results,
        "Transfer strategies on SST-2 (MiniLM): dev accuracy by number of labels",
        table(results, strategies, sizes, args),
        _common.command("strategies.py", argv),
    )


def kept_runs(here, strategies, sizes, seeds, epochs, args):
    """The saved runs of the strategies not rerun, and the saved probe baseline
    (`--update`)."""
    with open(os.path.join(here, "results", "strategies.json")) as file:
        saved = json.load(file)
    same = {
        "sizes": sizes,
        "seeds": seeds,
        "batch_size": args.batch_size,
        "epochs": {str(k): v for k, v in epochs.items()},
    }
    differ = [key for key, value in same.items() if saved[key] != value]
    if differ:
        raise SystemExit(
            f"--update: the saved results differ in {differ}; rerun everything."
        )
    kept = [run for run in saved["runs"] if run["strategy"] not in strategies]
    return kept, saved["forgetting_before"]


def forgetting_probe(args):
    if not args.forgetting_pairs:
        return None
    stsb = tl.data.load_table(
        os.path.join(args.data, "stsb", "dev.tsv"),
        "sentence1",
        "score",
        text_pair="sentence2",
    )
    stsb = stsb.sample(args.forgetting_pairs, seed=0)
    pairs = list(zip(stsb.texts, stsb.pairs))
    scores = [float(s) for s in stsb.labels]
    backbone, preprocessor = tl.load_backbone("minilm")
    before = tl.probes.sentence_similarity_probe(backbone, preprocessor, pairs, scores)
    keras.backend.clear_session()
    return {"pairs": pairs, "scores": scores, "before": round(float(before), 4)}


def train_one(strategy, train, dev, epochs, seed, args, probe):
    keras.utils.set_random_seed(seed)
    freeze = {"frozen": "all", "bottom-3": "bottom-3", "lora-8": "lora-8"}.get(
        strategy, "none"
    )
    model = tl.TextClassifier.from_backbone(
        "minilm",
        labels=train.label_names(),
        weights="random" if strategy == "random" else "pretrained",
        freeze=freeze,
    )
    callbacks = []
    if strategy == "layer-decay":
        model.compile(layer_decay=LAYER_DECAY)
    if strategy == "gradual":
        callbacks.append(tl.GradualUnfreezing(verbose=False))
    if strategy == "gradual-steps":  # every group open by the middle of training
        steps = epochs * -(-len(train) // args.batch_size)
        groups = (
            len(tl.backbones.layer_groups(model.backbone)) - 1
        )  # the unused pooler never opens
        callbacks.append(
            tl.GradualUnfreezing(
                every_steps=max(1, steps // (2 * groups)), verbose=False
            )
        )
    if strategy == "l2sp":
        tl.L2SP(alpha=L2SP_ALPHA, beta=L2SP_BETA).apply(model)
    start = time.perf_counter()
    tokens = model.tokenize_once(train.to_dataset())
    data = tl.data.training_batches(tokens, args.batch_size, seed=seed)
    model.fit(data, epochs=epochs, callbacks=callbacks, verbose=0)
    seconds = time.perf_counter() - start
    predicted = model.predict(dev.texts, batch_size=64, verbose=0)["label"]
    accuracy = float(np.mean([str(p) == str(t) for p, t in zip(predicted, dev.labels)]))
    counts = parameter_counts(model)
    if strategy.startswith(
        "gradual"
    ):  # what trained by the end (the callback's last change)
        counts = {"trainable": callbacks[0].log[-1][2], "total": counts["total"]}
    run = {
        "strategy": strategy,
        "epochs": epochs,
        "dev_accuracy": round(accuracy, 4),
        "trainable_params": int(counts["trainable"]),
        "total_params": int(counts["total"]),
        "learning_rate": model.default_learning_rate(),
        "train_seconds": round(seconds, 1),
    }
    if probe is not None and strategy != "random":
        after = tl.probes.sentence_similarity_probe(
            model.backbone, model.preprocessor, probe["pairs"], probe["scores"]
        )
        run["forgetting_after"] = round(float(after), 4)
    return run


def summarize(runs, strategies, sizes):
    """Per strategy and size: mean and std of dev accuracy over the seeds."""
    rows = []
    for strategy in strategies:
        for size in sizes:
            some = [r for r in runs if r["strategy"] == strategy and r["size"] == size]
            if not some:
                continue
            accuracy = [r["dev_accuracy"] for r in some]
            after = [r["forgetting_after"] for r in some if "forgetting_after" in r]
            rows.append(
                {
                    "strategy": strategy,
                    "size": size,
                    "n": len(some),
                    "mean": round(float(np.mean(accuracy)), 4),
                    "std": round(float(np.std(accuracy)), 4),
                    "trainable_params": some[0]["trainable_params"],
                    "total_params": some[0]["total_params"],
                    "train_seconds": round(
                        float(np.mean([r["train_seconds"] for r in some])), 1
                    ),
                    "forgetting_after": round(float(np.mean(after)), 4)
                    if after
                    else None,
                }
            )
    return rows


def table(results, strategies, sizes, args):
    by = {(r["strategy"], r["size"]): r for r in results["table"]}
    head = (
        "| strategy | trainable params | "
        + " | ".join(f"{s} labels: dev acc (mean ± std)" for s in sizes)
        + f" | train s ({max(sizes)}) | STS-B zero-shot after ({max(sizes)}) |"
    )
    rows = [
        "SST-2 dev accuracy (872 sentences), MiniLM `TextClassifier` defaults, batch "
        f"{results['batch_size']}, epochs per size {results['epochs']}, "
        f"{len(results['seeds'])} training seeds (seeds {results['seeds']}) on one "
        f"training sample per size (sample seed {args.sample_seed}). The last column "
        "is the forgetting probe: zero-shot STS-B Spearman of the fine-tuned backbone "
        f"(pretrained MiniLM: {results['forgetting_before']}).",
        "",
        head,
        "|" + "---|" * (len(sizes) + 4),
    ]
    for strategy in strategies:
        cells = []
        for size in sizes:
            row = by.get((strategy, size))
            cells.append(
                "–" if row is None else f"{row['mean']:.4f} ± {row['std']:.4f}"
            )
        last = by.get((strategy, max(sizes))) or {}
        first = next((by[(strategy, s)] for s in sizes if (strategy, s) in by), {})
        params = first.get("trainable_params")
        share = (
            f"{params:,} ({100 * params / first['total_params']:.2f}%)"
            if params
            else "–"
        )
        after = last.get("forgetting_after")
        rows.append(
            f"| {strategy} | {share} | "
            + " | ".join(cells)
            + f" | {last.get('train_seconds', '–')} | "
            + ("–" if after is None else f"{after:.4f}")
            + " |"
        )
    rows += ["", "![accuracy against labels](results/strategies.png)"]
    return rows


def plot(results, path):
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    figure, axis = pyplot.subplots(figsize=(7, 4.5))
    for strategy in dict.fromkeys(r["strategy"] for r in results["table"]):
        rows = [r for r in results["table"] if r["strategy"] == strategy]
        axis.errorbar(
            [r["size"] for r in rows],
            [r["mean"] for r in rows],
            yerr=[r["std"] for r in rows],
            marker="o",
            capsize=3,
            label=strategy,
        )
    axis.set_xscale("log")
    axis.set_xlabel("labelled SST-2 training examples")
    axis.set_ylabel("dev accuracy")
    axis.set_title("Transfer strategies, MiniLM on SST-2")
    axis.grid(alpha=0.3)
    axis.legend(fontsize=8)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    figure.tight_layout()
    figure.savefig(path, dpi=120)


if __name__ == "__main__":
    main()
