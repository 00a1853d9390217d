"""`tlnlp pretrain`: continued masked-LM pretraining, or word2vec, on raw text."""

import json
import os
import sys

from tlnlp_tf.cli import arguments
from tlnlp_tf.errors import PolicyError


def register(commands):
    pretrain = commands.add_parser(
        "pretrain",
        help="continue masked-LM pretraining on unlabelled in-domain text "
        "(writes a preset folder), or train word2vec vectors on it (--kind word2vec)",
    )
    pretrain.add_argument(
        "--text",
        required=True,
        help="the corpus: a text file (one document per line) or "
        ".csv/.tsv/.jsonl with --text-column; gzip (.gz) too, or a quoted glob "
        "of shards ('corpus/*.txt.gz'); large, gzip or sharded corpora are "
        "streamed, and --limit samples them while reading",
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
        type=arguments.positive,
        metavar="N",
        help="mlm: learn an N-token WordPiece vocabulary from --text and "
        "pretrain a new BERT from random weights (no --backbone)",
    )
    pretrain.add_argument(
        "--num-layers",
        type=arguments.positive,
        metavar="N",
        help="with --new-vocabulary: transformer layers (default 2)",
    )
    pretrain.add_argument(
        "--hidden-dim",
        type=arguments.positive,
        metavar="N",
        help="with --new-vocabulary: hidden size, a multiple of "
        "--num-heads (default 128)",
    )
    pretrain.add_argument(
        "--num-heads",
        type=arguments.positive,
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
        type=arguments.positive,
        help="passes over the corpus (default 1 for mlm, 10 for word2vec)",
    )
    pretrain.add_argument(
        "--vector-size",
        type=arguments.positive,
        default=100,
        help="word2vec: dimension of the vectors (default 100)",
    )
    pretrain.add_argument(
        "--window",
        type=arguments.positive,
        default=5,
        help="word2vec: context words either side (default 5)",
    )
    pretrain.add_argument(
        "--min-count",
        type=arguments.positive,
        default=2,
        help="word2vec: words seen fewer times get no vector (default 2)",
    )
    pretrain.add_argument("--batch-size", type=arguments.positive, default=32)
    pretrain.add_argument(
        "--max-length",
        type=arguments.positive,
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
        "--held-out",
        type=arguments.positive,
        default=256,
        help="with --steps: the first N documents of the stream, held out to "
        "score the masked-LM loss before and after training (default 256)",
    )
    pretrain.add_argument(
        "--limit",
        type=arguments.positive,
        help="pretrain on a seeded random sample of N documents",
    )
    pretrain.add_argument(
        "--steps",
        type=arguments.positive,
        metavar="N",
        help="mlm: stream the corpus (any size) and train N optimizer steps on "
        "packed blocks of --max-length tokens (default 128), backed up every "
        "100 steps in OUTPUT/backup: the same command resumes after a kill",
    )
    pretrain.add_argument("--seed", type=int, default=0)
    pretrain.add_argument(
        "--output",
        required=True,
        help="the preset folder to write (usable as --backbone), "
        "with pretrain.json; word2vec: a folder for vectors.txt "
        "and pretrain.json",
    )
    pretrain.set_defaults(handler=run)


def run(args):
    from tlnlp_tf import pretraining
    from tlnlp_tf.pretraining import word_vectors

    new = _check_new_backbone_options(args)
    if args.kind == "word2vec":
        word_vectors.check_output_folder(args.output)
    else:
        pretraining.check_output_folder(args.output)
    if args.steps is not None:
        return _run_streamed(args, new)
    texts = pretraining.read_corpus(
        args.text, args.text_column, limit=args.limit, seed=args.seed
    )
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
    masked_lm, report = _on_backbone(
        args,
        new,
        lambda: texts,
        lambda spec, **more: pretraining.pretrain_masked_lm(
            spec, texts, **options, **more
        ),
    )
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


# `--steps`: the backup inside the output folder, removed when training ends.
BACKUP = "backup"
# A new vocabulary for a streamed corpus is learned from a seeded sample of
# this many documents (drawn while reading the whole corpus once).
VOCABULARY_SAMPLE = 100_000


def _run_streamed(args, new):
    """`--steps N`: masked-LM training on the streamed corpus, resumable."""
    from tlnlp_tf import pretraining

    if args.kind != "mlm":
        raise PolicyError("--steps streams the corpus for --kind mlm only.")
    if args.limit is not None or args.epochs is not None:
        raise PolicyError(
            "--steps streams the whole corpus for N steps; --limit and --epochs "
            "are for a corpus read into memory (leave them out)."
        )
    backup = os.path.join(args.output, BACKUP)
    documents = pretraining.stream_corpus(args.text, args.text_column)
    options = {
        "steps": args.steps,
        "backup_dir": backup,
        "batch_size": args.batch_size,
        "max_length": args.max_length or 128,
        "held_out": args.held_out,
        "mask_rate": args.mask_rate,
        "learning_rate": args.learning_rate,
        "seed": args.seed,
    }
    if os.path.isdir(backup):
        print(f"tlnlp pretrain: resuming from the backup in {backup}", file=sys.stderr)
    masked_lm, report = _on_backbone(
        args,
        new,
        # A new vocabulary is learned from a seeded sample, read while streaming.
        lambda: pretraining.read_corpus(
            args.text, args.text_column, limit=VOCABULARY_SAMPLE, seed=args.seed
        ),
        lambda spec, **more: pretraining.pretrain_masked_lm_stream(
            spec, documents, **options, **more
        ),
    )
    if new is not None:
        new_backbone = report["new_backbone"]
        new_backbone["vocabulary_sample_documents"] = new_backbone["documents"]
    report = {"text": args.text, "text_column": args.text_column, **report}
    pretraining.save_pretrained(masked_lm, args.output, report)
    print(
        json.dumps(
            {key: value for key, value in report.items() if key != "history"}, indent=2
        )
    )
    return 0


def _on_backbone(args, new, vocabulary_texts, pretrain):
    """`pretrain(spec, **options)` on `--backbone`, or with `--new-vocabulary`
    on a new random backbone whose vocabulary is learned from
    `vocabulary_texts()` (in a temporary preset folder)."""
    import tempfile

    from tlnlp_tf import pretraining

    if new is None:
        return pretrain(args.backbone or "minilm", weights=args.weights or "pretrained")
    with tempfile.TemporaryDirectory(prefix="tlnlp-new-backbone.") as tmp:
        preset = os.path.join(tmp, "preset")
        new_backbone = pretraining.new_backbone_preset(
            preset,
            vocabulary_texts(),
            max_sequence_length=max(512, args.max_length or 0),
            seed=args.seed,
            **new,
        )
        masked_lm, report = pretrain(preset)
    # The preset was temporary: the run started from new random weights.
    report.update(backbone=None, weights="random", new_backbone=new_backbone)
    return masked_lm, report


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
                    "--new-vocabulary N (without it, --backbone gives the "
                    "architecture)."
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
            "builds a new BERT with a vocabulary learned from --text; leave out "
            "--backbone."
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
