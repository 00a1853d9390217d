"""`tlnlp`: fit, evaluate and predict from the command line; the offline demo.

    tlnlp fit --train train.tsv --validation dev.tsv --text-column sentence \
        --label-column label --backbone minilm --output run/
    tlnlp evaluate --model run/ --data dev.tsv
    tlnlp predict --model run/ --input texts.txt
    tlnlp demo --output demo-output/

Every command writes JSON; bad input exits with status 2 and one line saying
what was wrong, before any training starts.
"""

import argparse
import json
import os
import sys
import time

from tlnlp_tf.errors import BackboneError
from tlnlp_tf.errors import DataError
from tlnlp_tf.errors import PolicyError

USER_ERRORS = (DataError, BackboneError, PolicyError)
RUN_FILE = "run.json"
TASKS = ("text-classification", "regression")


def main(argv=None):
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    try:
        return args.handler(args)
    except USER_ERRORS as error:
        print(f"tlnlp {args.command}: error: {error}", file=sys.stderr)
        return 2


def _parser():
    parser = argparse.ArgumentParser(
        prog="tlnlp", description="Transfer learning for NLP on Keras 3."
    )
    commands = parser.add_subparsers(dest="command")

    fit = commands.add_parser("fit", help="fine-tune a model on a CSV/TSV/JSONL file")
    fit.add_argument("--task", choices=TASKS, default="text-classification",
                     help="text-classification (labels) or regression (numeric targets)")
    fit.add_argument("--train", required=True, help="training file (.csv, .tsv, .jsonl)")
    fit.add_argument("--validation", help="validation file, same columns")
    _add_columns(fit, required=True)
    fit.add_argument("--backbone", default="minilm",
                     help="preset name, preset or Hugging Face folder, or 'minilm'")
    fit.add_argument("--weights", choices=("pretrained", "random"), default="pretrained")
    fit.add_argument("--freeze", default="none",
                     help="none | all | embeddings | bottom-N (default: none)")
    fit.add_argument("--epochs", type=_positive, default=3)
    fit.add_argument("--batch-size", type=_positive, default=32)
    fit.add_argument("--max-length", type=_positive,
                     help="tokens per example (default: chosen from the training data)")
    fit.add_argument("--learning-rate", type=float,
                     help="peak learning rate (default: chosen from the backbone and freeze policy)")
    fit.add_argument("--limit", type=_positive,
                     help="train on a seeded random sample of N examples")
    fit.add_argument("--seed", type=int, default=0)
    fit.add_argument("--output", required=True, help="folder for model.keras and JSON results")
    fit.set_defaults(handler=_fit)

    evaluate = commands.add_parser("evaluate", help="score a trained model on a labelled file")
    evaluate.add_argument("--model", required=True, help="a folder written by `tlnlp fit`")
    evaluate.add_argument("--data", required=True)
    _add_columns(evaluate, required=False)
    evaluate.add_argument("--batch-size", type=_positive, default=64)
    evaluate.set_defaults(handler=_evaluate)

    predict = commands.add_parser("predict", help="label texts with a trained model (JSONL out)")
    predict.add_argument("--model", required=True, help="a folder written by `tlnlp fit`")
    predict.add_argument("--input", required=True,
                         help="'-' or a text file (one text per line), or .csv/.tsv/.jsonl")
    predict.add_argument("--text-column", help="column of --input, for .csv/.tsv/.jsonl")
    predict.add_argument("--text-pair-column")
    predict.add_argument("--output", help="write JSONL here instead of standard output")
    predict.add_argument("--batch-size", type=_positive, default=64)
    predict.set_defaults(handler=_predict)

    demo = commands.add_parser("demo", help="the offline demo: pretrained vs frozen vs random init")
    demo.add_argument("--output", default="demo-output")
    demo.add_argument("--backbone", default="minilm")
    demo.add_argument("--epochs", type=_positive, default=5)
    demo.set_defaults(handler=_demo)
    return parser


def _add_columns(parser, required):
    parser.add_argument("--text-column", required=required)
    parser.add_argument("--text-pair-column")
    parser.add_argument("--label-column", required=required)


def _positive(text):
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text}")
    return value


# === fit ===

def _fit(args):
    import keras

    from tlnlp_tf import outputs
    from tlnlp_tf.freezing import parameter_counts
    from tlnlp_tf.tasks import TextClassifier
    from tlnlp_tf.tasks import TextRegressor

    regression = args.task == "regression"
    train = _load(args.train, args.text_column, args.label_column, args.text_pair_column)
    train = train.sample(args.limit, seed=args.seed)
    if regression:
        _check_numeric(train)
    else:
        labels = train.label_names()
    validation = None
    if args.validation:
        validation = _load(args.validation, args.text_column, args.label_column,
                           args.text_pair_column)
        _check_numeric(validation) if regression else validation.check_labels(labels)

    keras.utils.set_random_seed(args.seed)
    options = dict(freeze=args.freeze, weights=args.weights, max_length=args.max_length)
    if regression:
        model = TextRegressor.from_backbone(args.backbone, **options)
    else:
        model = TextClassifier.from_backbone(args.backbone, labels=labels, **options)
    if args.learning_rate is not None:
        model.compile(learning_rate=args.learning_rate)
    data = train.to_dataset().shuffle(len(train), seed=args.seed).batch(args.batch_size)
    valid_data = validation.to_dataset().batch(64) if validation else None
    start = time.perf_counter()
    model.fit(data, validation_data=valid_data, epochs=args.epochs)
    seconds = time.perf_counter() - start

    counts = parameter_counts(model)
    metrics = {
        "train_seconds": round(seconds, 2),
        "train_examples_per_second": round(len(train) * args.epochs / seconds, 2),
        "trainable_params": counts["trainable"],
        "total_params": counts["total"],
        "train_examples": len(train),
        "max_length": model.max_length,
    }
    if validation is not None:
        metrics = {"validation": _scores(model, validation, 64), **metrics}
    run = {
        "task": args.task,
        "backbone": args.backbone,
        "weights": args.weights,
        "freeze": model.freeze,
        "text_column": args.text_column,
        "text_pair_column": args.text_pair_column,
        "label_column": args.label_column,
        "epochs": args.epochs,
        "batch_size": args.batch_size,
        "seed": args.seed,
        "limit": args.limit,
    }
    outputs.save_model(model, os.path.join(args.output, "model.keras"))
    if not regression:
        outputs.write_json(os.path.join(args.output, "labels.json"), list(model.labels))
    outputs.write_json(os.path.join(args.output, RUN_FILE), run)
    outputs.write_json(os.path.join(args.output, "metrics.json"), metrics)
    print(json.dumps(metrics, indent=2))
    return 0


