"""Few labels: contrastive few-shot (SetFit) and the solved frozen head.

    python benchmarks/few_labels.py  # SST-2, 8 and 64 per class, 5 draws
    python benchmarks/few_labels.py --dataset mrpc --per-class 8,64
    python benchmarks/few_labels.py --dataset imdb --max-length 256
    python benchmarks/few_labels.py --per-class "" --full 4000 --strategies frozen
    python benchmarks/few_labels.py --backbone models/all-mpnet-base-v2 \\
        --per-class 8 --strategies setfit,frozen   # benchmarks/get_mpnet.py

For every size (labels per class) and draw, `tl.transfer_report` draws a
stratified sample of the training split with the draw's seed (the same
sample for every strategy), trains a `TextClassifier` on all-MiniLM-L6-v2
(`"minilm"`) with the library's defaults for the strategy, and scores it on
the whole dev (or test) split. Mean ± standard deviation over the draws;
the time is the wall time of `fit` on the 2-core machine. Results are saved
after every draw, so a killed run keeps the draws it finished.

Strategies:
- `random`: the same architecture from random weights, fully trained (the floor).
- `frozen`: `freeze="all"`: the frozen backbone's features (the means of
  its last 4 layers side by side, `pooling="mean-last-4"`), the logistic
  head solved to its optimum (strength by cross-validation).
- `frozen-last`: the same with the last layer's mean alone (`pooling="mean"`),
  the comparison for `frozen`'s pooling (not in `transfer_report`).
- `finetune`: everything trains (`compile()` defaults).
- `lora-8`: `freeze="lora-8"` (the best strategy at 100 labels in
  `strategies.py`).
- `l2sp`: `finetune` with `tl.L2SP(alpha=0.01, beta=0.01)` pulling the
  backbone toward its pretrained weights (the best strategy at 500 labels
  in `strategies.py`; in `transfer_report` since 2026-12-05, run here
  before, the same way).
- `setfit`: `freeze="setfit"` with its defaults: 40 contrastive pair
  iterations (80 pairs per example, at most 10,000), one epoch at 5e-5,
  then the solved head.
- `setfit-template`: `setfit` on the same draw plus
  `tl.data.templated_examples` (setfit's `get_templated_dataset`): for
  each label, 8 copies (its default, saved as `setfit-template-8`;
  `setfit-template-N`: N copies) of `--template` filled with the label's
  words (`LABEL_WORDS`; SST-2: "This sentence is negative" / "... positive").

IMDB (`--dataset imdb`): the 2,000 reviews of `imdb/test_subset_2000.jsonl`
split as `dapt_imdb.py` splits them, the labelled sets drawn from the
training half and scored on the 1,000 held-out reviews; `--max-length 256`
(`tl.transfer_report(max_length=...)`) reads each review's first 256 tokens
in every strategy (the held-out reviews longer than that are counted in a
warning) to fit the CPU budget.

`--full 4000` trains on 4,000 examples, a seeded sample per draw (draw 0:
`sst2.py --limit 4000`'s sample).

`random`, `finetune`, `lora-8` and `l2sp` train for `--updates` optimizer steps at
batch 16 (at least 2 epochs), as `strategies.py` gives its smallest size
some 50 updates. Runs before 2026-12-02 drew their samples with this
script's own sampler (labels in sorted order, the same seeds), and
`frozen` then pooled the last layer only.

Writes `benchmarks/results/few_labels_<dataset>.json` (with another
`--backbone`: `few_labels_<dataset>_<its folder name>.json`) and a section of
`benchmarks/RESULTS.md`; the saved runs of sizes, strategies and draws not
rerun are kept (run 8 and 64 labels per class as two commands, or more draws
of one size with `--first-draw 3 --draws 2`).
"""

import json
import os
import re
import sys
import time

import keras
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common  # noqa: E402

import tlnlp_tf as tl  # noqa: E402
from tlnlp_tf.reports.transfer_report import BATCH_SIZE  # noqa: E402
from tlnlp_tf.reports.transfer_report import draw_budget  # noqa: E402
from tlnlp_tf.reports.transfer_report import labelled_subset  # noqa: E402

STRATEGIES = (
    "random",
    "frozen",
    "frozen-last",
    "finetune",
    "lora-8",
    "l2sp",
    "setfit",
    "setfit-template",
)
OWN = ("frozen-last",)  # run here, not by `tl.transfer_report`, with setfit-template-N
COPIES = re.compile(r"setfit-template-([1-9][0-9]*)")  # N copies of each label
# The words that name each label, for `setfit-template-N`.
LABEL_WORDS = {
    "sst2": {"0": "negative", "1": "positive"},
    "chnsenticorp": {"0": "负面", "1": "正面"},
    "imdb": {"0": "negative", "1": "positive"},
}


