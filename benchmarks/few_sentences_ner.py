"""NER with few sentences: CoNLL-2003 test entity F1 by training size and updates.

    python benchmarks/few_sentences_ner.py  # 185 and 1000 sentences, seeds 0 and 1
    python benchmarks/few_sentences_ner.py --sizes 185 --seeds 0 --updates 0,300

A `TokenClassifier` on MiniLM with its defaults (peak learning rate 2e-4,
layer decay 0.9, batch 32) trains on a seeded sample of the CoNLL-2003
training sentences, then tags the whole test split (CoNLL entity F1).
Each size trains two ways: `--epochs` epochs (3, `tlnlp fit`'s default:
few optimizer updates on few sentences), and as many epochs as give at
least U optimizer updates for each U of `--updates` (0 means the epochs
alone). This measures where the defaults stop learning, for the warning
`TokenClassifier.fit` gives below `MIN_UPDATES`.
"""

import math
import os
import sys
import time

import keras
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common  # noqa: E402

import tlnlp_tf as tl  # noqa: E402


def one_run(train, test, epochs, seed, batch_size):
    keras.utils.set_random_seed(seed)
    model = tl.TokenClassifier.from_backbone("minilm", tags=train.tag_names())
    data = train.to_dataset().shuffle(len(train), seed=seed).batch(batch_size)
    start = time.perf_counter()
    model.fit(data, epochs=epochs, verbose=0)
    seconds = time.perf_counter() - start
    predicted, _ = model.predict_tags(test.words)
    scores = tl.metrics.entity_scores(test.tags, predicted)
    keras.backend.clear_session()
    return {
        "test_f1": round(scores["f1"], 4),
        "test_precision": round(scores["precision"], 4),
        "test_recall": round(scores["recall"], 4),
        "train_seconds": round(seconds, 1),
    }


def main(argv=None):
    parser = _common.parser(__doc__, "conll2003", epochs=3)
    parser.add_argument("--sizes", default="185,1000")
    parser.add_argument("--seeds", default="0,1")
    parser.add_argument("--updates", default="0,300")
    args = parser.parse_args(argv)
    full = tl.data.read_conll(os.path.join(args.data, "train.txt"))
    runs = []
    for size in (int(s) for s in args.sizes.split(",")):
        for seed in (int(s) for s in args.seeds.split(",")):
            train = full.sample(size, seed)
            test = tl.data.read_conll(os.path.join(args.data, "test.txt")).check_tags(
                train.tag_names()
            )
            steps = math.ceil(size / args.batch_size)
            for updates in (int(u) for u in args.updates.split(",")):
                epochs = max(args.epochs, math.ceil(updates / steps))
                run = one_run(train, test, epochs, seed, args.batch_size)
                run.update(
                    sentences=size, seed=seed, epochs=epochs, updates=epochs * steps
                )
                print(run, flush=True)
                runs.append(run)
    rows = [
        "| train sentences | epochs | optimizer updates | test F1 (mean over seeds) "
        "| seeds | train s |",
        "|---|---|---|---|---|---|",
    ]
    for key in dict.fromkeys((r["sentences"], r["epochs"]) for r in runs):
        chosen = [r for r in runs if (r["sentences"], r["epochs"]) == key]
        f1 = [r["test_f1"] for r in chosen]
        rows.append(
            f"| {key[0]} | {key[1]} | {chosen[0]['updates']} | "
            f"{np.mean(f1):.4f} ({', '.join(f'{v:.4f}' for v in f1)}) | "
            f"{len(chosen)} | {np.mean([r['train_seconds'] for r in chosen]):.0f} |"
        )
    _common.write_results(
        "few_sentences_ner",
        {"runs": runs, "batch_size": args.batch_size},
        "NER with few sentences: CoNLL-2003 test entity F1, MiniLM TokenClassifier",
        rows,
        _common.command("few_sentences_ner.py", argv),
    )


if __name__ == "__main__":
    main()