# === evaluate ===

def _evaluate(args):
    model, run = _load_run(args.model)
    text = args.text_column or run.get("text_column")
    label = args.label_column or run.get("label_column")
    pair = args.text_pair_column or run.get("text_pair_column")
    data = _load(args.data, text, label, pair)
    result = {"data": args.data, "examples": len(data),
              **_scores(model, data, args.batch_size)}
    print(json.dumps(result, indent=2))
    return 0


# === predict ===

def _predict(args):
    from tlnlp_tf.data.examples import Examples

    model, run = _load_run(args.model)
    if args.input != "-" and args.input.lower().endswith((".csv", ".tsv", ".jsonl")):
        text = args.text_column or run.get("text_column")
        pair = args.text_pair_column or run.get("text_pair_column")
        examples = _load(args.input, text, None, pair)
    else:
        source = "<stdin>" if args.input == "-" else args.input
        lines = _read_lines(args.input)
        kept = [(number, line) for number, line in enumerate(lines, 1) if line.strip()]
        if not kept:
            raise DataError(f"{source}: no texts to predict.")
        examples = Examples(texts=[line for _, line in kept], source=source,
                            lines=[number for number, _ in kept])
    result = model.predict(examples.features(), batch_size=args.batch_size, verbose=0)
    records = []
    for index, text in enumerate(examples.texts):
        record = {"text": text}
        if examples.pairs is not None:
            record["text_pair"] = examples.pairs[index]
        if "value" in result:
            record["value"] = round(float(result["value"][index]), 6)
        else:
            record["label"] = result["label"][index]
            record["score"] = round(float(result["score"][index]), 6)
        records.append(json.dumps(record, ensure_ascii=False))
    body = "\n".join(records) + "\n"
    if args.output:
        from tlnlp_tf import outputs

        outputs.write_text(args.output, body)
    else:
        sys.stdout.write(body)
    return 0


# === demo ===

def _demo(args):
    from tlnlp_tf.demo import run_demo

    run_demo(output=args.output, backbone=args.backbone, epochs=args.epochs)
    return 0


# === helpers ===

def _load(path, text, label, pair):
    from tlnlp_tf.data.readers import load_jsonl
    from tlnlp_tf.data.readers import load_table

    if text is None:
        raise DataError(f"{path}: name the text column with --text-column.")
    if path.lower().endswith(".jsonl"):
        return load_jsonl(path, text, label, pair)
    return load_table(path, text, label, pair)


def _load_run(folder):
    import keras

    path = os.path.join(folder, "model.keras")
    if not os.path.isfile(path):
        raise DataError(f"{folder}: no model.keras; expected a folder written by `tlnlp fit`.")
    run_path = os.path.join(folder, RUN_FILE)
    run = {}
    if os.path.isfile(run_path):
        with open(run_path, encoding="utf-8") as file:
            run = json.load(file)
    return keras.saving.load_model(path), run


def _read_lines(path):
    from tlnlp_tf.data.readers import read_text

    if path == "-":
        return sys.stdin.read().splitlines()
    return read_text(path).splitlines()


def _scores(model, examples, batch_size):
    """The task's validation metrics on labelled `examples`."""
    from tlnlp_tf.metrics import pearson
    from tlnlp_tf.metrics import spearman
    from tlnlp_tf.tasks import TextRegressor

    if isinstance(model, TextRegressor):
        _check_numeric(examples)
        predicted = model.predict(examples.features(), batch_size=batch_size, verbose=0)
        truth = [float(value) for value in examples.labels]
        values = predicted["value"]
        return {"pearson": round(pearson(truth, values), 6),
                "spearman": round(spearman(truth, values), 6),
                "mse": round(float(((values - truth) ** 2).mean()), 6)}
    examples.check_labels(model.labels)
    scores = model.evaluate(examples.to_dataset().batch(batch_size), return_dict=True, verbose=0)
    return {name: round(float(scores[name]), 6) for name in ("accuracy", "f1", "loss")}


def _check_numeric(examples):
    for label, line in zip(examples.labels, examples.lines):
        try:
            float(label)
        except ValueError:
            raise DataError(f"{examples.source}, line {line}: target '{label}' is not a "
                            "number; regression needs numeric targets.") from None


if __name__ == "__main__":
    sys.exit(main())
