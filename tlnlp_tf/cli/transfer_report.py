"""`tlnlp transfer-report`: what pretraining buys on a labelled file, per budget."""

import os

from tlnlp_tf.cli import arguments
from tlnlp_tf.cli import label_words


def register(commands):
    report = commands.add_parser(
        "transfer-report",
        help="train random-init, frozen, fine-tuned and few-shot classifiers at "
        "several label budgets; write a JSON table and a learning curve",
    )
    report.add_argument("--train", required=True, help="labelled .csv/.tsv/.jsonl")
    report.add_argument("--validation", required=True, help="file scored, same layout")
    report.add_argument("--text-column", required=True)
    report.add_argument("--text-pair-column", help="second text column, for pairs")
    report.add_argument("--label-column", required=True)
    report.add_argument("--backbone", default="minilm")
    report.add_argument(
        "--labels",
        default="16,64,256",
        help="label budgets: numbers of labelled examples split evenly over "
        "the labels, or 'all' (default: 16,64,256)",
    )
    report.add_argument(
        "--strategies",
        default="random,frozen,finetune,setfit",
        help="some of random, frozen, finetune, setfit, lora-8, l2sp",
    )
    report.add_argument("--seeds", type=arguments.positive, default=3)
    report.add_argument(
        "--max-length",
        type=arguments.positive,
        help="tokens per text (or pair) every model reads; longer texts are cut, "
        "with a warning (default: chosen from each draw's training texts)",
    )
    label_words.add_options(report)
    report.add_argument("--output", required=True, help="folder for the report")
    report.set_defaults(handler=run)


def run(args):
    from tlnlp_tf.reports.transfer_report import transfer_report
    from tlnlp_tf.tasks import registry
    from tlnlp_tf.tasks.registry_encoder_kinds import load_text_examples

    label_words.check(args, single_texts=not args.text_pair_column)
    train = load_text_examples(
        args.train, args.text_column, args.label_column, args.text_pair_column
    )
    validation = load_text_examples(
        args.validation, args.text_column, args.label_column, args.text_pair_column
    )
    names = registry.label_targets(train, validation)
    extra = label_words.templated(args, names)
    if extra is not None:
        print(
            f"tlnlp transfer-report: every run also trains on {len(extra)} "
            "templated examples (--label-words)"
        )
    budgets = [part.strip() for part in args.labels.split(",") if part.strip()]
    report = transfer_report(
        train,
        validation,
        budgets=budgets,
        strategies=[s.strip() for s in args.strategies.split(",") if s.strip()],
        seeds=args.seeds,
        backbone=args.backbone,
        output=args.output,
        extra_examples=extra,
        max_length=args.max_length,
    )
    strategies = report["strategies"]
    header = ["labels"] + strategies + ["gain"]
    rows = []
    for budget in report["budgets"]:
        cells = report["table"][budget]
        rows.append(
            [budget]
            + [f"{cells[s]['mean']:.3f}±{cells[s]['std']:.3f}" for s in strategies]
            + [f"{report['gain'].get(budget, float('nan')):+.3f}"]
        )
    widths = [max(len(row[i]) for row in [header] + rows) for i in range(len(header))]
    for row in [header] + rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths)))
    for budget, gain in report["gain"].items():
        print(
            f"{budget} labels: pretraining buys {gain * 100:+.1f} accuracy points "
            "over random initialisation (best pretrained strategy)."
        )
    print(f"wrote {os.path.join(args.output, 'report.json')} and learning_curve.png")
    return 0
