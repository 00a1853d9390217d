"""The LoRA peak rate, chosen on SST-2 training sentences held out from the
labelled sample.

    python benchmarks/lora_rate.py lora-8:1e-3:0 lora-8:3e-3:0 lora-8:5e-3:0 none:1e-4:0

Each argument is `FREEZE:RATE:SEED`. Every run trains MiniLM as a
`TextClassifier` on the same 2,000-sentence SST-2 sample (sample seed 0, as
`benchmarks/strategies.py`) for 2 epochs, batch 16, fed as `tlnlp fit` feeds
it, and prints one JSON line: accuracy on 1,000 other training sentences of
at least 6 words (`held`, what the rate was chosen on) and on the dev set
(`dev`). This chose `LORA_LEARNING_RATE` (5e-3; docs/freezing.md).
"""

import json
import os
import sys
import time

import keras
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common  # noqa: E402

import tlnlp_tf as tl  # noqa: E402
from tlnlp_tf.data.examples import Examples  # noqa: E402


def main(argv=None):
    parser = _common.parser(__doc__, "sst2", epochs=2)
    parser.set_defaults(batch_size=16)
    parser.add_argument("runs", nargs="+", help="FREEZE:RATE:SEED, e.g. lora-8:5e-3:0")
    args = parser.parse_args(argv)
    pool = tl.data.load_table(os.path.join(args.data, "train.tsv"), "sentence", "label")
    train = pool.sample(2000, seed=0)
    used = set(train.lines)
    rest = [
        i
        for i, (text, line) in enumerate(zip(pool.texts, pool.lines))
        if line not in used and len(text.split()) >= 6
    ]
    pick = sorted(np.random.default_rng(1).permutation(len(rest))[:1000])
    held = Examples(
        [pool.texts[rest[i]] for i in pick], labels=[pool.labels[rest[i]] for i in pick]
    )
    dev = tl.data.load_table(os.path.join(args.data, "dev.tsv"), "sentence", "label")
    for spec in args.runs:
        freeze, rate, seed = spec.split(":")
        keras.utils.set_random_seed(int(seed))
        model = tl.TextClassifier.from_backbone(
            "minilm", labels=train.label_names(), freeze=freeze
        )
        model.compile(learning_rate=float(rate))
        start = time.perf_counter()
        data = tl.data.training_batches(
            model.tokenize_once(train.to_dataset()), args.batch_size, seed=int(seed)
        )
        model.fit(data, epochs=args.epochs, verbose=0)
        print(
            json.dumps(
                {
                    "freeze": freeze,
                    "rate": float(rate),
                    "seed": int(seed),
                    "held": accuracy(model, held),
                    "dev": accuracy(model, dev),
                    "train_seconds": round(time.perf_counter() - start, 1),
                }
            ),
            flush=True,
        )
        keras.backend.clear_session()


def accuracy(model, examples):
    predicted = model.predict(examples.texts, batch_size=64, verbose=0)["label"]
    return round(
        float(np.mean([str(p) == str(t) for p, t in zip(predicted, examples.labels)])),
        4,
    )


if __name__ == "__main__":
    main()
