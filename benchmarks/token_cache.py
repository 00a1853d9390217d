"""Tokens on disk vs in memory: `tlnlp fit` on SST-2, examples/s and peak RSS.

Fresh `tlnlp fit` processes on the same rows of SST-2's training set, one
epoch each: `memory` reads train.tsv whole and keeps its tokens in memory
(the default below 350,000 examples); `disk` gives `--token-cache DIR`
(tokens written in chunks with `tf.data.Dataset.save`, read back while
training); `disk, reused` runs again on the cache. With `--shards N` the
disk runs read the same rows from N gzip shards made here (`--train
'shards/*.tsv.gz'`): without `--limit` the training set is then streamed,
never held in memory. Throughput is `train_examples_per_second`
(tokenizing included); the ratio is over `memory`, measured in the same
benchmark run.

    python benchmarks/token_cache.py --limit 8000
    python benchmarks/token_cache.py --shards 4 --runs memory,disk   # all 67,349
"""

import gzip
import os
import shutil
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def main(argv=None):
    parser = _common.parser(__doc__, "sst2", epochs=1)
    parser.add_argument("--work", default="/tmp/tlnlp-token-cache")
    parser.add_argument(
        "--shards", type=int, default=0, help="gzip shards for the disk runs"
    )
    parser.add_argument("--runs", default="memory,disk,disk-reused")
    parser.add_argument("--results-name", default="token_cache")
    args = parser.parse_args(argv)
    shutil.rmtree(args.work, ignore_errors=True)
    os.makedirs(args.work)
    plain = os.path.join(args.data, "train.tsv")
    disk_train = plain
    if args.shards:
        disk_train = _gzip_shards(plain, args.shards, args.work)
    common = ["--validation", os.path.join(args.data, "dev.tsv")]
    common += ["--text-column", "sentence", "--label-column", "label"]
    common += ["--epochs", str(args.epochs), "--batch-size", str(args.batch_size)]
    common += ["--seed", str(args.seed)]
    if args.limit:
        common += ["--limit", str(args.limit)]
    cache = ["--train", disk_train, "--token-cache", os.path.join(args.work, "tokens")]
    chosen = args.runs.split(",")
    runs = {}
    for name, extra in (
        ("memory", ["--train", plain]),
        ("disk", cache),
        ("disk, reused", cache),
    ):
        if name.replace(", ", "-") not in chosen:
            continue
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
        if args.shards and name != "memory":
            runs[name]["train"] = f"{args.shards} gzip shards (streamed)"
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
        args.results_name,
        {"runs": runs, "shards": args.shards, "limit": args.limit},
        "Tokens on disk vs in memory: `tlnlp fit` on SST-2"
        + (f", disk runs from {args.shards} gzip shards" if args.shards else ""),
        rows,
        _common.command("token_cache.py", argv),
    )


def _gzip_shards(path, count, work):
    """`path`'s rows split in order into `count` gzip shards, each with the header."""
    with open(path, encoding="utf-8") as file:
        header, *rows = file.readlines()
    folder = os.path.join(work, "shards")
    os.makedirs(folder)
    size = -(-len(rows) // count)
    for k in range(count):
        name = os.path.join(folder, f"train-{k}.tsv.gz")
        with gzip.open(name, "wt", encoding="utf-8") as file:
            file.writelines([header, *rows[k * size : (k + 1) * size]])
    return os.path.join(folder, "train-*.tsv.gz")


if __name__ == "__main__":
    main()
