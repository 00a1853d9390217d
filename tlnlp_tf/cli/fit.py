"""`tlnlp fit`: fine-tune a model on a data file (or several tasks: --task multi)."""

import os
import sys
import time

from tlnlp_tf.cli import arguments
from tlnlp_tf.cli import label_words
from tlnlp_tf.cli.model_options import model_options
from tlnlp_tf.cli.token_cache import data_key
from tlnlp_tf.cli.token_cache import token_cache_folder
from tlnlp_tf.errors import PolicyError

BACKUP = "backup"  # inside --output: the state to resume from after a kill
MULTI = "multi"


def register(commands):
    from tlnlp_tf.tasks import registry

    fit = commands.add_parser("fit", help="fine-tune a model on a data file")
    kinds = registry.task_kinds()
    fit.add_argument(
        "--task",
        choices=kinds + (MULTI,),
        default="text-classification",
        help=", ".join(registry.get_task(kind).help or kind for kind in kinds)
        + ", or multi (several tasks on one backbone, listed in --config)",
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
    arguments.add_columns(fit)
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
        help="auto | none | all | embeddings | bottom-N | lora-R | setfit | "
        "setfit-lora-R (default: auto for text classification on a sentence-"
        "embedding backbone, chosen from the number of labels and printed; "
        "none otherwise); lora-R trains rank-R LoRA factors on the attention "
        "query and value projections, and the head; all (feature extraction) "
        "solves a linear head to its optimum; setfit fine-tunes the backbone "
        "on contrastive pairs of the labelled examples, then solves the head "
        "(text classification only)",
    )
    fit.add_argument(
        "--epochs",
        type=arguments.positive,
        help="epochs (default 3, or more where a token task's 3 epochs give "
        "fewer optimizer updates than it needs, said when chosen); under "
        "--freeze setfit, the contrastive stage's (default 1)",
    )
    fit.add_argument(
        "--contrastive-iterations",
        type=arguments.positive,
        help="--freeze setfit: pairs per labelled example and iteration are one "
        "positive and one negative (default 40 iterations, 20 for backbones "
        "above 60M parameters)",
    )
    label_words.add_options(fit)
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
    fit.add_argument("--batch-size", type=arguments.positive, default=32)
    fit.add_argument(
        "--max-length",
        type=arguments.positive,
        help="most tokens per example, or per window for question-answering "
        "(default: chosen from the training data)",
    )
    fit.add_argument(
        "--doc-stride",
        type=arguments.positive,
        default=128,
        help="question-answering: tokens between the starts of a long "
        "context's windows (default 128)",
    )
    fit.add_argument(
        "--variant",
        choices=("bert2bert", "bert2rnd", "rnd2rnd"),
        help="summarization, translation: how the encoder-decoder starts "
        "(Rothe et al. 2020): both halves from the checkpoint (bert2bert, "
        "default), a random decoder (bert2rnd), or all random (rnd2rnd, as "
        "--weights random)",
    )
    fit.add_argument(
        "--target-vocabulary",
        type=arguments.positive,
        metavar="SIZE",
        help="summarization, translation: learn a new WordPiece vocabulary of "
        "SIZE tokens from the training targets, for a target language the "
        "backbone's vocabulary does not cover (default: the backbone's)",
    )
    fit.add_argument(
        "--target-length",
        type=arguments.positive,
        help="summarization, translation: most tokens per target (default: "
        "chosen from the training data)",
    )
    fit.add_argument(
        "--crf",
        action="store_true",
        help="token-classification, semantic-role-labeling: a linear-chain CRF "
        "over the tag scores (trained by its log-likelihood, decoded by Viterbi "
        "under the tag scheme's transition rules; default: a softmax per token)",
    )
    fit.add_argument(
        "--decoding",
        choices=("auto", "argmax", "allowed"),
        help="token tasks without --crf: the most probable tag sequence the tag "
        "scheme allows (allowed), each word's top tag (argmax), or allowed when "
        "the tags follow a scheme (auto, the default)",
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
        "--limit",
        type=arguments.positive,
        help="train on a seeded random sample of N examples",
    )
    fit.add_argument(
        "--on-bad-line",
        choices=("error", "skip"),
        default="error",
        help="a bad row of --train or --validation (wrong field count, empty "
        "text or label, bytes that are not UTF-8, a line that is not JSON): "
        "error (default: stop before training, naming the file and line) or "
        "skip (leave it out, count it in metrics.json's skipped_lines, warn "
        "with the first); text tasks' .csv/.tsv/.jsonl files",
    )
    fit.add_argument(
        "--token-cache",
        metavar="DIR",
        help="keep the tokenized training data on disk in DIR (written once, "
        "reused by every epoch and by a later run on the same data, tokenizer "
        "and max length) instead of in memory; default: in memory, or "
        "OUTPUT/tokens for more than 350,000 training examples",
    )
    fit.add_argument("--seed", type=int, default=0)
    fit.add_argument(
        "--tensorboard",
        metavar="DIR",
        help="write TensorBoard logs (losses, metrics per epoch) to DIR; needs "
        "the 'tensorboard' extra",
    )
    fit.add_argument(
        "--precision",
        default="float32",
        choices=("float32", "mixed_bfloat16", "mixed_float16"),
        help="compute dtype policy: mixed_bfloat16 for TPUs and CPUs with bf16 "
        "instructions, mixed_float16 for GPUs (weights and loss stay float32)",
    )
    fit.add_argument(
        "--attention-dropout",
        type=arguments.attention_dropout,
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
        "held-out text (one document per line, or .csv/.tsv/.jsonl); with "
        "lm, a language model's own loss on FILE's held-out text",
    )
    fit.add_argument(
        "--forgetting-probe",
        choices=("sts", "mlm", "lm"),
        help="sts (the default for encoder tasks): sentence similarity, for "
        "sentence-embedding sources such as minilm; mlm: masked-LM loss "
        "under the source's saved masked-LM head, for a --backbone folder "
        "written by `tlnlp pretrain`; lm (the default and only probe of "
        "--task language-modeling): the model's next-token loss and "
        "perplexity",
    )
    fit.add_argument(
        "--forgetting-columns",
        help="sts: FILE's first-sentence, second-sentence and score columns "
        "(default: sentence1,sentence2,score, as GLUE STS-B); mlm, lm: the "
        "text column of a .csv/.tsv/.jsonl FILE",
    )
    fit.add_argument(
        "--forgetting-limit",
        type=arguments.positive,
        default=1500,
        help="probe a seeded random sample of N pairs (sts) or documents "
        "(mlm, lm) of FILE (default 1500)",
    )
    fit.add_argument(
        "--output", required=True, help="folder for model.keras and JSON results"
    )
    fit.set_defaults(handler=run)


