"""SST-2 with static word embeddings: a Kim CNN on random vs word2vec embeddings.

    python benchmarks/word_vectors.py  # sizes 100,500,2000; seeds 0,1,2
    python benchmarks/word_vectors.py --sizes 50 --seeds 0 --no-write   # a smoke run

word2vec (gensim, skip-gram, 100 dimensions) is trained once, on unlabelled
text: the SST-2 train sentences (their labels unused) and the IMDB review
texts of `imdb/test_subset_2000.jsonl`. Then, for each number of labelled
examples (a seeded sample of SST-2 train) and each seed, `WordClassifier`
(encoder="cnn": filter widths 3, 4, 5, 100 maps each, dropout 0.5, Adam
1e-3, batch 32) trains for `--steps` updates from:

- `random`: random embeddings, vocabulary of the labelled sample only;
- `word2vec-frozen`: the word2vec vectors, kept fixed (Kim's "static");
- `word2vec-trainable`: the word2vec vectors, fine-tuned (Kim's "non-static").

With vectors, the vocabulary also holds the word2vec words the labelled
sample lacks (up to 20,000 rows), so dev words unseen in training keep their
vectors. Scored on the full 872-sentence dev set: accuracy mean ± std over
seeds, and training seconds.
"""

import argparse
import math
import os
import statistics
import sys
import time

import keras
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common  # noqa: E402

import tlnlp_tf as tl  # noqa: E402
from tlnlp_tf.pretraining import word_vectors  # noqa: E402

RUNS = ("random", "word2vec-frozen", "word2vec-trainable")


def main(argv=None):
    here = os.path.dirname(os.path.abspath(__file__))
    data = os.path.join(here, "..", "..", "shared", "data")
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=os.path.join(data, "sst2"))
    parser.add_argument(
        "--imdb", default=os.path.join(data, "imdb", "test_subset_2000.jsonl")
    )
    parser.add_argument(
        "--sizes",
        default="100,500,2000",
        help="comma list: labelled SST-2 examples per run",
    )
    parser.add_argument("--seeds", default="0,1,2", help="comma list of seeds")
    parser.add_argument(
        "--runs", default=",".join(RUNS), help="comma list of: " + ", ".join(RUNS)
    )
    parser.add_argument("--encoder", choices=("cnn", "bilstm"), default="cnn")
    parser.add_argument(
        "--steps",
        type=int,
        default=300,
        help="updates per run (epochs = steps / batches per epoch, "
        "rounded up); default 300",
    )
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--vector-size", type=int, default=100)
    parser.add_argument("--w2v-epochs", type=int, default=10)
    parser.add_argument(
        "--corpus-limit",
        type=int,
        help="train word2vec on a seeded sample of N unlabelled texts",
    )
    parser.add_argument(
        "--no-write",
        action="store_true",
        help="print the results only: no results JSON, RESULTS.md untouched",
    )
    args = parser.parse_args(argv)
    sizes = [int(size) for size in args.sizes.split(",")]
    seeds = [int(seed) for seed in args.seeds.split(",")]
    runs = args.runs.split(",")
    for run in runs:
        if run not in RUNS:
            parser.error(f"unknown run '{run}'; expected some of {', '.join(RUNS)}")

    train = tl.data.load_table(
        os.path.join(args.data, "train.tsv"), "sentence", "label"
    )
    dev = tl.data.load_table(os.path.join(args.data, "dev.tsv"), "sentence", "label")
    labels = train.label_names()
    dev.check_labels(labels)
    reviews = [
        text.replace("<br />", " ")
        for text in tl.data.load_jsonl(args.imdb, "text").texts
    ]

    corpus = list(train.texts) + reviews
    if args.corpus_limit and args.corpus_limit < len(corpus):
        order = np.random.default_rng(0).permutation(len(corpus))[: args.corpus_limit]
        corpus = [corpus[i] for i in sorted(order)]
    vectors = None
    w2v = {"documents": len(corpus)}
    if any(run.startswith("word2vec") for run in runs):
        start = time.perf_counter()
        vectors = word_vectors.train_word2vec(
            corpus, vector_size=args.vector_size, epochs=args.w2v_epochs, seed=0
        )
        w2v.update(
            seconds=round(time.perf_counter() - start, 1),
            vocabulary=len(vectors),
            tokens=sum(len(words) for words in word_vectors.tokenize(corpus)),
            vector_size=args.vector_size,
            epochs=args.w2v_epochs,
            sst2_train_sentences=len(train),
            imdb_reviews=len(reviews),
        )
        print(
            f"word2vec: {w2v['vocabulary']} words from {w2v['documents']} texts, "
            f"{w2v['seconds']} s",
            flush=True,
        )

    records = []
    for size in sizes:
        for seed in seeds:
            sample = train.sample(size, seed=seed)
            for run in runs:
                record = {
                    "size": size,
                    **run_one(run, sample, dev, labels, vectors, seed, args),
                }
                records.append(record)
                print(record, flush=True)

    summary = summarize(records, sizes, runs)
    rows = table(summary, sizes, runs)
    print("\n".join(rows))
    if args.no_write:
        return
    results = {
        "encoder": args.encoder,
        "steps": args.steps,
        "batch_size": args.batch_size,
        "sizes": sizes,
        "seeds": seeds,
        "word2vec": w2v,
        "summary": summary,
        "runs": records,
    }
    notes = [
        "",
        f'WordClassifier(encoder="{args.encoder}"), {args.steps} updates of batch '
        f"{args.batch_size} per run, Adam 1e-3; dev accuracy on the 872 SST-2 dev "
        f"sentences, mean ± std over seeds {args.seeds}. word2vec: skip-gram, "
        f"{args.vector_size} dimensions, {args.w2v_epochs} epochs on "
        f"{w2v['documents']} "
        f"unlabelled texts (SST-2 train sentences + IMDB reviews)"
        + (
            f", {w2v['vocabulary']} words, {w2v['seconds']} s."
            if "seconds" in w2v
            else "."
        ),
    ]
    _common.write_results(
        "word_vectors",
        results,
        "SST-2 with static word embeddings: CNN on random vs word2vec embeddings",
        rows + notes,
        _common.command("word_vectors.py", argv),
    )


