"""`tlnlp`: fit, evaluate and predict from the command line; the offline demo.

    tlnlp fit --train train.tsv --validation dev.tsv --text-column sentence \
        --label-column label --backbone minilm --output run/
    tlnlp fit --task token-classification --train train.txt --validation valid.txt \
        --backbone minilm --output ner/
    tlnlp fit --task question-answering --train train.json --validation dev.json \
        --backbone minilm --output qa/
    tlnlp evaluate --model run/ --data dev.tsv
    tlnlp predict --model run/ --input texts.txt
    tlnlp demo --output demo-output/
    tlnlp pretrain --text reviews.txt --backbone minilm --output minilm-reviews/
    tlnlp pretrain --text zh.txt --new-vocabulary 8000 --epochs 10 --output zh-bert/

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
BACKUP = "backup"  # inside --output: the state to resume from after a kill
TASKS = (
    "text-classification",
    "regression",
    "token-classification",
    "question-answering",
)
TOKENS = "token-classification"
QA = "question-answering"
MULTI = "multi"


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

    fit = commands.add_parser("fit", help="fine-tune a model on a data file")
    fit.add_argument(
        "--task",
        choices=TASKS + (MULTI,),
        default="text-classification",
        help="text-classification (labels), regression (numeric targets), "
        "token-classification (CoNLL files, one tag per word), "
        "question-answering (SQuAD JSON, v1.1 or v2), or multi (several "
        "tasks on one backbone, listed in --config)",
    )
    fit.add_argument(
        "--config", help="multi: the YAML file listing the tasks (docs/cli.md)"
    )
    fit.add_argument(
        "--train",
        help="training file (.csv, .tsv, .jsonl; CoNLL for token-classification; "
        "SQuAD .json for question-answering); required but for --task multi",
    )
    fit.add_argument("--validation", help="validation file, same layout")
    _add_columns(fit)
    fit.add_argument(
        "--backbone",
        default="minilm",
        help="preset name, preset or Hugging Face folder, or 'minilm'",
    )
    fit.add_argument(
        "--weights", choices=("pretrained", "random"), default="pretrained"
    )
    fit.add_argument(
        "--freeze",
        default="none",
        help="none | all | embeddings | bottom-N | lora-R (default: none); "
        "lora-R trains rank-R LoRA factors on the attention query and "
        "value projections, and the head",
    )
    fit.add_argument("--epochs", type=_positive, default=3)
    fit.add_argument(
        "--batching",
        choices=("auto", "random", "length"),
        default="auto",
        help="length: shuffled batches of similar lengths (sorted within groups "
        "of 50 batches): less padding, faster; random: plain shuffled "
        "batches; auto (default): length for text classification and "
        "regression with at least 100 batches per epoch, else random "
        "(see tl.data.choose_batching)",
    )
    fit.add_argument("--batch-size", type=_positive, default=32)
    fit.add_argument(
        "--max-length",
        type=_positive,
        help="most tokens per example, or per window for question-answering "
        "(default: chosen from the training data)",
    )
    fit.add_argument(
        "--doc-stride",
        type=_positive,
        default=128,
        help="question-answering: tokens between the starts of a long "
        "context's windows (default 128)",
    )
    fit.add_argument(
        "--learning-rate",
        type=float,
        help="peak learning rate (default: chosen from the backbone and freeze policy)",
    )
    fit.add_argument(
        "--layer-decay",
        type=float,
        help="layer-wise learning-rate decay d: backbone layer i of L learns at "
        "rate * d**(L - i), the head at the full rate (default: the task's, "
        "0.9 for token-classification when backbone layers train, else off; "
        "1 turns it off)",
    )
    fit.add_argument(
        "--l2sp",
        type=float,
        metavar="ALPHA",
        help="L2-SP: add ALPHA/2 * ||w - w0||^2 toward the starting (pretrained) "
        "backbone weights, and 0.01/2 * ||w||^2 on the head's kernels, to "
        "the loss (tl.L2SP; default: off)",
    )
    fit.add_argument(
        "--limit", type=_positive, help="train on a seeded random sample of N examples"
    )
    fit.add_argument("--seed", type=int, default=0)
    fit.add_argument(
        "--precision",
        default="float32",
        choices=("float32", "mixed_bfloat16", "mixed_float16"),
        help="compute dtype policy: mixed_bfloat16 for TPUs and CPUs with bf16 "
        "instructions, mixed_float16 for GPUs (weights and loss stay float32)",
    )
    fit.add_argument(
        "--attention-dropout",
        type=_attention_dropout,
        default="auto",
        metavar="RATE|backbone|auto",
        help="dropout on the attention probabilities while training (auto: off "
        "for text classification, faster on long texts; the backbone's own "
        "for other tasks; 'backbone' keeps the backbone's own)",
    )
    fit.add_argument(
        "--strategy",
        default="default",
        choices=("auto", "default", "one-device", "mirrored", "multi-worker", "tpu"),
        help="tf.distribute strategy (default: one device; auto picks TPU, "
        "multi-worker, mirrored GPUs in that order)",
    )
    fit.add_argument(
        "--report-forgetting",
        metavar="FILE",
        help="forgetting report in metrics.json, before vs after fit: with "
        "--forgetting-probe sts, zero-shot Spearman of the backbone's "
        "mean-pooled sentence embeddings on FILE's scored pairs (.csv, "
        ".tsv, .jsonl; e.g. STS-B dev); with mlm, masked-LM loss on FILE's "
        "held-out text (one document per line, or .csv/.tsv/.jsonl)",
    )
    fit.add_argument(
        "--forgetting-probe",
        choices=("sts", "mlm"),
        default="sts",
        help="sts (default): sentence similarity, for sentence-embedding "
        "sources such as minilm; mlm: masked-LM loss under the source's "
        "saved masked-LM head, for a --backbone folder written by "
        "`tlnlp pretrain`",
    )
    fit.add_argument(
        "--forgetting-columns",
        help="sts: FILE's first-sentence, second-sentence and score columns "
        "(default: sentence1,sentence2,score, as GLUE STS-B); mlm: the "
        "text column of a .csv/.tsv/.jsonl FILE",
    )
    fit.add_argument(
        "--forgetting-limit",
        type=_positive,
        default=1500,
        help="probe a seeded random sample of N pairs (sts) or documents "
        "(mlm) of FILE (default 1500)",
    )
    fit.add_argument(
        "--output", required=True, help="folder for model.keras and JSON results"
    )
    fit.set_defaults(handler=_fit)

    evaluate = commands.add_parser(
        "evaluate", help="score a trained model on a labelled file"
    )
    evaluate.add_argument(
        "--model", required=True, help="a folder written by `tlnlp fit`"
    )
    evaluate.add_argument("--data", required=True)
    _add_columns(evaluate)
    evaluate.add_argument("--batch-size", type=_positive, default=64)
    evaluate.set_defaults(handler=_evaluate)

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
    predict.add_argument("--batch-size", type=_positive, default=64)
    predict.set_defaults(handler=_predict)

    demo = commands.add_parser(
        "demo", help="the offline demo: pretrained vs frozen vs random init"
    )
    demo.add_argument("--output", default="demo-output")
    demo.add_argument("--backbone", default="minilm")
    demo.add_argument("--epochs", type=_positive, default=5)
    demo.set_defaults(handler=_demo)

    score = commands.add_parser(
        "score-sources",
        help="rank backbones (and layers) for a labelled file by LogME, without training",
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
        "--limit", type=_positive, help="score a seeded random sample of N examples"
    )
    score.add_argument(
        "--seed",
        type=int,
        default=0,
        help="seed for the sample and the random weights of SPEC@random",
    )
    score.add_argument("--batch-size", type=_positive, default=64)
    score.add_argument("--output", help="JSON file for the ranking")
    score.set_defaults(handler=_score_sources)

    pretrain = commands.add_parser(
        "pretrain",
        help="continue masked-LM pretraining on unlabelled in-domain text (writes a preset "
        "folder), or train word2vec vectors on it (--kind word2vec)",
    )
    pretrain.add_argument(
        "--text",
        required=True,
        help="the corpus: a text file (one document per line) or "
        ".csv/.tsv/.jsonl with --text-column",
    )
    pretrain.add_argument(
        "--text-column", help="column of --text, for .csv/.tsv/.jsonl"
    )
    pretrain.add_argument(
        "--backbone",
        help="preset name, preset or Hugging Face folder, or 'minilm' (default)",
    )
    pretrain.add_argument(
        "--weights",
        choices=("pretrained", "random"),
        help="pretrained (default) or random",
    )
    pretrain.add_argument(
        "--new-vocabulary",
        type=_positive,
        metavar="N",
        help="mlm: learn an N-token WordPiece vocabulary from --text and "
        "pretrain a new BERT from random weights (no --backbone)",
    )
    pretrain.add_argument(
        "--num-layers",
        type=_positive,
        metavar="N",
        help="with --new-vocabulary: transformer layers (default 2)",
    )
    pretrain.add_argument(
        "--hidden-dim",
        type=_positive,
        metavar="N",
        help="with --new-vocabulary: hidden size, a multiple of "
        "--num-heads (default 128)",
    )
    pretrain.add_argument(
        "--num-heads",
        type=_positive,
        metavar="N",
        help="with --new-vocabulary: attention heads (default 2)",
    )
    pretrain.add_argument(
        "--kind",
        choices=("mlm", "word2vec"),
        default="mlm",
        help="mlm (default): masked language modelling of --backbone; "
        "word2vec: static word vectors (gensim, skip-gram), written as "
        "OUTPUT/vectors.txt for WordClassifier",
    )
    pretrain.add_argument(
        "--epochs",
        type=_positive,
        help="passes over the corpus (default 1 for mlm, 10 for word2vec)",
    )
    pretrain.add_argument(
        "--vector-size",
        type=_positive,
        default=100,
        help="word2vec: dimension of the vectors (default 100)",
    )
    pretrain.add_argument(
        "--window",
        type=_positive,
        default=5,
        help="word2vec: context words either side (default 5)",
    )
    pretrain.add_argument(
        "--min-count",
        type=_positive,
        default=2,
        help="word2vec: words seen fewer times get no vector (default 2)",
    )
    pretrain.add_argument("--batch-size", type=_positive, default=32)
    pretrain.add_argument(
        "--max-length",
        type=_positive,
        help="most tokens per document (default: chosen from the corpus)",
    )
    pretrain.add_argument(
        "--learning-rate",
        type=float,
        default=5e-5,
        help="peak AdamW learning rate, warmup then linear decay (default 5e-5)",
    )
    pretrain.add_argument(
        "--mask-rate",
        type=float,
        default=0.15,
        help="fraction of tokens to predict (default 0.15)",
    )
    pretrain.add_argument(
        "--validation-fraction",
        type=float,
        default=0.05,
        help="documents held out to score the masked-LM loss before and "
        "after training (default 0.05)",
    )
    pretrain.add_argument(
        "--limit",
        type=_positive,
        help="pretrain on a seeded random sample of N documents",
    )
    pretrain.add_argument("--seed", type=int, default=0)
    pretrain.add_argument(
        "--output",
        required=True,
        help="the preset folder to write (usable as --backbone), "
        "with pretrain.json; word2vec: a folder for vectors.txt "
        "and pretrain.json",
    )
    pretrain.set_defaults(handler=_pretrain)
    return parser


def _add_columns(parser):
    parser.add_argument("--text-column", help="text column (text tasks)")
    parser.add_argument("--text-pair-column", help="second text column, for pairs")
    parser.add_argument("--label-column", help="label or target column (text tasks)")
    parser.add_argument(
        "--token-column",
        type=int,
        help="CoNLL column of the tokens (default 0, the first)",
    )
    parser.add_argument(
        "--tag-column", type=int, help="CoNLL column of the tags (default -1, the last)"
    )
    parser.add_argument(
        "--scheme",
        choices=("auto", "iob1", "iob2", "bioes", "bmes"),
        help="CoNLL tag scheme (default: detected)",
    )
    parser.add_argument(
        "--skip-mismatched-answers",
        action="store_true",
        default=None,
        help="SQuAD: count and skip answers whose answer_start does not "
        "match the context (default: an error)",
    )


def _positive(text):
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text}")
    return value


def _attention_dropout(text):
    if text == "auto":
        return text
    if text == "backbone":
        return None
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0.0 <= value < 1.0:
        raise argparse.ArgumentTypeError(
            f"expected a rate in [0, 1), 'backbone' or 'auto', got {text}"
        )
    return value


# === fit ===


def _fit(args):
    if args.task == MULTI:
        return _fit_multi(args)
    if args.config is not None:
        raise PolicyError("--config is for --task multi.")
    if args.train is None:
        raise PolicyError("--train is required (a training file).")
    import keras

    from tlnlp_tf import outputs
    from tlnlp_tf.backbones.freezing import parameter_counts
    from tlnlp_tf.data.batching import choose_batching
    from tlnlp_tf.data.batching import training_batches
    from tlnlp_tf.training.regularizers import L2SP

    columns = _columns(args, {})
    train = _read(args.task, args.train, columns).sample(args.limit, seed=args.seed)
    validation = _read(args.task, args.validation, columns) if args.validation else None
    names = _check_targets(args.task, train, validation)
    forgetting = _forgetting_report(args)  # the probe file is checked before training
    l2sp = None if args.l2sp is None else L2SP(alpha=args.l2sp)  # checks alpha

    from tlnlp_tf.distribute.strategies import check_global_batch
    from tlnlp_tf.distribute.strategies import strategy
    from tlnlp_tf.training.callbacks import RandomStateBackup
    from tlnlp_tf.training.callbacks import backed_up_epoch

    keras.utils.set_random_seed(args.seed)
    distribution = strategy(args.strategy)
    check_global_batch(args.batch_size, distribution)
    with distribution.scope():
        model = _new_model(args, names)
        if args.learning_rate is not None or args.layer_decay is not None:
            model.compile(
                learning_rate=args.learning_rate or "auto",
                layer_decay="auto" if args.layer_decay is None else args.layer_decay,
            )
        if l2sp is not None:
            l2sp.apply(model)
    start = time.perf_counter()  # training time includes the one tokenizer pass
    data = train.to_dataset()
    if args.task != QA:  # tokenized once, in memory; epochs reshuffle the cache
        data = model.tokenize_once(data)
    args.batching = choose_batching(
        int(data.cardinality()),
        args.batch_size,
        args.batching,
        token_level=args.task in (TOKENS, QA),
    )
    data = training_batches(data, args.batch_size, args.batching, seed=args.seed)
    valid_data = None
    if validation is not None and args.task not in (TOKENS, QA):  # scored after fit
        valid_data = validation.to_dataset().batch(64)
    # Fault tolerance: the weights, optimizer state and epoch are saved after
    # every epoch; the same command run again after a kill resumes there.
    backup = os.path.join(args.output, BACKUP)
    resumed_from = backed_up_epoch(backup) or 0  # 0: a fresh run
    if resumed_from:
        step = resumed_from * int(data.cardinality())
        print(
            f"tlnlp fit: resuming from the end of epoch {resumed_from} of {args.epochs} "
            f"(optimizer step {step}; backup in {backup})",
            file=sys.stderr,
        )
    # The random state first: it is written before Keras's checkpoint of each epoch.
    callbacks = [
        RandomStateBackup(backup),
        keras.callbacks.BackupAndRestore(backup, double_checkpoint=True),
    ]
    if (
        forgetting is not None
    ):  # first: "before" is measured before a backup is restored
        callbacks.insert(0, forgetting)
    options = {}
    if (
        model.backbone.trainable_weights
    ):  # (a frozen one trains the head on cached features)
        # One iterator over all epochs, each reshuffled from the seed: a resumed
        # run skips the finished epochs and sees the batches an uninterrupted
        # run would have seen.
        steps = int(data.cardinality())
        data = data.repeat().skip(resumed_from * steps)
        options["steps_per_epoch"] = steps
    history = model.fit(
        data,
        validation_data=valid_data,
        epochs=args.epochs,
        callbacks=callbacks,
        **options,
    )
    seconds = time.perf_counter() - start
    if forgetting is not None:  # the probe's two passes are not training time
        seconds -= forgetting.seconds
    epochs_run = len(history.history.get("loss", [])) or args.epochs

    counts = parameter_counts(model)
    metrics = {
        "train_seconds": round(seconds, 2),
        "train_examples_per_second": round(len(train) * epochs_run / seconds, 2),
        "epochs_run": epochs_run,
        "resumed_from_epoch": resumed_from,
        "trainable_params": counts["trainable"],
        "total_params": counts["total"],
        "train_examples": len(train),
        "max_length": model.max_length,
    }
    if validation is not None:
        metrics = {"validation": _scores(model, validation, 64), **metrics}
    if forgetting is not None:
        metrics["forgetting"] = {
            "file": args.report_forgetting,
            **_rounded(forgetting.result),
            "seconds": round(forgetting.seconds, 2),
        }
    run = {
        "task": args.task,
        "backbone": args.backbone,
        "weights": args.weights,
        "freeze": model.freeze,
        **columns,
        "epochs": args.epochs,
        "batch_size": args.batch_size,
        "batching": args.batching,
        "learning_rate": args.learning_rate,
        "layer_decay": args.layer_decay,
        "l2sp": args.l2sp,
        "attention_dropout": args.attention_dropout,
        "strategy": args.strategy,
        "precision": args.precision,
        "seed": args.seed,
        "limit": args.limit,
    }
    outputs.save_model(model, os.path.join(args.output, "model.keras"))
    if names is not None and args.task != QA:
        outputs.write_json(os.path.join(args.output, "labels.json"), names)
    outputs.write_json(os.path.join(args.output, RUN_FILE), run)
    outputs.write_json(os.path.join(args.output, "metrics.json"), metrics)
    print(json.dumps(metrics, indent=2))
    return 0


def _forgetting_report(args):
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
        return _masked_lm_forgetting_report(args)
    from tlnlp_tf.probes.forgetting import ForgettingReport

    if args.task not in ("text-classification", "regression"):
        raise PolicyError(
            f"--report-forgetting needs --task text-classification or "
            f"regression (a raw-text preprocessor), got --task {args.task}."
        )
    names = args.forgetting_columns or "sentence1,sentence2,score"
    columns = [name.strip() for name in names.split(",")]
    if len(columns) != 3 or not all(columns):
        raise DataError(
            f"--forgetting-columns must name three columns, sentence1,"
            f"sentence2,score; got '{names}'."
        )
    first, second, score = columns
    probe = _load_text(args.report_forgetting, first, score, second).sample(
        args.forgetting_limit, seed=args.seed
    )
    _check_numeric(probe)
    try:
        return ForgettingReport(
            list(zip(probe.texts, probe.pairs)),
            [float(value) for value in probe.labels],
        )
    except DataError as error:
        raise DataError(f"{args.report_forgetting}: {error}") from None


def _masked_lm_forgetting_report(args):
    """--forgetting-probe mlm: masked-LM loss on FILE under --backbone's saved head."""
    import numpy as np

    from tlnlp_tf.pretraining.masked_lm import read_corpus
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


