"""Chinese end to end: ChnSentiCorp sentiment and MSRA NER, cross-lingual vs
in-language transfer.

    python benchmarks/chinese.py
    python benchmarks/chinese.py --train-size 100 --test-size 100 \\
        --pretrain-epochs 1  # smoke

Four sources, each fine-tuned on both targets through the same API as English:
- `minilm`: all-MiniLM-L6-v2, pretrained on English (uncased BERT vocabulary:
  the table gives the share of Chinese characters it maps to [UNK]).
- `minilm@random`: the same architecture and vocabulary from random weights.
- `zh-tiny`: a new BERT (`--layers`, `--hidden`) with a WordPiece vocabulary
  of `--vocabulary` tokens learned from the Chinese training text, pretrained
  by masked LM on that text: what `tlnlp pretrain --new-vocabulary N` does
  (`tl.pretraining.new_backbone_preset`, then `pretrain_masked_lm`).
- `zh-tiny@random`: the same architecture and vocabulary from random weights.

Targets:
- `chnsenticorp`: a seeded sample of `--train-size` reviews of train.tsv,
  scored on a sample of `--test-size` reviews of dev.tsv; reviews cut to
  `--max-length` tokens.
- `msra_ner`: the folder has only dev.ner and test.ner; the tagger trains on
  a sample of dev.ner sentences and is scored on a sample of test.ner
  (entity F1, CoNLL semantics, after the B-/I-/S- tags become IOB2).
The masked-LM corpus is the training side only: every ChnSentiCorp train
review and every dev.ner sentence, never test text.

`TextClassifier` and `TokenClassifier` defaults, except the peak learning rate
of the tiny backbones (`--tiny-learning-rate`): the library's default for
small pretrained backbones (1e-4) is meant for fine-tuning, and a 4-layer
model learns little in a few hundred steps at that rate.
"""

import os
import shutil
import sys
import tempfile
import time

import keras
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common  # noqa: E402

import tlnlp_tf as tl  # noqa: E402

SOURCES = ("minilm", "minilm@random", "zh-tiny", "zh-tiny@random")


def main(argv=None):
    parser = _common.parser(__doc__, "", epochs=2)
    parser.set_defaults(batch_size=16)  # --data: ../shared/data
    parser.add_argument("--train-size", type=int, default=2000)
    parser.add_argument("--test-size", type=int, default=1000)
    parser.add_argument("--ner-epochs", type=int, default=3)
    parser.add_argument("--max-length", type=int, default=128)
    parser.add_argument("--vocabulary", type=int, default=8000)
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--hidden", type=int, default=128)
    parser.add_argument("--pretrain-epochs", type=int, default=5)
    parser.add_argument("--tiny-learning-rate", type=float, default=5e-4)
    parser.add_argument("--sources", default=",".join(SOURCES))
    args = parser.parse_args(argv)
    sources = args.sources.split(",")

    reviews = tl.data.load_table(
        os.path.join(args.data, "chnsenticorp", "train.tsv"), "text_a", "label"
    )
    review_test = tl.data.load_table(
        os.path.join(args.data, "chnsenticorp", "dev.tsv"), "text_a", "label"
    ).sample(args.test_size, seed=args.seed)
    ner = tl.data.read_conll(os.path.join(args.data, "msra_ner", "dev.ner"))
    ner_test = tl.data.read_conll(os.path.join(args.data, "msra_ner", "test.ner"))
    ner_test = ner_test.sample(args.test_size, seed=args.seed).check_tags(
        ner.tag_names()
    )
    corpus = reviews.texts + ["".join(words) for words in ner.words]

    workspace = tempfile.mkdtemp(prefix="chinese-")
    try:
        specs, pretraining = build_sources(corpus, workspace, args, sources)
        runs = []
        for name in sources:
            spec, weights = specs[name]
            rate = args.tiny_learning_rate if name.startswith("zh-tiny") else "auto"
            train = reviews.sample(args.train_size, seed=args.seed)
            runs.append(classify(name, spec, weights, rate, train, review_test, args))
            print(runs[-1], flush=True)
            keras.backend.clear_session()
            train = ner.sample(args.train_size, seed=args.seed)
            runs.append(tag(name, spec, weights, rate, train, ner_test, args))
            print(runs[-1], flush=True)
            keras.backend.clear_session()
    finally:
        shutil.rmtree(workspace, ignore_errors=True)
    results = {
        "sources": sources,
        "pretraining": pretraining,
        "runs": runs,
        "train_size": args.train_size,
        "test_size": args.test_size,
    }
    _common.write_results(
        "chinese",
        results,
        "Chinese: ChnSentiCorp and MSRA NER, cross-lingual (MiniLM) vs "
        "in-language pretraining",
        table(results, args),
        _common.command("chinese.py", argv),
    )


