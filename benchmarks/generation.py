"""Warm-started encoder-decoders (Rothe et al. 2020): AESLC, DialogSum, Multi30k.

    python benchmarks/generation.py --task summarization --seeds 0,1
    python benchmarks/generation.py --task summarization --dataset dialogsum
    python benchmarks/generation.py --task translation --seeds 0,1
    python benchmarks/generation.py --train-limit 64 --eval-limit 16 \\
        --epochs 1 --seeds 0 --no-markdown  # smoke

`tl.tasks.EncoderDecoderLM` in the paper's variants, all on "minilm"
(all-MiniLM-L6-v2) and at the same budget: the same seeded sample of
training pairs, epochs, batch size and learning-rate policy for each.

- `bert2bert`: encoder and decoder from the checkpoint (the decoder's
  cross-attention new); `bert2bert-share`: the same with one set of weights.
- `bert2rnd`: the pretrained encoder, a random decoder.
- `rnd2rnd`: the same architecture from random weights.

Tasks:
- `summarization`: AESLC (email body -> subject line), test ROUGE-1/2/L
  F-measures (Google's rouge-score, stemmed) against the original subject
  line, and against the best of it and the three annotator subject lines.
  Bodies are cut to `--source-length` tokens (counted in the results).
  `--dataset dialogsum`: DialogSum (dialogue -> summary), scored against
  `summary1` and against the best of its three references.
- `translation`: Multi30k en->de with a new German WordPiece vocabulary of
  `--vocabulary-size` tokens learned from the training targets (cased;
  the decoder's token embedding and output layer are then new, the rest
  warm-started). Test BLEU and chrF (sacrebleu, detokenized, cased) and
  BLEU against the official lowercased tokenised references
  `test.lc.norm.tok.de`, the figure the literature reports (Transformer-tiny
  41.0 on the full data).

Decoding: greedy, or beam search with `--num-beams N`; `--no-repeat-ngram N`
forbids repeating any N-gram (0: off). Writes
`benchmarks/results/generation_<task>.json` (`generation_<task>_<dataset>`
for a dataset other than the task's default) and its section of RESULTS.md
unless `--no-markdown`.
"""

import json
import os
import re
import sys
import time

import keras
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common  # noqa: E402

import tlnlp_tf as tl  # noqa: E402
from tlnlp_tf.tasks.encoder_decoder_lm import EncoderDecoderLM  # noqa: E402

FOLDERS = {"summarization": "summarization_aeslc", "translation": "mt_multi30k_en_de"}
DATASETS = {
    "aeslc": ("summarization", "summarization_aeslc"),
    "dialogsum": ("summarization", "summarization_dialogsum"),
    "multi30k": ("translation", "mt_multi30k_en_de"),
}
VARIANTS = ("bert2bert", "bert2bert-share", "bert2rnd", "rnd2rnd")
DEFAULT_LENGTHS = {"summarization": (256, 32), "translation": (64, 64)}


def main(argv=None):
    parser = _common.parser(__doc__, FOLDERS["summarization"], epochs=3)
    parser.set_defaults(data=None, batch_size=16)
    parser.add_argument("--task", choices=tuple(FOLDERS), default="summarization")
    parser.add_argument(
        "--dataset",
        choices=tuple(DATASETS),
        help="aeslc (summarization's default), dialogsum, multi30k (translation's)",
    )
    parser.add_argument("--train-limit", dest="limit", type=int)
    parser.add_argument("--eval-limit", type=int)
    parser.add_argument("--seeds", default="0,1")
    parser.add_argument("--variants", default="bert2bert,bert2rnd,rnd2rnd")
    parser.add_argument("--backbone", default="minilm")
    parser.add_argument("--learning-rate", default="auto")
    parser.add_argument(
        "--encoder-rate",
        default="auto",
        help="the encoder's rate multiplier (auto: 0.1 warm-started, 1 random)",
    )
    parser.add_argument("--source-length", type=int)
    parser.add_argument("--target-length", type=int)
    parser.add_argument("--num-beams", type=int, default=0, help="0: greedy")
    parser.add_argument("--no-repeat-ngram", type=int, default=0, help="0: off")
    parser.add_argument("--vocabulary-size", type=int, default=8000)
    parser.add_argument("--no-markdown", action="store_true")
    args = parser.parse_args(argv)
    folder = FOLDERS[args.task]
    if args.dataset:
        task, folder = DATASETS[args.dataset]
        if task != args.task:
            parser.error(f"--dataset {args.dataset} is a {task} set: add --task {task}")
    here = os.path.dirname(os.path.abspath(__file__))
    args.data = args.data or os.path.join(here, "..", "..", "shared", "data", folder)
    lengths = DEFAULT_LENGTHS[args.task]
    args.source_length = args.source_length or lengths[0]
    args.target_length = args.target_length or lengths[1]
    variants = args.variants.split(",")
    for variant in variants:
        if variant not in VARIANTS:
            parser.error(f"unknown variant '{variant}': expected {VARIANTS}")
    seeds = [int(seed) for seed in args.seeds.split(",")]

    train = read_pairs(os.path.join(args.data, "train.jsonl"))
    test = read_pairs(os.path.join(args.data, "test.jsonl"))[: args.eval_limit]
    runs = []
    for seed in seeds:
        pairs = sample(train, args.limit, seed)
        vocabulary, vocabulary_seconds = None, 0.0
        if args.task == "translation":
            start = time.perf_counter()
            vocabulary = EncoderDecoderLM.learn_vocabulary(
                [target for _, target in pairs], args.vocabulary_size
            )
            vocabulary_seconds = time.perf_counter() - start
        for variant in variants:
            run = run_variant(variant, seed, pairs, test, vocabulary, args)
            run["vocabulary_seconds"] = round(vocabulary_seconds, 1)
            runs.append(run)
            print(json.dumps(run), flush=True)
    results = {
        "task": args.task,
        "backbone": args.backbone,
        "train_pairs": len(sample(train, args.limit, seeds[0])),
        "test_pairs": len(test),
        "epochs": args.epochs,
        "batch_size": args.batch_size,
        "seeds": seeds,
        "dataset": folder,
        "decoding": decoding_name(args),
        "source_length": args.source_length,
        "target_length": args.target_length,
        "runs": runs,
        "mean": means(runs),
    }
    rows = table(results)
    title = (
        f"Warm-started encoder-decoders, {args.task} "
        f"({folder}), {args.backbone}, {results['train_pairs']} "
        f"pairs, {args.epochs} epochs"
    )
    command = _common.command("generation.py", argv)
    name = f"generation_{args.task}"
    if folder != FOLDERS[args.task]:
        name += "_" + args.dataset
    if args.no_markdown:
        write_json(name, results, command)
    else:
        _common.write_results(name, results, title, rows, command)
    print("\n".join(rows))


