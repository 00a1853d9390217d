"""Throughput: tlnlp_tf's default pipeline vs raw keras-hub, same process, with MFU.

    python benchmarks/throughput.py                      # SST-2 and IMDB
    python benchmarks/throughput.py --datasets sst2 --runs tlnlp,raw-128

For each dataset, every run fine-tunes all-MiniLM-L6-v2 on the same seeded
training sample with the same global batch, then predicts the same held-out
set; it reports training and inference examples/second, peak RSS and the
held-out accuracy, so speed is never bought with accuracy.

Runs:
- `tlnlp`: `TextClassifier.from_backbone("minilm")` with its defaults, fed
  the way `tlnlp fit` feeds it by default: `tokenize_once` (the tokenizer
  runs once, then an in-memory cache), shuffled, then batched as
  `tl.data.choose_batching` picks: `tl.data.batch_by_length` (batches of
  similar lengths) from 100 batches per epoch (SST-2), plain shuffled
  batches below that (IMDB's 32); every batch is padded to its longest row.
- `tlnlp-length`, `tlnlp-random`: the same, always with length-grouped or
  plain shuffled batches.
- `tlnlp-bf16`: `tlnlp` in `mixed_bfloat16` (this CPU has AVX512_BF16).
- `tlnlp-attn-dropout`: `tlnlp` with the backbone's own attention dropout
  (`attention_dropout=None`; MiniLM: 0.1) instead of the default 0.0.
- `raw-128`, `raw-512`: `keras_hub.models.BertTextClassifier.from_preset`
  with its own preprocessor at that `sequence_length` and its default
  `compile()`, as a keras-hub tutorial does.

Model-FLOPs utilisation counts only real (non-padding) tokens: per training
example of `l` real tokens, `6 * N * l + 12 * layers * hidden * l**2` FLOPs
(`N`: parameters of the transformer layers; the second term is attention's
two matmuls, forward and backward), against the best of several
2,048 x 2,048 `tf.matmul` runs measured in the same process, at its start
and its end (float32, and
bfloat16 for the bf16 run). Peak RSS is the process peak during each run
(runs share the process, so a later run's figure includes what the earlier
ones left allocated).

Data: SST-2 (`sst2/train.tsv` sample, full dev set) and IMDB (the 2,000
reviews of `imdb/test_subset_2000.jsonl`, split by a seeded shuffle into
training and held-out halves).
"""

import gc
import json
import os
import sys
import time

import keras
import keras_hub
import numpy as np
import tensorflow as tf

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common  # noqa: E402

import tlnlp_tf as tl  # noqa: E402
from tlnlp_tf.backbones.freezing import layer_groups  # noqa: E402
from tlnlp_tf.backbones.loading import resolve_spec  # noqa: E402

DEFAULT_RUNS = {
    "sst2": "tlnlp,tlnlp-random,tlnlp-bf16,raw-128",
    "imdb": "tlnlp,tlnlp-length,raw-512,raw-128",
}


def main(argv=None):
    parser = _common.parser(__doc__, "", epochs=0)
    parser.set_defaults(
        data=os.path.join(
            os.path.dirname(os.path.abspath(__file__)), "..", "..", "shared", "data"
        )
    )
    parser.add_argument("--datasets", default="sst2,imdb")
    parser.add_argument(
        "--runs",
        help="comma list of runs for every dataset "
        f"(default per dataset: {DEFAULT_RUNS})",
    )
    parser.add_argument("--sst2-limit", type=int, default=4000)
    parser.add_argument("--sst2-epochs", type=int, default=2)
    parser.add_argument("--imdb-limit", type=int, default=1000)
    parser.add_argument("--imdb-epochs", type=int, default=1)
    parser.add_argument(
        "--imdb-held-out",
        type=int,
        default=1000,
        help="IMDB reviews to predict, from the held-out half",
    )
    parser.add_argument(
        "--held-out-limit",
        type=int,
        help="predict on a seeded sample of N held-out examples (smoke runs)",
    )
    args = parser.parse_args(argv)

    # Measured at the start and again at the end; the higher counts.
    peaks = {"float32": matmul_peak("float32"), "bfloat16": matmul_peak("bfloat16")}
    print("matmul peak GFLOP/s", peaks, flush=True)
    results = {
        "matmul_peak_gflops": peaks,
        "batch_size": args.batch_size,
        "datasets": {},
    }
    for dataset in args.datasets.split(","):
        train, held_out, epochs = load(dataset, args)
        if args.held_out_limit:
            held_out = held_out.sample(args.held_out_limit, seed=args.seed)
        runs = []
        for name in (args.runs or DEFAULT_RUNS[dataset]).split(","):
            run = RUNS[name](train, held_out, epochs, args)
            run.update(name=name, flops=mfu(run, peaks))
            print(json.dumps(run), flush=True)
            runs.append(run)
            keras.backend.clear_session()
            gc.collect()
        results["datasets"][dataset] = {
            "train_examples": len(train),
            "held_out_examples": len(held_out),
            "epochs": epochs,
            "runs": runs,
            "ratios": ratios(runs),
        }
    for dtype in peaks:
        peaks[dtype] = max(peaks[dtype], matmul_peak(dtype))
    for part in results["datasets"].values():
        for run in part["runs"]:
            run["flops"] = rescale(run["flops"], peaks)
    write(results, args, argv)


