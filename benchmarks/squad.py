"""SQuAD v1.1: MiniLM SpanExtractor, trained on 38 articles, scored on the other 10.

    python benchmarks/squad.py --epochs 2
    python benchmarks/squad.py --train-articles 6 --batches questions \
        --results-name squad_memory_questions

Only the SQuAD v1.1 dev file is available offline (48 articles): the first
38 articles train, the last 10 evaluate, so no evaluation paragraph is seen
in training. Exact match and F1 use the official script's normalisation.

`--batches windows` (the default, as `tlnlp fit`): the questions are cut
into windows once (`model.tokenize_once`) and every batch holds
`--batch-size` windows. `--batches questions` (this benchmark before
2026-12-02): batches of questions grouped by length, cut into windows inside
the step, so a batch of long contexts holds several times more windows,
and memory follows the largest such batch. RSS is printed after each epoch.
"""

import os
import sys
import time

import keras

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common  # noqa: E402

import tlnlp_tf as tl  # noqa: E402


def main(argv=None):
    parser = _common.parser(__doc__, "squad_v1.1", epochs=2)
    parser.set_defaults(batch_size=16)
    parser.add_argument("--train-articles", type=int, default=38)
    parser.add_argument(
        "--max-length",
        type=int,
        help="tokens per window (default: chosen, at most 384)",
    )
    parser.add_argument("--doc-stride", type=int, default=128)
    parser.add_argument("--learning-rate", default="auto")
    parser.add_argument("--verbose", type=int, default=2, help="Keras fit verbosity")
    parser.add_argument(
        "--batches", choices=("windows", "questions"), default="windows"
    )
    parser.add_argument("--results-name", default="squad")
    args = parser.parse_args(argv)

    data = tl.data.read_squad(os.path.join(args.data, "dev-v1.1.json"))
    train, evaluation = data.split_articles(args.train_articles)
    train = train.sample(args.limit, args.seed)
    keras.utils.set_random_seed(args.seed)
    with _common.PeakRSS() as rss:
        model = tl.SpanExtractor.from_backbone(
            "minilm", doc_stride=args.doc_stride, max_length=args.max_length
        )
        if args.learning_rate != "auto":
            model.compile(learning_rate=float(args.learning_rate))
        epochs = _common.rss_per_epoch()
        start = time.perf_counter()  # the windows are cut inside the timed span
        if args.batches == "windows":
            windows = model.tokenize_once(train.to_dataset())
            dataset = windows.shuffle(int(windows.cardinality()), seed=args.seed)
            dataset = dataset.batch(args.batch_size)
        else:
            dataset = tl.data.batch_by_length(
                train.to_dataset().shuffle(len(train), seed=args.seed),
                args.batch_size,
                seed=args.seed,
            )
        model.fit(dataset, epochs=args.epochs, verbose=args.verbose, callbacks=[epochs])
        seconds = time.perf_counter() - start
        start = time.perf_counter()
        predictions = model.predict(evaluation.inputs())
        predict_seconds = time.perf_counter() - start
    scores = tl.metrics.squad_scores(
        [p["answer"] for p in predictions], evaluation.answer_texts()
    )
    run = {
        "train_questions": len(train),
        "eval_questions": len(evaluation),
        "train_articles": args.train_articles,
        "epochs": args.epochs,
        "batch_size": args.batch_size,
        "max_length": model.max_length,
        "doc_stride": args.doc_stride,
        "learning_rate": model.default_learning_rate()
        if args.learning_rate == "auto"
        else float(args.learning_rate),
        "eval_exact_match": round(scores["exact_match"], 4),
        "eval_f1": round(scores["f1"], 4),
        "train_seconds": round(seconds, 1),
        "train_questions_per_second": round(len(train) * args.epochs / seconds, 2),
        "predict_seconds": round(predict_seconds, 1),
        "peak_rss_mb": rss.peak_mb,
        "rss_after_epoch_mb": epochs.rss_mb,
        "batches": args.batches,
    }
    rows = [
        "| train questions | epochs | batch | max length / stride | LR | eval EM | "
        "**eval F1** | train s | peak RSS MB | RSS after each epoch MB | batches of |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
        f"| {run['train_questions']} | {args.epochs} | {args.batch_size} | "
        f"{run['max_length']} / "
        f"{args.doc_stride} | {run['learning_rate']} | {run['eval_exact_match']:.4f} | "
        f"**{run['eval_f1']:.4f}** | {run['train_seconds']:.0f} | "
        f"{run['peak_rss_mb']:.0f} | "
        f"{', '.join(f'{mb:.0f}' for mb in run['rss_after_epoch_mb'])} | "
        f"{args.batch_size} {args.batches} |",
    ]
    _common.write_results(
        args.results_name,
        run,
        f"SQuAD v1.1, MiniLM SpanExtractor, {args.train_articles} articles train / "
        f"{len(set(evaluation.titles))} evaluate ({len(evaluation)} questions), "
        "official EM/F1",
        rows,
        _common.command("squad.py", argv),
    )
    print(run)


if __name__ == "__main__":
    main()
