"""Tokens on disk vs in memory: `tlnlp fit` on SST-2, examples/s and peak RSS.

Two fresh `tlnlp fit` processes on the same sample of SST-2's training set,
one epoch each: the in-memory token cache (the default) and `--token-cache
DIR` (tokens written with `tf.data.Dataset.save`, read back while training),
then a third run that reuses the cache on disk. Throughput is
`train_examples_per_second` (tokenizing included); the ratio is disk over
memory, measured in the same benchmark run.

    python benchmarks/token_cache.py --limit 8000
"""

import os
import shutil
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def main(argv=None):
    parser = _common.parser(__doc__, "sst2", epochs=1)
    parser.add_argument("--work", default="/tmp/tlnlp-token-cache")
    args = parser.parse_args(argv)
    shutil.rmtree(args.work, ignore_errors=True)
    os.makedirs(args.work)
    common = ["--train", os.path.join(args.data, "train.tsv")]
    common += ["--validation", os.path.join(args.data, "dev.tsv")]
    common += ["--text-column", "sentence", "--label-column", "label"]
    common += ["--epochs", str(args.epochs), "--batch-size", str(args.batch_size)]
    common += ["--seed", str(args.seed)]
    if args.limit:
        common += ["--limit", str(args.limit)]
    cache = ["--token-cache", os.path.join(args.work, "tokens")]
    runs = {}
    for name, extra in (("memory", []), ("disk", cache), ("disk, reused", cache)):
        output = os.path.join(args.work, name.replace(", ", "-"))
        metrics = _common.tlnlp_fit(ROOT, common + extra, output)
        runs[name] = {
            "examples_per_second": metrics["train_examples_per_second"],
            "train_seconds": metrics["train_seconds"],
            "first_step_seconds": metrics.get("first_step_seconds"),
            "peak_rss_mb": metrics["peak_rss_mb"],
            "dev_accuracy": metrics["validation"]["accuracy"],
            "train_examples": metrics["train_examples"],
        }
        print(name, runs[name], flush=True)
    base = runs["memory"]["examples_per_second"]
    for run in runs.values():
        run["vs_memory"] = round(run["examples_per_second"] / base, 3)
    rows = [
        "| token cache | train examples | examples/s | vs memory | first step s "
        "| peak RSS MB | dev accuracy |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, run in runs.items():
        rows.append(
            f"| {name} | {run['train_examples']} | {run['examples_per_second']} "
            f"| {run['vs_memory']:.3f}× | {run['first_step_seconds']} "
            f"| {run['peak_rss_mb']} | {run['dev_accuracy']:.4f} |"
        )
    _common.write_results(
        "token_cache",
        {"runs": runs},
        "Tokens on disk vs in memory: `tlnlp fit` on SST-2",
        rows,
        _common.command("token_cache.py", argv),
    )


if __name__ == "__main__":
    main()