def _new_model(args, names):
    from tlnlp_tf.tasks import SpanExtractor
    from tlnlp_tf.tasks import TextClassifier
    from tlnlp_tf.tasks import TextRegressor
    from tlnlp_tf.tasks import TokenClassifier

    options = dict(
        freeze=args.freeze,
        weights=args.weights,
        max_length=args.max_length,
        attention_dropout=args.attention_dropout,
    )
    if args.precision != "float32":
        options["dtype"] = args.precision
    if args.task == QA:
        return SpanExtractor.from_backbone(
            args.backbone,
            doc_stride=args.doc_stride,
            allow_no_answer=names["allow_no_answer"],
            **options,
        )
    if args.task == "regression":
        return TextRegressor.from_backbone(args.backbone, **options)
    if args.task == TOKENS:
        return TokenClassifier.from_backbone(args.backbone, tags=names, **options)
    return TextClassifier.from_backbone(args.backbone, labels=names, **options)


def _check_targets(task, train, validation):
    """Label or tag names from training, checked on validation; None for regression."""
    if task == QA:
        return {"allow_no_answer": train.has_impossible}
    if task == "regression":
        for examples in (train, validation):
            if examples is not None:
                _check_numeric(examples)
        return None
    if task == TOKENS:
        names = train.tag_names()
        if validation is not None:
            validation.check_tags(names)
        return names
    names = train.label_names()
    if validation is not None:
        validation.check_labels(names)
    return names