def build_sources(corpus, workspace, args, sources):
    """`{name: (spec, weights)}`, and the pretraining report of `zh-tiny`."""
    specs = {"minilm": ("minilm", "pretrained"), "minilm@random": ("minilm", "random")}
    pretraining = None
    if any(name.startswith("zh-tiny") for name in sources):
        keras.utils.set_random_seed(args.seed)
        start = time.perf_counter()
        fresh = os.path.join(workspace, "zh-tiny-start")
        made = tl.pretraining.new_backbone_preset(
            fresh,
            corpus,
            vocabulary_size=args.vocabulary,
            num_layers=args.layers,
            hidden_dim=args.hidden,
            num_heads=max(1, args.hidden // 64),
            seed=args.seed,
        )
        masked_lm, report = tl.pretraining.pretrain_masked_lm(
            fresh,
            corpus,
            epochs=args.pretrain_epochs,
            batch_size=32,
            max_length=args.max_length,
            learning_rate=1e-3,
            verbose=2,
        )
        pretrained = os.path.join(workspace, "zh-tiny")
        tl.pretraining.save_pretrained(masked_lm, pretrained, report)
        keras.backend.clear_session()
        pretraining = {
            "documents": report.get("train_documents"),
            "new_backbone": made,
            "epochs": args.pretrain_epochs,
            "seconds": round(time.perf_counter() - start, 1),
            "masked_lm_loss": report["masked_lm_loss"],
            "masked_accuracy": report["masked_accuracy"],
        }
        specs["zh-tiny"] = (pretrained, "pretrained")
        specs["zh-tiny@random"] = (pretrained, "random")
    return specs, pretraining


def unknown_rate(preprocessor, texts):
    """The share of tokens of `texts` (up to 500) that are [UNK]."""
    tokenizer = preprocessor.tokenizer
    unknown = tokenizer.token_to_id(getattr(tokenizer, "oov_token", "[UNK]"))
    ids = [np.asarray(row) for row in tokenizer(list(texts[:500]))]
    flat = np.concatenate(ids)
    return round(float(np.mean(flat == unknown)), 4)


def classify(name, spec, weights, rate, train, test, args):
    keras.utils.set_random_seed(args.seed)
    model = tl.TextClassifier.from_backbone(
        spec, labels=train.label_names(), weights=weights, max_length=args.max_length
    )
    model.compile(learning_rate=rate)
    start = time.perf_counter()
    data = tl.data.training_batches(
        model.tokenize_once(train.to_dataset()), args.batch_size, seed=args.seed
    )
    model.fit(data, epochs=args.epochs, verbose=0)
    seconds = time.perf_counter() - start
    predicted = model.predict(test.texts, batch_size=64, verbose=0)["label"]
    accuracy = float(
        np.mean([str(p) == str(t) for p, t in zip(predicted, test.labels)])
    )
    return {
        "target": "chnsenticorp",
        "source": name,
        "metric": "accuracy",
        "value": round(accuracy, 4),
        "epochs": args.epochs,
        "learning_rate": model.default_learning_rate() if rate == "auto" else rate,
        "unknown_rate": unknown_rate(model.preprocessor, train.texts),
        "train_seconds": round(seconds, 1),
    }


def tag(name, spec, weights, rate, train, test, args):
    keras.utils.set_random_seed(args.seed)
    model = tl.TokenClassifier.from_backbone(
        spec, tags=train.tag_names(), weights=weights
    )
    model.compile(learning_rate=rate)
    start = time.perf_counter()
    data = train.to_dataset().shuffle(len(train), seed=args.seed).batch(args.batch_size)
    model.fit(data, epochs=args.ner_epochs, verbose=0)
    seconds = time.perf_counter() - start
    predicted, _ = model.predict_tags(test.words)
    scores = tl.metrics.entity_scores(test.tags, predicted)
    return {
        "target": "msra_ner",
        "source": name,
        "metric": "entity_f1",
        "value": round(scores["f1"], 4),
        "precision": round(scores["precision"], 4),
        "recall": round(scores["recall"], 4),
        "epochs": args.ner_epochs,
        "per_type_f1": {k: round(v["f1"], 4) for k, v in scores["per_type"].items()},
        "learning_rate": model.default_learning_rate() if rate == "auto" else rate,
        "unknown_rate": unknown_rate(
            model.preprocessor, ["".join(words) for words in train.words]
        ),
        "train_seconds": round(seconds, 1),
    }


def table(results, args):
    by = {(r["target"], r["source"]): r for r in results["runs"]}
    rows = [
        f"Training sample {args.train_size} per target (ChnSentiCorp {args.epochs} "
        f"epochs, max length {args.max_length}; MSRA NER {args.ner_epochs} epochs), "
        f"batch {args.batch_size}, seed {args.seed}; scored on {args.test_size} "
        "held-out examples (ChnSentiCorp dev, MSRA test.ner). [UNK] share: tokens of "
        "the training text the source's vocabulary cannot represent.",
        "",
        "| source | vocabulary | ChnSentiCorp acc | MSRA NER entity F1 (P / R) "
        "| [UNK] share | train s (cls / ner) |",
        "|---|---|---|---|---|---|",
    ]
    for source in results["sources"]:
        cls, ner = by.get(("chnsenticorp", source)), by.get(("msra_ner", source))
        obtained = (
            (results["pretraining"] or {})
            .get("new_backbone", {})
            .get("vocabulary_size")
        )
        vocabulary = (
            "English uncased BERT (30,522)"
            if source.startswith("minilm")
            else f"WordPiece learned from the Chinese text ({obtained:,} tokens)"
        )
        rows.append(
            f"| {source} | {vocabulary} | {cls['value']:.4f} | {ner['value']:.4f} "
            f"({ner['precision']:.3f} / {ner['recall']:.3f}) | "
            f"{cls['unknown_rate']:.3f} | "
            f"{cls['train_seconds']} / {ner['train_seconds']} |"
        )
    pre = results["pretraining"]
    if pre:
        rows += [
            "",
            f"`zh-tiny`: {args.layers} layers, hidden {args.hidden}, "
            f"{pre['new_backbone'].get('parameters', '?')} parameters, masked LM on "
            f"{pre['documents']} documents for {pre['epochs']} epochs "
            f"({pre['seconds']} s): held-out masked-LM loss "
            f"{pre['masked_lm_loss']['before']} → {pre['masked_lm_loss']['after']}, "
            f"masked accuracy {pre['masked_accuracy']['before']} → "
            f"{pre['masked_accuracy']['after']}.",
        ]
    return rows


if __name__ == "__main__":
    main()
