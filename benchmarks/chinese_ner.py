"""Chinese NER that works: MSRA (full training split) and Resume, every source.

    python benchmarks/chinese_ner.py --target msra --sources bilstm,bilstm@random
    python benchmarks/chinese_ner.py --target resume --sources zh-tiny --crf both
    python benchmarks/chinese_ner.py --limit 500 --epochs 1 --test-size 200  # smoke

Sources (each with and without a CRF, `--crf yes|no|both`):
- `bilstm`: a character BiLSTM tagger (`tl.WordTagger`) whose embedding starts
  from character vectors learned by word2vec (`train_word2vec`, skip-gram,
  what `tlnlp pretrain --kind word2vec` runs) on the Chinese text of
  ../shared/data: the target's training split, ChnSentiCorp train, Resume
  train, the Chinese side of Tatoeba zh–en (never a test split);
  `bilstm@random`: the same tagger from random embeddings.
- `zh-tiny`: a small BERT with a WordPiece vocabulary learned from that text,
  pretrained by masked LM on it (`new_backbone_preset` + `pretrain_masked_lm`,
  what `tlnlp pretrain --new-vocabulary N` runs); `zh-tiny@random`: its twin.
- `minilm`: all-MiniLM-L6-v2 (English vocabulary, cross-lingual; its [UNK]
  share of the target's characters is reported); `minilm@random`: its twin.

Each run trains on the target's training split (`--limit` sentences of it, all
by default) and reports test entity F1 (CoNLL semantics, BMES converted to
IOB2; `tl.metrics.entity_scores`), per-type F1, and seconds. Units longer
than the transformer's 512 positions (31 in MSRA train) go through the
token task's windowing: nothing is truncated; the BiLSTM reads them whole.
A tagger without the CRF is scored twice, the same trained model: each
character's argmax (the F1 column) and the most probable tag path the scheme
allows (`decoding="allowed"`, its own column).
"""

import datetime
import json
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

TARGETS = {"msra": "ner_zh_msra", "resume": "ner_zh_resume"}
SOURCES = ("bilstm", "bilstm@random", "zh-tiny", "zh-tiny@random", "minilm")


def main(argv=None):
    parser = _common.parser(__doc__, "", epochs=3)
    parser.set_defaults(batch_size=32)
    parser.add_argument("--target", choices=sorted(TARGETS), default="msra")
    parser.add_argument("--sources", default="bilstm,bilstm@random")
    parser.add_argument("--crf", choices=("yes", "no", "both"), default="both")
    parser.add_argument("--test-size", type=int, help="score a seeded sample")
    parser.add_argument("--units", type=int, default=128, help="BiLSTM units")
    parser.add_argument("--vector-size", type=int, default=100)
    parser.add_argument("--vocabulary", type=int, default=8000)
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--hidden", type=int, default=256)
    parser.add_argument("--pretrain-epochs", type=int, default=2)
    parser.add_argument("--tiny-learning-rate", type=float, default=1e-3)
    args = parser.parse_args(argv)
    data = os.path.join(args.data, TARGETS[args.target])
    train = tl.data.read_conll(os.path.join(data, "train.ner")).sample(
        args.limit, seed=args.seed
    )
    test = tl.data.read_conll(os.path.join(data, "test.ner")).check_tags(
        train.tag_names()
    )
    if args.test_size:
        test = test.sample(args.test_size, seed=args.seed)
    corpus = chinese_text(args.data, train)
    crfs = {"yes": [True], "no": [False], "both": [False, True]}[args.crf]

    workspace = tempfile.mkdtemp(prefix="chinese-ner-")
    runs, sources = [], {}
    try:
        for name in args.sources.split(","):
            base = name.split("@")[0]
            # The random BiLSTM needs no vectors: word2vec is not trained for it.
            if base not in sources and name != "bilstm@random":
                # The tiny BERT's twin alone needs the vocabulary, not pretraining.
                pretrain = base != "zh-tiny" or "zh-tiny" in args.sources.split(",")
                sources[base] = prepare(base, corpus, workspace, args, pretrain)
            for crf in crfs:
                keras.utils.set_random_seed(args.seed)
                runs.append(run(name, sources.get(base), crf, train, test, args))
                runs[-1].update(
                    command=_common.command("chinese_ner.py", argv),
                    date=datetime.date.today().isoformat(),
                )
                print(runs[-1], flush=True)
                keras.backend.clear_session()
    finally:
        shutil.rmtree(workspace, ignore_errors=True)
    # Read at the end: another run of this script may have saved rows since.
    kept, kept_sources = saved_runs(args, train, test)
    rerun = {(r["source"], r["crf"]) for r in runs}
    runs = [r for r in kept if (r["source"], r["crf"]) not in rerun] + runs
    runs.sort(key=lambda r: (r["source"], r["crf"]))
    reports = dict(kept_sources)
    for key, source in sources.items():
        # A twin-only run learns the same vocabulary: the kept pretrained
        # source's report (its pretraining cost) stays.
        if key not in kept_sources or "random twin" not in source["report"]["kind"]:
            reports[key] = source["report"]
    results = {
        "target": args.target,
        "train_sentences": len(train),
        "train_characters": sum(len(words) for words in train.words),
        "test_sentences": len(test),
        "corpus_documents": len(corpus),
        "corpus_characters": sum(len(text) for text in corpus),
        "sources": reports,
        "runs": runs,
        "epochs": args.epochs,  # this run's; each row says its own
        "batch_size": args.batch_size,
    }
    _common.write_results(
        f"chinese_ner_{args.target}",
        results,
        f"Chinese NER ({args.target}): every source, with and without a CRF",
        table(results),
        _common.command("chinese_ner.py", argv)
        + " (kept rows of other sources: their own commands, in the JSON)",
    )