def _fit_multi(args):
    """`tlnlp fit --task multi --config tasks.yaml`: every task on one backbone, one fit."""
    import keras

    from tlnlp_tf import outputs
    from tlnlp_tf.backbones.freezing import parameter_counts
    from tlnlp_tf.data.mixing import mix_tasks
    from tlnlp_tf.distribute.strategies import check_global_batch
    from tlnlp_tf.distribute.strategies import strategy
    from tlnlp_tf.tasks import MultiTaskModel
    from tlnlp_tf.tasks.multi_task_config import read_config

    if args.config is None:
        raise PolicyError(
            "--task multi needs --config tasks.yaml (the tasks and their files)."
        )
    if args.train is not None or args.validation is not None:
        raise PolicyError(
            "--task multi takes its files from --config, not --train/--validation."
        )
    config = read_config(args.config)
    data, specs = {}, {}
    for name, task in config["tasks"].items():
        columns = {
            key: task.get(key)
            for key in (
                "text_column",
                "text_pair_column",
                "label_column",
                "token_column",
                "tag_column",
                "scheme",
            )
        }
        columns["skip_mismatched_answers"] = None
        train = _read(task["type"], task["train"], columns).sample(
            task.get("limit") or args.limit, seed=args.seed
        )
        validation = (
            _read(task["type"], task["validation"], columns)
            if task.get("validation")
            else None
        )
        names = _check_targets(task["type"], train, validation)
        spec = {
            "kind": task["type"],
            "max_length": args.max_length,
            "attention_dropout": args.attention_dropout,
        }
        if task["type"] == TOKENS:
            spec["tags"] = names
        elif task["type"] == QA:
            spec["allow_no_answer"] = names["allow_no_answer"]
            spec["doc_stride"] = args.doc_stride
        elif task["type"] != "regression":
            spec["labels"] = names
        data[name], specs[name] = (train, validation), spec

    keras.utils.set_random_seed(args.seed)
    distribution = strategy(args.strategy)
    check_global_batch(args.batch_size, distribution)
    with distribution.scope():
        model = MultiTaskModel.from_backbone(
            args.backbone,
            specs,
            freeze=args.freeze,
            weights=args.weights,
            loss_weights={
                name: task["weight"] for name, task in config["tasks"].items()
            },
        )
        if args.learning_rate is not None:
            model.compile(learning_rate=args.learning_rate)
    start = time.perf_counter()
    batches = {}
    for name, (train, _) in data.items():
        dataset = (
            train.to_dataset()
            .shuffle(len(train), seed=args.seed)
            .batch(args.batch_size)
        )
        batches[name] = model.task_dataset(name, dataset)
    mixed = mix_tasks(
        batches,
        sampling=config["sampling"],
        temperature=config["temperature"],
        seed=args.seed,
    )
    model.fit(mixed, epochs=args.epochs)
    seconds = time.perf_counter() - start

    counts = parameter_counts(model)
    metrics = {
        "validation": {
            name: _scores(model.tasks[name], validation, 64)
            for name, (_, validation) in data.items()
            if validation is not None
        },
        "train_seconds": round(seconds, 2),
        "train_examples": {name: len(train) for name, (train, _) in data.items()},
        "trainable_params": counts["trainable"],
        "total_params": counts["total"],
        "steps_per_epoch": int(mixed.cardinality()),
    }
    metrics["train_examples_per_second"] = round(
        metrics["steps_per_epoch"] * args.epochs * args.batch_size / seconds, 2
    )
    run = {
        "task": MULTI,
        "config": args.config,
        "backbone": args.backbone,
        "weights": args.weights,
        "freeze": model.freeze,
        "epochs": args.epochs,
        "batch_size": args.batch_size,
        "sampling": config["sampling"],
        "temperature": config["temperature"],
        "tasks": config["tasks"],
        "seed": args.seed,
        "limit": args.limit,
    }
    outputs.save_model(model, os.path.join(args.output, "model.keras"))
    outputs.write_json(os.path.join(args.output, RUN_FILE), run)
    outputs.write_json(os.path.join(args.output, "metrics.json"), metrics)
    print(json.dumps(metrics, indent=2))
    return 0


