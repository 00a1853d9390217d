"""SST-2: tlnlp_tf on MiniLM vs raw keras-hub BertTextClassifier, same process.

    python benchmarks/sst2.py --limit 4000 --epochs 2

All runs train on the same seeded sample of SST-2 train and are scored on
the full 872-example dev set: tlnlp_tf with its defaults, fully fine-tuned
(`finetune`) and frozen as a feature extractor (`frozen`), and raw keras-hub
(`raw`). tlnlp_tf runs are fed the way `tlnlp fit` feeds a text classifier
by default: tokenized once, shuffled, batched as `tl.data.choose_batching`
picks (4,000 examples at batch 16: batches of similar lengths,
`tl.data.batch_by_length`; `--batching random` for plain shuffled batches).
The raw keras-hub run uses what a keras-hub
tutorial does: `BertTextClassifier.from_preset` with its own preprocessor at
`sequence_length=128`, its default `compile()`, batch 32. tlnlp_tf runs use
batch 16 (`--batch-size`): with 4,000 examples and 2 epochs, twice the
updates gave +0.9 points of dev accuracy on average in a 10-seed sweep.
"""

import os
import sys

import keras
import keras_hub
import tensorflow as tf

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common  # noqa: E402

import tlnlp_tf as tl  # noqa: E402
from tlnlp_tf.backbones.loading import resolve_spec  # noqa: E402

RAW_BATCH = 32  # the keras-hub tutorial setting


def main(argv=None):
    parser = _common.parser(__doc__, "sst2", epochs=2)
    parser.set_defaults(limit=4000, batch_size=16)
    parser.add_argument("--learning-rate", default="auto")
    parser.add_argument(
        "--runs",
        default="finetune,frozen,raw",
        help="comma list of: finetune (tlnlp_tf, freeze=none), frozen "
        "(tlnlp_tf, freeze=all), bf16 (finetune in mixed_bfloat16), "
        "lpft (the head trained first on frozen features for "
        "--head-epochs, then finetune), raw (keras-hub BertTextClassifier)",
    )
    parser.add_argument("--head-epochs", type=int, default=3)
    parser.add_argument(
        "--batching", choices=("auto", "length", "random"), default="auto"
    )
    args = parser.parse_args(argv)

    train = tl.data.load_table(
        os.path.join(args.data, "train.tsv"), "sentence", "label"
    )
    train = train.sample(args.limit, seed=args.seed)
    dev = tl.data.load_table(os.path.join(args.data, "dev.tsv"), "sentence", "label")
    labels = train.label_names()
    dev.check_labels(labels)
    chosen = args.runs.split(",")
    runs = {}
    for name in chosen:
        if name == "raw":
            runs[name] = run_raw_keras_hub(train, dev, labels, args)
        elif name in ("finetune", "frozen", "bf16", "lpft"):
            runs[name] = run_tlnlp(
                train,
                dev,
                labels,
                args,
                freeze="all" if name == "frozen" else "none",
                dtype="mixed_bfloat16" if name == "bf16" else None,
                head_first=name == "lpft",
            )
        else:
            parser.error(f"unknown run '{name}'")
    results = {"limit": args.limit, "epochs": args.epochs, "runs": list(runs.values())}
    if "finetune" in runs and "raw" in runs:
        results["throughput_ratio"] = round(
            runs["finetune"]["train_examples_per_second"]
            / runs["raw"]["train_examples_per_second"],
            3,
        )
    runs = list(runs.values())
    rows = [
        "| run | max length | learning rate | dev accuracy | train ex/s | train s | "
        "peak RSS MB |",
        "|---|---|---|---|---|---|---|",
    ]
    for run in runs:
        rows.append(
            f"| {run['name']} | {run['max_length']} | {run['learning_rate']} | "
            f"{run['dev_accuracy']:.4f} | "
            f"{run['train_examples_per_second']:.1f} | {run['train_seconds']:.0f} | "
            f"{run['peak_rss_mb']:.0f} |"
        )
    if "throughput_ratio" in results:
        rows += [
            "",
            f"Training throughput ratio, tlnlp_tf fine-tune / raw keras-hub fine-tune: "
            f"**{results['throughput_ratio']:.2f}×** (same process, same data; batch "
            f"{args.batch_size} for tlnlp_tf, {RAW_BATCH} for raw keras-hub).",
        ]
    _common.write_results(
        "sst2",
        results,
        f"SST-2, MiniLM (all-MiniLM-L6-v2), {args.limit} train examples, {args.epochs} "
        "epochs",
        rows,
        _common.command("sst2.py", argv),
    )
    for run in runs:
        print(run)
    print("ratio", results.get("throughput_ratio"))