# === Data ===


def load(dataset, args):
    if dataset == "sst2":
        folder = os.path.join(args.data, "sst2")
        train = tl.data.load_table(
            os.path.join(folder, "train.tsv"), "sentence", "label"
        )
        held_out = tl.data.load_table(
            os.path.join(folder, "dev.tsv"), "sentence", "label"
        )
        return train.sample(args.sst2_limit, seed=args.seed), held_out, args.sst2_epochs
    if dataset == "imdb":
        pool, rest = _common.imdb_halves(
            os.path.join(args.data, "imdb", "test_subset_2000.jsonl"), args.seed
        )
        train = pool.sample(args.imdb_limit, seed=args.seed)
        held_out = rest.sample(args.imdb_held_out, seed=args.seed)
        return train, held_out, args.imdb_epochs
    raise SystemExit(f"unknown dataset '{dataset}' (expected sst2 or imdb)")


# === Runs ===


def run_tlnlp(train, held_out, epochs, args, batching="auto", dtype=None, **options):
    keras.utils.set_random_seed(args.seed)
    labels = train.label_names()
    with _common.PeakRSS() as rss:
        model = tl.TextClassifier.from_backbone(
            "minilm", labels=labels, dtype=dtype, **options
        )
        start = time.perf_counter()
        tokens = model.tokenize_once(train.to_dataset())
        data = tl.data.training_batches(
            tokens, args.batch_size, batching, seed=args.seed
        )
        batching = tl.data.choose_batching(len(train), args.batch_size, batching)
        model.fit(data, epochs=epochs, verbose=2)
        train_seconds = time.perf_counter() - start
        start = time.perf_counter()
        predicted = model.predict(held_out.texts, batch_size=64, verbose=0)["label"]
        predict_seconds = time.perf_counter() - start
    lengths = token_lengths(model.preprocessor.tokenizer, train.texts)
    held_lengths = token_lengths(model.preprocessor.tokenizer, held_out.texts)
    return summary(
        model.backbone,
        model.max_length,
        train,
        held_out,
        epochs,
        lengths,
        held_lengths,
        train_seconds,
        predict_seconds,
        accuracy(predicted, held_out.labels),
        rss.peak_mb,
        dtype or "float32",
        batching,
    )


def run_raw(train, held_out, epochs, args, sequence_length):
    keras.utils.set_random_seed(args.seed)
    labels = train.label_names()
    ids = {name: i for i, name in enumerate(labels)}
    with _common.PeakRSS() as rss:
        preprocessor = keras_hub.models.BertTextClassifierPreprocessor.from_preset(
            resolve_spec("minilm"), sequence_length=sequence_length
        )
        model = keras_hub.models.BertTextClassifier.from_preset(
            resolve_spec("minilm"), num_classes=len(labels), preprocessor=preprocessor
        )
        data = tf.data.Dataset.from_tensor_slices(
            (train.texts, [ids[label] for label in train.labels])
        )
        start = time.perf_counter()
        model.fit(
            data.shuffle(len(train), seed=args.seed).batch(args.batch_size),
            epochs=epochs,
            verbose=2,
        )
        train_seconds = time.perf_counter() - start
        start = time.perf_counter()
        logits = model.predict(held_out.texts, batch_size=64, verbose=0)
        predict_seconds = time.perf_counter() - start
    predicted = [labels[i] for i in np.argmax(logits, axis=-1)]
    tokenizer = preprocessor.tokenizer
    return summary(
        model.backbone,
        sequence_length,
        train,
        held_out,
        epochs,
        token_lengths(tokenizer, train.texts),
        token_lengths(tokenizer, held_out.texts),
        train_seconds,
        predict_seconds,
        accuracy(predicted, held_out.labels),
        rss.peak_mb,
        "float32",
        "random",
        padded_to=sequence_length,
    )


