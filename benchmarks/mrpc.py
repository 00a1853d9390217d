"""MRPC: MiniLM TextClassifier on sentence pairs, test accuracy and F1.

    python benchmarks/mrpc.py --epochs 3

Reads the original Microsoft files (UTF-8 with a BOM, header
`Quality  #1 ID  #2 ID  #1 String  #2 String`) with `load_table`.
"""

import os
import sys

import keras

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common  # noqa: E402

import tlnlp_tf as tl  # noqa: E402


def main(argv=None):
    parser = _common.parser(__doc__, "mrpc", epochs=3)
    args = parser.parse_args(argv)

    def read(name):
        return tl.data.load_table(
            os.path.join(args.data, name), "#1 String", "Quality", "#2 String"
        )

    train = read("msr_paraphrase_train.txt").sample(args.limit, args.seed)
    test = read("msr_paraphrase_test.txt")
    labels = train.label_names()
    test.check_labels(labels)
    keras.utils.set_random_seed(args.seed)
    with _common.PeakRSS() as rss:
        model = tl.TextClassifier.from_backbone("minilm", labels=labels)
        data = (
            train.to_dataset()
            .shuffle(len(train), seed=args.seed)
            .batch(args.batch_size)
        )
        _, seconds = _common.timed(
            lambda: model.fit(data, epochs=args.epochs, verbose=2)
        )
        metrics = model.evaluate(
            test.to_dataset().batch(64), return_dict=True, verbose=0
        )
    run = {
        "train_pairs": len(train),
        "epochs": args.epochs,
        "max_length": model.max_length,
        "learning_rate": model.default_learning_rate(),
        "test_accuracy": round(float(metrics["accuracy"]), 4),
        "test_f1": round(float(metrics["f1"]), 4),
        "train_seconds": round(seconds, 1),
        "train_pairs_per_second": round(len(train) * args.epochs / seconds, 2),
        "peak_rss_mb": rss.peak_mb,
    }
    rows = [
        "| train pairs | epochs | max length | **test accuracy** | **test F1** "
        "| train s | peak RSS MB |",
        "|---|---|---|---|---|---|---|",
        f"| {run['train_pairs']} | {args.epochs} | {run['max_length']} | "
        f"**{run['test_accuracy']:.4f}** | "
        f"**{run['test_f1']:.4f}** | {run['train_seconds']:.0f} | "
        f"{run['peak_rss_mb']:.0f} |",
    ]
    _common.write_results(
        "mrpc",
        run,
        "MRPC, MiniLM TextClassifier on sentence pairs, test accuracy and F1",
        rows,
        _common.command("mrpc.py", argv),
    )
    print(run)


if __name__ == "__main__":
    main()