# === evaluate ===


def _evaluate(args):
    model, run = _load_run(args.model)
    data = _read(run.get("task", "text-classification"), args.data, _columns(args, run))
    result = {
        "data": args.data,
        "examples": len(data),
        **_scores(model, data, args.batch_size),
    }
    print(json.dumps(result, indent=2))
    return 0


# === predict ===


def _predict(args):
    from tlnlp_tf.tasks import SpanExtractor
    from tlnlp_tf.tasks import TokenClassifier

    model, run = _load_run(args.model)
    if isinstance(model, SpanExtractor):
        records = _answer_records(model, args)
    elif isinstance(model, TokenClassifier):
        examples = _predict_texts(args, run)
        result = model.predict(examples.texts, batch_size=args.batch_size)
        records = [
            {"text": text, "entities": entities}
            for text, entities in zip(examples.texts, result)
        ]
    else:
        records = _text_records(model, _predict_texts(args, run), args.batch_size)
    body = "".join(json.dumps(record, ensure_ascii=False) + "\n" for record in records)
    if args.output:
        from tlnlp_tf import outputs

        outputs.write_text(args.output, body)
    else:
        sys.stdout.write(body)
    return 0


def _predict_texts(args, run):
    """The texts of --input: a table or JSONL with columns, else one text per line."""
    from tlnlp_tf.data.examples import Examples

    if args.input != "-" and args.input.lower().endswith((".csv", ".tsv", ".jsonl")):
        columns = _columns(args, run)
        return _load_text(
            args.input, columns["text_column"], None, columns["text_pair_column"]
        )
    source = "<stdin>" if args.input == "-" else args.input
    lines = _read_lines(args.input)
    kept = [(number, line) for number, line in enumerate(lines, 1) if line.strip()]
    if not kept:
        raise DataError(f"{source}: no texts to predict.")
    return Examples(
        texts=[line for _, line in kept],
        source=source,
        lines=[number for number, _ in kept],
    )


