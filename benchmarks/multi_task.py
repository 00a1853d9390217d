"""Multi-task learning: SST-2 + STS-B + CoNLL-2003 on one MiniLM, jointly vs each alone.

    python benchmarks/multi_task.py
    python benchmarks/multi_task.py --train-size 100 --test-size 100 --epochs 1  # smoke

Each task trains on a seeded sample of `--train-size` training examples:
- alone: its own `TextClassifier` / `TextRegressor` / `TokenClassifier` on MiniLM, with
  that task's defaults, for `--epochs` epochs;
- jointly: one `MultiTaskModel` whose three heads share one MiniLM, fed by
  `tl.data.mix_tasks` (`--sampling`, default proportional) for the same `--epochs`:
  every task sees each of its batches as often as alone, so the joint run costs
  what the three single runs cost together (same budget).

Scores: SST-2 dev accuracy (872 sentences), STS-B dev Spearman (`--test-size`
pairs), CoNLL-2003 test entity F1 (`--test-size` sentences).
"""

import os
import sys
import time

import keras
import numpy as np
from scipy import stats

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common  # noqa: E402

import tlnlp_tf as tl  # noqa: E402

TASKS = ("sst2", "stsb", "ner")


def main(argv=None):
    parser = _common.parser(__doc__, "", epochs=3)
    parser.set_defaults(batch_size=16)  # --data: ../shared/data
    parser.add_argument("--train-size", type=int, default=2000)
    parser.add_argument("--test-size", type=int, default=1000)
    parser.add_argument(
        "--sampling",
        default="proportional",
        choices=("proportional", "uniform", "temperature"),
    )
    args = parser.parse_args(argv)
    data = load(args)

    runs = {}
    for name in TASKS:
        keras.utils.set_random_seed(args.seed)
        model = alone(name, data)
        start = time.perf_counter()
        model.fit(batches(model, name, data, args), epochs=args.epochs, verbose=0)
        runs[f"{name} alone"] = {
            "task": name,
            "mode": "alone",
            "train_seconds": round(time.perf_counter() - start, 1),
            "score": score(model, name, data),
        }
        print(runs[f"{name} alone"], flush=True)
        keras.backend.clear_session()

    keras.utils.set_random_seed(args.seed)
    model = tl.MultiTaskModel.from_backbone(
        "minilm", {name: spec(name, data) for name in TASKS}
    )
    mixed = tl.data.mix_tasks(
        {
            name: model.task_dataset(name, batches(model.tasks[name], name, data, args))
            for name in TASKS
        },
        sampling=args.sampling,
        seed=args.seed,
    )
    start = time.perf_counter()
    model.fit(mixed, epochs=args.epochs, verbose=0)
    seconds = round(time.perf_counter() - start, 1)
    for name in TASKS:
        runs[f"{name} joint"] = {
            "task": name,
            "mode": "joint",
            "train_seconds": seconds,
            "score": score(model.tasks[name], name, data),
        }
        print(runs[f"{name} joint"], flush=True)
    results = {
        "train_size": args.train_size,
        "test_size": args.test_size,
        "epochs": args.epochs,
        "sampling": args.sampling,
        "runs": runs,
    }
    _common.write_results(
        "multi_task",
        results,
        "Multi-task: SST-2 + STS-B + CoNLL-2003 on one MiniLM, jointly vs alone",
        table(results, args),
        _common.command("multi_task.py", argv),
    )


def load(args):
    folder = lambda name: os.path.join(args.data, name)
    sst2 = tl.data.load_table(
        os.path.join(folder("sst2"), "train.tsv"), "sentence", "label"
    )
    sst2_dev = tl.data.load_table(
        os.path.join(folder("sst2"), "dev.tsv"), "sentence", "label"
    )
    stsb = lambda part: tl.data.load_table(
        os.path.join(folder("stsb"), part), "sentence1", "score", text_pair="sentence2"
    )
    conll = lambda part: tl.data.read_conll(os.path.join(folder("conll2003"), part))
    ner = conll("train.txt").sample(args.train_size, seed=args.seed)
    return {
        "sst2": (sst2.sample(args.train_size, seed=args.seed), sst2_dev),
        "stsb": (
            stsb("train.tsv").sample(args.train_size, seed=args.seed),
            stsb("dev.tsv").sample(args.test_size, seed=args.seed),
        ),
        "ner": (ner, conll("test.txt").sample(args.test_size, seed=args.seed)),
    }


def spec(name, data):
    if name == "sst2":
        return {"kind": "text-classification", "labels": data["sst2"][0].label_names()}
    if name == "stsb":
        return {"kind": "regression"}
    return {"kind": "token-classification", "tags": data["ner"][0].tag_names()}


def alone(name, data):
    """The single-task model of `name` on MiniLM, with that task's defaults."""
    if name == "sst2":
        return tl.TextClassifier.from_backbone(
            "minilm", labels=data["sst2"][0].label_names()
        )
    if name == "stsb":
        return tl.TextRegressor.from_backbone("minilm")
    return tl.TokenClassifier.from_backbone("minilm", tags=data["ner"][0].tag_names())


def batches(model, name, data, args):
    train = data[name][0]
    if name == "ner":  # token tasks: plain shuffled batches (as `tlnlp fit`)
        return (
            train.to_dataset()
            .shuffle(len(train), seed=args.seed)
            .batch(args.batch_size)
        )
    tokens = model.tokenize_once(train.to_dataset())
    return tl.data.training_batches(tokens, args.batch_size, seed=args.seed)


def score(model, name, data):
    test = data[name][1]
    if name == "sst2":
        predicted = model.predict(test.texts, batch_size=64, verbose=0)["label"]
        return round(
            float(np.mean([str(p) == str(t) for p, t in zip(predicted, test.labels)])),
            4,
        )
    if name == "stsb":
        values = model.predict(test.features(), batch_size=64, verbose=0)["value"]
        return round(
            float(stats.spearmanr(values, [float(s) for s in test.labels])[0]), 4
        )
    predicted, _ = model.predict_tags(test.words)
    return round(tl.metrics.entity_scores(test.tags, predicted)["f1"], 4)


def table(results, args):
    runs = results["runs"]
    metric = {
        "sst2": "SST-2 dev accuracy",
        "stsb": "STS-B dev Spearman",
        "ner": "CoNLL-2003 test entity F1",
    }
    rows = [
        f"{args.train_size} training examples per task, {args.epochs} epochs, batch "
        f"{args.batch_size}, seed {args.seed}, `{args.sampling}` sampling for the "
        "joint run; each task's own defaults alone, the MultiTaskModel defaults "
        "jointly (the lowest of the three tasks' peak rates).",
        "",
        "| task | metric | alone | joint | joint − alone | train s alone |",
        "|---|---|---|---|---|---|",
    ]
    for name in TASKS:
        alone, joint = runs[f"{name} alone"], runs[f"{name} joint"]
        rows.append(
            f"| {name} | {metric[name]} | {alone['score']:.4f} | {joint['score']:.4f} "
            f"| {joint['score'] - alone['score']:+.4f} | {alone['train_seconds']} |"
        )
    total = sum(runs[f"{name} alone"]["train_seconds"] for name in TASKS)
    rows += [
        "",
        f"Training time: the three single-task runs {total:.1f} s together, the joint "
        f"run {runs['sst2 joint']['train_seconds']} s.",
    ]
    return rows


if __name__ == "__main__":
    main()