def read(args):
    """`(train, dev)` `Examples` of `--dataset`."""
    folder = os.path.join(args.data, args.dataset)
    if args.dataset == "sst2":
        read = lambda name: tl.data.load_table(  # noqa: E731
            os.path.join(folder, name), "sentence", "label"
        )
        return read("train.tsv"), read("dev.tsv")
    if args.dataset == "chnsenticorp":
        read = lambda name: tl.data.load_table(  # noqa: E731
            os.path.join(folder, name), "text_a", "label"
        )
        return read("train.tsv"), read("dev.tsv")
    if args.dataset == "mrpc":
        read = lambda name: tl.data.load_table(  # noqa: E731
            os.path.join(folder, name), "#1 String", "Quality", "#2 String"
        )
        return read("msr_paraphrase_train.txt"), read("msr_paraphrase_test.txt")
    if args.dataset == "imdb":
        return _common.imdb_halves(os.path.join(folder, "test_subset_2000.jsonl"))
    raise SystemExit(f"unknown dataset {args.dataset}")


def known(strategy):
    """A strategy of `STRATEGIES`, or `setfit-template-N`."""
    return strategy in STRATEGIES or COPIES.fullmatch(strategy) is not None


def own(strategy):
    """Run here (`OWN` or `setfit-template-N`), not by `tl.transfer_report`."""
    return strategy in OWN or COPIES.fullmatch(strategy) is not None


def own_run(strategy, train, dev, budget, draw, args):
    """A run of `frozen-last` (the `frozen` run with `pooling="mean"`, the
    last layer's mean alone) or `setfit-template` (the `setfit` run on the
    same draw plus `tl.data.templated_examples`)."""
    names = train.label_names()
    x, y = labelled_subset(train, draw_budget(train, budget, names, draw))
    labelled = len(y)
    keras.utils.set_random_seed(draw)
    copies = COPIES.fullmatch(strategy)
    template = {}
    if copies:
        copies = int(copies[1])
        template = {"template": args.template, "template_copies": copies}
        extra = tl.data.templated_examples(
            LABEL_WORDS[args.dataset], args.template, copies
        )
        template["templated_examples"] = len(extra.texts)
        x, y = x + extra.texts, y + extra.labels
        model = tl.TextClassifier.from_backbone(
            args.backbone, labels=names, freeze="setfit", max_length=args.max_length
        )
    else:
        model = tl.TextClassifier.from_backbone(
            args.backbone,
            labels=names,
            freeze="all",
            pooling="mean",
            max_length=args.max_length,
        )
    epochs = 1
    start = time.perf_counter()
    history = model.fit(x, y, batch_size=BATCH_SIZE, epochs=epochs, verbose=0)
    seconds = time.perf_counter() - start
    scores = model.score(dev)
    keras.backend.clear_session()
    run = {
        "strategy": strategy,
        "examples": labelled,
        **template,
        "accuracy": scores["accuracy"],
        "f1": scores["f1"],
        "epochs": epochs,
        "max_length": model.sequence_length(),
        "train_seconds": round(seconds, 2),
    }
    if hasattr(history, "solution"):
        run["head"] = {k: history.solution[k] for k in ("C", "seconds")}
    return run


def runs_of(train, dev, budget, draw, strategies, args):
    """The runs of one draw at one budget (`tl.transfer_report`'s, plus
    those of `OWN`), each printed as it ends."""
    runs = []
    library = [s for s in strategies if not own(s)]
    if library:
        report = tl.transfer_report(
            train,
            dev,
            budgets=[budget],
            strategies=library,
            seeds=[draw],
            backbone=args.backbone,
            updates=args.updates,
            max_length=args.max_length,
        )
        runs += report["runs"]
    for strategy in (s for s in strategies if own(s)):
        runs.append(own_run(strategy, train, dev, budget, draw, args))
        print(json.dumps(runs[-1]), flush=True)
    for run in runs:
        run.pop("budget", None)
        run.pop("seed", None)
    return runs