RUNS = {
    "tlnlp": run_tlnlp,
    "tlnlp-length": lambda *a: run_tlnlp(*a, batching="length"),
    "tlnlp-random": lambda *a: run_tlnlp(*a, batching="random"),
    "tlnlp-bf16": lambda *a: run_tlnlp(*a, dtype="mixed_bfloat16"),
    "tlnlp-attn-dropout": lambda *a: run_tlnlp(*a, attention_dropout=None),
    "raw-128": lambda *a: run_raw(*a, sequence_length=128),
    "raw-512": lambda *a: run_raw(*a, sequence_length=512),
}


# === Measures ===


def token_lengths(tokenizer, texts):
    """Tokens per text with [CLS] and [SEP], before truncation."""
    batches = tf.data.Dataset.from_tensor_slices(texts).batch(512).map(tokenizer)
    return np.concatenate([pieces.row_lengths().numpy() + 2 for pieces in batches])


def accuracy(predicted, labels):
    return float(np.mean([str(p) == str(t) for p, t in zip(predicted, labels)]))


def summary(
    backbone,
    max_length,
    train,
    held_out,
    epochs,
    lengths,
    held_lengths,
    train_seconds,
    predict_seconds,
    held_out_accuracy,
    peak_rss_mb,
    dtype,
    batching,
    padded_to=None,
):
    real = np.minimum(lengths, max_length)
    held_real = np.minimum(held_lengths, max_length)
    return {
        "max_length": int(max_length),
        "padding": f"every row to {padded_to}"
        if padded_to
        else f"each batch to its longest row ({batching} batches)",
        "dtype": dtype,
        "held_out_accuracy": round(held_out_accuracy, 4),
        "train_seconds": round(train_seconds, 1),
        "train_examples_per_second": round(len(train) * epochs / train_seconds, 2),
        "predict_examples_per_second": round(len(held_out) / predict_seconds, 2),
        "peak_rss_mb": peak_rss_mb,
        "truncated_train_examples": int(np.sum(lengths > max_length)),
        "mean_real_tokens": round(float(np.mean(real)), 1),
        "_model": model_sizes(backbone),
        "_train": (real, epochs, train_seconds),
        "_predict": (held_real, predict_seconds),
    }


def model_sizes(backbone):
    groups = layer_groups(backbone)
    layers = [name for name in groups if name.startswith("layer_")]
    params = sum(
        w.numpy().size
        for name in layers
        for layer in groups[name]
        for w in layer.weights
    )
    return {
        "transformer_params": int(params),
        "layers": len(layers),
        "hidden": int(backbone.hidden_dim),
    }


def mfu(run, peaks):
    """Achieved GFLOP/s on real tokens and its fraction of the matmul peak."""
    sizes = run.pop("_model")
    real, epochs, train_seconds = run.pop("_train")
    held_real, predict_seconds = run.pop("_predict")
    n, layers, hidden = sizes["transformer_params"], sizes["layers"], sizes["hidden"]
    real = real.astype(np.float64)
    held_real = held_real.astype(np.float64)
    train_flops = epochs * np.sum(6 * n * real + 12 * layers * hidden * real**2)
    predict_flops = np.sum(2 * n * held_real + 4 * layers * hidden * held_real**2)
    peak_dtype = "bfloat16" if run["dtype"] == "mixed_bfloat16" else "float32"
    peak = peaks[peak_dtype]
    train_gflops = train_flops / train_seconds / 1e9
    predict_gflops = predict_flops / predict_seconds / 1e9
    return {
        "transformer_params": n,
        "train_gflops_real_tokens": round(train_gflops, 1),
        "train_mfu": round(train_gflops / peak, 3),
        "predict_gflops_real_tokens": round(predict_gflops, 1),
        "predict_mfu": round(predict_gflops / peak, 3),
        "peak_gflops": peak,
        "peak_dtype": peak_dtype,
    }