def saved_runs(args, train, test):
    """The saved runs (and source reports) of the same target and split.

    Rows of other sources or CRF settings are kept, so that each source can
    be run on its own (each row says its epochs); a saved file of another
    split or batch size is replaced.
    """
    here = os.path.dirname(os.path.abspath(__file__))
    path = os.path.join(here, "results", f"chinese_ner_{args.target}.json")
    if not os.path.exists(path):
        return [], {}
    with open(path) as file:
        saved = json.load(file)
    same = (
        saved.get("train_sentences") == len(train)
        and saved.get("test_sentences") == len(test)
        and saved.get("batch_size") == args.batch_size
    )
    if not same:
        return [], {}
    # Rows saved before rows had their own command, date and epochs take the file's.
    shared = {k: saved[k] for k in ("command", "date", "epochs")}
    return [{**shared, **r} for r in saved["runs"]], saved["sources"]


def chinese_text(folder, train):
    """The unlabelled Chinese text: the target's training units, ChnSentiCorp
    train, Resume train, Tatoeba's Chinese side (one document each)."""
    texts = ["".join(words) for words in train.words]
    reviews = tl.data.load_table(
        os.path.join(folder, "chnsenticorp", "train.tsv"), "text_a", "label"
    )
    texts += reviews.texts
    resume = os.path.join(folder, "ner_zh_resume", "train.ner")
    if os.path.abspath(resume) != os.path.abspath(train.source):
        texts += ["".join(words) for words in tl.data.read_conll(resume).words]
    with open(os.path.join(folder, "mt_cmn_eng", "cmn.txt"), encoding="utf-8") as f:
        texts += [line.split("\t")[1] for line in f if line.count("\t") >= 1]
    return [text for text in texts if text.strip()]


def prepare(base, corpus, workspace, args, pretrain=True):
    """`{"spec", "report"}` of a source: vectors or a preset, and its cost.

    With `pretrain=False` the tiny BERT's preset is only its new vocabulary
    and configuration (for `zh-tiny@random`, which loads no weights).
    """
    start = time.perf_counter()
    if base == "bilstm":
        characters = [" ".join(text.replace(" ", "")) for text in corpus]
        vectors = tl.pretraining.word_vectors.train_word2vec(
            characters, vector_size=args.vector_size, seed=args.seed
        )
        return {
            "spec": vectors,
            "report": {
                "kind": "word2vec skip-gram, 10 epochs",
                "vectors": len(vectors.index_to_key),
                "dim": args.vector_size,
                "seconds": round(time.perf_counter() - start, 1),
            },
        }
    if base == "minilm":
        return {"spec": "minilm", "report": {"kind": "all-MiniLM-L6-v2"}}
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
    if not pretrain:
        return {
            "spec": fresh,
            "report": {
                "kind": "BERT, vocabulary and configuration only (random twin)",
                "layers": args.layers,
                "hidden": args.hidden,
                "parameters": made.get("parameters"),
                "vocabulary": made.get("vocabulary_size"),
                "seconds": round(time.perf_counter() - start, 1),
            },
        }
    masked_lm, report = tl.pretraining.pretrain_masked_lm(
        fresh,
        corpus,
        epochs=args.pretrain_epochs,
        batch_size=32,
        max_length=128,
        learning_rate=1e-3,
        verbose=2,
    )
    folder = os.path.join(workspace, "zh-tiny")
    tl.pretraining.save_pretrained(masked_lm, folder, report)
    keras.backend.clear_session()
    return {
        "spec": folder,
        "report": {
            "kind": "BERT, masked LM on the corpus",
            "layers": args.layers,
            "hidden": args.hidden,
            "parameters": made.get("parameters"),
            "vocabulary": made.get("vocabulary_size"),
            "epochs": args.pretrain_epochs,
            "masked_lm_loss": report.get("masked_lm_loss"),
            "masked_accuracy": report.get("masked_accuracy"),
            "seconds": round(time.perf_counter() - start, 1),
        },
    }


