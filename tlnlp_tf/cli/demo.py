"""The offline demo: what transfer learning buys on a small sentiment set.

Three runs on the same split of the sentiment reviews shipped in
`tlnlp_tf/resources/demo` (400 train, 200 held out):

1. pretrained MiniLM, fully fine-tuned;
2. pretrained MiniLM, frozen (feature extraction: only the head trains);
3. the same architecture from random weights, fully trained.

```python no-run: trains three models (minutes); tests/test_demo.py runs the demo
from tlnlp_tf.cli.demo import run_demo
results = run_demo(output="demo-output")
```
"""

import os
import time

import keras

from tlnlp_tf import outputs
from tlnlp_tf.data.readers import load_table
from tlnlp_tf.extras import require
from tlnlp_tf.tasks.text_classifier import TextClassifier

RESOURCES = os.path.join(
    os.path.dirname(os.path.dirname(__file__)), "resources", "demo"
)
TRAIN_FILE = os.path.join(RESOURCES, "sentiment_train.tsv")
VALID_FILE = os.path.join(RESOURCES, "sentiment_valid.tsv")
RUNS = (
    ("pretrained + fine-tune", "pretrained", "none"),
    ("pretrained + frozen (feature extraction)", "pretrained", "all"),
    ("random init + full training", "random", "none"),
)


def register(commands):
    """`tlnlp demo`: the offline demo."""
    from tlnlp_tf.cli.arguments import positive

    demo = commands.add_parser(
        "demo", help="the offline demo: pretrained vs frozen vs random init"
    )
    demo.add_argument("--output", default="demo-output")
    demo.add_argument("--backbone", default="minilm")
    demo.add_argument("--epochs", type=positive, default=5)
    demo.set_defaults(handler=run)


def run(args):
    run_demo(output=args.output, backbone=args.backbone, epochs=args.epochs)
    return 0


def run_demo(output="demo-output", backbone="minilm", epochs=5, batch_size=16, seed=0):
    """Train the three runs, print a table, write `demo.json` and `demo.png`.

    Returns the results dict written to `demo.json`.
    """
    require("matplotlib", "plots")  # before training, not after: demo.png needs it
    train = load_table(TRAIN_FILE, text="text", label="label")
    valid = load_table(VALID_FILE, text="text", label="label")
    labels = train.label_names()
    valid.check_labels(labels)
    runs = []
    for name, weights, freeze in RUNS:
        print(f"\n=== {name} (weights={weights}, freeze={freeze}) ===", flush=True)
        runs.append(
            _run(
                name,
                weights,
                freeze,
                backbone,
                labels,
                train,
                valid,
                epochs,
                batch_size,
                seed,
            )
        )
    results = {
        "backbone": backbone,
        "train_examples": len(train),
        "validation_examples": len(valid),
        "epochs": epochs,
        "runs": runs,
    }
    print("\n" + format_table(runs))
    outputs.write_json(os.path.join(output, "demo.json"), results)
    _plot(runs, os.path.join(output, "demo.png"))
    print(
        f"\nWrote {os.path.join(output, 'demo.json')} and "
        f"{os.path.join(output, 'demo.png')}"
    )
    print(next_steps())
    return results


def next_steps():
    """The task kinds `tlnlp fit --task` takes (the registry's), after the demo."""
    from tlnlp_tf.tasks import registry

    kinds = registry.task_kinds()
    return (
        "\nThe same on your data: tlnlp fit --task KIND, KIND one of "
        f"{', '.join(kinds)} "
        "(generation: summarization, translation, language-modeling with --backbone "
        "smollm2; then tlnlp generate). See docs/."
    )


def format_table(runs):
    """The runs as a fixed-width text table."""
    lines = [
        f"{'run':<42} {'weights':<10} {'freeze':<6} {'accuracy':>8} {'train s':>8}"
    ]
    for run in runs:
        lines.append(
            f"{run['name']:<42} {run['weights']:<10} {run['freeze']:<6} "
            f"{run['accuracy']:>8.3f} {run['train_seconds']:>8.1f}"
        )
    return "\n".join(lines)


def _run(
    name, weights, freeze, backbone, labels, train, valid, epochs, batch_size, seed
):
    keras.utils.set_random_seed(seed)
    model = TextClassifier.from_backbone(
        backbone, labels=labels, freeze=freeze, weights=weights
    )
    data = train.to_dataset().shuffle(len(train), seed=seed).batch(batch_size)
    valid_data = valid.to_dataset().batch(64)
    start = time.perf_counter()
    history = model.fit(data, validation_data=valid_data, epochs=epochs, verbose=2)
    seconds = time.perf_counter() - start
    return {
        "name": name,
        "weights": weights,
        "freeze": freeze,
        "accuracy": round(float(history.history["val_accuracy"][-1]), 4),
        "accuracy_per_epoch": [
            round(float(a), 4) for a in history.history["val_accuracy"]
        ],
        "train_seconds": round(seconds, 1),
        "trainable_params": sum(int(w.numpy().size) for w in model.trainable_weights),
    }


def _plot(runs, path):
    matplotlib = require("matplotlib", "plots")
    matplotlib.use("Agg")
    pyplot = require("matplotlib.pyplot", "plots")

    figure, axes = pyplot.subplots(figsize=(6, 4))
    for run in runs:
        epochs = range(1, len(run["accuracy_per_epoch"]) + 1)
        axes.plot(epochs, run["accuracy_per_epoch"], marker="o", label=run["name"])
    axes.set_xticks(range(1, len(runs[0]["accuracy_per_epoch"]) + 1))
    axes.set_xlabel("epoch")
    axes.set_ylabel("validation accuracy")
    axes.set_ylim(0.4, 1.0)
    axes.set_title("What pretraining buys: MiniLM on 400 labelled reviews")
    axes.grid(alpha=0.3)
    axes.legend(loc="lower right", fontsize=8)
    outputs.save_figure(figure, path)
    pyplot.close(figure)
