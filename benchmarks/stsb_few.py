"""STS-B with few pairs: the bi-encoder that starts at the source's cosine.

    python benchmarks/stsb_few.py                       # 200 and 1,000 pairs, 2 seeds
    python benchmarks/stsb_few.py --sizes 200 --seeds 0
    python benchmarks/stsb_few.py --backbone models/all-mpnet-base-v2 --sizes 200

For each size and seed, a seeded sample of the STS-B training pairs trains
`TextRegressor.from_backbone(--backbone)` (`"minilm"` unless given) with
its defaults (`"auto"` on a sentence-embedding checkpoint: a bi-encoder,
scale and shift calibrated on the training pairs, peak rate 2e-5) and the
cross-encoder (`pair_encoding="cross"`, the former default), `--epochs`
epochs at batch 16. Dev Spearman on all 1,500 dev pairs, against the
untouched backbone's zero-shot cosine (`tl.probes.sentence_similarity_probe`).
Writes `benchmarks/results/stsb_few.json` (with another `--backbone`:
`stsb_few_<its folder name>.json`) and a section of `benchmarks/RESULTS.md`,
after every run; the saved runs of sizes, seeds and encodings not rerun are
kept (`--sizes 1000 --encodings bi` adds to a table of 200 pairs).
"""

import os
import sys
import time

import keras
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common  # noqa: E402

import tlnlp_tf as tl  # noqa: E402


def main(argv=None):
    parser = _common.parser(__doc__, "stsb", epochs=3)
    parser.add_argument("--sizes", default="200,1000")
    parser.add_argument("--seeds", default="0,1")
    parser.add_argument("--encodings", default="bi,cross")
    parser.add_argument("--backbone", default="minilm")
    args = parser.parse_args(argv)
    read = lambda name: tl.data.load_table(  # noqa: E731
        os.path.join(args.data, name), "sentence1", "score", "sentence2"
    )
    pool, dev = read("train.tsv"), read("dev.tsv")
    truth = np.array([float(s) for s in dev.labels])
    backbone, preprocessor = tl.load_backbone(args.backbone)
    zero_shot = tl.probes.sentence_similarity_probe(
        backbone, preprocessor, list(zip(dev.texts, dev.pairs)), truth.tolist()
    )
    keras.backend.clear_session()
    print({"zero_shot_spearman": zero_shot}, flush=True)
    name = _common.backbone_result_name("stsb_few", args.backbone)
    kept = _common.saved_runs(name)
    sizes = [int(s) for s in args.sizes.split(",")]
    seeds = [int(s) for s in args.seeds.split(",")]
    encodings = args.encodings.split(",")
    # Saved runs of the sizes, seeds and encodings not rerun are kept.
    rerun = {(size, seed, e) for size in sizes for seed in seeds for e in encodings}
    kept = [r for r in kept if (r["size"], r["seed"], r["pair_encoding"]) not in rerun]
    runs = []
    for size in sizes:
        for seed in seeds:
            train = pool.sample(size, seed=seed)
            for encoding in encodings:
                keras.utils.set_random_seed(seed)
                model = tl.TextRegressor.from_backbone(
                    args.backbone, pair_encoding=encoding
                )
                data = train.to_dataset().shuffle(size, seed=seed).batch(16)
                start = time.perf_counter()
                model.fit(data, epochs=args.epochs, verbose=0)
                seconds = time.perf_counter() - start
                values = model.predict(dev.features(), verbose=0)["value"]
                run = {
                    "size": size,
                    "seed": seed,
                    "pair_encoding": encoding,
                    "dev_spearman": round(tl.metrics.spearman(truth, values), 4),
                    "dev_pearson": round(tl.metrics.pearson(truth, values), 4),
                    "train_seconds": round(seconds, 1),
                }
                print(run, flush=True)
                runs.append(run)
                keras.backend.clear_session()
                save(kept + runs, zero_shot, len(dev), name, args, argv)


def save(runs, zero_shot, dev_pairs, name, args, argv):
    """Write the JSON results and the RESULTS.md section."""
    rows = [
        "| train pairs | zero-shot cosine | bi-encoder (default) | cross-encoder |",
        "|---|---|---|---|",
    ]
    for size in sorted({r["size"] for r in runs}):
        cells = []
        for encoding in ("bi", "cross"):
            chosen = [
                r for r in runs if r["size"] == size and r["pair_encoding"] == encoding
            ]
            values = np.array([r["dev_spearman"] for r in chosen])
            seconds = np.mean([r["train_seconds"] for r in chosen]) if chosen else 0
            cells.append(
                f"{values.mean():.4f} ± {values.std():.4f} ({seconds:.0f} s)"
                if chosen
                else "–"
            )
        rows.append(f"| {size} | {zero_shot:.4f} | " + " | ".join(cells) + " |")
    seeds = sorted({r["seed"] for r in runs})
    rows += [
        "",
        f"Dev Spearman on all {dev_pairs} dev pairs; mean ± std over seeds "
        f"{','.join(map(str, seeds))} (sample and training seed); {args.epochs} "
        "epochs at batch 16; in brackets the mean `fit` time on the shared 2 cores.",
    ]
    folder = os.path.basename(os.path.normpath(args.backbone))
    title = "MiniLM" if args.backbone == "minilm" else folder
    _common.write_results(
        name,
        {
            "backbone": args.backbone,
            "zero_shot_spearman": zero_shot,
            "epochs": args.epochs,
            "runs": runs,
        },
        f"STS-B with few pairs: {title} TextRegressor, dev Spearman",
        rows,
        _common.command("stsb_few.py", argv)
        + " (kept runs of other sizes: their own commands)",
    )


if __name__ == "__main__":
    main()
