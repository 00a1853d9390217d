"""`tlnlp fit --report-forgetting FILE`: the options, as a forgetting-probe callback."""

from tlnlp_tf.errors import BackboneError
from tlnlp_tf.errors import DataError
from tlnlp_tf.errors import PolicyError


def forgetting_report(args, task):
    """The forgetting-report callback for --report-forgetting, or None."""
    if args.report_forgetting is None:
        if args.forgetting_probe != "sts" or args.forgetting_columns is not None:
            flag = (
                "--forgetting-probe"
                if args.forgetting_probe != "sts"
                else "--forgetting-columns"
            )
            raise PolicyError(f"{flag} needs --report-forgetting FILE.")
        return None
    if args.forgetting_probe == "mlm":
        return _masked_lm_report(args)
    from tlnlp_tf.probes.forgetting import ForgettingReport
    from tlnlp_tf.tasks import registry

    if task.token_level:
        kinds = [
            kind
            for kind in registry.task_kinds()
            if not registry.get_task(kind).token_level
        ]
        raise PolicyError(
            f"--report-forgetting needs --task {' or '.join(kinds)} (a raw-text "
            f"preprocessor), got --task {args.task}."
        )
    names = args.forgetting_columns or "sentence1,sentence2,score"
    columns = [name.strip() for name in names.split(",")]
    if len(columns) != 3 or not all(columns):
        raise DataError(
            f"--forgetting-columns must name three columns, sentence1,"
            f"sentence2,score; got '{names}'."
        )
    first, second, score = columns
    probe = registry.load_text_examples(
        args.report_forgetting, first, score, second
    ).sample(args.forgetting_limit, seed=args.seed)
    probe.check_numeric()
    try:
        return ForgettingReport(
            list(zip(probe.texts, probe.pairs)),
            [float(value) for value in probe.labels],
        )
    except DataError as error:
        raise DataError(f"{args.report_forgetting}: {error}") from None


def _masked_lm_report(args):
    """--forgetting-probe mlm: masked-LM loss on FILE under --backbone's saved head."""
    import numpy as np

    from tlnlp_tf.pretraining.corpus import read_corpus
    from tlnlp_tf.probes.forgetting import MaskedLMForgettingReport

    column = args.forgetting_columns
    if column is not None and ("," in column or not column.strip()):
        raise DataError(
            f"--forgetting-columns with --forgetting-probe mlm names one "
            f"column, the text of FILE; got '{column}'."
        )
    if args.weights == "random":
        raise PolicyError(
            "--forgetting-probe mlm measures what fine-tuning cost the "
            "pretrained source; it does not apply to --weights random."
        )
    path = args.report_forgetting
    if column is None and path.lower().endswith((".csv", ".tsv", ".jsonl")):
        raise DataError(
            f"{path}: name its text column with --forgetting-columns TEXT "
            "(--forgetting-probe mlm reads one document per line of a plain "
            "text file, or one per row of that column)."
        )
    texts = read_corpus(path, column and column.strip())
    if len(texts) > args.forgetting_limit:
        order = np.random.default_rng(args.seed).permutation(len(texts))
        texts = [texts[i] for i in sorted(order[: args.forgetting_limit])]
    try:
        return MaskedLMForgettingReport(args.backbone, texts)
    except DataError as error:
        raise DataError(f"{args.report_forgetting}: {error}") from None
    except BackboneError as error:
        raise BackboneError(f"--forgetting-probe mlm: {error}") from None
