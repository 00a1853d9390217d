"""Domain-adaptive pretraining on IMDB text, then fine-tuning on 500 IMDB labels.

    python benchmarks/dapt_imdb.py
    python benchmarks/dapt_imdb.py --labels 500 --pretrain-epochs 2 --seeds 0,1

The 2,000 reviews of `imdb/test_subset_2000.jsonl` are split by a seeded
shuffle into a training half and a held-out half (as `throughput.py` does).
The adaptation step continues masked-LM training of all-MiniLM-L6-v2 on the
texts of the training half only (`tl.pretraining.pretrain_masked_lm`, the
code behind `tlnlp pretrain`; no held-out text is seen) and saves a preset
folder. Then `--labels` labelled reviews of the training half fine-tune a
`TextClassifier` from MiniLM as it is and from the adapted folder, with the
same defaults, sample and seeds, and both are scored on the held-out half.
Reviews are cut to `--max-length` tokens (256 by default, to fit the CPU
budget) in both steps.

all-MiniLM-L6-v2 is a sentence-embedding checkpoint: it ships without a
masked-LM head, so the adaptation starts from a new, untrained head (its
held-out masked-LM loss starts near ln(vocabulary) = 10.3) and the backbone
receives that head's gradients from the first step.
"""

import os
import shutil
import sys
import tempfile
import time

import keras
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common  # noqa: E402

import tlnlp_tf as tl  # noqa: E402


def main(argv=None):
    parser = _common.parser(__doc__, "imdb", epochs=3)
    parser.set_defaults(batch_size=16)
    parser.add_argument("--labels", type=int, default=500)
    parser.add_argument("--max-length", type=int, default=256)
    parser.add_argument("--pretrain-epochs", type=int, default=2)
    parser.add_argument("--pretrain-learning-rate", type=float, default=5e-5)
    parser.add_argument("--seeds", default="0,1")
    parser.add_argument("--held-out", type=int, default=1000)
    args = parser.parse_args(argv)

    pool, rest = _common.imdb_halves(
        os.path.join(args.data, "test_subset_2000.jsonl"), seed=0
    )
    held_out = rest.sample(args.held_out, seed=0)
    labelled = pool.sample(args.labels, seed=0)

    folder = tempfile.mkdtemp(prefix="minilm-imdb-")
    start = time.perf_counter()
    keras.utils.set_random_seed(0)
    masked_lm, report = tl.pretraining.pretrain_masked_lm(
        "minilm",
        pool.texts,
        epochs=args.pretrain_epochs,
        batch_size=16,
        max_length=args.max_length,
        learning_rate=args.pretrain_learning_rate,
        verbose=2,
    )
    tl.pretraining.save_pretrained(masked_lm, folder, report)
    pretrain_seconds = time.perf_counter() - start
    del masked_lm
    keras.backend.clear_session()
    pretraining = {
        "documents": len(pool),
        "epochs": args.pretrain_epochs,
        "seconds": round(pretrain_seconds, 1),
        "masked_lm_loss": report["masked_lm_loss"],
        "masked_accuracy": report["masked_accuracy"],
    }
    print(pretraining, flush=True)

    runs = []
    try:
        for name, spec in (("minilm", "minilm"), ("minilm + IMDB masked-LM", folder)):
            for seed in (int(s) for s in args.seeds.split(",")):
                run = fine_tune(spec, labelled, held_out, seed, args)
                run.update(source=name, seed=seed)
                print(run, flush=True)
                runs.append(run)
                keras.backend.clear_session()
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    results = {
        "labels": args.labels,
        "held_out": len(held_out),
        "max_length": args.max_length,
        "epochs": args.epochs,
        "batch_size": args.batch_size,
        "pretraining": pretraining,
        "runs": runs,
    }
    _common.write_results(
        "dapt_imdb",
        results,
        f"Domain-adaptive pretraining (IMDB text), then {args.labels} IMDB labels",
        table(results),
        _common.command("dapt_imdb.py", argv),
    )


def fine_tune(spec, labelled, held_out, seed, args):
    keras.utils.set_random_seed(seed)
    model = tl.TextClassifier.from_backbone(
        spec, labels=labelled.label_names(), max_length=args.max_length
    )
    start = time.perf_counter()
    tokens = model.tokenize_once(labelled.to_dataset())
    data = tl.data.training_batches(tokens, args.batch_size, seed=seed)
    model.fit(data, epochs=args.epochs, verbose=2)
    seconds = time.perf_counter() - start
    predicted = model.predict(held_out.texts, batch_size=64, verbose=0)["label"]
    accuracy = float(
        np.mean([str(p) == str(t) for p, t in zip(predicted, held_out.labels)])
    )
    return {"held_out_accuracy": round(accuracy, 4), "train_seconds": round(seconds, 1)}


def table(results):
    pre = results["pretraining"]
    rows = [
        f"Masked-LM adaptation: {pre['documents']} IMDB reviews (training half, texts "
        f"only), {pre['epochs']} epochs, {pre['seconds']} s; held-out masked-LM loss "
        f"{pre['masked_lm_loss']['before']} → {pre['masked_lm_loss']['after']}, masked "
        f"accuracy {pre['masked_accuracy']['before']} → "
        f"{pre['masked_accuracy']['after']}. Fine-tuning: {results['labels']} labelled "
        f"reviews, {results['epochs']} epochs, batch {results['batch_size']}, max "
        f"length {results['max_length']}; held-out accuracy on {results['held_out']} "
        "reviews.",
        "",
        "| source | seeds | held-out accuracy per seed | mean | train s (mean) |",
        "|---|---|---|---|---|",
    ]
    for source in dict.fromkeys(r["source"] for r in results["runs"]):
        some = [r for r in results["runs"] if r["source"] == source]
        accuracy = [r["held_out_accuracy"] for r in some]
        rows.append(
            f"| {source} | {len(some)} | {', '.join(f'{a:.4f}' for a in accuracy)} | "
            f"**{np.mean(accuracy):.4f}** | "
            f"{np.mean([r['train_seconds'] for r in some]):.0f} |"
        )
    return rows


if __name__ == "__main__":
    main()