def _answer_records(model, args):
    """Answers for a SQuAD .json file or JSONL of {"question", "context"[, "id"]}."""
    from tlnlp_tf.data.squad import read_squad

    if args.input != "-" and args.input.lower().endswith(".json"):
        data = read_squad(args.input, skip_mismatched=True)
        items = [{"id": i, **item} for i, item in zip(data.ids, data.inputs())]
    else:
        source = "<stdin>" if args.input == "-" else args.input
        items = []
        for number, line in enumerate(_read_lines(args.input), 1):
            if not line.strip():
                continue
            try:
                item = json.loads(line)
            except json.JSONDecodeError as error:
                raise DataError(
                    f"{source}, line {number}: not valid JSON ({error.msg})."
                ) from None
            if not isinstance(item, dict) or not {"question", "context"} <= set(item):
                raise DataError(
                    f"{source}, line {number}: expected an object with "
                    "'question' and 'context'."
                )
            for field in ("question", "context"):
                if not isinstance(item[field], str) or not item[field].strip():
                    raise DataError(f"{source}, line {number}: the {field} is empty.")
            items.append(item)
        if not items:
            raise DataError(f"{source}: no questions to answer.")
    answers = model.predict(
        [{"question": i["question"], "context": i["context"]} for i in items],
        batch_size=args.batch_size,
    )
    return [{**item, **answer} for item, answer in zip(items, answers)]