def decoding_name(args):
    name = f"beam {args.num_beams}" if args.num_beams else "greedy"
    if args.no_repeat_ngram:
        name += f", no repeated {args.no_repeat_ngram}-grams"
    return name


def read_pairs(path):
    """`[(source, target, extra)]` of a JSONL file with `source` and `target`."""
    rows = []
    with open(path, encoding="utf-8") as file:
        for line in file:
            row = json.loads(line)
            # AESLC's annotator subject lines, DialogSum's three summaries.
            extra = row.get("annotations") or row.get("references") or []
            rows.append((row["source"], row["target"], extra))
    return rows


def sample(rows, limit, seed):
    """A seeded sample of `limit` training rows (all of them, shuffled, for None)."""
    order = np.random.default_rng(seed).permutation(len(rows))
    chosen = [rows[i] for i in order[:limit]]
    return [(source, target) for source, target, _ in chosen]


def run_variant(variant, seed, pairs, test, vocabulary, args):
    keras.utils.set_random_seed(seed)
    name = variant.split("-")[0]
    metric = "bleu" if args.task == "translation" else "rouge"
    model = EncoderDecoderLM.from_backbone(
        args.backbone,
        variant=name,
        share_weights=variant.endswith("-share"),
        target_vocabulary=vocabulary,
        source_length=args.source_length,
        target_length=args.target_length,
        metric=metric,
    )
    model.compile(
        learning_rate=as_number(args.learning_rate),
        encoder_rate=as_number(args.encoder_rate),
    )
    sources = [source for source, _ in pairs]
    targets = [target for _, target in pairs]
    train_truncated = model.count_truncated(sources, "training sources")
    epoch_seconds = []

    class EpochTimer(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.start = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            epoch_seconds.append(round(time.perf_counter() - self.start, 1))

    start = time.perf_counter()
    history = model.fit(
        sources,
        targets,
        batch_size=args.batch_size,
        epochs=args.epochs,
        callbacks=[EpochTimer()],
        verbose=2,
    )
    train_seconds = time.perf_counter() - start
    test_sources = [source for source, _, _ in test]
    options = {"sampler": "beam", "num_beams": args.num_beams} if args.num_beams else {}
    if args.no_repeat_ngram:
        options["no_repeat_ngram_size"] = args.no_repeat_ngram
    start = time.perf_counter()
    predictions = model.generate(test_sources, batch_size=32, **options)
    generate_seconds = time.perf_counter() - start
    references = [target for _, target, _ in test]
    scores = score(args, model, predictions, references, test)
    # Teacher-forced loss on the test pairs: how well each variant predicts
    # the reference, whatever the decoder generates.
    tested = model.evaluate(
        test_sources, references, batch_size=32, return_dict=True, verbose=0
    )
    scores["test_loss"] = round(float(tested["loss"]), 4)
    scores["test_token_accuracy"] = round(float(tested["token_accuracy"]), 4)
    # Does the decoder read the source? The same references with each test
    # source moved to the next pair: a model that ignores its source scores
    # the same loss; and how many different outputs the test set gets.
    shifted = model.evaluate(
        test_sources[1:] + test_sources[:1],
        references,
        batch_size=32,
        return_dict=True,
        verbose=0,
    )
    scores["test_loss_shifted_sources"] = round(float(shifted["loss"]), 4)
    scores["distinct_predictions"] = len(set(predictions))
    counts = tl.backbones.parameter_counts(model)
    return {
        "variant": variant,
        "seed": seed,
        "learning_rate": model.default_learning_rate()
        if args.learning_rate == "auto"
        else float(args.learning_rate),
        "encoder_rate": model.default_encoder_rate()
        if args.encoder_rate == "auto"
        else float(args.encoder_rate),
        "parameters": counts["total"],
        "trainable_parameters": counts["trainable"],
        "steps": int(model.optimizer.iterations.numpy()),
        "train_loss": [round(float(v), 4) for v in history.history["loss"]],
        "train_token_accuracy": [
            round(float(v), 4) for v in history.history["token_accuracy"]
        ],
        "train_seconds": round(train_seconds, 1),
        "epoch_seconds": epoch_seconds,
        "generate_seconds": round(generate_seconds, 1),
        "generate_sources_per_second": round(len(test) / generate_seconds, 2),
        "train_sources_truncated": train_truncated,
        "test_sources_truncated": model.count_truncated(test_sources, "test sources"),
        "examples": [
            {"source": s[:200], "reference": r, "prediction": p}
            for s, r, p in zip(test_sources[:3], references[:3], predictions[:3])
        ],
        **scores,
    }


def as_number(value):
    return value if value == "auto" else float(value)


def score(args, model, predictions, references, test):
    if args.task == "summarization":
        scores = tl.metrics.rouge(predictions, references)
        with_annotations = tl.metrics.rouge(
            predictions, [[target] + list(extra) for _, target, extra in test]
        )
        return {
            **{name: round(scores[name], 2) for name in ("rouge1", "rouge2", "rougeL")},
            **{
                f"{name}_any_reference": round(with_annotations[name], 2)
                for name in ("rouge1", "rouge2", "rougeL")
            },
        }
    path = os.path.join(args.data, "test.lc.norm.tok.de")
    with open(path, encoding="utf-8") as file:
        tokenized = [line.strip() for line in file][: len(predictions)]
    lowered = [moses_like(prediction) for prediction in predictions]
    return {
        "bleu": round(tl.metrics.bleu(predictions, references), 2),
        "chrf": round(tl.metrics.chrf(predictions, references), 2),
        "bleu_lc_tok": round(tl.metrics.bleu(lowered, tokenized, tokenize="none"), 2),
    }


def moses_like(text):
    """Lowercased, punctuation split off words (hyphens inside words kept).

    How `test.lc.norm.tok.de` is written, close enough for BLEU on it.
    """
    return " ".join(re.findall(r"\w+(?:[-'’]\w+)*|[^\w\s]", text.lower()))


METRICS = {
    "summarization": ("rouge1", "rouge2", "rougeL", "test_loss"),
    "translation": ("bleu", "chrf", "bleu_lc_tok", "test_loss"),
}
# Whether the decoder reads its source (columns when the runs have them).
CONDITIONING = ("test_loss_shifted_sources", "distinct_predictions")


def means(runs):
    """Per variant: the mean and spread over seeds of the scores and timings."""
    summary = {}
    for variant in dict.fromkeys(run["variant"] for run in runs):
        chosen = [run for run in runs if run["variant"] == variant]
        entry = {}
        for key in chosen[0]:
            values = [run[key] for run in chosen]
            if all(isinstance(v, (int, float)) for v in values) and key != "seed":
                entry[key] = round(float(np.mean(values)), 2)
                if len(values) > 1:
                    entry[f"{key}_std"] = round(float(np.std(values)), 2)
        summary[variant] = entry
    return summary


def table(results):
    first = next(iter(results["mean"].values()))
    names = METRICS[results["task"]] + tuple(n for n in CONDITIONING if n in first)
    rows = [
        "| variant | " + " | ".join(names) + " | train s | generate s |",
        "|---|" + "---|" * (len(names) + 2),
    ]
    for variant, entry in results["mean"].items():
        cells = []
        for name in names:
            if name not in entry:  # runs kept from before the column existed
                cells.append("–")
                continue
            spread = entry.get(f"{name}_std")
            cells.append(
                f"{entry[name]:.2f}"
                + (f" ± {spread:.2f}" if spread is not None else "")
            )
        rows.append(
            f"| {variant} | "
            + " | ".join(cells)
            + f" | {entry['train_seconds']:.0f} | {entry['generate_seconds']:.0f} |"
        )
    return rows


def write_json(name, results, command):
    """`benchmarks/results/NAME.json` only (RESULTS.md untouched: smoke runs)."""
    import datetime

    here = os.path.dirname(os.path.abspath(__file__))
    os.makedirs(os.path.join(here, "results"), exist_ok=True)
    results = dict(
        results,
        date=datetime.date.today().isoformat(),
        machine=_common.machine(),
        command=command,
    )
    with open(os.path.join(here, "results", f"{name}.json"), "w") as file:
        json.dump(results, file, indent=2, ensure_ascii=False)


if __name__ == "__main__":
    main()
