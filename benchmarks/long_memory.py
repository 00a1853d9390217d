"""Memory at 512 tokens: `tlnlp fit` on IMDB reviews, peak RSS by batch size.

IMDB reviews are long: at `--max-length 512` a batch of 32 holds 16k
tokens, and MiniLM's attention keeps, per layer, 32 × 12 heads × 512 × 512
scores and probabilities for the backward pass (about 400 MB each, in
float32). This runs the same one-epoch `tlnlp fit` on the same reviews with
batches of 32, 16 and 8, each a fresh process, and reports the kernel's
peak RSS (`wait4`): memory that scales with the batch is activations, not
a leak (a leak grows with the steps, at any batch size).

    python benchmarks/long_memory.py --limit 256
"""

import os
import shutil

import _common

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def main(argv=None):
    parser = _common.parser(__doc__, "imdb", epochs=1)
    parser.add_argument("--work", default="/tmp/tlnlp-long-memory")
    parser.add_argument("--batches", default="32,16,8")
    parser.add_argument("--max-length", type=int, default=512)
    args = parser.parse_args(argv)
    shutil.rmtree(args.work, ignore_errors=True)
    os.makedirs(args.work)
    train = os.path.join(args.data, "test_subset_2000.jsonl")
    runs = []
    for batch in [int(b) for b in args.batches.split(",")]:
        arguments = ["--train", train, "--text-column", "text"]
        arguments += ["--label-column", "label", "--max-length", str(args.max_length)]
        arguments += ["--batch-size", str(batch), "--epochs", str(args.epochs)]
        arguments += ["--seed", str(args.seed), "--batching", "random"]
        if args.limit:
            arguments += ["--limit", str(args.limit)]
        output = os.path.join(args.work, f"batch-{batch}")
        metrics = _common.tlnlp_fit(ROOT, arguments, output)
        run = {
            "batch_size": batch,
            "train_examples": metrics["train_examples"],
            "peak_rss_mb": metrics["peak_rss_mb"],
            "examples_per_second": metrics["train_examples_per_second"],
            "train_seconds": metrics["train_seconds"],
            "max_length": metrics.get("max_length", args.max_length),
        }
        runs.append(run)
        print(run, flush=True)
    rows = [
        "| batch | train examples | max length | peak RSS MB | vs batch "
        f"{runs[-1]['batch_size']} | examples/s | train s |",
        "|---|---|---|---|---|---|---|",
    ]
    smallest = runs[-1]["peak_rss_mb"]
    for run in runs:
        rows.append(
            f"| {run['batch_size']} | {run['train_examples']} | {run['max_length']} "
            f"| {run['peak_rss_mb']} | {run['peak_rss_mb'] / smallest:.2f}× "
            f"| {run['examples_per_second']} | {run['train_seconds']} |"
        )
    _common.write_results(
        "long_memory",
        {"runs": runs},
        "Memory at 512 tokens: `tlnlp fit` on IMDB, peak RSS by batch size",
        rows,
        _common.command("long_memory.py", argv),
    )


if __name__ == "__main__":
    main()