def _text_records(model, examples, batch_size):
    result = model.predict(examples.features(), batch_size=batch_size, verbose=0)
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
        records.append(record)
    return records


# === demo ===


def _demo(args):
    from tlnlp_tf.cli.demo import run_demo

    run_demo(output=args.output, backbone=args.backbone, epochs=args.epochs)
    return 0


# === score-sources ===


def _score_sources(args):
    import keras

    from tlnlp_tf import outputs
    from tlnlp_tf.probes.transferability import score_sources

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
    examples = _load_text(
        args.train, args.text_column, args.label_column, args.text_pair_column
    ).sample(args.limit, seed=args.seed)
    if args.task == "regression":
        _check_numeric(examples)
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
        "ranking": [_rounded(record) for record in ranking],
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


# === pretrain ===


def _pretrain(args):
    import tempfile

    import numpy as np

    from tlnlp_tf import pretraining
    from tlnlp_tf.pretraining import word_vectors

    new = _check_new_backbone_options(args)
    if args.kind == "word2vec":
        word_vectors.check_output_folder(args.output)
    else:
        pretraining.check_output_folder(args.output)
    texts = pretraining.read_corpus(args.text, args.text_column)
    if args.limit is not None and args.limit < len(texts):
        order = np.random.default_rng(args.seed).permutation(len(texts))[: args.limit]
        texts = [texts[i] for i in sorted(order)]
    if args.kind == "word2vec":
        _, report = word_vectors.pretrain_word2vec(
            texts,
            args.output,
            vector_size=args.vector_size,
            window=args.window,
            min_count=args.min_count,
            epochs=args.epochs or 10,
            seed=args.seed,
            source={
                "text": args.text,
                "text_column": args.text_column,
                "limit": args.limit,
            },
        )
        print(json.dumps(report, indent=2))
        return 0
    options = {
        "epochs": args.epochs or 1,
        "batch_size": args.batch_size,
        "max_length": args.max_length,
        "mask_rate": args.mask_rate,
        "learning_rate": args.learning_rate,
        "validation_fraction": args.validation_fraction,
        "seed": args.seed,
    }
    if new is None:
        masked_lm, report = pretraining.pretrain_masked_lm(
            args.backbone or "minilm",
            texts,
            weights=args.weights or "pretrained",
            **options,
        )
    else:
        with tempfile.TemporaryDirectory(prefix="tlnlp-new-backbone.") as tmp:
            preset = os.path.join(tmp, "preset")
            new_backbone = pretraining.new_backbone_preset(
                preset,
                texts,
                max_sequence_length=max(512, args.max_length or 0),
                seed=args.seed,
                **new,
            )
            masked_lm, report = pretraining.pretrain_masked_lm(preset, texts, **options)
        # The preset was temporary: the run started from new random weights.
        report.update(backbone=None, weights="random", new_backbone=new_backbone)
    report = {
        "text": args.text,
        "text_column": args.text_column,
        "kind": args.kind,
        "limit": args.limit,
        **report,
    }
    pretraining.save_pretrained(masked_lm, args.output, report)
    print(
        json.dumps(
            {key: value for key, value in report.items() if key != "history"}, indent=2
        )
    )
    return 0


