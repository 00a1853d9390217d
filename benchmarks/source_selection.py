"""Source selection: do transferability scores rank sources the way fine-tuning does?

    python benchmarks/source_selection.py
    python benchmarks/source_selection.py --targets sst2 --train-size 200 \\
        --held-out 200  # smoke

Four candidate sources, built or loaded here:
- `minilm`: all-MiniLM-L6-v2, pretrained.
- `minilm-imdb`: MiniLM after masked-LM adaptation on IMDB review text
  (`tl.pretraining.pretrain_masked_lm`, the training half's texts only).
- `tiny-imdb`: a 2-layer, 128-wide BERT with MiniLM's vocabulary, pretrained
  from random weights by masked LM on the same text.
- `minilm@random`: MiniLM's architecture with random weights.

Three targets: SST-2 (a seeded training sample, scored on the dev set),
IMDB (a sample of the training half, scored on the held-out half; reviews
cut to `--max-length`), MRPC (sentence pairs; a training sample, scored on
a sample of the test file). For each target, `tl.probes.score_sources`
scores every candidate on the training sample's frozen features (LogME,
H-score, 5-fold linear probe; last layer), then each candidate is
fine-tuned with `TextClassifier` defaults and scored on held-out data. The
result is, per target and score, the Spearman and Kendall rank correlation
between the score and the fine-tuned accuracy over the four candidates.
"""

import os
import shutil
import sys
import tempfile
import time

import keras
import keras_hub
import numpy as np
from scipy import stats

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common  # noqa: E402

import tlnlp_tf as tl  # noqa: E402
from tlnlp_tf.probes.transferability.features import split_source  # noqa: E402

SCORES = ("logme", "h_score", "probe_accuracy")


def main(argv=None):
    parser = _common.parser(__doc__, "", epochs=2)
    here = os.path.dirname(os.path.abspath(__file__))
    parser.set_defaults(
        data=os.path.join(here, "..", "..", "shared", "data"), batch_size=16
    )
    parser.add_argument("--targets", default="sst2,imdb,mrpc")
    parser.add_argument("--train-size", type=int, default=1000)
    parser.add_argument("--held-out", type=int, default=800)
    parser.add_argument("--max-length", type=int, default=256)
    parser.add_argument("--pretrain-documents", type=int, default=1000)
    parser.add_argument(
        "--keep-sources",
        metavar="DIR",
        help="write the two sources pretrained here to DIR/minilm-imdb and "
        "DIR/tiny-imdb and keep them (default: a temporary folder, deleted)",
    )
    args = parser.parse_args(argv)

    imdb_train, imdb_held_out = imdb_halves(args)
    workspace = args.keep_sources or tempfile.mkdtemp(prefix="sources-")
    try:
        sources, pretraining = build_sources(
            imdb_train.texts[: args.pretrain_documents], workspace, args
        )
        results = {"sources": list(sources), "pretraining": pretraining, "targets": {}}
        for target in args.targets.split(","):
            train, held_out = load_target(target, args, imdb_train, imdb_held_out)
            results["targets"][target] = evaluate_target(
                target, train, held_out, sources, args
            )
            print(results["targets"][target], flush=True)
    finally:
        if not args.keep_sources:
            shutil.rmtree(workspace, ignore_errors=True)
    _common.write_results(
        "source_selection",
        results,
        "Source selection: transferability scores vs fine-tuned accuracy (4 sources, "
        f"{len(results['targets'])} targets)",
        table(results, args),
        _common.command("source_selection.py", argv),
    )


def imdb_halves(args):
    return _common.imdb_halves(
        os.path.join(args.data, "imdb", "test_subset_2000.jsonl"), seed=0
    )


def build_sources(texts, workspace, args):
    """`{name: spec}` of the four candidates; the two pretrained here are written
    to `workspace`."""
    keras.utils.set_random_seed(args.seed)
    pretraining = {}
    start = time.perf_counter()
    masked_lm, report = tl.pretraining.pretrain_masked_lm(
        "minilm", texts, epochs=1, batch_size=16, max_length=128, verbose=2
    )
    adapted = os.path.join(workspace, "minilm-imdb")
    tl.pretraining.save_pretrained(masked_lm, adapted, report)
    pretraining["minilm-imdb"] = _summary(report, time.perf_counter() - start)
    keras.backend.clear_session()

    backbone, preprocessor = tl.load_backbone("minilm")
    tiny_start = os.path.join(workspace, "tiny-start")
    keras_hub.models.BertBackbone(
        vocabulary_size=backbone.vocabulary_size,
        num_layers=2,
        num_heads=2,
        hidden_dim=128,
        intermediate_dim=512,
        max_sequence_length=512,
    ).save_to_preset(tiny_start)
    preprocessor.save_to_preset(tiny_start)
    keras.backend.clear_session()
    start = time.perf_counter()
    masked_lm, report = tl.pretraining.pretrain_masked_lm(
        tiny_start,
        texts,
        epochs=3,
        batch_size=16,
        max_length=128,
        learning_rate=1e-3,
        weights="random",
        verbose=2,
    )
    tiny = os.path.join(workspace, "tiny-imdb")
    tl.pretraining.save_pretrained(masked_lm, tiny, report)
    pretraining["tiny-imdb"] = _summary(report, time.perf_counter() - start)
    keras.backend.clear_session()
    return {
        "minilm": "minilm",
        "minilm-imdb": adapted,
        "tiny-imdb": tiny,
        "minilm@random": "minilm@random",
    }, pretraining


