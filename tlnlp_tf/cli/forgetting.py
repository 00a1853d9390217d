"""`tlnlp fit --report-forgetting FILE`: the options, as a forgetting-probe callback."""

from tlnlp_tf.errors import BackboneError
from tlnlp_tf.errors import DataError
from tlnlp_tf.errors import PolicyError


def forgetting_report(args, task):
    """The forgetting-report callback for --report-forgetting, or None."""
    if args.report_forgetting is None:
        if args.forgetting_probe is not None or args.forgetting_columns is not None:
            flag = (
                "--forgetting-probe"
                if args.forgetting_probe is not None
                else "--forgetting-columns"
            )
            raise PolicyError(f"{flag} needs --report-forgetting FILE.")
        return None
    if not task.forgetting_probes:
        raise PolicyError(
            f"--report-forgetting: no forgetting probe applies to --task {task.kind}."
        )
    probe = args.forgetting_probe or task.forgetting_probes[0]
    if probe not in task.forgetting_probes:
        raise PolicyError(
            f"--forgetting-probe {probe} does not apply to --task {task.kind}; "
            f"it takes {' or '.join(task.forgetting_probes)}."
        )
    if probe in ("mlm", "lm"):
        return _text_probe_report(args, probe)
    from tlnlp_tf.probes.forgetting import ForgettingReport
    from tlnlp_tf.tasks import registry
    from tlnlp_tf.tasks.registry_encoder_kinds import load_text_examples

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
    probe = load_text_examples(args.report_forgetting, first, score, second).sample(
        args.forgetting_limit, seed=args.seed
    )
    probe.check_numeric()
    try:
        return ForgettingReport(
            list(zip(probe.texts, probe.pairs)),
            [float(value) for value in probe.labels],
        )
    except DataError as error:
        raise DataError(f"{args.report_forgetting}: {error}") from None


def _text_probe_report(args, probe):
    """mlm: masked-LM loss on FILE under --backbone's saved head; lm: the
    language model's own loss on FILE."""
    import numpy as np

    from tlnlp_tf.pretraining.corpus import read_corpus
    from tlnlp_tf.probes.forgetting import MaskedLMForgettingReport
    from tlnlp_tf.probes.language_model_forgetting import LanguageModelForgettingReport

    column = args.forgetting_columns
    if column is not None and ("," in column or not column.strip()):
        raise DataError(
            f"--forgetting-columns with --forgetting-probe {probe} names one "
            f"column, the text of FILE; got '{column}'."
        )
    if args.weights == "random":
        raise PolicyError(
            f"--forgetting-probe {probe} measures what fine-tuning cost the "
            "pretrained source; it does not apply to --weights random."
        )
    path = args.report_forgetting
    if column is None and path.lower().endswith((".csv", ".tsv", ".jsonl")):
        raise DataError(
            f"{path}: name its text column with --forgetting-columns TEXT "
            f"(--forgetting-probe {probe} reads one document per line of a plain "
            "text file, or one per row of that column)."
        )
    texts = read_corpus(path, column and column.strip())
    if len(texts) > args.forgetting_limit:
        order = np.random.default_rng(args.seed).permutation(len(texts))
        texts = [texts[i] for i in sorted(order[: args.forgetting_limit])]
    try:
        if probe == "lm":
            return LanguageModelForgettingReport(texts)
        return MaskedLMForgettingReport(args.backbone, texts)
    except DataError as error:
        raise DataError(f"{args.report_forgetting}: {error}") from None
    except BackboneError as error:
        raise BackboneError(f"--forgetting-probe {probe}: {error}") from None
