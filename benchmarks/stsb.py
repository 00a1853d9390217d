"""STS-B: MiniLM TextRegressor on sentence pairs, dev Pearson and Spearman.

python benchmarks/stsb.py --epochs 3
"""

import os
import sys

import keras
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common  # noqa: E402

import tlnlp_tf as tl  # noqa: E402


def main(argv=None):
    parser = _common.parser(__doc__, "stsb", epochs=3)
    args = parser.parse_args(argv)

    read = lambda name: tl.data.load_table(
        os.path.join(args.data, name), "sentence1", "score", "sentence2"
    )
    train, dev = read("train.tsv").sample(args.limit, args.seed), read("dev.tsv")
    keras.utils.set_random_seed(args.seed)
    with _common.PeakRSS() as rss:
        model = tl.TextRegressor.from_backbone("minilm")
        data = (
            train.to_dataset()
            .shuffle(len(train), seed=args.seed)
            .batch(args.batch_size)
        )
        _, seconds = _common.timed(
            lambda: model.fit(data, epochs=args.epochs, verbose=2)
        )
        values = model.predict(dev.features(), verbose=0)["value"]
    truth = np.array([float(s) for s in dev.labels])
    run = {
        "train_pairs": len(train),
        "epochs": args.epochs,
        "max_length": model.max_length,
        "learning_rate": model.default_learning_rate(),
        "dev_pearson": round(tl.metrics.pearson(truth, values), 4),
        "dev_spearman": round(tl.metrics.spearman(truth, values), 4),
        "train_seconds": round(seconds, 1),
        "train_pairs_per_second": round(len(train) * args.epochs / seconds, 2),
        "peak_rss_mb": rss.peak_mb,
    }
    rows = [
        "| train pairs | epochs | max length | dev Pearson | **dev Spearman** "
        "| train s | peak RSS MB |",
        "|---|---|---|---|---|---|---|",
        f"| {run['train_pairs']} | {args.epochs} | {run['max_length']} | "
        f"{run['dev_pearson']:.4f} | "
        f"**{run['dev_spearman']:.4f}** | {run['train_seconds']:.0f} | "
        f"{run['peak_rss_mb']:.0f} |",
    ]
    _common.write_results(
        "stsb",
        run,
        "STS-B, MiniLM TextRegressor (cross-encoder on pairs), dev correlation",
        rows,
        _common.command("stsb.py", argv),
    )
    print(run)


if __name__ == "__main__":
    main()