def _check_new_backbone_options(args):
    """The `new_backbone_preset` options of `--new-vocabulary`, or None without it."""
    architecture = {
        "--num-layers": args.num_layers,
        "--hidden-dim": args.hidden_dim,
        "--num-heads": args.num_heads,
    }
    if args.new_vocabulary is None:
        for flag, value in architecture.items():
            if value is not None:
                raise PolicyError(
                    f"{flag} sets the architecture of a new backbone: it needs "
                    "--new-vocabulary N (without it, --backbone gives the architecture)."
                )
        return None
    if args.kind != "mlm":
        raise PolicyError(
            "--new-vocabulary builds a new BERT for --kind mlm; "
            f"it does not apply to --kind {args.kind}."
        )
    if args.backbone is not None:
        raise PolicyError(
            f"--backbone {args.backbone} cannot be used with --new-vocabulary, which "
            "builds a new BERT with a vocabulary learned from --text; leave out --backbone."
        )
    if args.weights == "pretrained":
        raise PolicyError(
            "--weights pretrained cannot be used with --new-vocabulary: the "
            "new BERT starts from random weights; leave out --weights."
        )
    return {
        "vocabulary_size": args.new_vocabulary,
        "num_layers": 2 if args.num_layers is None else args.num_layers,
        "hidden_dim": 128 if args.hidden_dim is None else args.hidden_dim,
        "num_heads": 2 if args.num_heads is None else args.num_heads,
    }