def rescale(flops, peaks):
    """MFU against the final (highest) peak measurement."""
    peak = peaks["bfloat16" if flops["peak_dtype"] == "bfloat16" else "float32"]
    return dict(
        flops,
        peak_gflops=peak,
        train_mfu=round(flops["train_gflops_real_tokens"] / peak, 3),
        predict_mfu=round(flops["predict_gflops_real_tokens"] / peak, 3),
    )


def matmul_peak(dtype, size=2048, repeats=20):
    """Best GFLOP/s of a `size`² matmul in `dtype`, measured here and now."""
    a = tf.random.normal((size, size), dtype=tf.float32)
    a = tf.cast(a, dtype)
    b = tf.cast(tf.random.normal((size, size), dtype=tf.float32), dtype)
    matmul = tf.function(
        lambda x, y: tf.reduce_sum(tf.cast(tf.matmul(x, y)[:1, :1], tf.float32))
    )
    matmul(a, b).numpy()
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        matmul(a, b).numpy()
        best = min(best, time.perf_counter() - start)
    return round(2 * size**3 / best / 1e9, 1)


def ratios(runs):
    by_name = {run["name"]: run for run in runs}
    result = {}
    for ours in ("tlnlp", "tlnlp-length", "tlnlp-random", "tlnlp-bf16"):
        for raw in ("raw-128", "raw-512"):
            if ours in by_name and raw in by_name:
                a, b = by_name[ours], by_name[raw]
                result[f"{ours}/{raw}"] = {
                    "train_speed": round(
                        a["train_examples_per_second"] / b["train_examples_per_second"],
                        2,
                    ),
                    "predict_speed": round(
                        a["predict_examples_per_second"]
                        / b["predict_examples_per_second"],
                        2,
                    ),
                    "accuracy_points": round(
                        100 * (a["held_out_accuracy"] - b["held_out_accuracy"]), 2
                    ),
                }
    return result


def write(results, args, argv):
    """One JSON file and one RESULTS.md section per dataset (`throughput_sst2`, …)."""
    peaks = (
        "Matmul peak measured in the same run (2,048², best of 20 at the start and 20 "
        f"at the end): float32 {results['matmul_peak_gflops']['float32']} GFLOP/s, "
        f"bfloat16 {results['matmul_peak_gflops']['bfloat16']} GFLOP/s. Global batch "
        f"{args.batch_size} for every run."
    )
    for dataset, part in results["datasets"].items():
        rows = [
            peaks,
            "",
            f"**{dataset.upper()}**: {part['train_examples']} training examples × "
            f"{part['epochs']} epoch(s), {part['held_out_examples']} held out.",
            "",
            "| run | padding | max length | held-out acc | train ex/s | predict ex/s | "
            "train MFU (real tokens) | train s | truncated | peak RSS MB |",
            "|---|---|---|---|---|---|---|---|---|---|",
        ]
        for run in part["runs"]:
            rows.append(
                f"| {run['name']} ({run['dtype']}) | {run['padding']} | "
                f"{run['max_length']} | "
                f"{run['held_out_accuracy']:.4f} | "
                f"{run['train_examples_per_second']:.2f} | "
                f"{run['predict_examples_per_second']:.2f} | "
                f"{100 * run['flops']['train_mfu']:.1f}% "
                f"({run['flops']['train_gflops_real_tokens']} GFLOP/s) | "
                f"{run['train_seconds']:.0f} | {run['truncated_train_examples']} | "
                f"{run['peak_rss_mb']:.0f} |"
            )
        rows.append("")
        for pair, ratio in part["ratios"].items():
            rows.append(
                f"- {pair}: training speed **{ratio['train_speed']:.2f}×**, "
                f"prediction speed {ratio['predict_speed']:.2f}×, held-out accuracy "
                f"{ratio['accuracy_points']:+.2f} points"
            )
        _common.write_results(
            f"throughput_{dataset}",
            dict(results, datasets={dataset: part}),
            f"Throughput on {dataset.upper()}: tlnlp_tf default pipeline vs raw "
            "keras-hub (MiniLM), with MFU",
            rows,
            _common.command("throughput.py", argv),
        )


if __name__ == "__main__":
    main()