def run_tlnlp(train, dev, labels, args, freeze, dtype=None, head_first=False):
    keras.utils.set_random_seed(args.seed)
    with _common.PeakRSS() as rss:
        model = tl.TextClassifier.from_backbone(
            "minilm", labels=labels, freeze=freeze, dtype=dtype
        )

        def train_model():
            data = tl.data.training_batches(
                model.tokenize_once(train.to_dataset()),
                args.batch_size,
                args.batching,
                seed=args.seed,
            )
            if head_first:  # linear probe, then fine-tune (LP-FT)
                model.set_freeze("all")
                model.fit(data, epochs=args.head_epochs, verbose=2)
                model.set_freeze("none")
            if args.learning_rate != "auto":
                model.compile(learning_rate=float(args.learning_rate))
            model.fit(data, epochs=args.epochs, verbose=2)

        _, seconds = _common.timed(train_model)
        metrics = model.evaluate(
            dev.to_dataset().batch(64), return_dict=True, verbose=0
        )
    return {
        "name": f"tlnlp_tf TextClassifier, freeze={freeze} (defaults, batch "
        f"{args.batch_size}, "
        f"{tl.data.choose_batching(len(train), args.batch_size, args.batching)} "
        "batches)"
        + (f", {dtype}" if dtype else "")
        + (
            f", head first on frozen features for {args.head_epochs} epochs"
            if head_first
            else ""
        ),
        "max_length": model.max_length,
        "learning_rate": model.default_learning_rate()
        if args.learning_rate == "auto"
        else float(args.learning_rate),
        "dev_accuracy": float(metrics["accuracy"]),
        "dev_f1": float(metrics["f1"]),
        "train_seconds": round(seconds, 1),
        "train_examples_per_second": round(len(train) * args.epochs / seconds, 2),
        "peak_rss_mb": rss.peak_mb,
    }


def run_raw_keras_hub(train, dev, labels, args):
    keras.utils.set_random_seed(args.seed)
    ids = {name: i for i, name in enumerate(labels)}
    with _common.PeakRSS() as rss:
        preprocessor = keras_hub.models.BertTextClassifierPreprocessor.from_preset(
            resolve_spec("minilm"), sequence_length=128
        )
        model = keras_hub.models.BertTextClassifier.from_preset(
            resolve_spec("minilm"), num_classes=len(labels), preprocessor=preprocessor
        )
        y = [ids[label] for label in train.labels]
        data = tf.data.Dataset.from_tensor_slices((train.texts, y))
        data = data.shuffle(len(y), seed=args.seed).batch(RAW_BATCH)
        _, seconds = _common.timed(
            lambda: model.fit(data, epochs=args.epochs, verbose=2)
        )
        dev_data = tf.data.Dataset.from_tensor_slices(
            (dev.texts, [ids[label] for label in dev.labels])
        ).batch(64)
        metrics = model.evaluate(dev_data, return_dict=True, verbose=0)
    return {
        "name": "raw keras-hub BertTextClassifier (seq 128)",
        "max_length": 128,
        "learning_rate": "keras-hub default",
        "dev_accuracy": float(metrics["sparse_categorical_accuracy"]),
        "train_seconds": round(seconds, 1),
        "train_examples_per_second": round(len(train) * args.epochs / seconds, 2),
        "peak_rss_mb": rss.peak_mb,
    }


if __name__ == "__main__":
    main()