def _summary(report, seconds):
    return {
        "documents": report.get("train_documents"),
        "seconds": round(seconds, 1),
        "masked_lm_loss": report["masked_lm_loss"],
    }


def load_target(target, args, imdb_train, imdb_held_out):
    if target == "sst2":
        folder = os.path.join(args.data, "sst2")
        train = tl.data.load_table(
            os.path.join(folder, "train.tsv"), "sentence", "label"
        )
        held_out = tl.data.load_table(
            os.path.join(folder, "dev.tsv"), "sentence", "label"
        )
    elif target == "imdb":
        train, held_out = imdb_train, imdb_held_out
    elif target == "mrpc":
        folder = os.path.join(args.data, "mrpc")
        read = lambda name: tl.data.load_table(
            os.path.join(folder, name), "#1 String", "Quality", text_pair="#2 String"
        )
        train, held_out = (
            read("msr_paraphrase_train.txt"),
            read("msr_paraphrase_test.txt"),
        )
    else:
        raise SystemExit(f"unknown target {target!r} (expected sst2, imdb or mrpc)")
    return (
        train.sample(args.train_size, seed=args.seed),
        held_out.sample(args.held_out, seed=args.seed),
    )


def evaluate_target(target, train, held_out, sources, args):
    spec_names = {spec: name for name, spec in sources.items()}
    start = time.perf_counter()
    ranking = tl.probes.score_sources(
        list(sources.values()), train.texts, train.labels, text_pairs=train.pairs
    )
    score_seconds = time.perf_counter() - start
    keras.backend.clear_session()
    rows = {spec_names[r["source"]]: {key: r[key] for key in SCORES} for r in ranking}
    for name, spec in sources.items():
        rows[name]["fine_tuned_accuracy"] = fine_tune(spec, train, held_out, args)
        keras.backend.clear_session()
    accuracy = [rows[name]["fine_tuned_accuracy"] for name in sources]
    correlations = {}
    for score in SCORES:
        values = [rows[name][score] for name in sources]
        correlations[score] = {
            "spearman": round(float(stats.spearmanr(values, accuracy)[0]), 3),
            "kendall": round(float(stats.kendalltau(values, accuracy)[0]), 3),
        }
    return {
        "train": len(train),
        "held_out": len(held_out),
        "score_seconds": round(score_seconds, 1),
        "sources": rows,
        "rank_correlation": correlations,
    }


def fine_tune(spec, train, held_out, args):
    keras.utils.set_random_seed(args.seed)
    spec, weights = split_source(
        spec
    )  # "minilm@random": the architecture, random weights
    model = tl.TextClassifier.from_backbone(
        spec, labels=train.label_names(), weights=weights, max_length=args.max_length
    )
    tokens = model.tokenize_once(train.to_dataset())
    data = tl.data.training_batches(tokens, args.batch_size, seed=args.seed)
    model.fit(data, epochs=args.epochs, verbose=0)
    inputs = (
        held_out.texts if held_out.pairs is None else (held_out.texts, held_out.pairs)
    )
    predicted = model.predict(inputs, batch_size=64, verbose=0)["label"]
    return round(
        float(np.mean([str(p) == str(t) for p, t in zip(predicted, held_out.labels)])),
        4,
    )


def table(results, args):
    rows = [
        f"Training sample {args.train_size} per target, {args.epochs} fine-tuning "
        f"epochs (batch {args.batch_size}, `TextClassifier` defaults, max length "
        f"{args.max_length}), held-out sample {args.held_out}. Scores on the last "
        "layer's mean-pooled features of the training sample.",
        "",
        "| target | source | LogME | H-score | probe acc | fine-tuned acc |",
        "|---|---|---|---|---|---|",
    ]
    for target, part in results["targets"].items():
        for name, row in part["sources"].items():
            rows.append(
                f"| {target} | {name} | {row['logme']:.4f} | {row['h_score']:.3f} | "
                f"{row['probe_accuracy']:.3f} | {row['fine_tuned_accuracy']:.4f} |"
            )
    rows += [
        "",
        "Rank correlation with fine-tuned accuracy over the four sources "
        "(Spearman / Kendall):",
        "",
        "| target | LogME | H-score | probe |",
        "|---|---|---|---|",
    ]
    for target, part in results["targets"].items():
        cells = [
            f"{part['rank_correlation'][s]['spearman']:+.2f} / "
            f"{part['rank_correlation'][s]['kendall']:+.2f}"
            for s in SCORES
        ]
        rows.append(f"| {target} | " + " | ".join(cells) + " |")
    pre = results["pretraining"]
    rows += [
        "",
        "Sources pretrained here: "
        + "; ".join(
            f"{name}: masked-LM loss {p['masked_lm_loss']['before']} → "
            f"{p['masked_lm_loss']['after']} ({p['seconds']} s)"
            for name, p in pre.items()
        )
        + ".",
    ]
    return rows


if __name__ == "__main__":
    main()
