"""`tlnlp evaluate`: score a trained model on a labelled file (the task's metrics)."""

from tlnlp_tf.cli import arguments


def register(commands):
    evaluate = commands.add_parser(
        "evaluate", help="score a trained model on a labelled file"
    )
    evaluate.add_argument(
        "--model", required=True, help="a folder written by `tlnlp fit`"
    )
    evaluate.add_argument("--data", required=True)
    arguments.add_columns(evaluate)
    evaluate.add_argument("--batch-size", type=arguments.positive, default=64)
    evaluate.set_defaults(handler=run)


def run(args):
    from tlnlp_tf.tasks import registry

    run_options = arguments.read_run(args.model)  # the data is read first
    task = registry.get_task(run_options.get("task", "text-classification"))
    data = task.read(args.data, arguments.columns(args, run_options))
    model = arguments.load_model(args.model)
    arguments.print_json(
        {
            "data": args.data,
            "examples": len(data),
            **task.score(model, data, args.batch_size),
        }
    )
    return 0
