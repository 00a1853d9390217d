"""`tlnlp predict`: label texts (or answer questions) with a trained model."""

import json
import sys

from tlnlp_tf.cli import arguments


def register(commands):
    predict = commands.add_parser(
        "predict", help="label texts with a trained model (JSONL out)"
    )
    predict.add_argument(
        "--model", required=True, help="a folder written by `tlnlp fit`"
    )
    predict.add_argument(
        "--input",
        required=True,
        help="'-' or a text file (one text per line), or .csv/.tsv/.jsonl; "
        "question answering: JSONL of {question, context} or SQuAD .json",
    )
    predict.add_argument(
        "--text-column", help="column of --input, for .csv/.tsv/.jsonl"
    )
    predict.add_argument("--text-pair-column")
    predict.add_argument("--output", help="write JSONL here instead of standard output")
    predict.add_argument("--batch-size", type=arguments.positive, default=64)
    predict.set_defaults(handler=run)


def run(args):
    from tlnlp_tf.tasks import registry

    run_options = arguments.read_run(args.model)
    columns = arguments.columns(args, run_options)
    if run_options.get("task") in registry.task_kinds():  # the input is read first
        task = registry.get_task(run_options["task"])
        inputs = task.read_inputs(args.input, columns)
        model = arguments.load_model(args.model)
    else:  # no run.json: the model's class says what it is
        model = arguments.load_model(args.model)
        task = registry.kind_of(model)
        inputs = task.read_inputs(args.input, columns)
    records = task.predict(model, inputs, args.batch_size)
    body = "".join(json.dumps(record, ensure_ascii=False) + "\n" for record in records)
    if args.output:
        from tlnlp_tf import outputs

        outputs.write_text(args.output, body)
    else:
        sys.stdout.write(body)
    return 0