# === helpers ===


def _columns(args, run):
    """The data layout options: given on the command line, else from run.json."""
    names = (
        "text_column",
        "text_pair_column",
        "label_column",
        "token_column",
        "tag_column",
        "scheme",
        "skip_mismatched_answers",
    )
    return {
        name: getattr(args, name, None)
        if getattr(args, name, None) is not None
        else run.get(name)
        for name in names
    }


def _read(task, path, columns):
    """Examples, TaggedSentences (token classification) or QuestionAnswers from `path`."""
    if task == QA:
        from tlnlp_tf.data.squad import read_squad

        return read_squad(
            path, skip_mismatched=bool(columns["skip_mismatched_answers"])
        )
    if task == TOKENS:
        from tlnlp_tf.data.conll import read_conll

        return read_conll(
            path,
            token_column=0
            if columns["token_column"] is None
            else columns["token_column"],
            tag_column=-1 if columns["tag_column"] is None else columns["tag_column"],
            scheme=columns["scheme"] or "auto",
        )
    for option in ("text_column", "label_column"):
        if columns[option] is None:
            flag = "--" + option.replace("_", "-")
            raise DataError(
                f"{path}: name the {option.split('_')[0]} column with {flag}."
            )
    return _load_text(
        path,
        columns["text_column"],
        columns["label_column"],
        columns["text_pair_column"],
    )


def _load_text(path, text, label, pair):
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
        raise DataError(
            f"{folder}: no model.keras; expected a folder written by `tlnlp fit`."
        )
    run_path = os.path.join(folder, RUN_FILE)
    run = {}
    if os.path.isfile(run_path):
        with open(run_path, encoding="utf-8") as file:
            run = json.load(file)
    return keras.saving.load_model(path), run


def _read_lines(path):
    from tlnlp_tf.data.readers import read_text
    from tlnlp_tf.data.readers import split_lines

    if path == "-":
        return split_lines(sys.stdin.read())
    return split_lines(read_text(path))


def _scores(model, data, batch_size):
    """The task's validation metrics on labelled `data`: the model's own `score`."""
    return model.score(data, batch_size=batch_size)


def _rounded(value):
    if isinstance(value, dict):
        return {key: _rounded(item) for key, item in value.items()}
    return round(value, 6) if isinstance(value, float) else value


def _check_numeric(examples):
    examples.check_numeric()


if __name__ == "__main__":
    sys.exit(main())
