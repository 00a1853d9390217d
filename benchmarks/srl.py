"""SRL on English Web Treebank PropBank: MiniLM against its random twin.

    python benchmarks/srl.py --limit 12000 --epochs 3
    python benchmarks/srl.py --sources minilm --predicate-encoding pair
    python benchmarks/srl.py --limit 300 --epochs 1 --test-size 200  # smoke

Each source trains a `tl.RoleLabeler` (the `TokenClassifier` defaults: peak
learning rate 2e-4, layer decay 0.9, batch 32) on `--limit` predicate
instances of `train.tsv` (a seeded sample; all 40,373 by default) and scores
the test split with CoNLL-2005 semantics (`tl.metrics.srl_scores`): micro
argument precision, recall and F1 with the predicate's own `V` span left
out, `R-` and `C-` roles scored as labels of their own, and per-role F1.
`minilm@random` is the same architecture from random weights: the difference
is what pretraining gave. Without `--crf`, the same model is also scored
decoding the most probable tag path the scheme allows (`decoding="allowed"`).
The predicate is marked by segment ids (default on
MiniLM) or as a `[SEP] predicate` pair (`--predicate-encoding pair`).
"""

import os
import sys
import time

import keras

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common  # noqa: E402

import tlnlp_tf as tl  # noqa: E402

_TABLE_ROLES = 12  # the most frequent roles in the per-role table


def run_source(source, train, test, tags, args):
    keras.utils.set_random_seed(args.seed)
    spec, _, weights = source.partition("@")
    model = tl.RoleLabeler.from_backbone(
        spec,
        tags=tags,
        weights=weights or "pretrained",
        predicate_encoding=args.predicate_encoding,
        crf=args.crf,
    )
    data = train.to_dataset().shuffle(len(train), seed=args.seed).batch(args.batch_size)
    with _common.PeakRSS() as rss:
        history, seconds = _common.timed(
            lambda: model.fit(data, epochs=args.epochs, verbose=2)
        )
        start = time.perf_counter()
        model.decoding = "argmax"  # the F1 column: each word's argmax
        scores = model.score(test)
        predict_seconds = time.perf_counter() - start
        allowed = None
        if not args.crf:  # the same model, decoded by the most probable allowed path
            model.decoding = "allowed"
            found = model.score(test)
            allowed = {k: found[k] for k in ("precision", "recall", "f1")}
    print(source, tl.metrics.format_srl_report(scores))
    return {
        "source": source,
        "predicate_encoding": model.predicate_encoding,
        "crf": args.crf,
        "max_length": model.max_length,
        "learning_rate": model.default_learning_rate(),
        "layer_decay": model.default_layer_decay(),
        "final_loss": round(float(history.history["loss"][-1]), 4),
        "test_precision": scores["precision"],
        "test_recall": scores["recall"],
        "test_f1": scores["f1"],
        "per_role": scores["per_role"],
        "allowed_path": allowed,
        "train_seconds": round(seconds, 1),
        "seconds_per_epoch": round(seconds / args.epochs, 1),
        "predict_seconds": round(predict_seconds, 1),
        "peak_rss_mb": rss.peak_mb,
    }


def allowed_cell(run):
    path = run.get("allowed_path")
    if run["crf"]:
        return "— (CRF)"
    if path is None:
        return "not run"
    return f"{path['f1']:.4f} ({path['precision']:.4f} / {path['recall']:.4f})"


def main(argv=None):
    parser = _common.parser(__doc__, "srl_ewt_propbank", epochs=3)
    parser.add_argument("--sources", default="minilm,minilm@random")
    parser.add_argument(
        "--predicate-encoding", choices=("auto", "segment", "pair"), default="auto"
    )
    parser.add_argument("--crf", action="store_true", help="a CRF output layer")
    parser.add_argument("--test-size", type=int, help="score a seeded sample")
    args = parser.parse_args(argv)

    full = tl.data.read_srl(os.path.join(args.data, "train.tsv"))
    train = full.sample(args.limit, args.seed)
    test = tl.data.read_srl(os.path.join(args.data, "test.tsv"))
    test = test.sample(args.test_size, args.seed)
    # The tag inventory of the whole training split and of test (a rare role
    # may miss the sample): a role the model never trained on is still
    # scored, and its arguments count as missed.
    names = set(full.tag_names()) | set(test.tag_names())
    tags = ["O"] + sorted(names - {"O"}, key=lambda tag: (tag[2:], tag[0]))
    runs = [
        run_source(source, train, test, tags, args)
        for source in args.sources.split(",")
    ]

    counts = {}
    for run in runs:
        for role, values in run["per_role"].items():
            counts[role] = max(counts.get(role, 0), values.get("support", 0))
    roles = sorted(counts, key=lambda role: -counts[role])[:_TABLE_ROLES]
    rows = [
        "| source | predicate as | epochs | train s (s/epoch) | test P | test R "
        "| **test F1** (V excluded; argmax) | F1 decoding the allowed path (P / R) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for run in runs:
        rows.append(
            f"| {run['source']} | {run['predicate_encoding']} | {args.epochs} | "
            f"{run['train_seconds']:.0f} ({run['seconds_per_epoch']:.0f}) | "
            f"{run['test_precision']:.4f} | {run['test_recall']:.4f} | "
            f"**{run['test_f1']:.4f}** | {allowed_cell(run)} |"
        )
    rows += [
        "",
        "Per-role test F1 (the most frequent roles; support = test arguments):",
        "",
        "| role | support | " + " | ".join(run["source"] for run in runs) + " |",
        "|---|---|" + "---|" * len(runs),
    ]
    for role in roles:
        cells = [f"{run['per_role'].get(role, {}).get('f1', 0.0):.3f}" for run in runs]
        rows.append(f"| {role} | {counts[role]} | " + " | ".join(cells) + " |")
    results = {
        "train_instances": len(train),
        "tags": len(tags),
        "test_instances": len(test),
        "epochs": args.epochs,
        "batch_size": args.batch_size,
        "runs": runs,
    }
    _common.write_results(
        "srl",
        results,
        "SRL, English Web Treebank PropBank: RoleLabeler, test argument F1",
        rows,
        _common.command("srl.py", argv),
    )
    print({run["source"]: run["test_f1"] for run in runs})


if __name__ == "__main__":
    main()