def run(name, source, crf, train, test, args):
    random = name.endswith("@random")
    base = name.split("@")[0]
    data = train.to_dataset().shuffle(len(train), seed=args.seed)
    data = tl.data.batch_by_length(data, args.batch_size, seed=args.seed)
    if base == "bilstm":
        model = tl.WordTagger.from_vectors(
            None if random else source["spec"],
            train.words,
            train.tag_names(),
            crf=crf,
            units=args.units,
            lowercase=True,
            seed=args.seed,
        )
        unknown = None
    else:
        model = tl.TokenClassifier.from_backbone(
            source["spec"],
            tags=train.tag_names(),
            weights="random" if random else "pretrained",
            crf=crf,
        )
        if base == "zh-tiny":
            model.compile(learning_rate=args.tiny_learning_rate)
        unknown = unknown_rate(model, train)
    start = time.perf_counter()
    model.fit(data, epochs=args.epochs, verbose=2)
    seconds = time.perf_counter() - start
    if not crf:
        model.decoding = "argmax"  # the F1 column: each character's argmax
    predicted, _ = model.predict_tags(test.words)
    scores = tl.metrics.entity_scores(test.tags, predicted)
    allowed = None
    if not crf:  # the same model, decoded by the most probable allowed path
        model.decoding = "allowed"
        decoded, _ = model.predict_tags(test.words)
        found = tl.metrics.entity_scores(test.tags, decoded)
        allowed = {k: round(found[k], 4) for k in ("f1", "precision", "recall")}
    return {
        "source": name,
        "crf": crf,
        "f1": round(scores["f1"], 4),
        "precision": round(scores["precision"], 4),
        "recall": round(scores["recall"], 4),
        "per_type_f1": {k: round(v["f1"], 4) for k, v in scores["per_type"].items()},
        "unknown_rate": unknown,
        "allowed_path": allowed,
        "epochs": args.epochs,
        "train_seconds": round(seconds, 1),
        "seconds_per_epoch": round(seconds / args.epochs, 1),
    }


def unknown_rate(model, train, sample=2000):
    """The share of training characters (a sample) the tokenizer maps to [UNK]."""
    from tlnlp_tf.tasks.word_pieces import unknown_id
    from tlnlp_tf.tasks.word_pieces import word_pieces

    tokenizer = model.preprocessor.tokenizer
    chars = [c for words in train.words[:sample] for c in words]
    pieces = word_pieces(tokenizer, np.array(chars)).to_list()
    unknown = unknown_id(tokenizer)
    return round(float(np.mean([p[0] == unknown for p in pieces])), 4)


def table(results):
    rows = [
        f"{results['target']}: {results['train_sentences']:,} training units "
        f"({results['train_characters']:,} characters), batch "
        f"{results['batch_size']} (length-grouped); test "
        f"{results['test_sentences']:,} units. Unlabelled Chinese text for the "
        f"pretrained sources: {results['corpus_documents']:,} documents, "
        f"{results['corpus_characters']:,} characters.",
        "",
        "| source | CRF | epochs | test entity F1 (P / R) | without CRF: F1 "
        "decoding the allowed path (P / R) | per type F1 | [UNK] share | "
        "s per epoch | date |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results["runs"]:
        types = ", ".join(f"{k} {v:.3f}" for k, v in r["per_type_f1"].items())
        unknown = "—" if r["unknown_rate"] is None else f"{r['unknown_rate']:.3f}"
        path = r.get("allowed_path")
        path = (
            "—"
            if r["crf"]
            else "not run"
            if path is None
            else (f"{path['f1']:.4f} ({path['precision']:.3f} / {path['recall']:.3f})")
        )
        rows.append(
            f"| {r['source']} | {'yes' if r['crf'] else 'no'} | {r['epochs']} | "
            f"{r['f1']:.4f} "
            f"({r['precision']:.3f} / {r['recall']:.3f}) | {path} | {types} | "
            f"{unknown} | "
            f"{r['seconds_per_epoch']} | {r['date']} |"
        )
    rows.append("")
    for name, report in results["sources"].items():
        rows.append(f"- `{name}`: " + ", ".join(f"{k} {v}" for k, v in report.items()))
    return rows


if __name__ == "__main__":
    main()