def run_one(run, sample, dev, labels, vectors, seed, args):
    keras.utils.set_random_seed(seed)
    model = tl.WordClassifier.from_vectors(
        None if run == "random" else vectors,
        texts=sample.texts,
        labels=labels,
        encoder=args.encoder,
        freeze_embeddings=run == "word2vec-frozen",
        seed=seed,
    )
    batches = math.ceil(len(sample) / args.batch_size)
    epochs = math.ceil(args.steps / batches)
    data = sample.to_dataset().shuffle(len(sample), seed=seed).batch(args.batch_size)
    start = time.perf_counter()
    model.fit(data, epochs=epochs, verbose=0)
    seconds = time.perf_counter() - start
    scores = model.evaluate(dev.to_dataset().batch(256), return_dict=True, verbose=0)
    return {
        "run": run,
        "examples": len(sample),
        "seed": seed,
        "epochs": epochs,
        "vocabulary": len(model.vocabulary),
        "vectors_found": model.vectors_found,
        "dev_accuracy": round(float(scores["accuracy"]), 4),
        "dev_f1": round(float(scores["f1"]), 4),
        "train_seconds": round(seconds, 1),
    }


def summarize(records, sizes, runs):
    summary = []
    for size in sizes:
        for run in runs:
            chosen = [r for r in records if r["run"] == run and r["size"] == size]
            accuracy = [r["dev_accuracy"] for r in chosen]
            summary.append(
                {
                    "examples": size,
                    "run": run,
                    "seeds": len(chosen),
                    "dev_accuracy_mean": round(statistics.mean(accuracy), 4),
                    "dev_accuracy_std": round(statistics.stdev(accuracy), 4)
                    if len(accuracy) > 1
                    else 0.0,
                    "train_seconds_mean": round(
                        statistics.mean(r["train_seconds"] for r in chosen), 1
                    ),
                }
            )
    return summary


def table(summary, sizes, runs):
    rows = [
        "| labelled examples | " + " | ".join(runs) + " |",
        "|---|" + "---|" * len(runs),
    ]
    for size in sizes:
        cells = []
        for run in runs:
            item = next(s for s in summary if s["examples"] == size and s["run"] == run)
            cells.append(
                f"{item['dev_accuracy_mean']:.3f} ± {item['dev_accuracy_std']:.3f} "
                f"({item['train_seconds_mean']:.0f} s)"
            )
        rows.append(f"| {size:,} | " + " | ".join(cells) + " |")
    rows += ["", "Cells: dev accuracy mean ± std over seeds (mean training seconds)."]
    return rows


if __name__ == "__main__":
    main()