def run(args):
    if args.task == MULTI:
        from tlnlp_tf.cli.fit_multi import run_multi

        return run_multi(args)
    if args.config is not None:
        raise PolicyError("--config is for --task multi.")
    if args.train is None:
        raise PolicyError("--train is required (a training file).")
    began = time.perf_counter()  # for first_step_seconds
    import keras

    from tlnlp_tf import outputs
    from tlnlp_tf.backbones.freezing import parameter_counts
    from tlnlp_tf.cli.forgetting import forgetting_report
    from tlnlp_tf.data.batching import choose_batching
    from tlnlp_tf.data.batching import training_batches
    from tlnlp_tf.data.streamed_examples import StreamedExamples
    from tlnlp_tf.data.streamed_propositions import StreamedPropositions
    from tlnlp_tf.data.streamed_sentences import StreamedSentences
    from tlnlp_tf.distribute.strategies import check_global_batch
    from tlnlp_tf.distribute.strategies import strategy
    from tlnlp_tf.extras import require
    from tlnlp_tf.tasks import registry
    from tlnlp_tf.tasks.task_training import rates_line
    from tlnlp_tf.tasks.token_rates import PROFILE_SAMPLE
    from tlnlp_tf.training.callbacks import FirstStepTimer
    from tlnlp_tf.training.callbacks import backed_up_epoch
    from tlnlp_tf.training.contrastive import is_setfit
    from tlnlp_tf.training.regularizers import L2SP
    from tlnlp_tf.training.resume import resumable_fit
    from tlnlp_tf.training.update_budget import auto_epochs

    task = registry.get_task(args.task)
    columns = arguments.columns(args, {})
    single = args.task == "text-classification" and not columns.get("text_pair_column")
    label_words.check(args, single)
    train = task.read_sample(
        args.train, columns, args.limit, args.seed, args.on_bad_line, stream=True
    )
    if isinstance(train, (StreamedExamples, StreamedSentences, StreamedPropositions)):
        print(
            f"tlnlp fit: {len(train)} training {train.unit} streamed from "
            f"{train.source} (read again from the files, not held in memory)",
            file=sys.stderr,
        )
    validation = None
    if args.validation:
        validation = task.read_sample(
            args.validation, columns, on_bad_line=args.on_bad_line
        )
    names = task.targets(train, validation)
    templated = label_words.templated(args, names)
    forgetting = forgetting_report(args, task)  # the probe file is checked first
    l2sp = None if args.l2sp is None else L2SP(alpha=args.l2sp)  # checks alpha
    first_step = FirstStepTimer(began)
    callbacks = [first_step] if forgetting is None else [forgetting, first_step]
    if args.tensorboard is not None:
        require("tensorboard")  # tf.summary lives in it; TF 2.22 leaves it out
        callbacks.append(keras.callbacks.TensorBoard(log_dir=args.tensorboard))

    keras.utils.set_random_seed(args.seed)
    distribution = strategy(args.strategy)
    check_global_batch(args.batch_size, distribution)
    if args.contrastive_iterations is not None and not (
        is_setfit(args.freeze) or args.freeze in (None, "auto")
    ):
        raise PolicyError("--contrastive-iterations is for --freeze setfit.")
    with distribution.scope():
        model = task.build(args.backbone, names, **model_options(args, task))
        if args.learning_rate is not None or args.layer_decay is not None:
            model.compile(
                learning_rate=args.learning_rate or "auto",
                layer_decay="auto" if args.layer_decay is None else args.layer_decay,
            )
        if l2sp is not None:
            l2sp.apply(model)
    start = time.perf_counter()  # training time includes the one tokenizer pass
    data = label_words.joined(train.to_dataset(), templated, "tlnlp fit")
    if model.freeze == "auto":  # chosen from the labels before tokenizing
        with distribution.scope():
            model.resolve_freeze(data.batch(256), verbose=0)
        print(
            f"tlnlp fit: --freeze auto chose {model.freeze_choice['freeze']}: "
            f"{model.freeze_choice['reason']}",
            file=sys.stderr,
        )
    # Tokenized once, in memory; epochs reshuffle the cache. Contrastive
    # training draws its pairs from the raw texts.
    if task.tokenize_once and not is_setfit(model.freeze):
        cache_dir = token_cache_folder(args, len(train))
        if cache_dir is None:
            data = model.tokenize_once(data)
        else:
            key = data_key(args, columns)
            if templated is not None:
                key += repr((templated.texts, templated.labels))
            data = model.tokenize_once(data, cache_dir=cache_dir, cache_key=key)
    args.batching = choose_batching(
        int(data.cardinality()),
        args.batch_size,
        args.batching,
        token_level=task.token_level,
    )
    data = training_batches(data, args.batch_size, args.batching, seed=args.seed)
    chosen = None
    if getattr(model, "rates_from_data", False):  # raw sentences: `data` may be tokens
        # A seeded sample: the first sentences of a file need not be typical
        # (streamed shards have no sample: their first sentences).
        if hasattr(train, "sample"):
            sample = train.sample(PROFILE_SAMPLE, args.seed).to_dataset().batch(256)
        else:
            sample = train.to_dataset().batch(256)
        with distribution.scope():
            chosen = model.resolve_rates(
                sample,
                args.epochs and int(data.cardinality()) * args.epochs,
                verbose=0,
            )
    if chosen is not None:
        print(f"tlnlp fit: {rates_line(chosen)}", file=sys.stderr)
    if args.epochs is None:  # enough updates for the data (`min_updates`)
        args.epochs, reason = auto_epochs(model, int(data.cardinality()))
        if reason != "the default":
            print(f"tlnlp fit: epochs {args.epochs}: {reason}", file=sys.stderr)
    valid_data = None
    if validation is not None and task.validate_in_fit:  # else scored after fit
        valid_data = validation.to_dataset().batch(64)
    # Fault tolerance: the same command run again after a kill resumes.
    backup = os.path.join(args.output, BACKUP)
    resumed_from = backed_up_epoch(backup) or 0  # 0: a fresh run
    if resumed_from:
        step = resumed_from * int(data.cardinality())
        print(
            f"tlnlp fit: resuming from the end of epoch {resumed_from} of "
            f"{args.epochs} "
            f"(optimizer step {step}; backup in {backup})",
            file=sys.stderr,
        )
    # The forgetting probe first: "before" is measured before a backup is restored.
    options = {}
    if args.contrastive_iterations is not None:
        options["contrastive_iterations"] = args.contrastive_iterations
    history = resumable_fit(
        model,
        data,
        backup,
        epochs=args.epochs,
        validation_data=valid_data,
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
        "resumed_from_epoch": history.resumed_from_epoch,
        "trainable_params": counts["trainable"],
        "total_params": counts["total"],
        "train_examples": len(train),
        **({} if templated is None else {"templated_examples": len(templated)}),
        "first_step_seconds": _rounded(first_step.seconds),
        **_skipped(train, validation),
        **_lengths(model),
    }
    if hasattr(model, "freeze_choice"):
        metrics["freeze_choice"] = model.freeze_choice
    if hasattr(model, "rates_choice"):
        metrics["rates_choice"] = model.rates_choice
    if hasattr(history, "pairs"):  # freeze="setfit": stage 1
        metrics["contrastive_pairs"] = history.pairs
        metrics["contrastive_loss"] = [round(v, 6) for v in history.contrastive["loss"]]
    if hasattr(history, "solution"):  # a frozen linear head, solved
        metrics["head"] = arguments.rounded(history.solution)
    if validation is not None:
        metrics = {"validation": task.score(model, validation, 64), **metrics}
    if forgetting is not None:
        metrics["forgetting"] = {
            "file": args.report_forgetting,
            **arguments.rounded(forgetting.result),
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
        "on_bad_line": args.on_bad_line,
        "token_cache": args.token_cache,
        **{name: getattr(args, name) for name in label_words.OPTIONS},
        **{name: getattr(args, name) for name in task.fit_options},
    }
    outputs.save_model(model, os.path.join(args.output, "model.keras"))
    if isinstance(names, list):  # label or tag names
        outputs.write_json(os.path.join(args.output, "labels.json"), names)
    outputs.write_json(os.path.join(args.output, arguments.RUN_FILE), run)
    outputs.write_json(os.path.join(args.output, "metrics.json"), metrics)
    arguments.print_json(metrics)
    return 0


def _skipped(train, validation):
    """`skipped_lines` (`--on-bad-line skip`): bad lines left out of each file."""
    counts = {
        name: getattr(data, "skipped", 0)
        for name, data in (("train", train), ("validation", validation))
        if data is not None
    }
    return {"skipped_lines": counts} if any(counts.values()) else {}


def _rounded(seconds):
    return None if seconds is None else round(seconds, 2)


def _lengths(model):
    """The token limits the model chose (`max_length`; source and target lengths)."""
    names = ("max_length", "source_length", "target_length")
    return {name: getattr(model, name) for name in names if hasattr(model, name)}