def main(argv=None):
    parser = _common.parser(__doc__, "", epochs=0)
    here = os.path.dirname(os.path.abspath(__file__))
    parser.set_defaults(data=os.path.join(here, "..", "..", "shared", "data"))
    parser.add_argument(
        "--dataset", default="sst2", choices=("sst2", "chnsenticorp", "mrpc", "imdb")
    )
    parser.add_argument(
        "--max-length",
        type=int,
        help="tokens per text read by every strategy (default: each model "
        "chooses from its training draw)",
    )
    parser.add_argument("--backbone", default="minilm")
    parser.add_argument("--per-class", default="8,64")
    parser.add_argument("--draws", type=int, default=5)
    parser.add_argument(
        "--first-draw",
        type=int,
        default=0,
        help="the first draw's number (its seed): run draws N .. N+draws-1",
    )
    parser.add_argument("--strategies", default=",".join(STRATEGIES))
    parser.add_argument("--updates", type=int, default=50)
    parser.add_argument(
        "--template",
        default=tl.data.label_templates.TEMPLATE,
        help="setfit-template: the sentence that names a label ({} = its words)",
    )
    parser.add_argument(
        "--full",
        type=int,
        default=0,
        help="also train on seeded samples of N training examples (not per "
        "class), one per draw (draw N: the sample of seed N)",
    )
    args = parser.parse_args(argv)
    # Saved as setfit-template-N: the runs say how many copies they had.
    default = f"setfit-template-{tl.data.label_templates.PER_LABEL}"
    strategies = [
        default if s == "setfit-template" else s for s in args.strategies.split(",")
    ]
    unknown = [s for s in strategies if not known(s)]
    if unknown:
        raise SystemExit(
            f"unknown strategies {unknown}; choose from {STRATEGIES} or "
            "setfit-template-N"
        )
    if any(COPIES.fullmatch(s) for s in strategies) and args.dataset not in LABEL_WORDS:
        raise SystemExit(f"setfit-template: no label words for {args.dataset}")
    train, dev = read(args)
    dev.check_labels(train.label_names())
    kept = _common.saved_runs(result_name(args))
    runs = []
    draws = range(args.first_draw, args.first_draw + args.draws)
    jobs = [
        (f"{size}/class", size * len(train.label_names()), draw)
        for size in (int(s) for s in args.per_class.split(",") if s)
        for draw in draws
    ]
    if args.full:  # draw N: the sample of seed N (draw 0: sst2.py's --limit sample)
        jobs += [(str(args.full), "all", draw) for draw in draws]
    # Saved runs of the sizes, strategies and draws not rerun are kept.
    rerun = {(size, s, draw) for size, _, draw in jobs for s in strategies}
    kept = [r for r in kept if (r["size"], r["strategy"], r["draw"]) not in rerun]
    for size, budget, draw in jobs:
        pool = train.sample(args.full, seed=draw) if budget == "all" else train
        for run in runs_of(pool, dev, budget, draw, strategies, args):
            run.update(size=size, draw=draw)
            runs.append(run)
        save(kept + runs, args, dev, argv)


def result_name(args):
    """`few_labels_<dataset>`, and `_<backbone folder>` for another backbone."""
    return _common.backbone_result_name(f"few_labels_{args.dataset}", args.backbone)


def save(runs, args, dev, argv):
    """Write the JSON results and the RESULTS.md section (after every draw)."""
    results = {
        "dataset": args.dataset,
        "backbone": args.backbone,
        "dev_examples": len(dev),
        "max_length": args.max_length,
        "runs": runs,
    }
    _common.write_results(
        result_name(args),
        results,
        f"Few labels: {args.dataset}, {args.backbone}, accuracy on "
        f"{len(dev)} held-out examples",
        table(runs, shown(runs)),
        _common.command("few_labels.py", argv)
        + " (kept runs of other sizes: their own commands)",
    )


def shown(runs):
    """The strategies of `runs` in `STRATEGIES` order, `setfit-template-N` by N."""
    found = {r["strategy"] for r in runs}
    copies = sorted(
        (s for s in found if COPIES.fullmatch(s)),
        key=lambda s: int(s.rsplit("-", 1)[1]),
    )
    return [s for s in STRATEGIES if s in found] + copies


def table(runs, strategies):
    sizes = list(dict.fromkeys(run["size"] for run in runs))
    rows = [
        "| labels | " + " | ".join(strategies) + " |",
        "|---|" + "---|" * len(strategies),
    ]
    for size in sizes:
        cells = []
        for strategy in strategies:
            chosen = [
                r for r in runs if r["size"] == size and r["strategy"] == strategy
            ]
            if not chosen:
                cells.append("–")
                continue
            accuracy = np.array([r["accuracy"] for r in chosen])
            seconds = np.mean([r["train_seconds"] for r in chosen])
            spread = f" ± {accuracy.std():.3f}" if len(chosen) > 1 else ""
            cells.append(f"{accuracy.mean():.3f}{spread} ({seconds:.0f} s)")
        rows.append(f"| {size} | " + " | ".join(cells) + " |")
    rows += [
        "",
        "Mean ± standard deviation over the draws of the labelled set (each "
        "strategy sees the same draws); in brackets the mean `fit` time in "
        "seconds on the shared 2 cores (caching and the head's solve included).",
    ]
    return rows


if __name__ == "__main__":
    main()
