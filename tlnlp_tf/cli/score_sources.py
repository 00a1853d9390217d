"""`tlnlp score-sources`: rank backbones (and layers) for a labelled file by LogME."""

import time

from tlnlp_tf.cli import arguments
from tlnlp_tf.errors import PolicyError


def register(commands):
    score = commands.add_parser(
        "score-sources",
        help="rank backbones (and layers) for a labelled file by LogME, "
        "without training",
    )
    score.add_argument(
        "--train", required=True, help="labelled .csv, .tsv or .jsonl file"
    )
    score.add_argument("--text-column", required=True, help="the text column")
    score.add_argument("--text-pair-column", help="second text column, for pairs")
    score.add_argument(
        "--label-column", required=True, help="label (or numeric target) column"
    )
    score.add_argument(
        "--task", choices=("classification", "regression"), default="classification"
    )
    score.add_argument(
        "--backbones",
        nargs="+",
        required=True,
        metavar="SPEC",
        help="backbone specs to compare; SPEC@random is the same architecture "
        "with random weights (the no-transfer baseline)",
    )
    score.add_argument(
        "--layers",
        default="last",
        help="last (default), all, or a comma list of transformer layer "
        "indices, 0 the first and -1 the last (--layers=-1,2)",
    )
    score.add_argument(
        "--limit",
        type=arguments.positive,
        help="score a seeded random sample of N examples",
    )
    score.add_argument(
        "--seed",
        type=int,
        default=0,
        help="seed for the sample and the random weights of SPEC@random",
    )
    score.add_argument("--batch-size", type=arguments.positive, default=64)
    score.add_argument("--output", help="JSON file for the ranking")
    score.set_defaults(handler=run)


def run(args):
    import keras

    from tlnlp_tf import outputs
    from tlnlp_tf.probes.transferability import score_sources
    from tlnlp_tf.tasks import registry
    from tlnlp_tf.tasks.registry_encoder_kinds import load_text_examples

    if args.layers in ("last", "all"):
        layers = None if args.layers == "last" else "all"
    else:
        try:
            layers = [int(part) for part in args.layers.split(",")]
        except ValueError:
            raise PolicyError(
                f"--layers must be 'last', 'all' or a comma list of layer "
                f"indices such as 0,3,-1; got '{args.layers}'."
            ) from None
    examples = load_text_examples(
        args.train, args.text_column, args.label_column, args.text_pair_column
    ).sample(args.limit, seed=args.seed)
    if args.task == "regression":
        examples.check_numeric()
    else:
        registry.label_targets(examples, None)  # at least two labels
    keras.utils.set_random_seed(args.seed)
    start = time.perf_counter()
    ranking = score_sources(
        args.backbones,
        examples.texts,
        examples.labels,
        text_pairs=examples.pairs,
        task=args.task,
        layers=layers,
        batch_size=args.batch_size,
    )
    result = {
        "train": args.train,
        "examples": len(examples),
        "task": args.task,
        "text_column": args.text_column,
        "text_pair_column": args.text_pair_column,
        "label_column": args.label_column,
        "layers": args.layers,
        "limit": args.limit,
        "seed": args.seed,
        "seconds": round(time.perf_counter() - start, 2),
        "ranking": [arguments.rounded(record) for record in ranking],
    }
    names = ["rank"] + list(ranking[0])
    rows = [
        [str(rank)]
        + [
            "-"
            if value is None
            else f"{value:.1f}"
            if name == "seconds"
            else f"{value:.4f}"
            if isinstance(value, float)
            else str(value)
            for name, value in record.items()
        ]
        for rank, record in enumerate(ranking, 1)
    ]
    widths = [max(len(row[i]) for row in [names] + rows) for i in range(len(names))]
    for row in [names] + rows:
        print(
            "  ".join(
                cell.ljust(width) if i == 1 else cell.rjust(width)
                for i, (cell, width) in enumerate(zip(row, widths))
            )
        )
    print(
        f"LogME: log evidence per example, higher is better; {len(examples)} examples "
        f"of {args.train}, {result['seconds']} s."
    )
    if args.output:
        outputs.write_json(args.output, result)
    return 0
